"""Recipe ablations that fit a 2-core CPU: heads trained on frozen ImageNet EfficientNet-Lite0 features.

Full fine-tuning runs cost ~20 minutes an epoch on this machine, so the recipe choices that live in the
head and the loss are compared here on one frozen feature extraction each (``--max-images`` photos per
source of the pinned split in resources/models/default-v2.yaml), every head trained the same way (AdamW,
``--epochs`` passes, batch 64, seed 0). Choices that change the pixels (pad vs squash, 160 vs 224 px)
get their own extraction. Figures are top-1 accuracy per group on the *validation* split (model
selection's split; the test splits stay unseen), category split by source.

    python benchmarks/ablation_probe.py            # the table printed and written to --out (markdown)

The last line is machine-readable: ``ablation-probe: best=<row> ...``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fashion_desktop.model.archs import build_model, get_arch  # noqa: E402
from fashion_desktop.model.groups import exclusive_columns, only_group_top  # noqa: E402
from fashion_desktop.model.metrics import top1_accuracy  # noqa: E402
from fashion_desktop.model.scoring import Normalise, sigmoid_scores  # noqa: E402
from fashion_desktop.model.train_config import load_config_file, make_config  # noqa: E402
from trainer.engine import make_loss  # noqa: E402
from trainer.pipeline import DecodeCache  # noqa: E402
from trainer.preview import load_run_dataset  # noqa: E402

GROUPS = ("category", "colour", "gender", "season", "usage")


def features(table, size: int, resize: str, cache_dir: Path, batch: int = 64) -> np.ndarray:
    """Pooled EfficientNet-Lite0 features [N, 1280] of every photo of ``table`` (bf16 where the CPU has it)."""
    cache = DecodeCache.open_or_build(cache_dir, table.paths, size, resize, workers=2)
    model = build_model("efficientnet_lite0", 2, pretrained=True, allow_download=False).eval()
    model._fc = torch.nn.Identity()
    spec = get_arch("efficientnet_lite0")
    norm = Normalise(spec.mean, spec.std, torch.device("cpu"))
    out = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        for s in range(0, len(table), batch):
            x = torch.from_numpy(np.ascontiguousarray(cache.array[s : s + batch]))
            out.append(model(norm(x)).float().numpy())
    return np.concatenate(out)


def train_head(
    cfg, feats: np.ndarray, targets: np.ndarray, train: np.ndarray, exclusive, epochs: int
) -> torch.nn.Linear:
    torch.manual_seed(0)
    head = torch.nn.Linear(feats.shape[1], targets.shape[1])
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = make_loss(cfg, targets[train], torch.device("cpu"), exclusive)
    x_all = torch.from_numpy(feats)
    y_all = torch.from_numpy(targets.astype(np.int64))
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.from_numpy(train)[torch.randperm(len(train), generator=gen)]
        for s in range(0, len(order), 64):
            idx = order[s : s + 64]
            loss = loss_fn(head(x_all[idx]), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head


def measure(table, head, feats, rows, exclusive) -> dict[str, float]:
    with torch.no_grad():
        logits = head(torch.from_numpy(feats[rows]))
    scores = only_group_top(sigmoid_scores(logits, exclusive), exclusive)
    t = table.targets[rows]
    src = np.array(table.sources)[rows]
    out = {}
    for g in GROUPS:
        cols = [j for j, lab in enumerate(table.labels) if table.groups.get(lab) == g]
        for source in dict.fromkeys(src.tolist()):
            if g != "category" and source != "fashion-products":
                continue
            sel = src == source
            tt, ss = t[sel][:, cols], scores[sel][:, cols]
            known = (tt == 1).any(1)
            name = (
                f"{g} ({'products' if source == 'fashion-products' else 'clothing'})"
                if g == "category"
                else g
            )
            out[name] = top1_accuracy(tt[known], ss[known]) if known.any() else float("nan")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(ROOT / "resources" / "models" / "default-v2.yaml"))
    p.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--max-images", type=int, default=3000, help="photos per source (0: all)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--cache", default="/tmp/ablation-cache")
    p.add_argument("--out", default="ablation.md")
    p.add_argument("--quick", action="store_true", help="loss rows only (one extraction)")
    p.add_argument("--rows", help="only the rows whose name contains this text")
    ns = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    raw = load_config_file(ns.config)
    # Every row starts from the same plain head recipe (the default config's own smoothing etc. reset).
    plain = {"label_smoothing": 0.0, "logit_adjust": 0.0, "pos_weight": "none"}
    base = make_config(
        {**raw, **plain, "data_root": ns.data_root, "max_images": ns.max_images, "min_label_count": 5}
    )
    table = load_run_dataset(base)
    train, val = table.split_rows("train"), table.split_rows("val")
    excl = exclusive_columns(table.labels, table.groups, ("colour", "gender", "season", "usage"))
    print(f"{len(table)} photos ({len(train)} train, {len(val)} val), {len(table.labels)} labels", flush=True)
    rows = [
        # name, config changes, exclusive groups on, (size, resize)
        ("sigmoid BCE for every label (seed)", {"exclusive_groups": ()}, False, (160, "squash")),
        ("exclusive groups: softmax CE", {}, True, (160, "squash")),
        ("+ label smoothing 0.1", {"label_smoothing": 0.1}, True, (160, "squash")),
        ("+ logit adjustment tau=1", {"logit_adjust": 1.0}, True, (160, "squash")),
        ("+ class-balanced BCE (pos_weight auto)", {"pos_weight": "auto"}, True, (160, "squash")),
        ("resize: pad (keep aspect)", {}, True, (160, "pad")),
        ("224 px", {}, True, (224, "squash")),
    ]
    if ns.quick:
        rows = [r for r in rows if r[3] == (160, "squash")]
    if ns.rows:
        rows = [r for r in rows if ns.rows in r[0]]
    feats: dict[tuple[int, str], np.ndarray] = {}
    lines = []
    results = []
    for name, changes, use_excl, pix in rows:
        t0 = time.time()
        saved = Path(ns.cache) / f"features-{pix[0]}-{pix[1]}-{ns.max_images}.npy"
        if pix not in feats and saved.is_file():
            feats[pix] = np.load(saved)
        if pix not in feats:
            feats[pix] = features(table, pix[0], pix[1], Path(ns.cache))
            np.save(saved, feats[pix])
            print(f"features at {pix[0]} px {pix[1]}: {time.time() - t0:.0f}s", flush=True)
        t1 = time.time()
        cfg = base.replace(**{"exclusive_groups": ("colour", "gender", "season", "usage"), **changes})
        ex = excl if use_excl else ()
        head = train_head(cfg, feats[pix], table.targets, train, ex, ns.epochs)
        m = measure(table, head, feats[pix], val, ex)
        results.append((name, m, time.time() - t1))
        print(name, {k: round(v, 3) for k, v in m.items()}, f"{time.time() - t1:.0f}s", flush=True)
    cols = list(results[0][1])
    lines.append("| change | " + " | ".join(cols) + " | head s |")
    lines.append("|---" * (len(cols) + 2) + "|")
    for name, m, secs in results:
        lines.append(f"| {name} | " + " | ".join(f"{m[c]:.3f}" for c in cols) + f" | {secs:.0f} |")
    text = "\n".join(lines)
    print(text)
    Path(ns.out).write_text(text + "\n", encoding="utf-8")
    best = max(results, key=lambda r: np.nanmean(list(r[1].values())))
    print(
        f"ablation-probe: best={best[0]!r} mean_top1={np.nanmean(list(best[1].values())):.3f} rows={len(results)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
