"""``python -m trainer package RUN --card CARD.yaml --out MODEL.fmodel``: a run's bundle made shippable.

What it does to the run's ``model.fmodel``:

* the card (data, licences, what the model cannot recognise: a YAML file) goes into the provenance,
  with the held-out figures per source and group taken from the run's one test evaluation;
* weights are stored in half precision when that moves no score by more than ``--tolerance`` on the
  held-out photos (measured here, recorded in the card), else they stay in single precision;
* the evaluation's photo paths are made relative to the data folder, and machine-specific settings
  (run and cache folders) are dropped from the recorded config;
* a run from before the "?" badge was calibrated gets its cutoff from the stored test photos.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fashion_desktop.model.badge import badge_line, badge_of
from fashion_desktop.model.bundle import Bundle, load_bundle, save_bundle
from fashion_desktop.model.bundle_format import BundleError
from fashion_desktop.model.metrics import compute_metrics
from fashion_desktop.model.run_folder import BUNDLE
from fashion_desktop.model.scoring import ModelRunner, ScoreOptions, score_paths
from fashion_desktop.model.train_config import ConfigError, load_config_file

log = logging.getLogger("trainer.package")
GROUP_ORDER = ("category", "colour", "gender", "season", "usage")


def held_out_table(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``{source: {group: top-1 accuracy}}`` from a bundle's test metrics (per source, then per group)."""
    out: dict[str, dict[str, float]] = {}
    for source, groups in (metrics.get("test", {}).get("sources") or {}).items():
        row = {}
        for g in sorted(groups, key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else 99, g)):
            value = groups[g].get("top1_accuracy")
            if isinstance(value, (int, float)) and np.isfinite(value):
                row[g] = round(float(value), 3)
        if row:
            out[str(source)] = row
    return out


def recompute_test_metrics(bundle: Bundle, metrics: dict[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """The test metrics again from the bundle's stored test scores, by the one metrics function (the tags the
    tag rule gives), overall, per group and per source (the first folder of each relative path).

    Runs trained before exclusive groups' non-top values scored -1 in the metrics reported F1 figures that
    counted every value of a group whose floor is 0; top-1 was right all along.
    """
    ev = bundle.evaluation or {}
    if ev.get("split") != "test" or "scores" not in ev or "targets" not in ev:
        return metrics
    exclusive, required = bundle.exclusive_columns(), bundle.at_least_one_columns()
    t = np.asarray(ev["targets"].numpy() if hasattr(ev["targets"], "numpy") else ev["targets"], np.int8)
    raw = ev["scores"].float().numpy() if hasattr(ev["scores"], "float") else np.asarray(ev["scores"])
    s = raw.astype(np.float32)
    th = np.asarray(bundle.thresholds, np.float64)
    labels, groups = list(bundle.labels), dict(bundle.groups)
    test = compute_metrics(t, s, th, labels, groups, exclusive, required=required)
    src = np.array([Path(p).parts[0] if not Path(p).is_absolute() else "other" for p in paths])
    test["sources"] = {
        str(name): compute_metrics(
            t[src == name], s[src == name], th, labels, groups, exclusive, required=required
        )["groups"]
        for name in dict.fromkeys(src)
    }
    return {**metrics, "test": test}


def _half(bundle: Bundle) -> Bundle:
    state = {k: v.half() if v.is_floating_point() else v for k, v in bundle.state_dict.items()}
    return replace(bundle, state_dict=state)


def _scores(bundle: Bundle, paths: Sequence[str]) -> np.ndarray:
    runner = ModelRunner(bundle, ScoreOptions(device="cpu", precision="fp32", batch_size=32))
    got: dict[str, np.ndarray] = {}
    for batch in score_paths(paths, runner):
        if batch.scores is not None:
            for p, s in zip(batch.paths, batch.scores, strict=True):
                got[str(p)] = s
    keep = [p for p in paths if str(Path(p)) in got]
    return np.stack([got[str(Path(p))] for p in keep]) if keep else np.zeros((0, len(bundle.labels)))


def _badge(bundle: Bundle, ev: dict[str, Any]) -> dict[str, Any] | None:
    """The run's badge calibration (chosen on its validation photos); a run from before the badge was
    calibrated gets one chosen and measured on its stored test photos."""
    return badge_of(
        bundle.badge,
        ev,
        bundle.thresholds,
        bundle.labels,
        bundle.groups,
        bundle.exclusive_columns(),
        bundle.at_least_one_columns(),
    )


def package(
    run_bundle: Path, card: dict[str, Any], out: Path, data_root: Path | None, tolerance: float, check: int
) -> dict[str, Any]:
    """Write the shippable bundle; returns what was decided (precision, largest score change, size)."""
    bundle = load_bundle(run_bundle)
    ev = dict(bundle.evaluation or {})
    paths = [str(p) for p in ev.get("paths") or []]
    sample = paths[:: max(1, len(paths) // check)][:check] if paths and check else []
    result: dict[str, Any] = {"checked_photos": 0, "max_score_change": None, "precision": "fp32"}
    if sample:
        full = _scores(bundle, sample)
        halved = _half(bundle)
        diff = float(np.abs(_scores(halved, sample) - full).max()) if len(full) else float("inf")
        result.update(checked_photos=len(full), max_score_change=round(diff, 5))
        if diff <= tolerance:
            bundle, result["precision"] = halved, "fp16"
    root = str(data_root.resolve()) + os.sep if data_root else None
    if root and paths:
        ev["paths"] = [
            p[len(root) :] if p.startswith(root) else p for p in (str(Path(p).resolve()) for p in paths)
        ]
    prov = dict(bundle.provenance)
    config = dict(prov.get("config") or {})
    for key in ("out", "cache_dir"):
        config.pop(key, None)
    prov["config"] = config
    prov["card"] = {
        **card,
        "held_out_top1": held_out_table(dict(bundle.metrics)),
        "weights": (
            f"{result['precision']}; largest score change from half precision "
            f"{result['max_score_change']} on {result['checked_photos']} held-out photos"
            if result["checked_photos"]
            else result["precision"]
        ),
    }
    if card.get("name"):
        prov["name"] = card["name"]
    metrics = dict(bundle.metrics)
    if root and paths:
        metrics = recompute_test_metrics(replace(bundle, evaluation=ev), metrics, ev["paths"])
        prov["card"]["held_out_top1"] = held_out_table(metrics)
    bundle = replace(
        bundle, provenance=prov, evaluation=ev or None, metrics=metrics, badge=_badge(bundle, ev)
    )
    path = save_bundle(bundle, out)
    result["bytes"] = path.stat().st_size
    result["held_out_top1"] = prov["card"]["held_out_top1"]
    result["badge"] = badge_line(bundle.badge)
    return result


def package_main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer package", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a finished training run folder (holding model.fmodel)")
    p.add_argument("--card", required=True, help="YAML: name, data, licences, limits ... of the model")
    p.add_argument("--out", required=True, help="where to write the shippable bundle")
    p.add_argument("--data-root", help="folder the evaluation's photo paths are made relative to")
    p.add_argument(
        "--tolerance", type=float, default=0.01, help="largest score change half precision may make"
    )
    p.add_argument(
        "--check", type=int, default=300, help="held-out photos scored to measure it (0: keep fp32)"
    )
    ns = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        card = load_config_file(ns.card)
        result = package(
            Path(ns.run) / BUNDLE, card, Path(ns.out), Path(ns.data_root) if ns.data_root else None,
            ns.tolerance, ns.check,
        )  # fmt: skip
    except (BundleError, ConfigError, OSError) as exc:
        print(f"trainer package: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {ns.out}: {result['bytes'] / 1e6:.1f} MB, weights {result['precision']} "
        f"(largest score change {result['max_score_change']} on {result['checked_photos']} held-out photos)"
    )
    for source, row in result["held_out_top1"].items():
        print(f"  {source}: " + ", ".join(f"{g} {v:.3f}" for g, v in row.items()))
    print(f"  badge: {result['badge']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(package_main())
