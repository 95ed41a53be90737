"""The model bundle's format as data: name, version, the checks every reader applies, the model-id rule.

Standard library only, so the app can check a bundle's description without importing torch
(``fashion_desktop.model.bundle_file``) with the same rules and messages as ``fashion_desktop.model.bundle.load_bundle``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

FORMAT = "fashion-finder-bundle"
FORMAT_VERSION = 1
SUFFIX = ".fmodel"


class BundleError(ValueError):
    """A file that is not a usable model bundle; the message names the file and the problem."""


def require(cond: object, path: str | os.PathLike, problem: str) -> None:
    """Raise BundleError ``"{path}: not a valid model bundle: {problem}"`` unless ``cond``."""
    if not cond:
        raise BundleError(f"{path}: not a valid model bundle: {problem}")


def refused_message(path: str | os.PathLike, detail: str) -> str:
    """What to say when a file holds Python objects or code instead of plain data."""
    return (
        f"{path}: refused to load: the file contains Python objects or code, not just weights "
        f"and plain data ({detail[:160]})"
    )


def check_description(raw: object, path: str | os.PathLike) -> None:
    """Check the parts of a loaded bundle dict that need no torch: format and version, the label list
    (present, strings, no duplicates), one threshold per label, an architecture name.

    Raises BundleError naming ``path`` and the first problem found.
    """
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BundleError(
            f"{path}: not a valid model bundle: it is not a Fashion Finder bundle "
            "(plain checkpoints must be converted with the trainer)"
        )
    version = raw.get("format_version")
    require(isinstance(version, int), path, "format version missing")
    require(
        version <= FORMAT_VERSION,
        path,
        f"format version {version} is newer than this app understands ({FORMAT_VERSION}); update the app",
    )
    require(isinstance(raw.get("arch"), str), path, f"unknown architecture {raw.get('arch')!r}")
    labels = raw.get("labels")
    require(
        isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels),
        path,
        "label list missing or empty",
    )
    require(len(set(labels)) == len(labels), path, "duplicate label names")
    thresholds = raw.get("thresholds") or [0.5] * len(labels)
    require(len(thresholds) == len(labels), path, f"{len(thresholds)} thresholds for {len(labels)} labels")


def model_id(provenance: Mapping[str, Any], arch: str) -> str:
    """Stable id of a bundle's weights (predictions are stored under it in the catalog)."""
    return str(provenance.get("model_id") or provenance.get("created") or arch)
