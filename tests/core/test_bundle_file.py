"""Reading a bundle's description without torch: the same labels, metrics and evaluation as torch reads,
and nothing but plain data accepted."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fashion_desktop.model.bundle import FORMAT, load_bundle, new_bundle, save_bundle
from fashion_desktop.model.bundle_file import TensorRef, read_bundle_dict
from fashion_desktop.model.bundle_format import BundleError, model_id


def _bundle_with_evaluation(tmp_path: Path) -> Path:
    from fashion_desktop.model.archs import build_model

    torch.manual_seed(0)
    targets = torch.randint(-1, 2, (5, 3), dtype=torch.int8)
    scores = torch.rand(3, 5).t()  # not contiguous: strides must be honoured
    return save_bundle(
        new_bundle(
            "cnn",
            ["dress", "shirt, blouse", "röd"],
            build_model("cnn", 3).state_dict(),
            input_size=48,
            groups={"dress": "category", "röd": "colour"},
            thresholds=(0.4, 0.5, 0.6),
            metrics={"test": {"overall": {"f1_micro": 0.75}}},
            provenance={"model_id": "abc123", "name": "tiny"},
            evaluation={
                "split": "test",
                "targets": targets,
                "scores": scores,
                "half": torch.rand(2, 3).half(),
                "bf16": torch.tensor([1.5, -2.0, 3.25], dtype=torch.bfloat16),
                "slice": torch.arange(10, dtype=torch.int64)[3:8],
                "scalar": torch.tensor(7.0),
                "mask": torch.tensor([True, False, True]),
            },
        ),
        tmp_path / "m.fmodel",
    )


def test_the_description_matches_what_torch_loads(tmp_path: Path) -> None:
    path = _bundle_with_evaluation(tmp_path)
    raw = read_bundle_dict(path)
    ref = load_bundle(path)
    assert tuple(raw["labels"]) == ref.labels and raw["arch"] == ref.arch
    assert dict(raw["groups"]) == dict(ref.groups) and tuple(raw["thresholds"]) == pytest.approx(
        ref.thresholds
    )
    assert raw["metrics"] == dict(ref.metrics) and raw["input_size"] == 48
    assert model_id(raw["provenance"], raw["arch"]) == ref.model_id == "abc123"
    ev = raw["evaluation"]
    for key in ("targets", "scores", "half", "slice", "scalar", "mask"):
        ours, theirs = ev[key].numpy(), ref.evaluation[key].numpy()
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, key
        assert np.array_equal(ours, theirs), key
    assert np.array_equal(ev["bf16"].numpy(), ref.evaluation["bf16"].float().numpy())
    weights = raw["state_dict"]  # described, not read: the app never needs them
    assert all(isinstance(t, TensorRef) for t in weights.values())
    assert {k: t.shape for k, t in weights.items()} == {k: tuple(v.shape) for k, v in ref.state_dict.items()}


def test_reading_a_bundle_does_not_import_torch(tmp_path: Path) -> None:
    path = _bundle_with_evaluation(tmp_path)
    code = (
        "import sys; from fashion_desktop.model.bundle_file import read_bundle_dict; "
        f"raw = read_bundle_dict({str(path)!r}); raw['evaluation']['scores'].numpy(); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert out.stdout.strip() == "False"


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_a_crafted_pickle_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.fmodel"
    torch.save(
        {"format": FORMAT, "format_version": 1, "arch": "cnn", "labels": ["a"], "provenance": _Evil(marker)},
        path,
    )
    with pytest.raises(BundleError, match="refused to load") as err:
        read_bundle_dict(path)
    assert str(path) in str(err.value) and "system" in str(err.value)  # names what it refused
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "not a model bundle"),
        (b"PK\x03\x04 broken zip", "not a model bundle"),
        (pickle.dumps({"format": FORMAT}), "not a model bundle"),
    ],
)
def test_bad_files_get_a_message_naming_the_file(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.fmodel"
    path.write_bytes(content)
    with pytest.raises(BundleError, match=problem) as err:
        read_bundle_dict(path)
    assert str(path) in str(err.value)
    with pytest.raises(BundleError, match="not found"):
        read_bundle_dict(tmp_path / "missing.fmodel")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"format": "something-else"}, "not a Fashion Finder bundle"),
        ({"format_version": 99}, "newer than this app understands"),
        ({"labels": []}, "label list missing"),
        ({"labels": ["a", "a"]}, "duplicate label"),
        ({"thresholds": [0.5, 0.5]}, "2 thresholds for 1 labels"),
    ],
)
def test_bundles_this_app_cannot_use_are_explained(tmp_path: Path, change: dict, problem: str) -> None:
    payload = {"format": FORMAT, "format_version": 1, "arch": "cnn", "labels": ["a"], "state_dict": {}}
    path = tmp_path / "odd.fmodel"
    torch.save({**payload, **change}, path)
    with pytest.raises(BundleError, match=problem):
        read_bundle_dict(path)
