"""Training speed: the seed's PIL/torchvision training loop against the trainer's pipeline, same photos and model.

Run: ``python benchmarks/bench_training.py [--n 160] [--epochs 3] [--arch cnn] [--size 224]``. Uses
the first ``--n`` photos of ../shared/data/clothing-small/train (phone photos, short side 400 px) when
present, else generated JPEGs of that size, and measures samples/s over several epochs of:

(a) the seed loop: a Dataset doing ``Image.open(p).convert("RGB")`` -> ``Resize((s, s))`` ->
    ``ToTensor`` -> ``Normalize`` for every sample of every epoch, ``DataLoader(batch_size=16,
    shuffle=True, num_workers=0)``, fp32, contiguous NCHW, BCE-with-logits, Adam;
(b) ours: ``DecodeCache`` (each photo decoded once, straight to size with JPEG draft mode; the time
    to build it is counted), batches formed from the uint8 cache, ``to_model_input`` (channels_last),
    bf16 autocast where the CPU supports it, masked BCE, Adam; same batch size, model and photos.

Epochs of (a) and (b) alternate so that load from other processes on a shared machine hits both; CPU
seconds (this process and its decode workers) are printed too, because on a busy machine they are
steadier than wall time. No augmentation in either (the seed had none). By default the photos are first
written at a 1,600 px short side (the size of the phone/camera photos users tag and train on; the seed's
iMaterialist photos were similar, and the tagging benchmark uses the same size); ``--upscale 0`` uses the
400 px files as they are, where decoding weighs less. The last line printed is
``training-bench: seed_samples_s=... ours_samples_s=... ratio=...``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fashion_desktop.model.archs import build_model, get_arch  # noqa: E402
from fashion_desktop.model.devices import autocast_dtype  # noqa: E402
from trainer.losses import masked_bce  # noqa: E402
from trainer.pipeline import CachedImages, DecodeCache, to_model_input  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "clothing-small" / "train"


def upscale(paths: list[str], short_side: int, tmp: Path) -> list[str]:
    """Copies of ``paths`` resized to ``short_side`` on their short side (JPEG quality 90)."""
    from PIL import Image

    out = []
    for i, p in enumerate(paths):
        with Image.open(p) as img:
            img = img.convert("RGB")
            scale = short_side / min(img.size)
            big = img.resize((round(img.width * scale), round(img.height * scale)), Image.BICUBIC)
        dst = tmp / f"big_{i}.jpg"
        big.save(dst, quality=90)
        out.append(str(dst))
    return out


def photos(n: int, tmp: Path) -> tuple[list[str], np.ndarray, str]:
    """``n`` photo paths with one-hot class targets; real photos when the shared data is present."""
    if SHARED.is_dir():
        classes = sorted(p.name for p in SHARED.iterdir() if p.is_dir())
        per = [sorted((SHARED / c).glob("*.jpg")) for c in classes]
        paths, labels = [], []
        k = 0
        while len(paths) < n:  # round-robin over classes so every label appears
            for ci, files in enumerate(per):
                if k < len(files) and len(paths) < n:
                    paths.append(str(files[k]))
                    labels.append(ci)
            k += 1
        source = f"{len(paths)} photos from {SHARED}"
    else:
        from PIL import Image

        rng = np.random.default_rng(0)
        classes = [str(i) for i in range(10)]
        paths, labels = [], []
        for i in range(n):
            arr = rng.integers(0, 255, (533, 400, 3), dtype=np.uint8)
            p = tmp / f"gen_{i}.jpg"
            Image.fromarray(arr).save(p, quality=90)
            paths.append(str(p))
            labels.append(i % 10)
        source = f"{n} generated 400x533 JPEGs"
    targets = np.zeros((len(paths), len(classes)), dtype=np.int8)
    targets[np.arange(len(paths)), labels] = 1
    return paths, targets, source


class SeedDataset(torch.utils.data.Dataset):
    """The seed's Dataset: decode and transform the full photo on every access."""

    def __init__(self, paths: list[str], targets: np.ndarray, size: int, mean, std) -> None:
        from torchvision import transforms

        self.paths, self.targets = paths, torch.from_numpy(targets).float()
        self.tf = transforms.Compose(
            [transforms.Resize((size, size)), transforms.ToTensor(), transforms.Normalize(mean, std)]
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from PIL import Image

        img = Image.open(self.paths[i]).convert("RGB")
        return self.tf(img), self.targets[i]


def seed_epoch(model, opt, loader) -> int:
    model.train()
    n = 0
    for x, y in loader:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += len(x)
    return n


def ours_epoch(model, opt, loader, mean, std, dtype) -> int:
    model.train()
    n = 0
    for img, y, _ in loader:
        x = to_model_input(img, mean, std, "none", None, True)
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            logits = model(x)
        loss = masked_bce(logits.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += len(img)
    return n


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the decode workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=160)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--arch", default="cnn")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers for ours (seed: 0)")
    ap.add_argument(
        "--upscale",
        type=int,
        default=1600,
        help="rewrite the photos at this short side first (0: as they are)",
    )
    args = ap.parse_args()
    spec = get_arch(args.arch)
    dtype = autocast_dtype(torch.device("cpu"), "auto")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        paths, targets, source = photos(args.n, tmp)
        if args.upscale:
            paths = upscale(paths, args.upscale, tmp)
            source += f", rewritten at a {args.upscale} px short side"
        print(f"{source}; arch {args.arch} at {args.size} px; batch {args.batch_size}; {args.epochs} epochs; "
              f"torch threads {torch.get_num_threads()}; ours autocast {dtype}", flush=True)  # fmt: skip
        torch.manual_seed(0)
        seed_model = build_model(args.arch, targets.shape[1])
        torch.manual_seed(0)
        our_model = build_model(args.arch, targets.shape[1]).to(memory_format=torch.channels_last)
        seed_opt = torch.optim.Adam(seed_model.parameters(), 1e-3)
        our_opt = torch.optim.Adam(our_model.parameters(), 1e-3)
        g = torch.Generator().manual_seed(0)
        seed_loader = torch.utils.data.DataLoader(
            SeedDataset(paths, targets, args.size, spec.mean, spec.std),
            batch_size=args.batch_size,
            shuffle=True,
        )
        seed_time = our_time = seed_cpu = our_cpu = 0.0
        seed_n = our_n = 0
        our_loader = None
        for epoch in range(args.epochs):
            t, c = time.perf_counter(), cpu_seconds()
            seed_n += seed_epoch(seed_model, seed_opt, seed_loader)
            dt_seed = time.perf_counter() - t
            seed_time += dt_seed
            seed_cpu += cpu_seconds() - c
            t, c = time.perf_counter(), cpu_seconds()
            if our_loader is None:  # one-time decode is part of our cost
                cache = DecodeCache.open_or_build(tmp / "cache", paths, args.size, "squash", workers=2)
                our_loader = torch.utils.data.DataLoader(
                    CachedImages(cache, np.arange(len(paths)), targets),
                    batch_size=args.batch_size,
                    shuffle=True,
                    generator=g,
                    num_workers=args.workers,
                )
            our_n += ours_epoch(our_model, our_opt, our_loader, spec.mean, spec.std, dtype)
            dt_ours = time.perf_counter() - t
            our_time += dt_ours
            our_cpu += cpu_seconds() - c
            print(f"epoch {epoch + 1}: seed {dt_seed:.1f}s, ours {dt_ours:.1f}s", flush=True)
    seed_sps, our_sps = seed_n / seed_time, our_n / our_time
    print(
        f"cpu-seconds: seed {seed_cpu:.1f} ours {our_cpu:.1f} "
        f"(samples per CPU-second ratio {(our_n / our_cpu) / (seed_n / seed_cpu):.2f})"
    )
    print(
        f"training-bench: seed_samples_s={seed_sps:.1f} ours_samples_s={our_sps:.1f} ratio={our_sps / seed_sps:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
