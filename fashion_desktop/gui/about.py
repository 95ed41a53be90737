"""Help → About: versions, the devices torch sees, the model, the library and where the logs are."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from fashion_desktop.gui import settings
from fashion_desktop.model.protocol import Devices

APP_NAME = "Fashion Finder"


def model_line(path: str) -> str:
    """A bundle's name and model id for About, read from its header (no torch), or why not."""
    from fashion_desktop.model.bundle_file import read_bundle_file

    try:
        bundle = read_bundle_file(path)
    except Exception as exc:  # About must open whatever the file is
        return f"{path} (cannot be read: {exc})"
    name = bundle.description.provenance.get("name") or Path(path).name
    return f"{name} (id {bundle.model_id}) — {path}"


def about_text(found: Devices | None, model: str | None, library: Path | None) -> str:
    """Versions, and the devices torch sees (asked in a child process: torch never loads in the app)."""
    import PySide6

    from fashion_desktop import __version__ as app_version

    lines = [
        f"<b>{APP_NAME}</b> {app_version}",
        f"Python {sys.version.split()[0]} on {platform.platform()}",
        f"PySide6 {PySide6.__version__}",
    ]
    if found is not None:
        lines.append(f"PyTorch {found.torch}")
        devs = ["CPU"] + [f"CUDA: {n}" for n in found.cuda_names] + (["Apple MPS"] if found.mps else [])
        lines.append("Devices: " + ", ".join(devs))
    else:
        lines.append("PyTorch and devices: checking…")
    if model:
        lines.append(f"Model: {model_line(model)}")
    if library is not None:
        lines.append(f"Library: {library}")
    lines.append(f"Logs: {settings.log_dir()}")
    return "<br>".join(lines)
