"""XMP sidecars: keywords in ``dc:subject`` beside each photo, so photo managers see the tags.

Groups. Each keyword of a labelled group is also written as ``group|keyword`` in
``lr:hierarchicalSubject`` (``colour|Black``), the property Lightroom and digiKam read keyword
hierarchies from, so the groups survive the trip; a keyword without a group is written as itself.

Naming. ``dress1.jpg`` gets ``dress1.xmp`` by default: the Adobe convention (Bridge, Camera Raw,
Lightroom for raw files, Capture One) which digiKam also reads and writes when "sidecar file names
compatible with commercial programs" is on. When two files of one folder share a stem
(``dress1.jpg`` and ``dress1.png``, or a RAW+JPEG pair whose ``dress1.xmp`` belongs to the raw file)
one ``dress1.xmp`` cannot describe both, so those photos get ``dress1.jpg.xmp`` (digiKam's and
darktable's default naming), except a raw file that is the only raw one among them: it keeps
``dress1.xmp``, as Lightroom expects. ``naming="appended"`` uses that form for every photo. Note that
Lightroom Classic reads sidecars for raw files only: for JPEG it reads embedded metadata, which this
module never writes (``core.photo_keywords`` writes it into the photos, on request).

Existing sidecars. A sidecar that is already there (written by Lightroom, digiKam, ...) is merged
into, not replaced: its other properties and keywords stay; the keywords this app wrote last time
(remembered in the app's own namespace) are swapped for the current ones. A file at the sidecar
path that is not XMP is left alone and reported.
"""

from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..model.fileio import read_regular_file
from ..model.images import EXTENSIONS
from .scan import CancelFlag, is_cancelled
from .spreadsheet import ExportCancelled, ExportError, Progress, atomic_write_bytes

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_APP = "http://ns.fashion-finder.app/xmp/1.0/"
NS_LR = "http://ns.adobe.com/lightroom/1.0/"
HIERARCHY_SEPARATOR = "|"  # Lightroom's: label names never contain a bar (export's TAG_SEPARATOR)
SIDECAR_SUFFIX = ".xmp"
MAX_SIDECAR_BYTES = 16 * 1024 * 1024  # real sidecars are a few KB; a link to /dev/zero must not fill memory

_KNOWN_PREFIXES = {
    "x": NS_X,
    "rdf": NS_RDF,
    "dc": NS_DC,
    "ffd": NS_APP,
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "crs": "http://ns.adobe.com/camera-raw-settings/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "MicrosoftPhoto": "http://ns.microsoft.com/photo/1.0/",
    "darktable": "http://darktable.sf.net/",
}
for _prefix, _uri in _KNOWN_PREFIXES.items():
    ET.register_namespace(_prefix, _uri)

# A raw file beside a JPEG (RAW+JPEG shooting) owns ``name.xmp`` in Lightroom and Bridge, so the JPEG
# must not take it: any sibling with one of these extensions counts as a stem collision.
RAW_EXTENSIONS = frozenset({
    "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "orf", "rw2", "raf", "pef", "srw",
    "x3f", "3fr", "iiq", "erf", "kdc", "mos", "mrw", "rwl",
})  # fmt: skip
_SIBLING_EXTENSIONS = frozenset(EXTENSIONS) | RAW_EXTENSIONS | {"dng", "heic", "heif", "psd"}
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class XmpReport:
    """Sidecars written, and the photos whose sidecar could not be written, with reasons."""

    written: list[Path] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{len(self.written)} sidecars written, {len(self.errors)} failed"]
        lines += [f"{p}: {reason}" for p, reason in self.errors[:20]]
        if len(self.errors) > 20:
            lines.append(f"... and {len(self.errors) - 20} more")
        return "\n".join(lines)


def sidecar_path(photo: str | os.PathLike, naming: str = "adobe") -> Path:
    """``dress1.jpg`` -> ``dress1.xmp`` (``naming="adobe"``) or ``dress1.jpg.xmp`` (``"appended"``)."""
    photo = Path(photo)
    if naming == "appended":
        return photo.with_name(photo.name + SIDECAR_SUFFIX)
    if naming != "adobe":
        raise ValueError(f"unknown sidecar naming {naming!r} (use 'adobe' or 'appended')")
    return photo.with_suffix(SIDECAR_SUFFIX)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _clean(keywords: Iterable[str]) -> list[str]:
    out: dict[str, None] = {}
    for k in keywords:
        k = _XML_INVALID.sub("", str(k)).strip()
        if k:
            out.setdefault(k, None)
    return list(out)


def _bag_items(prop: ET.Element | None) -> list[str]:
    if prop is None:
        return []
    return [(li.text or "").strip() for li in prop.iter(_q(NS_RDF, "li")) if (li.text or "").strip()]


def _set_bag(desc: ET.Element, ns: str, name: str, items: Sequence[str]) -> None:
    prop = desc.find(_q(ns, name))
    if prop is None:
        prop = ET.SubElement(desc, _q(ns, name))
    for child in list(prop):
        prop.remove(child)
    prop.text = None
    bag = ET.SubElement(prop, _q(NS_RDF, "Bag"))
    for item in items:
        ET.SubElement(bag, _q(NS_RDF, "li")).text = item


def hierarchical(keywords: Sequence[str], groups: Mapping[str, str] | None) -> list[str]:
    """``group|keyword`` for each keyword with a group in ``groups`` (else the keyword alone)."""
    groups = groups or {}
    out = []
    for k in _clean(keywords):
        g = _clean([groups.get(k, "")])
        out.append(f"{g[0]}{HIERARCHY_SEPARATOR}{k}" if g else k)
    return out


def build_xmp(keywords: Sequence[str], groups: Mapping[str, str] | None = None) -> bytes:
    """A new sidecar holding ``keywords`` in ``dc:subject``, ``group|keyword`` in ``lr:hierarchicalSubject``
    (``groups``: keyword -> group) and, privately, which of them are ours."""
    root = ET.Element(_q(NS_X, "xmpmeta"), {_q(NS_X, "xmptk"): "Fashion Finder"})
    rdf = ET.SubElement(root, _q(NS_RDF, "RDF"))
    desc = ET.SubElement(rdf, _q(NS_RDF, "Description"), {_q(NS_RDF, "about"): ""})
    kws = _clean(keywords)
    tree = hierarchical(kws, groups)
    _set_bag(desc, NS_DC, "subject", kws)
    _set_bag(desc, NS_LR, "hierarchicalSubject", tree)
    _set_bag(desc, NS_APP, "keywords", kws)
    _set_bag(desc, NS_APP, "hierarchical", tree)
    return _serialise(root, packet=False)


def merge_xmp(existing: bytes, keywords: Sequence[str], groups: Mapping[str, str] | None = None) -> bytes:
    """Put ``keywords`` into an existing sidecar, keeping its other content and other keywords.

    Keywords this app wrote before (recorded under its own namespace) are replaced by ``keywords``.
    Raises ValueError when ``existing`` is not XMP.
    """
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    try:
        root = ET.fromstring(existing, parser=parser)
    except ET.ParseError as exc:
        raise ValueError(f"not XML ({exc})") from None
    rdf = root if root.tag == _q(NS_RDF, "RDF") else root.find(_q(NS_RDF, "RDF"))
    if rdf is None and root.tag == _q(NS_X, "xmpmeta"):
        rdf = ET.SubElement(root, _q(NS_RDF, "RDF"))  # an empty packet is still XMP
    if rdf is None:
        raise ValueError("XML but not XMP (no rdf:RDF element)")
    descs = rdf.findall(_q(NS_RDF, "Description"))
    desc = next((d for d in descs if d.find(_q(NS_DC, "subject")) is not None), None)
    if desc is None:
        desc = descs[0] if descs else ET.SubElement(rdf, _q(NS_RDF, "Description"), {_q(NS_RDF, "about"): ""})
    ours_before = set(_bag_items(desc.find(_q(NS_APP, "keywords"))))
    theirs = [k for k in _bag_items(desc.find(_q(NS_DC, "subject"))) if k not in ours_before]
    # A keyword the person already had is theirs, not ours: a later export must never remove it.
    ours = [k for k in _clean(keywords) if k not in theirs]
    _set_bag(desc, NS_DC, "subject", _clean([*theirs, *ours]))
    _set_bag(desc, NS_APP, "keywords", ours)
    # The same for the hierarchy: a person's own hierarchical keywords stay, ours are swapped.
    ours_tree_before = set(_bag_items(desc.find(_q(NS_APP, "hierarchical"))))
    their_tree = [
        k for k in _bag_items(desc.find(_q(NS_LR, "hierarchicalSubject"))) if k not in ours_tree_before
    ]
    our_tree = [k for k in hierarchical(ours, groups) if k not in their_tree]
    if their_tree or our_tree:
        _set_bag(desc, NS_LR, "hierarchicalSubject", _clean([*their_tree, *our_tree]))
    _set_bag(desc, NS_APP, "hierarchical", our_tree)
    _keep_prefixes(existing)
    return _serialise(root, packet=b"<?xpacket begin" in existing[:200])


def _keep_prefixes(document: bytes) -> None:
    """Reuse the document's own namespace prefixes when writing it back (ElementTree would say ns0)."""
    known_uris = set(_KNOWN_PREFIXES.values())
    try:
        for _event, (prefix, uri) in ET.iterparse(io.BytesIO(document), events=("start-ns",)):
            usable = (
                prefix and not re.fullmatch(r"ns\d+", prefix) and re.fullmatch(r"[A-Za-z_][\w.-]*", prefix)
            )
            if usable and prefix not in _KNOWN_PREFIXES and uri not in known_uris:
                ET.register_namespace(prefix, uri)
    except ET.ParseError:
        pass


def _serialise(root: ET.Element, packet: bool) -> bytes:
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    if packet:
        body = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + body + '\n<?xpacket end="w"?>'
    return (body + "\n").encode("utf-8")


def _collisions(photos: Sequence[Path]) -> set[Path]:
    """Photos sharing folder and stem with another photo or raw file, in the batch or in the folder."""
    by_key: dict[tuple[Path, str], set[str]] = {}
    for p in photos:
        by_key.setdefault((p.parent, p.stem.casefold()), set()).add(p.name)
    listed: dict[Path, list[str]] = {}
    for folder in {p.parent for p in photos}:
        try:
            with os.scandir(folder) as it:
                listed[folder] = [
                    e.name
                    for e in it
                    if os.path.splitext(e.name)[1].lower().lstrip(".") in _SIBLING_EXTENSIONS
                ]
        except OSError:
            listed[folder] = []
    for folder, names in listed.items():
        for name in names:
            key = (folder, os.path.splitext(name)[0].casefold())
            if key in by_key:
                by_key[key].add(name)
    return {p for p in photos if len(by_key[(p.parent, p.stem.casefold())]) > 1 and not _owns_stem(p, by_key)}


def _is_raw(name: str) -> bool:
    return os.path.splitext(name)[1].lower().lstrip(".") in RAW_EXTENSIONS


def _owns_stem(photo: Path, by_key: dict[tuple[Path, str], set[str]]) -> bool:
    """A raw file keeps ``name.xmp`` when no other raw file shares its stem: in a RAW+JPEG pair that name is
    the raw file's (Lightroom, Bridge, Camera Raw), and the JPEG takes ``name.jpg.xmp``."""
    names = by_key[(photo.parent, photo.stem.casefold())]
    return _is_raw(photo.name) and sum(_is_raw(n) for n in names) == 1


def sidecar_paths(photos: Sequence[Path], naming: str = "adobe") -> dict[Path, Path]:
    """Each photo's sidecar in ``naming``, photos sharing a stem told apart (see the module's notes)."""
    clash = _collisions(photos) if naming == "adobe" else set()
    return {p: sidecar_path(p, "appended" if p in clash else naming) for p in photos}


def write_xmp_sidecars(
    rows: Iterable[tuple[str | os.PathLike, Sequence[str]]],
    naming: str = "adobe",
    progress: Progress = None,
    cancel: CancelFlag = None,
    on_error: Callable[[str, str], None] | None = None,
    groups: Mapping[str, str] | None = None,
) -> XmpReport:
    """Write one XMP sidecar per (photo path, keywords) row; never opens a photo for writing.

    ``groups`` (keyword -> group, e.g. the model's) adds ``group|keyword`` to ``lr:hierarchicalSubject``.

    Each sidecar is written atomically; an existing XMP sidecar is merged into (see module notes).
    Per-photo failures (missing photo, unwritable folder, a non-XMP file in the way) are collected in
    the report (and passed to ``on_error``) and the rest go on. Raises ExportCancelled if cancelled;
    sidecars already written stay (each is complete).
    """
    items = [(Path(p), list(k)) for p, k in rows]
    if naming not in ("adobe", "appended"):
        raise ValueError(f"unknown sidecar naming {naming!r} (use 'adobe' or 'appended')")
    targets = sidecar_paths([p for p, _ in items], naming)
    report = XmpReport()

    def fail(photo: Path, reason: str) -> None:
        report.errors.append((str(photo), reason))
        if on_error is not None:
            on_error(str(photo), reason)

    for n, (photo, keywords) in enumerate(items):
        if is_cancelled(cancel):
            raise ExportCancelled(f"sidecar export cancelled after {len(report.written)} files")
        if progress is not None and n % 100 == 0:
            progress(n, len(items))
        if not photo.is_file():
            fail(photo, "photo not found (moved or deleted?); no sidecar written")
            continue
        target = targets[photo]
        try:
            if target.is_symlink():
                fail(photo, f"{target.name} is a link: not written through or replaced; left untouched")
                continue
            if os.path.lexists(target):
                existing = read_regular_file(target, MAX_SIDECAR_BYTES)
                try:
                    data = merge_xmp(existing, keywords, groups)
                except ValueError as exc:
                    fail(photo, f"{target.name} exists and is not an XMP sidecar ({exc}); left untouched")
                    continue
            else:
                data = build_xmp(keywords, groups)
            atomic_write_bytes(target, data)
        except ExportError as exc:
            fail(photo, str(exc))
            continue
        except OSError as exc:
            fail(photo, f"{target}: the existing sidecar cannot be read: {exc.strerror or exc}")
            continue
        report.written.append(target)
    if progress is not None:
        progress(len(items), len(items))
    return report


def sidecars_of(photos: Sequence[str | os.PathLike]) -> dict[str, list[Path]]:
    """The sidecars present that describe each photo (by its path as given), in this module's naming:
    ``photo.jpg.xmp`` always, ``photo.xmp`` unless another photo or raw file shares the stem (then no
    reader can tell which of them it describes). Photos without one are left out."""
    paths = [Path(p) for p in photos]
    clash = _collisions(paths)
    found: dict[str, list[Path]] = {}
    for given, photo in zip(photos, paths, strict=True):
        names = ("appended",) if photo in clash else ("appended", "adobe")
        present = [s for s in (sidecar_path(photo, n) for n in names) if os.path.lexists(s)]
        if present:
            found[str(given)] = present
    return found
