"""One architecture table: the app's form reads it without torch, the registry builds every name of it."""

from __future__ import annotations

import json
import subprocess
import sys

from fashion_desktop.model.arch_table import ARCH_HINTS, ARCH_INPUT_SIZES, ARCH_NAMES, ARCH_TABLE
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
