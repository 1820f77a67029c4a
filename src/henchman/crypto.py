"""Encrypted job arguments: ``encrypt=True`` seals a job's last argument with AES-256-GCM.

::

    import henchman, henchman.crypto

    henchman.crypto.configure(active_version=2, keys={1: old_key, 2: new_key})

    @henchman.job(encrypt=True)
    def charge(user_id, card):           # ``card`` (the last argument) is encrypted in Redis
        ...

    charge.perform_async(42, {"number": "4242 4242 4242 4242"})

Like Sidekiq Enterprise, only the last argument (the "secret bag") is encrypted; the others stay
readable for debugging. The payload says ``"encrypt": true`` and its last argument becomes a
string ``henchman:enc:v<version>:<base64 of nonce + ciphertext + tag>``. The job id is bound in
as associated data, so a sealed value cannot be moved to another job.

* Keys are versioned: new pushes use ``active_version``; every version still configured
  decrypts, so rotating is "add a key, make it active, keep the old one until old jobs drained".
* The client middleware (:class:`Encryptor`) seals at push time and never seals twice; retries
  and reschedules move the stored payload and never pass through it.
* The server middleware (:class:`Decryption`) hands the job the plaintext without writing it
  into the payload, so retry records, the dead set and the running-work hash keep the sealed
  value. A missing key version or a tampered value raises :class:`DecryptionError`: the job
  fails and is retried like any failure. Exception messages that contain the secret are
  rewritten with ``[encrypted]`` before they are recorded or logged.

Keys come from :func:`configure` (a mapping or a callable ``version -> key``) or from the
settings ``encryption_keys`` (``HENCHMAN_ENCRYPTION_KEYS="1:<base64>,2:<base64>"``) and
``encryption_active_version`` (default: the highest version). A key is 32 bytes, given as bytes
or base64 text. Needs the ``cryptography`` package: ``pip install 'henchman[crypto]'``.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from henchman.app_default import default_app
from henchman.errors import ConfigError, HenchmanError
from henchman.middleware.chain import JobRun, Middleware
from henchman.push_options import SEALED_PREFIX as PREFIX, is_sealed

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.config import Settings

__all__ = [
    "REDACTED",
    "Decryption",
    "DecryptionError",
    "Encryptor",
    "Keyring",
    "configure",
    "is_sealed",
    "keyring_from_settings",
    "redact_args",
]

#: What the Web UI, the CLI, logs and error messages show instead of an encrypted value.
REDACTED = "[encrypted]"
KEY_BYTES = 32
NONCE_BYTES = 12

KeySource = Mapping[int, bytes | str] | Callable[[int], bytes | str | None]


class DecryptionError(HenchmanError):
    """An encrypted argument could not be opened (missing key version, tampered value, no
    keys configured); the job fails and is retried."""


def _key_bytes(value: bytes | str, version: int) -> bytes:
    """A 32-byte key from bytes or base64 text; ConfigError naming the version otherwise."""
    if isinstance(value, str):
        text = value.strip().replace("-", "+").replace("_", "/")
        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"encryption key version {version} is not valid base64") from None
    elif isinstance(value, bytes):
        raw = value
    else:
        raise ConfigError(f"encryption key version {version} must be bytes or base64 text")
    if len(raw) != KEY_BYTES:
        raise ConfigError(
            f"encryption key version {version} must be {KEY_BYTES} bytes (AES-256), got {len(raw)}"
        )
    return raw


class Keyring:
    """Versioned AES-256-GCM keys; seals with ``active_version``, opens with any version."""

    def __init__(self, active_version: int, keys: KeySource) -> None:
        if isinstance(active_version, bool) or not isinstance(active_version, int):
            raise ConfigError(
                f"encryption active_version must be an integer, got {active_version!r}"
            )
        if active_version < 1:
            raise ConfigError(f"encryption active_version must be at least 1, got {active_version}")
        self.active_version = active_version
        self._source = keys
        self._keys: dict[int, bytes] = {}
        if isinstance(keys, Mapping):
            for version, value in keys.items():
                if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                    raise ConfigError(
                        f"encryption key versions must be integers >= 1, got {version!r}"
                    )
                self._keys[version] = _key_bytes(value, version)
        elif not callable(keys):
            raise ConfigError("encryption keys must be a mapping {version: key} or a callable")
        self.key(active_version, ConfigError)  # refuse a keyring that cannot seal

    def key(self, version: int, error: type[Exception] = DecryptionError) -> bytes:
        """The key for ``version``; ``error`` (DecryptionError by default) if there is none."""
        found = self._keys.get(version)
        if found is None and not isinstance(self._source, Mapping):
            value = self._source(version)
            if value is not None:
                found = self._keys[version] = _key_bytes(value, version)
        if found is None:
            raise error(f"encryption key version {version} is not configured")
        return found

    def seal(self, value: Any, jid: str) -> str:
        """``value`` (JSON-native) sealed for job ``jid`` with the active key."""
        aead = _aesgcm(self.key(self.active_version, ConfigError))
        nonce = os.urandom(NONCE_BYTES)
        sealed = aead.encrypt(nonce, orjson.dumps(value), jid.encode())
        text = base64.b64encode(nonce + sealed).decode()
        return f"{PREFIX}{self.active_version}:{text}"

    def open(self, token: Any, jid: str) -> Any:
        """The value sealed in ``token`` for job ``jid``; DecryptionError saying why not."""
        version, blob = _parse(token)
        aead = _aesgcm(self.key(version))
        from cryptography.exceptions import InvalidTag

        try:
            plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], jid.encode())
        except InvalidTag:
            raise DecryptionError(
                f"cannot decrypt the last argument with key version {version}: the value was "
                "altered, belongs to another job, or the key is wrong"
            ) from None
        return orjson.loads(plain)


def _parse(token: Any) -> tuple[int, bytes]:
    if not is_sealed(token):
        raise DecryptionError("the job says encrypt=true but its last argument is not encrypted")
    head, _, text = token[len(PREFIX) :].partition(":")
    try:
        return int(head), base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise DecryptionError("the encrypted last argument is malformed") from None


def _aesgcm(key: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "encrypt=True needs the cryptography package: pip install 'henchman[crypto]'"
        ) from None
    return AESGCM(key)


def redact_args(payload: Mapping[str, Any]) -> list[Any]:
    """The payload's arguments with an encrypted last argument shown as ``[encrypted]``."""
    args = payload.get("args")
    if not isinstance(args, list):
        return []
    if payload.get("encrypt") is True and args:
        return [*args[:-1], REDACTED]
    return args


# --- configuration ---------------------------------------------------------------------------


def parse_keys(text: str, active_version: int | None, source: str) -> Keyring:
    """A keyring from ``1:<base64>,2:<base64>``; one-line ConfigError naming ``source``."""
    keys: dict[int, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        version_text, sep, key = item.partition(":")
        if not sep or not version_text.strip().isdigit():
            raise ConfigError(f"{source}: expected VERSION:BASE64KEY items, got {item[:12]!r}...")
        version = int(version_text)
        if version in keys:
            raise ConfigError(f"{source}: key version {version} is given twice")
        keys[version] = key
    if not keys:
        raise ConfigError(f"{source}: no keys given")
    try:
        return Keyring(active_version or max(keys), keys)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def keyring_from_settings(settings: Settings) -> Keyring | None:
    """The keyring the settings describe, or None when they set no keys."""
    if not settings.encryption_keys:
        if settings.encryption_active_version is not None:
            raise ConfigError("setting 'encryption_active_version' needs 'encryption_keys'")
        return None
    return parse_keys(
        settings.encryption_keys, settings.encryption_active_version, "setting 'encryption_keys'"
    )


def configure(active_version: int, keys: KeySource, *, app: Henchman | None = None) -> Keyring:
    """Use these keys for ``app`` (default: the default app): pushes of ``encrypt=True`` jobs
    are sealed with ``active_version``; workers open every configured version."""
    if app is None:
        app = default_app()
    keyring = Keyring(active_version, keys)
    app.use_keyring(keyring)
    return keyring


# --- middleware ------------------------------------------------------------------------------


class Encryptor:
    """Client middleware: seal the last argument of ``encrypt=True`` payloads, once."""

    name = "encryption"

    def __init__(self, keyring: Callable[[], Keyring | None]) -> None:
        self._keyring = keyring

    def __call__(self, job: str, payload: dict[str, Any], queue: str) -> dict[str, Any]:
        if payload.get("encrypt") is not True:
            return payload
        args = payload.get("args")
        if not isinstance(args, list) or not args:
            raise TypeError(f"{job}: encrypt=True needs at least one argument (the last is sealed)")
        if is_sealed(args[-1]):
            return payload  # already sealed: never twice
        keyring = self._keyring()
        if keyring is None:
            raise ConfigError(
                f"{job}: encrypt=True but no encryption keys are configured "
                "(henchman.crypto.configure or HENCHMAN_ENCRYPTION_KEYS)"
            )
        payload["args"] = [*args[:-1], keyring.seal(args[-1], str(payload["jid"]))]
        return payload


class Decryption(Middleware):
    """Server middleware: give the job its plaintext last argument, keep the payload sealed."""

    name = "encryption"

    def __init__(self, keyring: Callable[[], Keyring | None]) -> None:
        self._keyring = keyring

    def _open(self, run: JobRun) -> Any:
        payload = run.payload
        keyring = self._keyring()
        if keyring is None:
            raise DecryptionError(
                "the job's last argument is encrypted but this worker has no encryption keys"
            )
        args = payload["args"]
        if not args:
            raise DecryptionError("the job says encrypt=true but has no arguments")
        secret = keyring.open(args[-1], str(payload.get("jid", "")))
        run.args = [*args[:-1], secret]
        return secret

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        if run.payload.get("encrypt") is not True:
            return call_next()
        secret = self._open(run)
        try:
            return call_next()
        except BaseException as exc:
            _redact(exc, secret)
            raise

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        if run.payload.get("encrypt") is not True:
            return await call_next()
        secret = self._open(run)
        try:
            return await call_next()
        except BaseException as exc:
            _redact(exc, secret)
            raise


def _secret_texts(value: Any) -> list[str]:
    """Texts that would reveal ``value`` in a message: its JSON, its repr, and its string and
    number leaves of 4 characters or more; longest first so the longest match is replaced."""
    found: set[str] = {orjson.dumps(value).decode(), repr(value), str(value)}

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            for inner in item.values():  # keys name fields; only values are secret
                walk(inner)
        elif isinstance(item, list):
            for inner in item:
                walk(inner)
        elif isinstance(item, str | int | float) and not isinstance(item, bool):
            found.add(str(item))

    walk(value)
    return sorted((t for t in found if len(t) >= 4), key=len, reverse=True)


def _redact(exc: BaseException, secret: Any) -> None:
    """Rewrite ``exc``'s arguments (hence its message) so they do not contain the secret."""
    texts = _secret_texts(secret)

    def clean(arg: Any) -> Any:
        if isinstance(arg, bool) or arg is None:
            return arg
        shown = (
            arg if isinstance(arg, str) else str(arg) if isinstance(arg, int | float) else repr(arg)
        )
        cleaned = shown
        for text in texts:
            cleaned = cleaned.replace(text, REDACTED)
        return arg if cleaned == shown else cleaned

    exc.args = tuple(clean(a) for a in exc.args)
