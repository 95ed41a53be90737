"""Finds the top-level ``resources/`` folder from a checkout, an installed wheel or a frozen build."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path


@cache
def resources_dir() -> Path:
    """Folder holding taxonomy files, icons and the default model."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    checkout = Path(__file__).resolve().parents[2] / "resources"
    if checkout.is_dir():
        return checkout
    from importlib.resources import files

    return Path(str(files("fashion_desktop.resources")))


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def taxonomy_labels() -> list[str]:
    """The 46 iMaterialist 2019 / Fashionpedia category names, in id order."""
    text = resource_path("taxonomy", "imaterialist46.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def default_model_path() -> Path | None:
    """The bundled default model, or None when this build ships none."""
    p = resource_path("models", "default.fmodel")
    return p if p.is_file() else None


# What MODEL means on every command line (fashion tag, inspect, evaluate): this word or a bundle file.
DEFAULT_MODEL = "default"


def model_file(spec: str | Path) -> Path | None:
    """The bundle file a command's MODEL argument names: ``spec`` itself, or for the word ``default`` the
    model shipped with the app (None when this build ships none)."""
    return default_model_path() if str(spec) == DEFAULT_MODEL else Path(spec)


# Every default model's name starts so (v1 "Fashion Finder default (EfficientNet-Lite0)", v2 "… default v2 …").
DEFAULT_NAME_PREFIX = "Fashion Finder default"


def default_model_header() -> tuple[str, str] | None:
    """(model id, name) of the shipped default model, read from its header (no torch); None when this
    build ships none or it cannot be read."""
    from .bundle_file import read_bundle_file
    from .bundle_format import BundleError

    path = default_model_path()
    if path is None:
        return None
    try:
        stamp = (str(path), path.stat().st_mtime_ns)
        if stamp not in _DEFAULT_HEADER:
            d = read_bundle_file(path).description
            _DEFAULT_HEADER.clear()  # asked after every count update: read once per file version
            _DEFAULT_HEADER[stamp] = (
                d.stored_model_id or "",
                str(d.provenance.get("name") or "Default model"),
            )
        return _DEFAULT_HEADER[stamp]
    except (BundleError, OSError):
        return None


_DEFAULT_HEADER: dict[tuple[str, int], tuple[str, str]] = {}


def earlier_default(key: str, name: str, path: str | None, default: tuple[str, str] | None) -> bool:
    """Whether the model recorded as (``key``, ``name``, ``path``) in a library was an earlier version of
    the shipped ``default`` (``default_model_header()``): the default model's file under another model id."""
    if default is None or not default[0] or key == default[0]:
        return False
    shipped = default_model_path()
    if not path or shipped is None:
        return False
    # The same file, or (a frozen build unpacks into a new folder each launch) a default model's file
    # and name; a person's own model never lives in a file named so inside the app's resources.
    recorded = Path(str(path))
    return recorded == shipped or (recorded.name == shipped.name and name.startswith(DEFAULT_NAME_PREFIX))
