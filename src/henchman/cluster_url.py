"""Redis Cluster URLs: which nodes to ask first, and the credentials for every node.

``redis+cluster://[[user]:password@]host:port[,host:port...]`` (``rediss+cluster://`` for TLS)
lists one or more *seed* nodes of a Redis Cluster; the client asks them for the slot map and
then talks to whichever master holds a key's slot, so listing every node is not needed (but
helps when a seed is down at startup). A port may be left out (6379).

With ``cluster = true`` a plain ``redis://host:port`` / ``rediss://host:port`` URL names one seed
node as well. Redis Cluster has one database: a database number other than 0 is an error, as
is a ``unix://`` socket (cluster nodes announce TCP addresses). No query option is accepted, so
a misspelt option is an error rather than silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from henchman.errors import ConfigError
from henchman.urls import split_netloc

__all__ = ["SCHEMES", "ClusterTarget", "is_cluster_url", "parse_cluster_url"]

SCHEMES = ("redis+cluster", "rediss+cluster")
#: Plain schemes that name a seed node when ``cluster = true``.
PLAIN_SCHEMES = ("redis", "rediss")
DEFAULT_PORT = 6379


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` is a ``redis+cluster://`` or ``rediss+cluster://`` URL."""
    return url.partition("://")[0].lower() in SCHEMES


@dataclass(frozen=True, slots=True)
class ClusterTarget:
    """What a cluster URL says: the seed nodes and the credentials."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    ssl: bool = False

    def describe(self) -> str:
        """``Redis Cluster via h:p, h:p`` (never a password)."""
        return "Redis Cluster via " + ", ".join(f"{host}:{port}" for host, port in self.nodes)


def parse_cluster_url(url: str) -> ClusterTarget:
    """Parse a cluster URL (or, for ``cluster = true``, a plain ``redis://`` seed URL).

    Raises :class:`ConfigError` naming what is wrong; the message never contains the password.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "unix":
        raise ConfigError(
            "cluster mode needs TCP nodes (redis+cluster://host:port,...), not a unix:// socket"
        )
    if scheme not in SCHEMES + PLAIN_SCHEMES:
        raise ConfigError(f"not a cluster URL (expected {' or '.join(SCHEMES)}://)")
    try:
        username, password, nodes = split_netloc(parts.netloc, DEFAULT_PORT)
    except ValueError as exc:
        raise ConfigError(f"cluster URL: {exc}") from None
    database = unquote(parts.path).strip("/")
    if database not in ("", "0"):
        raise ConfigError(
            f"cluster URL: Redis Cluster has only database 0, got '/{database[:20]}' "
            "(remove it from the URL)"
        )
    if parts.query:
        raise ConfigError("cluster URL: query options are not supported (remove '?...')")
    return ClusterTarget(
        nodes=tuple(nodes),
        username=username,
        password=password,
        ssl=scheme in ("rediss+cluster", "rediss"),
    )
