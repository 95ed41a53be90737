"""Model bundles: round trip, crafted pickles refused without side effects, clear errors for bad files."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from fashion_desktop.model.bundle import FORMAT, BundleError, load_bundle, new_bundle, save_bundle


def _tiny_state(num_labels: int = 3) -> dict[str, torch.Tensor]:
    from fashion_desktop.model.archs import build_model

    torch.manual_seed(0)
    return build_model("cnn", num_labels).state_dict()


def test_round_trip_keeps_everything_inference_needs(tmp_path: Path) -> None:
    labels = ["dress", "shirt, blouse", "red"]
    bundle = new_bundle(
        "cnn",
        labels,
        _tiny_state(),
        input_size=48,
        groups={"dress": "category", "shirt, blouse": "category", "red": "colour"},
        thresholds=(0.4, 0.5, 0.6),
        metrics={"f1_micro": 0.75},
        provenance={"model_id": "abc123", "name": "tiny"},
        evaluation={
            "split": "val",
            "scores": torch.rand(4, 3),
            "targets": torch.zeros(4, 3, dtype=torch.int8),
        },
    )
    path = save_bundle(bundle, tmp_path / "m.fmodel")
    loaded = load_bundle(path)
    assert loaded.labels == tuple(labels)
    assert loaded.arch == "cnn" and loaded.input_size == 48 and loaded.resize == "squash"
    assert loaded.groups == bundle.groups and loaded.group_names() == ["category", "colour"]
    assert loaded.thresholds == pytest.approx((0.4, 0.5, 0.6))
    assert loaded.mean == pytest.approx(bundle.mean) and loaded.std == pytest.approx(bundle.std)
    assert loaded.metrics == {"f1_micro": 0.75}
    assert loaded.model_id == "abc123" and loaded.path == path
    assert torch.equal(loaded.evaluation["scores"], bundle.evaluation["scores"])
    model = loaded.build_model()
    assert not model.training
    x = torch.rand(2, 3, 48, 48)
    ref = bundle.build_model()
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x))
    assert not list(tmp_path.glob(".*.tmp")), "the atomic write left a temp file behind"


class _Evil:
    def __init__(self, action: str, marker: Path) -> None:
        self.action, self.marker = action, marker

    def __reduce__(self):
        if self.action == "system":
            return (os.system, (f"touch '{self.marker}'",))
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("action", ["system", "open"])
@pytest.mark.parametrize("container", ["torch_zip", "plain_pickle"])
def test_crafted_pickle_is_refused_and_runs_nothing(tmp_path: Path, action: str, container: str) -> None:
    marker = tmp_path / "pwned"
    payload = {
        "format": FORMAT,
        "format_version": 1,
        "arch": "cnn",
        "labels": ["a"],
        "state_dict": {"w": torch.zeros(1)},
        "provenance": _Evil(action, marker),
    }
    path = tmp_path / "evil.fmodel"
    if container == "torch_zip":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(BundleError) as err:
        load_bundle(path)
    assert str(path) in str(err.value)
    if container == "torch_zip":
        assert "refused to load" in str(err.value) and "code" in str(err.value)
    assert not marker.exists(), "loading the bundle ran code from the file"


def test_wrong_format_messages_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.fmodel"
    with pytest.raises(BundleError, match="not found") as err:
        load_bundle(missing)
    assert str(missing) in str(err.value)

    text = tmp_path / "labels.fmodel"
    text.write_text("dress\ncoat\n")
    with pytest.raises(BundleError, match="not a model bundle") as err:
        load_bundle(text)
    assert str(text) in str(err.value) and "code" not in str(err.value)

    empty = tmp_path / "empty.fmodel"
    empty.write_bytes(b"")
    with pytest.raises(BundleError, match="empty or cut short"):
        load_bundle(empty)

    plain = tmp_path / "checkpoint.pth"
    torch.save(_tiny_state(), plain)
    with pytest.raises(BundleError, match="not a Fashion Finder bundle"):
        load_bundle(plain)

    newer = tmp_path / "newer.fmodel"
    d = new_bundle("cnn", ["a", "b", "c"], _tiny_state()).to_dict()
    d["format_version"] = 99
    torch.save(d, newer)
    with pytest.raises(BundleError, match="newer"):
        load_bundle(newer)

    unknown = tmp_path / "unknown.fmodel"
    d = new_bundle("cnn", ["a", "b", "c"], _tiny_state()).to_dict()
    d["arch"] = "resnet9000"
    torch.save(d, unknown)
    with pytest.raises(BundleError, match="unknown architecture 'resnet9000'"):
        load_bundle(unknown)


def test_label_count_mismatch_is_explained(tmp_path: Path) -> None:
    d = new_bundle("cnn", ["a", "b", "c"], _tiny_state(3)).to_dict()
    d["labels"] = ["a", "b", "c", "d"]
    d["thresholds"] = [0.5] * 4
    path = tmp_path / "mismatch.fmodel"
    torch.save(d, path)
    with pytest.raises(BundleError) as err:
        load_bundle(path)
    assert str(path) in str(err.value) and "3 outputs" in str(err.value) and "4 labels" in str(err.value)

    d = new_bundle("cnn", ["a", "b", "c"], _tiny_state(3)).to_dict()
    d["thresholds"] = [0.5, 0.5]
    torch.save(d, path)
    with pytest.raises(BundleError, match="2 thresholds for 3 labels"):
        load_bundle(path)


def test_truncated_bundle_is_refused(tmp_path: Path) -> None:
    good = save_bundle(new_bundle("cnn", ["a", "b", "c"], _tiny_state()), tmp_path / "good.fmodel")
    data = good.read_bytes()
    cut = tmp_path / "cut.fmodel"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError) as err:
        load_bundle(cut)
    assert str(cut) in str(err.value)
    assert zipfile.is_zipfile(io.BytesIO(data))
