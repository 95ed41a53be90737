"""Reading a bundle without torch: the same description and arrays as torch reads, tensors read only when
asked, and a hostile or damaged file gets a BundleError and nothing else (fuzzed, memory bounded)."""

from __future__ import annotations

import random
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from fashion_desktop.model.bundle import load_bundle, new_bundle, save_bundle
from fashion_desktop.model.bundle_file import TensorRef, evaluation_dict, read_bundle_file
from fashion_desktop.model.bundle_format import BundleError, OldBundleFormat


def _bundle_with_evaluation(tmp_path: Path) -> Path:
    from fashion_desktop.model.archs import build_model

    torch.manual_seed(0)
    targets = torch.randint(-1, 2, (5, 3), dtype=torch.int8)
    scores = torch.rand(3, 5).t()  # not contiguous: written in C order
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
                "paths": [f"p{i}.jpg" for i in range(5)],
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
    bundle = read_bundle_file(path)
    d = bundle.description
    ref = load_bundle(path)
    assert d.labels == ref.labels and d.arch == ref.arch
    assert dict(d.groups) == dict(ref.groups) and d.thresholds == pytest.approx(ref.thresholds)
    assert d.metrics == dict(ref.metrics) and d.input_size == 48
    assert bundle.model_id == ref.model_id == "abc123"
    ev = evaluation_dict(bundle)
    assert ev["split"] == "test" and ev["paths"] == ref.evaluation["paths"]
    for key in ("targets", "scores", "half", "slice", "scalar", "mask"):
        ours, theirs = ev[key].numpy(), ref.evaluation[key].numpy()
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, key
        assert np.array_equal(ours, theirs), key
    assert np.array_equal(ev["bf16"].numpy(), ref.evaluation["bf16"].float().numpy())
    weights = bundle.weights()  # described, not read: the app never needs them
    assert all(isinstance(t, TensorRef) for t in weights.values())
    assert {k: t.shape for k, t in weights.items()} == {k: tuple(v.shape) for k, v in ref.state_dict.items()}


@pytest.mark.slow
def test_reading_a_bundle_does_not_import_torch(tmp_path: Path) -> None:
    path = _bundle_with_evaluation(tmp_path)
    code = (
        "import sys; from fashion_desktop.model.bundle_file import read_bundle_file, evaluation_dict; "
        f"b = read_bundle_file({str(path)!r}); evaluation_dict(b)['scores'].numpy(); b.model_id; "
        "from fashion_desktop.gui.models.metrics_model import read_bundle_info; "
        f"info = read_bundle_info({str(path)!r}); assert info.ok and info.evaluation is not None, info; "
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


def test_tensors_are_read_only_when_asked(tmp_path: Path) -> None:
    path = _bundle_with_evaluation(tmp_path)
    bundle = read_bundle_file(path)
    path.write_bytes(path.read_bytes()[: bundle.evaluation_arrays()["scores"].offset])  # data gone
    with pytest.raises(BundleError, match="cut short"):
        bundle.evaluation_arrays()["scores"].numpy()


def test_an_old_torch_bundle_asks_for_conversion(tmp_path: Path) -> None:
    path = tmp_path / "old.fmodel"
    torch.save({"format": "fashion-finder-bundle", "format_version": 1, "arch": "cnn", "labels": ["a"]}, path)
    with pytest.raises(OldBundleFormat, match="fashion convert") as err:
        read_bundle_file(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty or cut short"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{}", "cut short"),
        (struct.pack("<Q", 4) + b"[1] ", "not a table"),
        (struct.pack("<Q", 4) + b"\xff\xfe{}", "not readable JSON"),
        (struct.pack("<Q", 2) + b"{}", "not a Fashion Finder bundle"),
    ],
)
def test_bad_files_get_a_message_naming_the_file(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.fmodel"
    path.write_bytes(content)
    with pytest.raises(BundleError, match=problem) as err:
        read_bundle_file(path)
    assert str(path) in str(err.value)
    with pytest.raises(BundleError, match="not found"):
        read_bundle_file(tmp_path / "missing.fmodel")


def _mutations(data: bytes, rng: random.Random, n: int) -> Iterator[bytes]:
    """Truncations, flipped bytes in the header and data, oversized and undersized header lengths."""
    (hlen,) = struct.unpack("<Q", data[:8])
    for i in range(n):
        kind = i % 5
        if kind == 0:
            yield data[: rng.randrange(len(data))]
        elif kind in (1, 2):
            b = bytearray(data)
            lo, hi = (0, 8 + hlen) if kind == 1 else (0, len(b))
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(lo, hi)] = rng.randrange(256)
            yield bytes(b)
        elif kind == 3:
            big = rng.choice([hlen + rng.randint(1, 64), 1 << rng.randint(20, 63), len(data), (1 << 64) - 1])
            yield struct.pack("<Q", big) + data[8:]
        else:  # a digit of a shape or offset changed: sizes that lie about the file
            b = bytearray(data)
            digits = [j for j in range(8, 8 + hlen) if chr(b[j]).isdigit()]
            for j in rng.sample(digits, min(3, len(digits))):
                b[j] = ord(rng.choice("0123456789"))
            yield bytes(b)


def test_fuzzed_bundles_raise_only_bundle_errors_with_bounded_memory(tmp_path: Path) -> None:
    import resource

    path = _bundle_with_evaluation(tmp_path)
    data = path.read_bytes()
    rng = random.Random(1234)
    target = tmp_path / "fuzz.fmodel"
    load_bundle(path)  # warm up torch's kernels, so only what the mutations cost is measured
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    outcomes = {"refused": 0, "read": 0}
    cases = 300
    for case in _mutations(data, rng, cases):
        target.write_bytes(case)
        for reader in (read_bundle_file, load_bundle):
            try:
                bundle = reader(target)
                if reader is read_bundle_file:
                    for t in bundle.tensors.values():
                        t.numpy()
                    assert bundle.model_id
                outcomes["read"] += 1
            except BundleError as exc:
                assert str(target) in str(exc) or "tensor" in str(exc)
                outcomes["refused"] += 1
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"fuzz: {cases} cases x 2 readers, {outcomes}, peak RSS grew {grown_mb:.0f} MB")
    assert outcomes["refused"] > cases  # most mutations are caught
    assert grown_mb < 300
