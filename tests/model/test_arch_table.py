"""One architecture table: the app's form reads it without torch, the registry builds every name of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fashion_desktop.model.arch_table import (
    ARCH_HINTS,
    ARCH_INPUT_SIZES,
    ARCH_NAMES,
    ARCH_TABLE,
    download_needed_mb,
    hub_checkpoint_dir,
)
from tests.conftest import ROOT


def test_the_registry_builds_every_name_of_the_table() -> None:
    from fashion_desktop.model.archs import ARCHITECTURES

    assert tuple(ARCHITECTURES) == ARCH_NAMES
    assert all(ARCH_HINTS[n] for n in ARCH_NAMES)
    assert {n: spec.input_size for n, spec in ARCHITECTURES.items()} == ARCH_INPUT_SIZES
    for name, spec in ARCHITECTURES.items():
        row = ARCH_TABLE[name]
        assert (spec.description, spec.head_prefixes, spec.aux_logits) == (
            row.description,
            row.head_prefixes,
            row.aux_logits,
        )
    assert ARCHITECTURES["cnn"].pretrained is None and ARCHITECTURES["resnet18"].pretrained is not None


def test_the_contracts_below_the_gui_load_no_torch() -> None:
    code = (
        "import json, sys\n"
        "import fashion_desktop.model.arch_table, fashion_desktop.model.run_folder\n"
        "import fashion_desktop.model.train_config\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'trainer'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_the_weights_the_app_says_it_downloads_are_torchvisions(monkeypatch, tmp_path) -> None:
    """File names and sizes the Train tab names before Start, and torch's cache, found without torch."""
    tvm = pytest.importorskip("torchvision.models")
    from fashion_desktop.model.archs import torch_hub_checkpoint_dir

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert hub_checkpoint_dir() == torch_hub_checkpoint_dir()
    monkeypatch.delenv("TORCH_HOME")
    assert hub_checkpoint_dir() == torch_hub_checkpoint_dir()
    for name, row in ARCH_TABLE.items():
        if row.offline_weights or name == "cnn":
            assert not row.weights_file and download_needed_mb(name) == 0
            continue
        weights = tvm.get_model_weights(name).DEFAULT
        assert os.path.basename(weights.url) == row.weights_file, name
        assert abs(weights.meta["_file_size"] - row.download_mb) <= 1, name
