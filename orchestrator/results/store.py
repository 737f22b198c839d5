"""Where the results store lives: a local directory or a filesystem URI, and atomic writes to it.

``results:`` (job key) and ``--results`` take a local path or a URI. URIs go to
:func:`pyarrow.fs.FileSystem.from_uri` (``file://``, ``s3://``, ``gs://``, ``hdfs://``, ``abfs://``); a scheme pyarrow
does not know goes to fsspec when it is installed (``memory://``, or any fsspec implementation such as ``gcsfs``,
wrapped in :class:`pyarrow.fs.PyFileSystem`). A ``file://`` URI is the local directory it names.

Writes are atomic where the filesystem allows it:

* local directories: a temp file (``.<name>.<random>.tmp``) in the target directory, fsync, ``os.replace``, fsync of the
  directory: readers see the old file or the new one, never part of one;
* object stores (``s3``, ``gcs``, ``abfs``): one put (the object becomes visible whole when its upload completes);
* other filesystems (HDFS, fsspec): a temp file beside the target, then a move (a rename on HDFS).

Readers list only final names (``shard-*.parquet``, ``<run_id>.json``), so temp files are never read.
:meth:`Store.lock` is an exclusive, non-blocking ``flock`` on a lock file for local stores (on NFS Linux maps it to
a POSIX lock, seen by every client); the lock disappears with the process holding it.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError

_OBJECT_STORES = {"s3", "gcs", "abfs"}


class LockHeld(Exception):
    """Another process holds the lock."""


@dataclass(frozen=True)
class Store:
    """A results store: a pyarrow filesystem and the root directory inside it."""

    fs: Any
    """The :class:`pyarrow.fs.FileSystem`."""

    base: str
    """The root directory inside ``fs`` (no trailing slash)."""

    uri: str
    """How the user named the store (for messages)."""

    local: Path | None = None
    """The local directory when ``fs`` is the local filesystem, else None."""

    def __str__(self) -> str:
        return self.uri

    def __fspath__(self) -> str:  # only local stores are paths
        if self.local is None:
            raise TypeError(f"results store {self.uri} is not a local directory")
        return str(self.local)

    # ------------------------------------------------------------ paths

    def path(self, rel: str) -> Path | str:
        """``rel`` (``/``-separated, relative to the root): a :class:`Path` for local stores, else the fs path."""
        if self.local is not None:
            return self.local / rel
        return f"{self.base}/{rel}" if self.base else rel

    def _fs_path(self, rel: str) -> str:
        return str(self.path(rel))

    # ------------------------------------------------------------ reads

    def is_file(self, rel: str) -> bool:
        if self.local is not None:
            return (self.local / rel).is_file()
        from pyarrow.fs import FileType

        return self.fs.get_file_info(self._fs_path(rel)).type == FileType.File

    def read_bytes(self, rel: str) -> bytes:
        if self.local is not None:
            return (self.local / rel).read_bytes()
        with self.fs.open_input_stream(self._fs_path(rel)) as fh:
            return fh.read()

    def glob(self, rel_dir: str, pattern: str) -> list[Path | str]:
        """Committed files under ``rel_dir`` whose path relative to it matches ``pattern`` (``/``-separated, sorted).

        Names starting with ``.`` (temp files) never match."""
        if self.local is not None:
            base = self.local / rel_dir
            if not base.is_dir():
                return []
            return sorted(
                p
                for p in base.glob(pattern)
                if not any(part.startswith(".") for part in p.relative_to(base).parts)
            )
        from pyarrow.fs import FileSelector, FileType

        root = self._fs_path(rel_dir)
        try:
            infos = self.fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True))
        except FileNotFoundError:
            return []
        out = []
        for info in infos:
            if info.type != FileType.File:
                continue
            rel = info.path[len(root) :].lstrip("/")
            parts = rel.split("/")
            if any(p.startswith(".") for p in parts) or len(parts) != len(pattern.split("/")):
                continue
            if fnmatch.fnmatchcase(rel, pattern):
                out.append(info.path)
        return sorted(out)

    # ------------------------------------------------------------ writes

    def write_atomic(self, rel: str, write: Callable[[Any], object]) -> Path | str:
        """Write ``rel`` atomically; ``write(target)`` writes the content to a local path (local stores) or to a
        pyarrow output stream (other filesystems: an in-memory buffer, uploaded once complete). Returns the path."""
        if self.local is not None:
            path = self.local / rel
            _atomic_local(path, write)
            return path
        import pyarrow as pa

        # Serialize in memory first: a writer that fails half-way uploads nothing (closing a stream on an object
        # store would publish whatever it holds).
        buffer = pa.BufferOutputStream()
        write(buffer)
        data = buffer.getvalue()
        target = self._fs_path(rel)
        parent = target.rsplit("/", 1)[0] if "/" in target else ""
        if parent:
            self.fs.create_dir(parent, recursive=True)
        if self.fs.type_name in _OBJECT_STORES:
            with self.fs.open_output_stream(
                target
            ) as out:  # one put: visible whole when the upload completes
                out.write(data)
            return target
        name = target.rsplit("/", 1)[-1]
        tmp = (
            f"{parent}/.{name}.{secrets.token_hex(6)}.tmp"
            if parent
            else f".{name}.{secrets.token_hex(6)}.tmp"
        )
        try:
            with self.fs.open_output_stream(tmp) as out:
                out.write(data)
            self.fs.move(tmp, target)
        except BaseException:
            try:
                self.fs.delete_file(tmp)
            except Exception:  # never written or already moved
                pass
            raise
        return target

    @contextmanager
    def lock(self, rel: str) -> Iterator[None]:
        """Hold an exclusive lock named ``rel`` (a lock file) or raise :class:`LockHeld` at once.

        Local stores only; on other filesystems this holds nothing (see ``docs/nightly.md``)."""
        if self.local is None:
            yield
            return
        import fcntl

        path = self.local / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EAGAIN):
                    raise LockHeld(str(path)) from None
                raise
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            os.close(fd)  # releases the lock


def _atomic_local(path: Path, write: Callable[[str], object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def is_uri(value: str) -> bool:
    """``scheme://…`` (a Windows drive letter is not a scheme)."""
    scheme, sep, _ = value.partition("://")
    return (
        bool(sep) and len(scheme) > 1 and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum()
    )


def open_store(results: str | Path | Store) -> Store:
    """The store named by a local path, a URI, or an existing :class:`Store`."""
    if isinstance(results, Store):
        return results
    text = os.fspath(results)
    if not is_uri(text):
        return Store(fs=_local_fs(), base=str(Path(text)), uri=text, local=Path(text))
    fs, path = _from_uri(text)
    import pyarrow.fs as pafs

    if isinstance(fs, pafs.LocalFileSystem):
        return Store(fs=fs, base=path, uri=text, local=Path(path))
    return Store(fs=fs, base=path.rstrip("/"), uri=text)


def _local_fs() -> Any:
    import pyarrow.fs as pafs

    return pafs.LocalFileSystem()


def _from_uri(uri: str) -> tuple[Any, str]:
    import pyarrow as pa
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        pyarrow_error = exc
    try:
        import fsspec
    except ImportError:
        raise ConfigError(
            f"results store {uri}: {pyarrow_error} (pyarrow; install fsspec for more schemes)"
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        raise ConfigError(
            f"results store {uri}: not a filesystem pyarrow or fsspec can open ({exc})"
        ) from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path
