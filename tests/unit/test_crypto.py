"""henchman.crypto without Redis: keys, sealing, opening, redaction, configuration errors."""

from __future__ import annotations

import base64

import pytest

from henchman.app import Henchman
from henchman.config import Settings
from henchman.config_loader import load_settings
from henchman.crypto import (
    DecryptionError,
    Keyring,
    _redact,
    is_sealed,
    keyring_from_settings,
    parse_keys,
    redact_args,
)
from henchman.errors import ConfigError

K1, K2 = bytes(range(32)), bytes(range(1, 33))
JID = "0123456789abcdef01234567"


def test_sealed_value_opens_to_the_same_json() -> None:
    ring = Keyring(1, {1: K1})
    token = ring.seal({"ssn": "123-45-6789", "n": [1, 2]}, JID)
    assert is_sealed(token)
    assert "123-45-6789" not in token
    assert ring.open(token, JID) == {"ssn": "123-45-6789", "n": [1, 2]}


def test_old_versions_open_after_rotation() -> None:
    token = Keyring(1, {1: K1}).seal("secret", JID)
    rotated = Keyring(2, {1: K1, 2: K2})
    assert rotated.open(token, JID) == "secret"
    assert rotated.seal("x", JID).startswith("henchman:enc:v2:")


def test_a_callable_supplies_keys_by_version() -> None:
    ring = Keyring(2, {1: K1, 2: K2}.get)
    assert ring.open(Keyring(1, {1: K1}).seal(5, JID), JID) == 5


def test_missing_key_version_is_a_clear_decryption_error() -> None:
    token = Keyring(3, {3: K2}).seal("x", JID)
    with pytest.raises(DecryptionError, match="encryption key version 3 is not configured"):
        Keyring(1, {1: K1}).open(token, JID)


def test_tampered_value_is_a_clear_decryption_error() -> None:
    token = Keyring(1, {1: K1}).seal("secret", JID)
    head, _, body = token.rpartition(":")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(
        DecryptionError, match="altered, belongs to another job, or the key is wrong"
    ):
        Keyring(1, {1: K1}).open(f"{head}:{base64.b64encode(bytes(raw)).decode()}", JID)


def test_a_sealed_value_cannot_move_to_another_job() -> None:
    token = Keyring(1, {1: K1}).seal("secret", JID)
    with pytest.raises(DecryptionError):
        Keyring(1, {1: K1}).open(token, "f" * 24)


@pytest.mark.parametrize(
    ("text", "needle"),
    [("1:" + base64.b64encode(b"short").decode(), "must be 32 bytes (AES-256), got 5"),
     ("1:***", "not valid base64"), ("one:abc", "expected VERSION:BASE64KEY"),
     ("1:" + base64.b64encode(K1).decode() + ",1:" + base64.b64encode(K2).decode(), "given twice")],
)  # fmt: skip
def test_bad_key_settings_are_one_line_errors(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_keys(text, None, "HENCHMAN_ENCRYPTION_KEYS")
    assert needle in str(caught.value)
    assert str(caught.value).startswith("HENCHMAN_ENCRYPTION_KEYS: ")
    assert "\n" not in str(caught.value)


def test_environment_keys_default_to_the_highest_version_active() -> None:
    b1, b2 = base64.b64encode(K1).decode(), base64.b64encode(K2).decode()
    env = {"HENCHMAN_ENCRYPTION_KEYS": f"1:{b1},2:{b2}"}
    ring = keyring_from_settings(load_settings(env=env))
    assert ring is not None
    assert ring.active_version == 2


def test_an_active_version_without_its_key_is_refused() -> None:
    env = {"HENCHMAN_ENCRYPTION_KEYS": f"1:{base64.b64encode(K1).decode()}",
           "HENCHMAN_ENCRYPTION_ACTIVE_VERSION": "2"}  # fmt: skip
    with pytest.raises(ConfigError, match="encryption key version 2 is not configured"):
        keyring_from_settings(load_settings(env=env))


def test_settings_repr_never_shows_keys() -> None:
    assert "encryption_keys" not in repr(Settings(encryption_keys="1:secret"))


def test_push_with_encrypt_and_no_keys_is_refused_before_anything_is_written() -> None:
    app = Henchman(Settings(redis_url="redis://127.0.0.1:1"))
    with pytest.raises(ConfigError, match="encrypt=True but no encryption keys are configured"):
        app.enqueue("app.charge", 1, {"card": "4242"}, encrypt=True)


def test_bulk_push_with_encrypt_and_no_keys_is_refused() -> None:
    app = Henchman(Settings(redis_url="redis://127.0.0.1:1"))

    @app.job(encrypt=True)
    def charge(user: int, card: dict[str, str]) -> None: ...

    with pytest.raises(ConfigError, match="no encryption keys"):
        charge.perform_bulk([[1, {"card": "4242"}]])


def test_ui_and_cli_args_show_encrypted_in_place_of_the_value() -> None:
    payload = {"args": [1, "henchman:enc:v1:abc"], "encrypt": True}
    assert redact_args(payload) == [1, "[encrypted]"]


def test_exception_messages_lose_the_secret() -> None:
    exc = ValueError("card 4242-4242 declined for {'ssn': '123-45-6789'}")
    _redact(exc, {"ssn": "123-45-6789", "card": "4242-4242"})
    assert str(exc) == "card [encrypted] declined for {'ssn': '[encrypted]'}"
