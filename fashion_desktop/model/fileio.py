"""Atomic file writes (temp file in the same folder, fsync, ``os.replace``) and plain reasons for OS errors."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path


class WriteError(OSError):
    """A file could not be written; the message names the file and the reason. The old file is untouched."""

    def __str__(self) -> str:
        return str(self.strerror)


def os_reason(exc: OSError) -> str:
    """A person's words for a failed read or write."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "the disk is full"
    if isinstance(exc, PermissionError):
        return "permission denied, or the file is open in another program (Excel?); close it and try again"
    if exc.errno == errno.EROFS:
        return "the drive is read-only"
    return exc.strerror or str(exc)


def _unlink(p: Path) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Run ``write(temp_path)``, fsync, then move the temp file over ``path``; return ``path``.

    A replaced file keeps its permission bits; a new one gets the usual umask-based mode (not mkstemp's
    0600). Raises WriteError naming ``path`` (missing or unwritable folder, full disk, locked target);
    on any failure, including exceptions raised by ``write``, ``path`` is untouched and no temp file stays.
    """
    path = Path(path)
    if path.is_dir():
        raise WriteError(errno.EISDIR, f"{path}: cannot write: it is a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise WriteError(errno.ENOENT, f"{path}: cannot write: the folder {folder} does not exist")
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        os.close(fd)
    except OSError as exc:
        raise WriteError(exc.errno, f"{path}: cannot write in {folder}: {os_reason(exc)}") from exc
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if path.exists():
            try:
                os.chmod(tmp, path.stat().st_mode & 0o7777)
            except OSError:
                pass
        os.replace(tmp, path)
    except WriteError:
        _unlink(tmp)
        raise
    except OSError as exc:
        _unlink(tmp)
        raise WriteError(exc.errno, f"{path}: cannot write: {os_reason(exc)}") from exc
    except BaseException:
        _unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; raises WriteError as ``atomic_write`` does."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))
