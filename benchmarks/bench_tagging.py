"""Tagging speed: the seed's per-image PIL/torchvision loop against the engine, on photo-size JPEGs.

Run: ``python benchmarks/bench_tagging.py [--n 300] [--keep DIR]``. Makes (or reuses, with --keep)
a folder of >= 300 JPEGs with a short side of 1,600 px (the ../shared/data/clothing-small photos
upscaled when present, else generated), builds an EfficientNet-Lite0 bundle for the 46 taxonomy
labels, and measures in one run:

(a) the seed loop: Dataset doing ``Image.open(p).convert("RGB")`` -> ``Resize((224, 224))`` ->
    ``ToTensor`` -> ``Normalize``, ``DataLoader(batch_size=16, num_workers=0)``, fp32,
    ``torch.sigmoid(model(x))`` under ``no_grad``;
(b) the engine (``tag_images``) with its default options on the same photos and bundle;
(c) the engine's decoding alone, its forward pass alone on pre-decoded batches (each with the
    engine's own thread layout and with one thread per CPU, keeping the faster), and the pipelined limit
    1 / (1/decode + 1/model): on a CPU both stages share the same cores, so overlapping them can at
    best keep every core busy, not add cores.

Faithfulness: a fresh random head gives sigmoid scores near 0.5 everywhere, which makes top-1
agreement noise. The head is therefore made informative: by default (``--head probe``, when
../shared/data/fashion-products is present) it is a linear probe fitted in closed form (ridge
regression to +-4 logits) on the ImageNet features of up to 30 fashion-products photos per taxonomy
category (labels mapped with ../shared/data/taxonomy/mappings), i.e. a small real tagger whose top
label is a real prediction, tested on other photos (clothing-small). ``--head imagenet`` copies
the ImageNet classifier rows of 46 garment and accessory classes (``HEAD_CLASSES``) instead; those
classes are near-ties on most clothing photos (median top-2 margin ~0.02), so there the top-1
agreement mostly measures rounding noise. The last line printed is
``tagging-bench: seed_img_s=... engine_img_s=... ratio=... limit_frac=... top1_agree=... score_mad=...``.

``--whole-process`` (issue 22) also runs ``fashion tag FOLDER --model BUNDLE --out tags.csv`` as a
subprocess on the same photos and bundle, start-up included (Python, imports, the scan into a temporary
library, writing the table), and prints ``tagging-bench-process: seed_img_s=... process_img_s=... ratio=...``:
the seed loop is timed inside this process, its start-up not counted, so the ratio leans to the seed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fashion_desktop.core.engine import BatchResult, ImageError, tag_images  # noqa: E402
from fashion_desktop.model.archs import build_model, get_arch  # noqa: E402
from fashion_desktop.model.bundle import Bundle, new_bundle  # noqa: E402
from fashion_desktop.model.devices import cpu_count  # noqa: E402
from fashion_desktop.model.resources import taxonomy_labels  # noqa: E402
from fashion_desktop.model.scoring import ModelRunner, ScoreOptions, iter_decoded  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "clothing-small"
FASHION_PRODUCTS = ROOT.parent / "shared" / "data" / "fashion-products"
TAXONOMY_MAPS = ROOT.parent / "shared" / "data" / "taxonomy" / "mappings"
SHORT_SIDE = 1600
SEED = 0

# ImageNet classes whose classifier rows become the 46 head rows (garments and accessories first).
HEAD_CLASSES = [
    "jersey", "cardigan", "sweatshirt", "trench coat", "fur coat", "lab coat", "miniskirt", "hoopskirt",
    "overskirt", "jean", "suit", "gown", "kimono", "abaya", "academic gown", "poncho", "cloak",
    "bow tie", "Windsor tie", "bolo tie", "sock", "Christmas stocking", "cowboy boot", "sandal",
    "running shoe", "clog", "Loafer", "cowboy hat", "sombrero", "bonnet", "shower cap", "swimming trunks",
    "bikini", "brassiere", "maillot", "apron", "bulletproof vest", "pajama", "military uniform",
    "sunglasses", "necklace", "backpack", "purse", "mitten", "stole", "vestment",
]  # fmt: skip


def make_photos(folder: Path, n: int) -> list[Path]:
    """Write ``n`` JPEGs (quality 90) with a 1,600 px short side into ``folder`` unless already there."""
    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("*.jpg"))
    if len(existing) >= n:
        return existing[:n]
    sources = sorted(SHARED.rglob("*.jpg")) if SHARED.is_dir() else []
    rng = np.random.default_rng(SEED)
    out = []
    for i in range(n):
        path = folder / f"photo_{i:04d}.jpg"
        if sources:
            img = Image.open(sources[i % len(sources)]).convert("RGB")
            if i >= len(sources):
                img = img.transpose(Image.FLIP_LEFT_RIGHT)
            w, h = img.size
            s = SHORT_SIDE / min(w, h)
            img = img.resize((round(w * s), round(h * s)), Image.BICUBIC)
        else:
            small = rng.integers(0, 255, (9, 16, 3), dtype=np.uint8)
            img = Image.fromarray(small).resize((SHORT_SIDE, SHORT_SIDE * 16 // 9), Image.BICUBIC)
        img.save(path, quality=90)
        out.append(path)
    print(f"wrote {n} photos ({'clothing-small upscaled' if sources else 'generated'}) to {folder}")
    return out


def _imagenet_rows_head(model: torch.nn.Module, labels: list[str]) -> str:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    imagenet = build_model("efficientnet_lite0", 1000, pretrained=True)
    rows = [_IMAGENET_CATEGORIES.index(name) for name in HEAD_CLASSES]
    with torch.no_grad():
        model._fc.weight.copy_(imagenet._fc.weight[rows])
        model._fc.bias.copy_(imagenet._fc.bias[rows])
    return "ImageNet classifier rows of 46 garment/accessory classes"


def _probe_examples(per_label: int) -> list[tuple[Path, int]]:
    """(photo, taxonomy id) pairs from fashion-products, at most ``per_label`` per category."""
    import csv

    data = FASHION_PRODUCTS
    maps = {}
    for key in ("articleType", "subCategory"):
        with open(TAXONOMY_MAPS / f"fashion-product_{key}_to_imat46.csv", encoding="utf-8") as fh:
            maps[key] = {
                r[key]: int(r["imat_category_id"]) for r in csv.DictReader(fh) if r["imat_category_id"]
            }
    picked: dict[int, list[Path]] = {}
    with open(data / "labels.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cid = maps["articleType"].get(row["articleType"]) or maps["subCategory"].get(row["subCategory"])
            if cid is not None and len(picked.setdefault(cid, [])) < per_label:
                picked[cid].append(data / row["image"])
    return [(p, cid) for cid, ps in sorted(picked.items()) for p in ps]


def _linear_probe_head(model: torch.nn.Module, labels: list[str], bundle_mean, bundle_std) -> str:
    """Fit the head in closed form (ridge regression to +-4 logits) on fashion-products features."""
    from torchvision import transforms

    examples = _probe_examples(per_label=30)
    tf = transforms.Compose(
        [transforms.Resize((224, 224)), transforms.ToTensor(), transforms.Normalize(bundle_mean, bundle_std)]
    )
    head = model._fc
    model._fc = torch.nn.Identity()
    model.eval()
    feats = []
    with torch.no_grad():
        for start in range(0, len(examples), 32):
            x = torch.stack([tf(Image.open(p).convert("RGB")) for p, _ in examples[start : start + 32]])
            feats.append(model(x))
    model._fc = head
    f = torch.cat(feats).double()
    targets = torch.full((len(examples), len(labels)), -4.0, dtype=torch.double)
    for i, (_, cid) in enumerate(examples):
        targets[i, cid] = 4.0
    a = torch.cat([f, torch.ones(len(f), 1, dtype=torch.double)], 1)
    w = torch.linalg.solve(a.T @ a + 10.0 * torch.eye(a.shape[1], dtype=torch.double), a.T @ targets)
    with torch.no_grad():
        head.weight.copy_(w[:-1].T.float())
        head.bias.copy_(w[-1].float())
    n_labels = len({cid for _, cid in examples})
    return f"linear probe fitted on {len(examples)} fashion-products photos ({n_labels} of the 46 labels)"


def make_bundle(head: str = "auto") -> tuple[Bundle, str]:
    """EfficientNet-Lite0, ImageNet backbone, a 46-label head that gives informative scores (module doc)."""
    labels = taxonomy_labels()
    assert len(labels) == len(HEAD_CLASSES) == 46
    torch.manual_seed(SEED)
    model = build_model("efficientnet_lite0", len(labels), pretrained=True).eval()
    if head == "auto":
        head = "probe" if FASHION_PRODUCTS.is_dir() else "imagenet"
    if head == "probe":
        spec = get_arch("efficientnet_lite0")
        how = _linear_probe_head(model, labels, spec.mean, spec.std)
    else:
        how = _imagenet_rows_head(model, labels)
    bundle = new_bundle(
        "efficientnet_lite0",
        labels,
        model.state_dict(),
        provenance={"model_id": f"bench-efficientnet-lite0-{head}", "name": "bench"},
    )
    return bundle, how


def seed_loop(paths: list[Path], bundle: Bundle) -> tuple[np.ndarray, float]:
    """The seed project's inference loop, faithfully: full decode, torchvision transforms, fp32."""
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    tf = transforms.Compose(
        [
            transforms.Resize((bundle.input_size, bundle.input_size)),
            transforms.ToTensor(),
            transforms.Normalize(bundle.mean, bundle.std),
        ]
    )

    class Photos(Dataset):
        def __len__(self) -> int:
            return len(paths)

        def __getitem__(self, i: int) -> torch.Tensor:
            return tf(Image.open(paths[i]).convert("RGB"))

    model = bundle.build_model()
    out = []
    t = time.perf_counter()
    with torch.no_grad():
        for x in DataLoader(Photos(), batch_size=16, num_workers=0):
            out.append(torch.sigmoid(model(x)).numpy())
    return np.concatenate(out), time.perf_counter() - t


def engine_run(paths: list[Path], bundle: Bundle, options: ScoreOptions) -> tuple[np.ndarray, float]:
    """The engine, timed like the seed loop: from the first photo, with the model already built."""
    runner = ModelRunner(bundle, options)
    scores: dict[Path, np.ndarray] = {}
    t = time.perf_counter()
    for ev in tag_images(paths, runner, options):
        if isinstance(ev, BatchResult):
            scores.update((r.path, r.scores) for r in ev)
        elif isinstance(ev, ImageError):
            raise SystemExit(f"benchmark photo failed: {ev.path}: {ev.reason}")
    seconds = time.perf_counter() - t
    return np.stack([scores[p] for p in paths]), seconds


def decode_only(paths: list[Path], runner: ModelRunner, workers: int) -> tuple[list, float]:
    """The engine's decoding alone with ``workers`` threads."""
    t = time.perf_counter()
    batches = [
        b.pixels
        for b in iter_decoded(paths, runner.input_size, runner.bundle.resize, runner.batch_size, workers)
    ]
    return batches, time.perf_counter() - t


def model_only(batches: list, runner: ModelRunner, threads: int, workers: int = 1) -> float:
    """The engine's forward pass alone on pre-decoded batches: ``workers`` batches at once, each
    with ``threads`` torch threads (the engine's own layout, or one forward with every core)."""
    import threading

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        runner.scores(batches[0])  # warm-up, as the engine's first batch also pays it
        t = time.perf_counter()
        parts = [batches[k::workers] for k in range(workers)]
        pool = [threading.Thread(target=lambda bs: [runner.scores(b) for b in bs], args=(p,)) for p in parts]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        return time.perf_counter() - t
    finally:
        torch.set_num_threads(before)


def whole_process(folder: Path, bundle: Bundle, n: int) -> float:
    """Seconds for ``fashion tag`` in a process of its own on ``folder``, start-up to the table written."""
    from fashion_desktop.model.bundle import save_bundle

    with tempfile.TemporaryDirectory(prefix="bench-process-") as tmp:
        model = save_bundle(bundle, Path(tmp) / "bench.fmodel")
        out = Path(tmp) / "tags.csv"
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "fashion_desktop",
                "tag",
                str(folder),
                "--model",
                str(model),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"fashion tag failed ({proc.returncode}): {proc.stderr[-2000:]}")
        rows = sum(
            1
            for line in out.read_text(encoding="utf-8-sig").splitlines()
            if line and not line.startswith("#")
        )
        if rows - 1 < n:
            raise SystemExit(f"fashion tag wrote {rows - 1} rows for {n} photos")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="number of photos (default 300)")
    ap.add_argument("--keep", type=Path, help="make/reuse the photos in this folder instead of a temp folder")
    ap.add_argument("--repeat", type=int, default=1, help="time each stage this many times, keep the best")
    ap.add_argument("--head", choices=("auto", "probe", "imagenet"), default="auto",
                    help="how the 46-label head is made (default: probe when fashion-products is present)")  # fmt: skip
    ap.add_argument(
        "--seed-one-thread",
        action="store_true",
        help="also time the seed loop with one torch thread (diagnostic)",
    )
    ap.add_argument("--batch-size", type=int, default=None, help="engine batch size (default: engine's)")
    ap.add_argument("--threads", type=int, default=None, help="engine torch threads (default: engine's)")
    ap.add_argument("--workers", type=int, default=None, help="engine decode threads (default: engine's)")
    ap.add_argument("--precision", default="auto", help="engine precision (default auto)")
    ap.add_argument(
        "--whole-process",
        action="store_true",
        help="only the seed loop against `fashion tag` run as a subprocess, start-up included",
    )
    args = ap.parse_args(argv)

    tmp = None
    if args.keep:
        folder = args.keep
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench-tagging-")
        folder = Path(tmp.name)
    paths = make_photos(folder, args.n)
    bundle, how = make_bundle(args.head)
    options = ScoreOptions(
        device="cpu",
        batch_size=args.batch_size,
        num_threads=args.threads,
        decode_workers=args.workers,
        precision=args.precision,
    )
    print(f"{len(paths)} photos, {Image.open(paths[0]).size} px, {cpu_count()} CPUs; head: {how}")
    if args.whole_process:
        return _compare_whole_process(folder, paths, bundle, args.repeat, tmp)
    runner = ModelRunner(bundle, options)
    print(f"engine: {runner.describe()}")
    n = len(paths)
    engine_s = seed_s = seed1_s = decode_s = model_s = float("inf")
    for r in range(args.repeat):
        engine_scores, s = engine_run(paths, bundle, options)
        engine_s = min(engine_s, s)
        print(f"[{r}] (b) engine:          {n / s:7.1f} img/s", flush=True)
        seed_scores, s = seed_loop(paths, bundle)
        seed_s = min(seed_s, s)
        print(
            f"[{r}] (a) seed loop:       {n / s:7.1f} img/s (torch's default {torch.get_num_threads()} threads)"
        )
        if args.seed_one_thread:
            # Not the seed's setting: shows how much of the ratio a busy machine's OpenMP stalls explain.
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            _, s = seed_loop(paths, bundle)
            torch.set_num_threads(before)
            seed1_s = min(seed1_s, s)
            print(f"[{r}]     seed loop:       {n / s:7.1f} img/s (1 thread)", flush=True)
        # Each stage alone gets the machine's best: the engine's thread count or one per CPU.
        for workers in sorted({runner.decode_workers, cpu_count()}):
            batches, s = decode_only(paths, runner, workers)
            decode_s = min(decode_s, s)
            print(f"[{r}] (c) decode only:     {n / s:7.1f} img/s ({workers} threads)", flush=True)
        for threads, workers in sorted(
            {(runner.num_threads, runner.model_workers), (cpu_count(), 1), (1, 1)}
        ):
            s = model_only(batches, runner, threads, workers)
            model_s = min(model_s, s)
            print(
                f"[{r}]     model only:      {n / s:7.1f} img/s ({workers} x {threads} threads)", flush=True
            )
    decode_rate, model_rate = n / decode_s, n / model_s
    limit = 1.0 / (1.0 / decode_rate + 1.0 / model_rate)
    seed_rate, engine_rate = n / seed_s, n / engine_s
    print(
        f"best: seed {seed_rate:.1f}, engine {engine_rate:.1f}, decode {decode_rate:.1f}, model {model_rate:.1f} img/s"
    )
    print(f"pipelined limit 1/(1/decode + 1/model): {limit:.1f} img/s")
    if args.seed_one_thread:
        print(f"engine / seed loop with 1 torch thread: {engine_rate / (n / seed1_s):.2f}")

    top1 = float(np.mean(seed_scores.argmax(1) == engine_scores.argmax(1)))
    diff = np.abs(seed_scores - engine_scores)
    top_scores = np.sort(seed_scores, 1)
    print(
        f"scores: max abs difference {diff.max():.4f}; seed loop's median top score {np.median(top_scores[:, -1]):.3f}, "
        f"median margin to the second {np.median(top_scores[:, -1] - top_scores[:, -2]):.3f}"
    )
    print(
        f"tagging-bench: seed_img_s={seed_rate:.1f} engine_img_s={engine_rate:.1f} "
        f"ratio={engine_rate / seed_rate:.2f} limit_frac={engine_rate / limit:.2f} "
        f"top1_agree={top1:.3f} score_mad={float(diff.mean()):.4f}"
    )
    if tmp is not None:
        tmp.cleanup()
    return 0


def _compare_whole_process(folder: Path, paths: list[Path], bundle: Bundle, repeat: int, tmp) -> int:
    n = len(paths)
    seed_s = process_s = float("inf")
    for r in range(repeat):
        s = whole_process(folder, bundle, n)
        process_s = min(process_s, s)
        print(
            f"[{r}] fashion tag (own process, start-up included): {n / s:7.1f} img/s ({s:.1f} s)", flush=True
        )
        _, s = seed_loop(paths, bundle)
        seed_s = min(seed_s, s)
        print(
            f"[{r}] seed loop (in this process, no start-up):      {n / s:7.1f} img/s ({s:.1f} s)", flush=True
        )
    seed_rate, process_rate = n / seed_s, n / process_s
    print(
        f"tagging-bench-process: seed_img_s={seed_rate:.1f} process_img_s={process_rate:.1f} "
        f"ratio={process_rate / seed_rate:.2f}"
    )
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
