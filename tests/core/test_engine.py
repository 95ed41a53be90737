"""Tagging engine: scores that follow the photo, bad files reported, cancel, resume, OOM halving, bf16, devices."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.engine import (
    BatchResult,
    EngineError,
    ImageError,
    ModelRunner,
    Notice,
    Progress,
    ScoreOptions,
    Summary,
    tag_images,
    tag_into_catalog,
)
from fashion_desktop.model import devices
from fashion_desktop.model.bundle import load_bundle
from fashion_desktop.model.devices import DeviceError, autocast_dtype, resolve_device
from fashion_desktop.model.images import load_for_model
from tests.conftest import BAD_FAILS, TINY_LABELS, make_photo

CPU = ScoreOptions(device="cpu", batch_size=4, decode_workers=2, progress_interval_s=0.0)


def photos(folder: Path, n: int) -> list[Path]:
    colours = ["red", "green", "blue"]
    return [
        make_photo(folder / f"{colours[i % 3]}_{i:02d}.jpg", (80 + i, 60), colours[i % 3]) for i in range(n)
    ]


def run(paths, bundle, options=CPU, **kw) -> tuple[dict[Path, np.ndarray], list[ImageError], list]:
    scores: dict[Path, np.ndarray] = {}
    errors: list[ImageError] = []
    events = []
    for ev in tag_images(paths, bundle, options, **kw):
        events.append(ev)
        if isinstance(ev, BatchResult):
            scores.update((r.path, r.scores) for r in ev)
        elif isinstance(ev, ImageError):
            errors.append(ev)
    return scores, errors, events


def test_scores_follow_the_photo_colour(photo_folder: Path, tiny_bundle_path: Path) -> None:
    paths = sorted(photo_folder.rglob("*.jpg"))
    scores, errors, events = run(paths, tiny_bundle_path)
    assert not errors
    assert set(scores) == set(paths)
    for path, s in scores.items():
        assert s.dtype == np.float32 and s.shape == (3,)
        assert TINY_LABELS[int(s.argmax())] == path.name.split("_")[0], (path, s)
        assert s.max() > 0.9
    final = events[-1]
    assert isinstance(final, Progress) and final.done == final.total == len(paths)
    assert final.img_per_s > 0 and final.eta_s == 0


def test_bad_files_are_reported_and_the_run_goes_on(bad_folder, tiny_bundle_path: Path) -> None:
    folder, cases = bad_folder
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    scores, errors, _ = run(paths, tiny_bundle_path)
    failed = {e.path: e.reason for e in errors}
    assert set(failed) == {cases[name] for name in BAD_FAILS}
    assert "empty" in failed[cases["empty"]]
    assert "not an image" in failed[cases["not_image"]]
    assert "decompression bomb" in failed[cases["bomb"]]
    assert "truncated" in failed[cases["truncated"]]
    assert set(scores) == set(paths) - set(failed)  # every readable file, including those after bad ones
    assert TINY_LABELS[int(scores[folder / "good_2.jpg"].argmax())] == "blue"


def test_cancel_stops_between_batches_and_keeps_what_is_done(tmp_path: Path, tiny_bundle_path: Path) -> None:
    paths = photos(tmp_path / "p", 20)
    cancel = threading.Event()
    catalog = Catalog(tmp_path / "c.db")
    seen: list[Path] = []
    summary = None
    for ev in tag_into_catalog(catalog, paths, tiny_bundle_path, CPU, cancel=cancel):
        if isinstance(ev, BatchResult):
            seen += [r.path for r in ev]
            cancel.set()
        elif isinstance(ev, Summary):
            summary = ev
    assert summary is not None and summary.cancelled
    assert 1 <= len(seen) <= 2 * CPU.batch_size  # stopped within a batch or so of the request
    assert summary.tagged == len(seen)
    bundle = load_bundle(tiny_bundle_path)
    assert catalog.predicted_paths(bundle.model_id) == {str(p) for p in seen}
    # A later run picks up exactly the rest.
    rest = [ev for ev in tag_into_catalog(catalog, paths, tiny_bundle_path, CPU) if isinstance(ev, Summary)][
        0
    ]
    assert rest.skipped == len(seen) and rest.tagged == len(paths) - len(seen) and not rest.cancelled


def test_cancel_as_a_callable(tmp_path: Path, tiny_bundle_path: Path) -> None:
    paths = photos(tmp_path / "p", 12)
    scores, _, events = run(paths, tiny_bundle_path, cancel=lambda: True)
    assert not scores
    assert isinstance(events[-1], Progress) and events[-1].done == 0


def test_resume_skips_predicted_photos_and_force_redoes_them(
    bad_folder, tiny_bundle_path: Path, tmp_path
) -> None:
    folder, cases = bad_folder
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    catalog = Catalog(tmp_path / "c.db")
    bundle = load_bundle(tiny_bundle_path)

    def summary_of(**kw) -> tuple[Summary, int]:
        events = list(tag_into_catalog(catalog, paths, bundle, CPU, **kw))
        scored = sum(len(ev) for ev in events if isinstance(ev, BatchResult))
        return events[-1], scored

    first, scored = summary_of()
    good = len(paths) - len(BAD_FAILS)
    assert (first.tagged, first.skipped, scored) == (good, 0, good)
    assert {Path(p) for p, _ in first.failed} == {cases[n] for n in BAD_FAILS}
    assert catalog.image_by_path(cases["empty"]).error == "empty file (0 bytes)"
    stored = catalog.scores(bundle.model_id)
    red_id = catalog.image_by_path(folder / "good_1.jpg").id
    assert TINY_LABELS[int(stored[red_id].argmax())] == "red"

    again, scored = summary_of()
    # Photos with scores are skipped; the unreadable ones are tried again (they may have been fixed).
    assert (again.tagged, again.skipped, scored) == (0, good, 0)
    assert len(again.failed) == len(BAD_FAILS)

    forced, scored = summary_of(force=True)
    assert (forced.tagged, forced.skipped, scored) == (good, 0, good)


class FakeOOM(torch.nn.Module):
    """Wraps a model and raises out-of-memory for batches above ``limit`` images, like a small GPU."""

    def __init__(self, model, limit: int) -> None:
        super().__init__()
        self.model = model
        self.limit = limit
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(int(x.shape[0]))
        if x.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (fake)")
        return self.model(x)


def test_out_of_memory_halves_the_batch_and_retries_the_same_images(tmp_path: Path, tiny_bundle_path) -> None:
    paths = photos(tmp_path / "p", 19)
    bundle = load_bundle(tiny_bundle_path)
    options = ScoreOptions(device="cpu", batch_size=8, precision="fp32", model_workers=1)
    reference, _, _ = run(paths, bundle, options)

    runner = ModelRunner(bundle, options)
    fake = FakeOOM(runner.model, limit=3)
    runner.model = fake
    scores, errors, events = run(paths, runner, options)
    assert not errors and set(scores) == set(paths)
    for p in paths:
        np.testing.assert_allclose(scores[p], reference[p], atol=1e-6)
    assert runner.max_batch == 2  # 8 -> 4 -> 2, then kept for the later batches
    assert fake.sizes[:3] == [8, 4, 2]
    assert max(fake.sizes[3:]) <= 2
    notices = [ev.message for ev in events if isinstance(ev, Notice)]
    assert any("batch 8" in m and "batch 4" in m for m in notices)


def test_out_of_memory_with_a_single_image_ends_the_run_clearly(tmp_path: Path, tiny_bundle_path) -> None:
    paths = photos(tmp_path / "p", 3)
    runner = ModelRunner(load_bundle(tiny_bundle_path), ScoreOptions(device="cpu", batch_size=2))
    runner.model = FakeOOM(runner.model, limit=0)
    with pytest.raises(EngineError, match="even with one image"):
        run(paths, runner)


def test_a_bug_in_the_model_is_not_mistaken_for_out_of_memory(tmp_path: Path, tiny_bundle_path) -> None:
    paths = photos(tmp_path / "p", 3)
    runner = ModelRunner(load_bundle(tiny_bundle_path), ScoreOptions(device="cpu", batch_size=2))

    def broken(x):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    runner.model = broken
    with pytest.raises(RuntimeError, match="shapes"):
        run(paths, runner)
    assert runner.max_batch == 2


def test_input_is_channels_last_and_normalised_like_the_seed(tmp_path: Path, tiny_bundle_path) -> None:
    from torchvision.transforms import functional as TF

    paths = photos(tmp_path / "p", 2)
    bundle = load_bundle(tiny_bundle_path)
    runner = ModelRunner(bundle, ScoreOptions(device="cpu", precision="fp32"))
    seen = []
    real = runner.model

    def spy(x):
        seen.append(x.detach().clone(memory_format=torch.preserve_format))
        return real(x)

    runner.model = spy
    run(paths, runner)
    x = seen[0]
    assert x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)
    pixels = load_for_model(paths[0], bundle.input_size, bundle.resize)
    expected = TF.normalize(TF.to_tensor(pixels.copy()), bundle.mean, bundle.std)
    torch.testing.assert_close(x[0], expected, atol=1e-5, rtol=1e-5)


def _colour_reading_efficientnet(tmp_path: Path):
    """EfficientNet-Lite0 (ImageNet backbone) with a 3-colour head fitted in closed form on its features.

    A fresh random head scores ~0.5 everywhere, so its top label would be noise; this head makes the
    top label a real prediction, so bf16 vs fp32 agreement on it means something.
    """
    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle

    size = 64
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", 3, pretrained=True).eval()
    head = model._fc
    model._fc = torch.nn.Identity()
    train = photos(tmp_path / "fit", 12)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (
        torch.stack(
            [torch.from_numpy(np.array(load_for_model(p, size))).permute(2, 0, 1) for p in train]
        ).float()
        / 255
    )
    with torch.no_grad():
        feats = model((x - mean) / std)
    targets = torch.full((len(train), 3), -4.0)
    for i, p in enumerate(train):
        targets[i, TINY_LABELS.index(p.name.split("_")[0])] = 4.0
    a = torch.cat([feats, torch.ones(len(train), 1)], 1).double()
    w = torch.linalg.solve(a.T @ a + 1e-2 * torch.eye(a.shape[1], dtype=torch.double), a.T @ targets.double())
    with torch.no_grad():
        head.weight.copy_(w[:-1].T.float())
        head.bias.copy_(w[-1].float())
    model._fc = head
    return new_bundle(
        "efficientnet_lite0", TINY_LABELS, model.state_dict(), input_size=size, provenance={"model_id": "e"}
    )


def test_bf16_scores_agree_with_fp32(tmp_path: Path) -> None:
    """bf16 keeps 8 mantissa bits (~0.4 % per operation); through EfficientNet-Lite0's ~50 layers the
    sigmoid scores drift by at most a few hundredths (measured here ~1e-2 worst case on 64 px inputs).
    Tolerance: max |diff| <= 0.06, mean |diff| <= 0.015, and the same top label on every photo."""
    bundle = _colour_reading_efficientnet(tmp_path)
    paths = photos(tmp_path / "test", 9)  # different sizes and noise than the photos the head was fitted on
    fp32, _, _ = run(paths, bundle, ScoreOptions(device="cpu", precision="fp32", batch_size=4))
    bf16_runner = ModelRunner(bundle, ScoreOptions(device="cpu", precision="bf16", batch_size=4))
    assert bf16_runner.amp_dtype == torch.bfloat16
    bf16, _, _ = run(paths, bf16_runner)
    a = np.stack([fp32[p] for p in paths])
    b = np.stack([bf16[p] for p in paths])
    truth = [TINY_LABELS.index(p.name.split("_")[0]) for p in paths]
    assert list(a.argmax(1)) == truth  # the fp32 model reads colours: the top label is meaningful
    assert list(b.argmax(1)) == truth
    diff = np.abs(a - b)
    assert diff.max() <= 0.06 and diff.mean() <= 0.015, (diff.max(), diff.mean())
    assert diff.max() > 0  # bf16 really ran


def test_unknown_bundle_file_is_a_clear_error(tmp_path: Path) -> None:
    from fashion_desktop.model.bundle import BundleError

    with pytest.raises(BundleError, match="not found"):
        run([tmp_path / "x.jpg"], tmp_path / "missing.fmodel")


# -- devices ----------------------------------------------------------------------------------------
def test_cpu_and_auto_resolve_without_a_gpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(DeviceError, match="only 2 CUDA GPU"):
        resolve_device("cuda:2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("mps")


def test_absent_devices_are_clear_errors(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    with pytest.raises(DeviceError, match="'cuda' was requested"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="cuda:1"):
        resolve_device("cuda:1")
    with pytest.raises(DeviceError, match="MPS"):
        resolve_device("mps")
    with pytest.raises(DeviceError, match="choose one of"):
        resolve_device("tpu")
    with pytest.raises(DeviceError, match="not understood"):
        resolve_device("cuda:x")
    with pytest.raises(DeviceError):
        list(tag_images([], _never_loaded(), ScoreOptions(device="cuda")))


def _never_loaded():
    """A stand-in bundle; the device check must fail before the model is built."""
    from fashion_desktop.model.bundle import Bundle

    return Bundle(arch="cnn", labels=("a",), state_dict={})


def test_precision_choice(monkeypatch) -> None:
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "fp32") is None
    assert autocast_dtype(cpu, "bf16") == torch.bfloat16
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: True)
    assert autocast_dtype(cpu, "auto") == torch.bfloat16
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: False)
    assert autocast_dtype(cpu, "auto") is None
    with pytest.raises(DeviceError):
        autocast_dtype(cpu, "fp16")
    with pytest.raises(DeviceError):
        autocast_dtype(cpu, "int3")


def test_bf16_detection_needs_native_support(monkeypatch) -> None:
    devices.cpu_supports_bf16.cache_clear()
    try:
        monkeypatch.setattr(devices, "_cpu_flags", lambda: frozenset({"avx512f", "avx512bw"}))
        assert devices.cpu_supports_bf16() is False  # emulated bf16 is slower than fp32
        devices.cpu_supports_bf16.cache_clear()
        monkeypatch.setattr(devices, "_cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
        monkeypatch.setattr(devices, "cpu_capability", lambda: "AVX512")
        assert devices.cpu_supports_bf16() is True
    finally:
        devices.cpu_supports_bf16.cache_clear()


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v3_large", "efficientnet_lite0"])
def test_folding_batchnorm_keeps_the_scores(arch: str) -> None:
    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.scoring import fold_batchnorm

    torch.manual_seed(0)
    model = build_model(arch, 5).eval()
    with torch.no_grad():  # trained-looking statistics, so that folding has something to get wrong
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    folded = fold_batchnorm(model, 224)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    x = torch.rand(2, 3, 128, 128)
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-4)


def test_folding_is_refused_when_the_convolution_output_is_used_twice() -> None:
    from fashion_desktop.model.scoring import fold_batchnorm

    class Skip(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return (self.bn(y) + y).mean((2, 3))

    model = Skip().eval()
    with torch.no_grad():
        model.bn.running_mean.fill_(0.3)
        model.bn.running_var.fill_(2.0)
    assert fold_batchnorm(model, 32) is model


@pytest.mark.slow
def test_decoding_runs_ahead_of_the_model_by_a_bounded_amount(tmp_path: Path, tiny_bundle_path, monkeypatch):
    import fashion_desktop.model.scoring as engine

    paths = photos(tmp_path / "p", 6) * 30  # 180 paths; far more than may be held decoded at once
    decoded = []
    real_load = engine._safe_load
    monkeypatch.setattr(engine, "_safe_load", lambda *a: decoded.append(1) or real_load(*a))
    options = ScoreOptions(device="cpu", batch_size=4, decode_workers=2, prefetch_batches=2, model_workers=1)
    runner = ModelRunner(load_bundle(tiny_bundle_path), options)
    seen_at_batch: list[int] = []
    real_model = runner.model

    def slow_model(x):
        import time

        time.sleep(0.05)  # a slow model: decoding has every chance to run ahead
        seen_at_batch.append(len(decoded))
        return real_model(x)

    runner.model = slow_model
    scores, errors, _ = run(paths, runner, options)
    assert len(scores) == 6 and not errors  # the same six files, each scored
    assert len(seen_at_batch) == 45
    # queue (2 batches) + the batch being assembled + the decode window (2 batches) + the one in the model
    bound = (2 + 1 + 2 + 1) * 4
    assert max(seen_at_batch[i] - 4 * i for i in range(len(seen_at_batch))) <= bound


def test_progress_is_rate_limited_but_always_ends_with_the_totals(tmp_path: Path, tiny_bundle_path) -> None:
    paths = photos(tmp_path / "p", 12)
    options = ScoreOptions(device="cpu", batch_size=2, progress_interval_s=3600)
    _, _, events = run(paths, tiny_bundle_path, options)
    progress = [ev for ev in events if isinstance(ev, Progress)]
    assert [(p.done, p.total) for p in progress] == [(0, 12), (12, 12)]


def test_skip_leaves_photos_out(tmp_path: Path, tiny_bundle_path) -> None:
    paths = photos(tmp_path / "p", 6)
    scores, _, events = run(paths, tiny_bundle_path, skip={str(paths[0]), str(paths[3])})
    assert set(scores) == set(paths) - {paths[0], paths[3]}
    assert events[-1].total == 4
    scores, _, _ = run([str(p) for p in paths], tiny_bundle_path, skip=lambda p: p.name.startswith("red"))
    assert set(scores) == {p for p in paths if not p.name.startswith("red")}


def test_several_batches_at_once_give_the_same_scores(tmp_path: Path, tiny_bundle_path) -> None:
    paths = photos(tmp_path / "p", 21)
    one, _, _ = run(paths, tiny_bundle_path, ScoreOptions(device="cpu", batch_size=4, model_workers=1))
    runner = ModelRunner(
        load_bundle(tiny_bundle_path), ScoreOptions(device="cpu", batch_size=4, model_workers=3)
    )
    active, most = [0], [0]
    lock = threading.Lock()
    real = runner.model

    def counting(x):
        import time

        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.02)
        try:
            return real(x)
        finally:
            with lock:
                active[0] -= 1

    runner.model = counting
    three, errors, events = run(paths, runner)
    assert not errors and set(three) == set(one) == set(paths)
    for p in paths:
        np.testing.assert_allclose(three[p], one[p], atol=1e-6)
    assert most[0] > 1  # batches really were scored concurrently
    assert events[-1].done == len(paths)


def test_small_cpus_score_two_single_threaded_batches_at_once(monkeypatch, tiny_bundle_path) -> None:
    import fashion_desktop.model.scoring as engine

    bundle = load_bundle(tiny_bundle_path)
    monkeypatch.setattr(engine, "cpu_count", lambda: 2)
    r = ModelRunner(bundle, ScoreOptions(device="cpu"))
    assert (r.decode_workers, r.num_threads, r.model_workers) == (1, 1, 2)
    monkeypatch.setattr(engine, "cpu_count", lambda: 12)
    r = ModelRunner(bundle, ScoreOptions(device="cpu"))
    assert (r.decode_workers, r.num_threads, r.model_workers) == (4, 8, 1)
    r = ModelRunner(bundle, ScoreOptions(device="cpu", num_threads=3, decode_workers=2))
    assert (r.decode_workers, r.num_threads, r.model_workers) == (2, 3, 1)
