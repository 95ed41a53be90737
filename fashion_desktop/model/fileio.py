"""Atomic file writes (temp file in the same folder, fsync, ``os.replace``) and plain reasons for OS errors."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterable
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


def is_protected(path: str | os.PathLike) -> bool:
    """True when ``path`` is an existing file its owner may not write (no owner write bit: ``chmod a-w``,
    or the read-only attribute on Windows). Judged by the mode bits, so it holds for root too."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and not st.st_mode & stat.S_IWUSR


def check_not_protected(path: str | os.PathLike) -> None:
    """Raise WriteError when ``path`` is a read-only file (see ``is_protected``); otherwise return."""
    if is_protected(path):
        raise WriteError(
            errno.EACCES,
            f"{path}: the file is read-only (protected); choose another name or make it writable",
        )


def exclusive_temp(folder: str | os.PathLike, name: str) -> Path:
    """A new empty file ``.NAME.<random>.tmp`` in ``folder``, created exclusively: never an existing file,
    and never through a link someone planted there (a predictable name would let them). Raises OSError."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(16):
        tmp = Path(folder) / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(errno.EEXIST, f"{folder}: cannot create a temporary file for {name}")


def place_new(tmp: str | os.PathLike, names: Iterable[Path]) -> Path:
    """Give the finished file ``tmp`` the first of ``names`` that is free; return that name.

    Nothing is ever replaced: a name taken by a file, a folder or a link (even one to nothing) is passed
    over. A hard link is made and ``tmp`` removed, so taking the name is one atomic step that fails when
    the name is taken; on a file system without hard links the free name is checked, then renamed to.
    """
    for target in names:
        try:
            os.link(tmp, target, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
                raise
            if os.path.lexists(target):
                continue
            os.rename(tmp, target)
            return Path(target)
        _unlink(Path(tmp))
        return Path(target)
    raise FileExistsError(errno.EEXIST, f"{tmp}: no free name to keep it under")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Run ``write(temp_path)``, fsync, then move the temp file over ``path``; return ``path``.

    A replaced file keeps its permission bits; a new one gets the usual umask-based mode (not mkstemp's
    0600). A read-only file is never replaced: renaming over it needs only the folder's permission, but
    a person who made a file read-only meant to keep it. Raises WriteError naming ``path`` (missing or
    unwritable folder, read-only target, full disk, locked target); on any failure, including exceptions
    raised by ``write``, ``path`` is untouched and no temp file stays.
    """
    path = Path(path)
    if path.is_dir():
        raise WriteError(errno.EISDIR, f"{path}: cannot write: it is a folder")
    check_not_protected(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise WriteError(errno.ENOENT, f"{path}: cannot write: the folder {folder} does not exist")
    try:
        tmp = exclusive_temp(folder, path.name)
    except OSError as exc:
        raise WriteError(exc.errno, f"{path}: cannot write in {folder}: {os_reason(exc)}") from exc
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        check_not_protected(path)  # again: it may have been made read-only while ``write`` ran
        try:  # a replaced regular file keeps its mode; a link's device or pipe lends none (/dev/full: 0666)
            st = path.stat()
            if stat.S_ISREG(st.st_mode):
                os.chmod(tmp, st.st_mode & 0o7777)
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


def read_regular_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of ``path`` when it is a regular file of at most ``max_bytes``; raises OSError with a
    person's reason otherwise. Opened without blocking (a pipe planted there must not hang the app) and
    checked on the open file, so what is read is what was checked."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a folder, pipe or device); not read")
        if st.st_size > max_bytes:
            raise OSError(errno.EFBIG, f"too large ({st.st_size:,} bytes, at most {max_bytes:,}); not read")
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:  # it grew while being read
            raise OSError(errno.EFBIG, f"too large (over {max_bytes:,} bytes); not read")
        return data
    finally:
        os.close(fd)
