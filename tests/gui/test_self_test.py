"""``fashion-desktop --self-test`` from the source install: every step passes with a generated model; without
a default model it fails plainly and exits non-zero."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fashion_desktop.gui import self_test

REPO = Path(__file__).resolve().parents[2]
STEPS = ("window", "model", "photos", "tagging", "export", "trainer")


def run(code_or_args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("QT_QPA_PLATFORM", None)  # the self-test chooses offscreen itself
    return subprocess.run(
        [sys.executable, *code_or_args], cwd=REPO, env=env, capture_output=True, text=True, timeout=240
    )


@pytest.mark.slow
def test_self_test_passes_every_step_with_a_model(tmp_path, tiny_bundle_path) -> None:
    res = run(
        ["-m", "fashion_desktop.launcher", "--self-test", "--self-test-model", str(tiny_bundle_path)],
        tmp_path,
    )
    lines = res.stdout.splitlines()
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert [line.split(":")[0] for line in lines[:-1]] == [f"PASS {s}" for s in STEPS]
    assert "6 photos tagged by the tagging process" in res.stdout
    assert "tags.xlsx written and read back: 6 rows, 3 score columns" in res.stdout
    assert lines[-1].startswith("self-test passed: 6 of 6 steps")
    assert "offscreen" in lines[0]


@pytest.mark.slow
def test_without_a_default_model_the_self_test_fails_plainly(tmp_path) -> None:
    code = (
        "import sys\n"
        "from fashion_desktop.model import resources\n"
        "resources.default_model_path = lambda: None  # this build ships none\n"
        "from fashion_desktop.gui import app\n"
        "sys.exit(app.main(['--self-test']))\n"
    )
    res = run(["-c", code], tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr[-3000:]
    assert f"FAIL model: {self_test.NO_DEFAULT_MODEL}" in res.stdout
    assert "FAIL tagging: not run: model failed" in res.stdout
    assert "PASS window" in res.stdout and "PASS trainer" in res.stdout
    assert res.stdout.splitlines()[-1].startswith("self-test FAILED: 3 of 6 steps failed")


def test_a_missing_self_test_model_is_named() -> None:
    out = io.StringIO()
    assert self_test.main("/nowhere/model.fmodel", out) == 2
    assert out.getvalue() == "FAIL model: /nowhere/model.fmodel: file not found\n"
