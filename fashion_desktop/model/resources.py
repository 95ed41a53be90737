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
