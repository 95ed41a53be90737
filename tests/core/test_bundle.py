"""Model bundles: round trip, every field validated with a message naming the file and field, hostile files
refused quickly, old torch-zip bundles converted (crafted pickles refused without side effects)."""

from __future__ import annotations

import json
import os
import pickle
import struct
import time
from dataclasses import fields
from pathlib import Path

import pytest
import torch

from fashion_desktop.model.bundle import (
    FORMAT,
    Bundle,
    BundleError,
    OldBundleFormat,
    convert_old_bundle,
    load_bundle,
    new_bundle,
    save_bundle,
)
from fashion_desktop.model.bundle_format import METADATA_KEY, BundleDescription


def _tiny_state(num_labels: int = 3) -> dict[str, torch.Tensor]:
    from fashion_desktop.model.archs import build_model

    torch.manual_seed(0)
    return build_model("cnn", num_labels).state_dict()


def _full_bundle() -> Bundle:
    labels = ["dress", "shirt, blouse", "red"]
    return new_bundle(
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
            "paths": ["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
            "scores": torch.rand(4, 3),
            "targets": torch.zeros(4, 3, dtype=torch.int8),
        },
    )


def test_round_trip_keeps_everything_inference_needs(tmp_path: Path) -> None:
    bundle = _full_bundle()
    path = save_bundle(bundle, tmp_path / "m.fmodel")
    loaded = load_bundle(path)
    assert loaded.labels == bundle.labels
    assert loaded.arch == "cnn" and loaded.input_size == 48 and loaded.resize == "squash"
    assert loaded.groups == bundle.groups and loaded.group_names() == ["category", "colour"]
    assert loaded.thresholds == pytest.approx((0.4, 0.5, 0.6))
    assert loaded.mean == pytest.approx(bundle.mean) and loaded.std == pytest.approx(bundle.std)
    assert loaded.metrics == {"f1_micro": 0.75}
    assert loaded.model_id == "abc123" and loaded.path == path
    assert torch.equal(loaded.evaluation["scores"], bundle.evaluation["scores"])
    assert torch.equal(loaded.evaluation["targets"], bundle.evaluation["targets"])
    assert loaded.evaluation["split"] == "val" and loaded.evaluation["paths"] == [
        "a.jpg",
        "b.jpg",
        "c.jpg",
        "d.jpg",
    ]
    model = loaded.build_model()
    assert not model.training
    x = torch.rand(2, 3, 48, 48)
    ref = bundle.build_model()
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x))
    assert not list(tmp_path.glob(".*.tmp")), "the atomic write left a temp file behind"


def test_the_file_is_safetensors_with_the_description_in_its_metadata(tmp_path: Path) -> None:
    from safetensors import safe_open

    path = save_bundle(_full_bundle(), tmp_path / "m.fmodel")
    with safe_open(str(path), framework="np") as f:
        description = json.loads(f.metadata()[METADATA_KEY])
        names = set(f.keys())
    assert description["format"] == FORMAT and description["labels"][0] == "dress"
    assert {"evaluation.targets", "evaluation.scores", "state_dict.classifier.weight"} <= names


def test_model_ids_are_stable_and_never_the_architecture(tmp_path: Path) -> None:
    a = new_bundle("cnn", ["a", "b", "c"], _tiny_state())
    assert a.model_id.startswith("sha256:") and a.model_id != "cnn"
    b = new_bundle("cnn", ["a", "b", "x"], _tiny_state())
    assert a.model_id != b.model_id, "two models without a stored id got the same id"
    saved = load_bundle(save_bundle(a, tmp_path / "a.fmodel"))
    assert saved.provenance["model_id"] and saved.model_id != "cnn"
    again = load_bundle(save_bundle(saved, tmp_path / "again.fmodel"))
    assert again.model_id == saved.model_id, "saving again must keep the id"
    other = load_bundle(save_bundle(a, tmp_path / "other.fmodel"))
    assert other.model_id != saved.model_id  # a fresh id for each save of an id-less bundle


def _write_raw(path: Path, description: dict, tensors: dict[str, torch.Tensor]) -> Path:
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(description)})
    return path


def _parts(bundle: Bundle | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    bundle = bundle or new_bundle("cnn", ["a", "b", "c"], _tiny_state(), provenance={"model_id": "m1"})
    d = bundle.to_dict()
    tensors = {f"state_dict.{k}": v.contiguous() for k, v in d.pop("state_dict").items()}
    d.pop("evaluation")
    return d, tensors


def test_a_bundle_without_an_id_gets_one_from_its_content(tmp_path: Path) -> None:
    from fashion_desktop.model.bundle_file import read_bundle_file

    d, tensors = _parts()
    d["provenance"] = {}
    path = _write_raw(tmp_path / "noid.fmodel", d, tensors)
    loaded = load_bundle(path)
    assert loaded.model_id.startswith("sha256:")
    assert (
        loaded.model_id
        == read_bundle_file(path).model_id
        == new_bundle("cnn", ["a", "b", "c"], _tiny_state()).model_id
    )


BAD_FIELDS = [
    ({"thresholds": [float("nan"), 0.5, 0.5]}, "thresholds"),
    ({"thresholds": [2.0, 0.5, 0.5]}, "thresholds"),
    ({"thresholds": [-1, 0.5, 0.5]}, "thresholds"),
    ({"thresholds": [0.5, 0.5]}, "2 thresholds for 3 labels"),
    ({"input_size": 0}, "input_size"),
    ({"input_size": 100000}, "input_size"),
    ({"input_size": "224"}, "input_size"),
    ({"std": [0.2, 0.0, 0.2]}, "std"),
    ({"mean": [0.5, float("inf"), 0.5]}, "mean"),
    ({"std": [0.2, 0.2]}, "std"),
    ({"labels": ["a", "", "c"]}, "labels"),
    ({"labels": ["a", "   ", "c"]}, "labels"),
    ({"labels": ["a", "b|c", "d"]}, "tag separator"),
    ({"labels": ["a", "a", "c"]}, "duplicate"),
    ({"labels": []}, "labels"),
    ({"format_version": 99}, "format_version 99 is newer than this app understands (2)"),
    ({"format": "something-else"}, "not a Fashion Finder bundle"),
    ({"arch": 7}, "arch"),
    ({"arch": "resnet9000"}, "unknown architecture 'resnet9000'"),
    ({"resize": "stretch"}, "resize"),
    ({"groups": {"a": 3}}, "groups"),
    ({"metrics": [1, 2]}, "metrics"),
    ({"provenance": "me"}, "provenance"),
]


@pytest.mark.parametrize(
    ("change", "problem"),
    BAD_FIELDS,
    ids=[f"{k}={str(v)[:20]}" for (c, _p) in BAD_FIELDS for k, v in c.items()],
)
def test_each_field_is_validated_with_a_message_naming_file_and_field(
    tmp_path: Path, change: dict, problem: str
) -> None:
    from fashion_desktop.model.bundle_file import read_bundle_file

    d, tensors = _parts()
    path = _write_raw(tmp_path / "odd.fmodel", {**d, **change}, tensors)
    for reader in (load_bundle, read_bundle_file):
        if problem.startswith("unknown architecture") and reader is read_bundle_file:
            continue  # the torch-free reader knows no registry: the Models tab shows any architecture
        with pytest.raises(BundleError) as err:
            reader(path)
        message = str(err.value)
        assert str(path) in message and problem in message and "\n" not in message, message


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path: Path, bad: float) -> None:
    d, tensors = _parts()
    tensors["state_dict.classifier.weight"][0, 0] = bad
    path = _write_raw(tmp_path / "nan.fmodel", d, tensors)
    with pytest.raises(BundleError, match="weights contain NaN or infinite values") as err:
        load_bundle(path)
    assert str(path) in str(err.value)


def test_label_count_mismatch_is_explained(tmp_path: Path) -> None:
    d, tensors = _parts()
    d["labels"] = ["a", "b", "c", "d"]
    d["thresholds"] = [0.5] * 4
    path = _write_raw(tmp_path / "mismatch.fmodel", d, tensors)
    with pytest.raises(BundleError) as err:
        load_bundle(path)
    assert str(path) in str(err.value) and "3 outputs" in str(err.value) and "4 labels" in str(err.value)


def test_an_invalid_bundle_is_not_written(tmp_path: Path) -> None:
    bad = new_bundle("cnn", ["a", "b|c", "d"], _tiny_state())
    with pytest.raises(BundleError, match="tag separator"):
        save_bundle(bad, tmp_path / "bad.fmodel")
    assert not list(tmp_path.iterdir())


def test_wrong_files_get_messages_naming_the_file(tmp_path: Path) -> None:
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

    plain = tmp_path / "weights.safetensors"
    from safetensors.torch import save_file

    save_file({"state_dict.w": torch.zeros(2)}, str(plain))
    with pytest.raises(BundleError, match="not a Fashion Finder bundle"):
        load_bundle(plain)


def test_truncated_bundle_is_refused(tmp_path: Path) -> None:
    good = save_bundle(new_bundle("cnn", ["a", "b", "c"], _tiny_state()), tmp_path / "good.fmodel")
    data = good.read_bytes()
    cut = tmp_path / "cut.fmodel"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError) as err:
        load_bundle(cut)
    assert str(cut) in str(err.value)


def _header_file(path: Path, header: dict, data: bytes = b"") -> Path:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def test_a_huge_declared_tensor_in_a_tiny_file_is_refused_quickly(tmp_path: Path) -> None:
    import resource

    d, _ = _parts()
    meta = {METADATA_KEY: json.dumps(d)}
    huge = {
        "__metadata__": meta,
        "state_dict.w": {"dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 1 << 42]},
    }
    lying = {
        "__metadata__": meta,
        "state_dict.w": {"dtype": "F32", "shape": [1 << 30], "data_offsets": [0, 16]},
    }
    from fashion_desktop.model.bundle_file import read_bundle_file

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    for header, problem in ((huge, "outside the file"), (lying, "declares 4294967296 bytes but spans 16")):
        path = _header_file(tmp_path / "huge.fmodel", header, b"\0" * 16)
        for reader in (load_bundle, read_bundle_file):
            with pytest.raises(BundleError, match=problem):
                reader(path)
    big_header = tmp_path / "big-header.fmodel"
    big_header.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(BundleError, match="header claims"):
        load_bundle(big_header)
    assert time.perf_counter() - t0 < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: < 100 MB more


# -- format 1 (torch zip) ---------------------------------------------------------------------------
def _old_bundle(tmp_path: Path, **provenance: str) -> tuple[Path, Bundle]:
    bundle = _full_bundle()
    d = bundle.to_dict()
    d["format_version"] = 1
    d["provenance"] = dict(provenance)
    path = tmp_path / "old.fmodel"
    torch.save(d, path)
    return path, bundle


def test_an_old_bundle_is_not_read_but_converted_keeping_id_and_scores(tmp_path: Path) -> None:

    path, bundle = _old_bundle(tmp_path, model_id="old-id-1")
    with pytest.raises(OldBundleFormat, match="fashion convert"):
        load_bundle(path)
    converted = convert_old_bundle(path)
    assert converted.model_id == "old-id-1" and converted.labels == bundle.labels
    new = load_bundle(save_bundle(converted, tmp_path / "new.fmodel"))
    assert new.model_id == "old-id-1" and new.thresholds == pytest.approx((0.4, 0.5, 0.6))
    assert torch.equal(new.evaluation["scores"], bundle.evaluation["scores"])
    x = torch.rand(2, 3, 48, 48)
    with torch.no_grad():
        assert torch.equal(new.build_model()(x), bundle.build_model()(x))

    path_noid, _ = _old_bundle(tmp_path)
    derived = convert_old_bundle(path_noid)
    assert derived.model_id == bundle_content_id(bundle) and derived.model_id.startswith("sha256:")


def bundle_content_id(bundle: Bundle) -> str:
    from dataclasses import replace

    return replace(bundle, provenance={}).model_id


def test_an_old_bundle_whose_entries_expand_is_refused(tmp_path: Path) -> None:
    import zipfile

    path, _ = _old_bundle(tmp_path, model_id="x")
    bomb = tmp_path / "bomb.fmodel"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        dst.writestr("old/data/999", b"\0" * (50 << 20))  # 50 MB of zeros in ~50 kB
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(BundleError, match="compressed entries") as err:
        convert_old_bundle(bomb)
    assert str(bomb) in str(err.value)


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
    from fashion_desktop.model.bundle_file import read_bundle_file

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
    for read in (load_bundle, read_bundle_file):
        with pytest.raises(OldBundleFormat):
            read(path)
    with pytest.raises(BundleError) as err:
        convert_old_bundle(path)
    assert str(path) in str(err.value)
    if container == "torch_zip":
        assert "refused to load" in str(err.value) and "code" in str(err.value)
    assert not marker.exists(), "converting the bundle ran code from the file"


def test_weights_of_the_wrong_shape_are_a_bundle_error_not_a_traceback(tmp_path: Path) -> None:
    d, tensors = _parts()
    tensors["state_dict.features.0.weight"] = torch.zeros(2, 2)
    bundle = load_bundle(_write_raw(tmp_path / "shape.fmodel", d, tensors))
    with pytest.raises(BundleError, match="do not fit architecture 'cnn'"):
        bundle.build_model()
    tensors["state_dict.classifier.weight"] = torch.tensor(1.0)
    path = _write_raw(tmp_path / "scalar-head.fmodel", d, tensors)
    with pytest.raises(BundleError, match="model head"):
        load_bundle(path)


def test_a_bundle_is_its_description_plus_the_weights(tmp_path: Path) -> None:
    """The description's fields are declared once: a Bundle adds only the weights and where it came from."""
    described = [f.name for f in fields(BundleDescription)]
    assert [f.name for f in fields(Bundle)] == [*described, "state_dict", "path"]
    bundle = load_bundle(save_bundle(_full_bundle(), tmp_path / "m.fmodel"))
    description = bundle.description()
    for name in described:
        if name != "evaluation":  # the bundle's holds the arrays too, the description's plain values only
            assert getattr(description, name) == getattr(bundle, name), name
