"""Sentinel URLs, parsed (pure).

``redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]`` (and
``rediss+sentinel://`` for TLS to the data nodes) names a *service* watched by one or more
sentinels. Settings validation (:mod:`henchman.config_loader`) and the sentinel clients
(:mod:`henchman.redis.sentinel`) both read the URL with :func:`parse_sentinel_url`, from here at
the bottom of the package. Only ``?sentinel_password=...`` is accepted as a query parameter, so a
misspelt option is an error rather than silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from henchman.errors import ConfigError
from henchman.urls import split_netloc

__all__ = ["DEFAULT_PORT", "SCHEMES", "SentinelTarget", "is_sentinel_url", "parse_sentinel_url"]

SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_PORT = 26379
_QUERY_OPTIONS = frozenset({"sentinel_password"})


def is_sentinel_url(url: str) -> bool:
    """Whether ``url`` names a sentinel-watched service."""
    return url.partition("://")[0].lower() in SCHEMES


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """What a sentinel URL says: where the sentinels are and which service to follow."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None
    ssl: bool = False

    def describe(self) -> str:
        """``service 'x' via sentinels h:p, h:p`` (never a password)."""
        hosts = ", ".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"service '{self.service}' via sentinel {hosts}"


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Parse a sentinel URL; :class:`ConfigError` naming what is wrong (never the password)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"not a sentinel URL (expected {' or '.join(SCHEMES)}://)")
    try:
        username, password, sentinels = split_netloc(parts.netloc, DEFAULT_PORT)
    except ValueError as exc:
        raise ConfigError(f"sentinel URL: {exc}") from None
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ConfigError("sentinel URL must end with /service_name or /service_name/db")
    db = 0
    if len(path) == 2:
        if not path[1].isdigit():
            raise ConfigError(f"sentinel URL: database must be a number, got '{path[1]}'")
        db = int(path[1])
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - _QUERY_OPTIONS)
    if unknown:
        raise ConfigError(
            f"sentinel URL: unknown option {', '.join(unknown)} (only sentinel_password)"
        )
    return SentinelTarget(
        sentinels=tuple(sentinels),
        service=unquote(path[0]),
        db=db,
        username=username,
        password=password,
        sentinel_password=options.get("sentinel_password"),
        ssl=scheme == "rediss+sentinel",
    )
