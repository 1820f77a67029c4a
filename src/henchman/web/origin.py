"""Which requests come from where they claim: the Host check and the cross-origin check. Pure.

- **Host** (against DNS rebinding): a page on an attacker's domain that resolves to 127.0.0.1
  reaches a UI bound there, but its requests carry the attacker's name in ``Host``. With a list
  of allowed names (``henchman web`` always has one), any other ``Host`` is refused with a 400,
  like Django's ``ALLOWED_HOSTS``. A name matches exactly (case-insensitive, port ignored);
  ``.example.com`` also matches every subdomain of example.com; ``*`` matches everything.
- **Origin** (against cross-site request forgery, on top of the CSRF token): a request that
  changes state (any method but GET, HEAD, OPTIONS) is refused when the browser says it comes
  from elsewhere. ``Sec-Fetch-Site`` decides when present (only ``same-origin`` and ``none``, a
  user typing the URL, pass: ``same-site`` is refused too, since a sibling subdomain or another
  port of the same host is another origin); otherwise an ``Origin`` header must name the host
  the request was sent to. Clients that send neither (curl, old browsers) are left to the token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

__all__ = [
    "LOOPBACK_HOSTS",
    "SAFE_METHODS",
    "cross_origin_refusal",
    "host_allowed",
    "host_name",
    "normalize_allowed",
]

#: The names a UI bound to a loopback address is reached by.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(host: str) -> str:
    """The name part of a ``Host`` header value, lower-cased: port and IPv6 brackets removed."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    name, _, _ = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    return name.rstrip(".")


def normalize_allowed(names: Iterable[str]) -> tuple[str, ...]:
    """Allowed-host entries in the form :func:`host_allowed` compares (``[::1]`` -> ``::1``)."""
    out = []
    for given in names:
        name = given.strip().lower()
        if name.startswith("[") and name.endswith("]"):
            name = name[1:-1]
        if name:
            out.append(name.rstrip(".") if name != "." else name)
    return tuple(dict.fromkeys(out))


def host_allowed(host: str | None, allowed: Iterable[str]) -> bool:
    """Whether a request's ``Host`` header names one of ``allowed`` (normalized entries)."""
    if not host:
        return False
    name = host_name(host)
    if not name:
        return False
    for entry in allowed:
        if entry in ("*", name):
            return True
        if entry.startswith(".") and (name == entry[1:] or name.endswith(entry)):
            return True
    return False


def cross_origin_refusal(method: str, headers: Mapping[str, str]) -> str | None:
    """Why a request must be refused as cross-origin, or None when it may proceed.

    ``headers`` maps lower-case header names to values (Starlette's ``Headers`` does).
    """
    if method.upper() in SAFE_METHODS:
        return None
    site = headers.get("sec-fetch-site", "").strip().lower()
    if site:
        ok = site in ("same-origin", "none")
        return None if ok else f"cross-origin request refused (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    if origin is None:
        return None
    origin = origin.strip()
    host = headers.get("host", "").strip().lower()
    if origin.lower() != "null" and urlsplit(origin).netloc.lower() == host:
        return None
    return f"cross-origin request refused (Origin {origin[:100]!r} is not {host!r})"
