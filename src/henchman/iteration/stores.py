"""Where an interrupted iterable job's temporary files wait for its next run.

A store is anything with the three methods of :class:`FileStore`; keys look like
``<jid>/<file name>``. Two are built in:

- :class:`LocalFileStore` (the default, ``<henchman home>/offload``): enough when every worker
  shares one disk (one host, or a shared volume).
- :class:`S3FileStore`: any S3-compatible object store through boto3 (AWS, MinIO, Ceph, R2 ...).
  boto3 is imported only when the store is used.

Other backends (Google Cloud Storage, Azure Blob) are an extension point: a class with
``upload``/``download``/``delete`` on the same terms, set as the job's ``file_store``.

Stored files expire: every upload carries an expiry time, and a file read after it counts as
missing (the job then starts over, since its cursor cannot be trusted without its file).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit


class FileStore(Protocol):
    """Keeps files between runs of a job. Implementations must be thread-safe."""

    def upload(self, key: str, source: Path, *, ttl: float) -> None:
        """Store ``source`` under ``key`` for ``ttl`` seconds, replacing any earlier version."""

    def download(self, key: str, target: Path) -> bool:
        """Write the file stored under ``key`` to ``target``; ``False`` if missing or expired."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error if it is not there)."""


class LocalFileStore:
    """Files in a local directory. A file's modification time is set to its *expiry* time, and
    every upload sweeps out files whose time has passed, so nothing outlives its TTL by more
    than the time until the next upload."""

    def __init__(self, root: str | os.PathLike[str], *, clock: Callable[[], float] = time.time):
        self.root = Path(root)
        self.clock = clock

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"file store key {key!r} leaves the store's directory")
        return path

    def upload(self, key: str, source: Path, *, ttl: float) -> None:
        """Copy ``source`` in (atomically: a partial copy is never visible)."""
        self.sweep()
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        os.close(fd)
        try:
            shutil.copyfile(source, partial)
            expires = self.clock() + ttl
            os.utime(partial, (expires, expires))
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise

    def download(self, key: str, target: Path) -> bool:
        """Copy the stored file to ``target`` if it exists and has not expired."""
        source = self._path(key)
        try:
            if source.stat().st_mtime < self.clock():
                source.unlink(missing_ok=True)
                return False
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        except FileNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        """Remove the file and its directory if that is now empty."""
        path = self._path(key)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: other files of the job remain
            path.parent.rmdir()

    def sweep(self) -> int:
        """Delete every expired file (and emptied directories); return how many files went."""
        now = self.clock()
        removed = 0
        if not self.root.is_dir():
            return 0
        for directory, _, names in os.walk(self.root, topdown=False):
            for name in names:
                path = Path(directory, name)
                try:
                    if path.stat().st_mtime < now:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
            if Path(directory) != self.root:
                with contextlib.suppress(OSError):  # not empty
                    Path(directory).rmdir()
        return removed


#: Metadata key holding an object's expiry (epoch seconds) in :class:`S3FileStore`.
EXPIRES_META = "henchman-expires-at"


class S3FileStore:
    """Files in an S3-compatible bucket under ``prefix``.

    Each object carries its expiry in its metadata (and as the HTTP ``Expires`` header); a
    download after it deletes the object and reports it missing, and completed jobs delete their
    objects. For storage that cleans itself even when a job never runs again, call
    :meth:`install_lifecycle_rule` once (it needs ``s3:PutLifecycleConfiguration``).
    ``client_options`` go to ``boto3.client("s3", ...)`` (``endpoint_url``, ``region_name``,
    credentials); or pass a ready ``client``.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "henchman/offload/",
        *,
        client: Any = None,
        clock: Callable[[], float] = time.time,
        **client_options: Any,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.clock = clock
        self._client = client
        self._client_options = client_options

    @property
    def client(self) -> Any:
        """The boto3 S3 client, made on first use."""
        if self._client is None:
            import boto3

            self._client = boto3.client("s3", **self._client_options)
        return self._client

    def upload(self, key: str, source: Path, *, ttl: float) -> None:
        """Upload ``source`` (multipart for big files, by boto3's transfer manager)."""
        expires = self.clock() + ttl
        self.client.upload_file(
            str(source),
            self.bucket,
            self.prefix + key,
            ExtraArgs={
                "Metadata": {EXPIRES_META: repr(expires)},
                "Expires": datetime.datetime.fromtimestamp(expires, datetime.UTC),
            },
        )

    def download(self, key: str, target: Path) -> bool:
        """Download to ``target`` unless the object is missing or expired."""
        from botocore.exceptions import ClientError

        name = self.prefix + key
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        expires = head.get("Metadata", {}).get(EXPIRES_META)
        if expires is not None and float(expires) < self.clock():
            self.delete(key)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, name, str(target))
        return True

    def delete(self, key: str) -> None:
        """Delete the object (S3 deletes of missing keys succeed)."""
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    def install_lifecycle_rule(self, days: int) -> None:
        """Make the bucket expire objects under ``prefix`` after ``days`` days, replacing only
        henchman's own rule (id ``henchman-offload``) and keeping any others."""
        from botocore.exceptions import ClientError

        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        except ClientError:
            rules = []
        rules = [rule for rule in rules if rule.get("ID") != "henchman-offload"]
        rules.append(
            {
                "ID": "henchman-offload",
                "Filter": {"Prefix": self.prefix},
                "Status": "Enabled",
                "Expiration": {"Days": days},
            }
        )
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": rules}
        )


def store_from_url(url: str | None, home: Path) -> FileStore:
    """The store a URL names (setting ``offload_url`` / ``HENCHMAN_OFFLOAD_URL``).

    ``None`` is ``<home>/offload``; ``file:///path`` or a plain path is a local directory;
    ``s3://bucket/prefix?endpoint_url=...&region_name=...`` is an S3-compatible bucket
    (credentials come from the usual AWS environment variables or files).
    """
    if not url:
        return LocalFileStore(home / "offload")
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"offload URL {url!r} names no bucket")
        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        options: dict[str, Any] = dict(parse_qsl(parts.query))
        return S3FileStore(parts.netloc, prefix or "henchman/offload/", **options)
    if parts.scheme in ("", "file"):
        return LocalFileStore(Path(parts.path if parts.scheme else url))
    raise ValueError(f"offload URL {url!r}: use file:///path or s3://bucket/prefix")
