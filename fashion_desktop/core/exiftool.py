"""ExifTool, one long-lived process: the reader and writer of keywords inside photos.

Why ExifTool. It is the reference every other metadata tool is compared with, it writes XMP and IPTC into
JPEG, TIFF, PNG and DNG without touching the image data, and it keeps every field it does not change.
It runs as a separate program (Perl, GPL or Artistic licence), so it never links into this MIT app;
pyexiv2, the other candidate, links exiv2 under the GPL. PyExifTool keeps one ``exiftool -stay_open``
process for a whole batch, so a thousand photos cost one start-up, not a thousand.

The app's private XMP namespace (``ffd``, the one the sidecars use) is declared in
``resources/exiftool/fashion.config``, so ExifTool can write ``XMP-ffd:Keywords`` and
``XMP-ffd:Hierarchical``: the keywords this app wrote last time, which a re-write replaces and an
import skips.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..model.resources import resource_path

INSTALL_HINT = (
    "ExifTool is needed to read and write keywords inside photos: install it "
    "(Debian/Ubuntu: sudo apt install libimage-exiftool-perl; macOS: brew install exiftool; "
    "Windows: exiftool.org) or set FASHION_EXIFTOOL to its path"
)
EXIFTOOL_ENV = "FASHION_EXIFTOOL"
MAX_PHOTO_BYTES = 2 * 1024**3  # metadata of larger files is not read or written (a planted /dev/zero ...)

# The tags the app reads and writes, by ExifTool's family-1 group names.
SUBJECT = "XMP-dc:Subject"
HIERARCHY = "XMP-lr:HierarchicalSubject"
IPTC_KEYWORDS = "IPTC:Keywords"
OUR_KEYWORDS = "XMP-ffd:Keywords"
OUR_HIERARCHY = "XMP-ffd:Hierarchical"
KEYWORD_TAGS = (SUBJECT, HIERARCHY, IPTC_KEYWORDS, OUR_KEYWORDS, OUR_HIERARCHY)
# ExifTool's JSON names the groups by family 1 (Lightroom's namespace is XMP-lr; some versions say
# XMP-lightroom).
_READ_NAMES = {
    "XMP-dc:Subject": SUBJECT,
    "XMP-lr:HierarchicalSubject": HIERARCHY,
    "XMP-lightroom:HierarchicalSubject": HIERARCHY,
    "IPTC:Keywords": IPTC_KEYWORDS,
    "XMP-ffd:Keywords": OUR_KEYWORDS,
    "XMP-ffd:Hierarchical": OUR_HIERARCHY,
}


class ExifToolMissing(RuntimeError):
    """ExifTool is not installed (the message says how to install it)."""


class ExifToolError(RuntimeError):
    """ExifTool failed on a file (the message names the file and ExifTool's reason)."""


def find_exiftool() -> str | None:
    """The ExifTool program: ``$FASHION_EXIFTOOL``, else ``exiftool`` on PATH; None when there is none."""
    configured = os.environ.get(EXIFTOOL_ENV, "").strip()
    if configured:
        return configured if os.path.isfile(configured) and os.access(configured, os.X_OK) else None
    return shutil.which("exiftool")


def config_path() -> Path:
    return resource_path("exiftool", "fashion.config")


@dataclass
class PhotoKeywords:
    """The keywords one photo carries, by where they are stored."""

    subject: list[str] = field(default_factory=list)  # XMP dc:subject (flat)
    hierarchy: list[str] = field(default_factory=list)  # XMP lr:hierarchicalSubject (group|value)
    iptc: list[str] = field(default_factory=list)  # IPTC Keywords
    ours: list[str] = field(default_factory=list)  # what this app wrote last time (flat)
    our_hierarchy: list[str] = field(default_factory=list)  # ... and hierarchical

    def theirs(self) -> tuple[list[str], list[str]]:
        """(flat, hierarchical) keywords that someone other than this app put there."""
        ours, our_tree = set(self.ours), set(self.our_hierarchy)
        flat = _unique([k for k in [*self.subject, *self.iptc] if k not in ours])
        tree = _unique([k for k in self.hierarchy if k not in our_tree])
        return flat, tree


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in items if str(v).strip()]


def regular_file_problem(path: str | os.PathLike, max_bytes: int | None = None) -> str | None:
    """Why ``path`` may not be read or written (not a regular file, too large), or None when it may."""
    max_bytes = MAX_PHOTO_BYTES if max_bytes is None else max_bytes
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError as exc:
            return f"a link to nothing ({exc.strerror or exc})"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a folder, pipe or device)"
    if st.st_size > max_bytes:
        return f"too large to read its metadata ({st.st_size / 1e9:.1f} GB)"
    return None


class ExifTool:
    """One ``exiftool -stay_open`` process with the app's config; use as a context manager.

    Raises ExifToolMissing on entry when ExifTool is not installed.
    """

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or find_exiftool()
        self._helper = None

    def __enter__(self) -> ExifTool:
        if not self.executable:
            raise ExifToolMissing(INSTALL_HINT)
        import exiftool  # PyExifTool

        # -G1: family-1 group names (XMP-dc, IPTC); -n: values as stored; UTF-8 file names and values.
        self._helper = exiftool.ExifToolHelper(
            executable=self.executable,
            common_args=["-G1", "-n", "-charset", "filename=utf8", "-charset", "iptc=utf8"],
            config_file=str(config_path()),
            check_execute=False,
        )
        try:
            self._helper.run()
        except Exception as exc:
            self._helper = None
            raise ExifToolMissing(
                f"ExifTool at {self.executable} did not start ({exc}). {INSTALL_HINT}"
            ) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._helper is not None:
            try:
                self._helper.terminate()
            finally:
                self._helper = None

    @property
    def version(self) -> str:
        return str(self._helper.version) if self._helper is not None else ""

    def read_keywords(self, paths: Sequence[str | os.PathLike]) -> dict[str, PhotoKeywords | str]:
        """Per path: its PhotoKeywords, or a one-line reason it could not be read."""
        out: dict[str, PhotoKeywords | str] = {}
        readable = []
        for p in paths:
            problem = regular_file_problem(p)
            if problem:
                out[str(p)] = problem
            else:
                readable.append(str(p))
        for start in range(0, len(readable), 200):
            batch = readable[start : start + 200]
            for p, found in zip(batch, self._read_batch(batch), strict=True):
                out[p] = found
        return out

    def _read_batch(self, paths: list[str]) -> list[PhotoKeywords | str]:
        args = [f"-{t}" for t in KEYWORD_TAGS]
        try:
            rows = self._helper.execute_json(*args, "-j", *paths) or []
        except Exception:
            rows = None
        if rows is None or len(rows) != len(paths):  # one bad file spoils a batch: read one by one
            if len(paths) == 1:
                reason = (self._helper.last_stderr or "").strip().splitlines()
                return [f"ExifTool cannot read it ({reason[0] if reason else 'no metadata'})"]
            return [self._read_batch([p])[0] for p in paths]
        by_source = {str(r.get("SourceFile", "")): r for r in rows}
        found: list[PhotoKeywords | str] = []
        for p in paths:
            row = by_source.get(p) or {}
            values = {_READ_NAMES[k]: _as_list(v) for k, v in row.items() if k in _READ_NAMES}
            found.append(
                PhotoKeywords(
                    subject=values.get(SUBJECT, []),
                    hierarchy=values.get(HIERARCHY, []),
                    iptc=values.get(IPTC_KEYWORDS, []),
                    ours=values.get(OUR_KEYWORDS, []),
                    our_hierarchy=values.get(OUR_HIERARCHY, []),
                )
            )
        return found

    def execute(self, *args: str) -> tuple[str, str]:
        """Run one ExifTool command in the open process: (stdout, stderr)."""
        stdout = self._helper.execute(*args)
        return str(stdout or ""), str(self._helper.last_stderr or "")
