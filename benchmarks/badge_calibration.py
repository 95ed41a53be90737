"""The "?" badge before (a score within 0.05 of its threshold) and after calibration, on a bundle's test set.

"Wrong" is what a person would have to fix: the photo's tags from the tag rule (at the bundle's own
thresholds) differ from its known targets in any group. For each rule it prints the share of photos
flagged, the wrong-tag rate of flagged and of other photos (and their ratio), and the share of wrongly
tagged photos that are flagged; the issue asks for a ratio of at least 2 and at least half caught.

    python benchmarks/badge_calibration.py [BUNDLE]      # default: resources/models/default.fmodel

A bundle that stores its calibration (chosen on validation photos by the trainer) is measured on its
test photos as it is. One without gets what the app computes for it (a cutoff chosen on the same test
photos), and a fair check beside it: the cutoff chosen on one half of the photos, measured on the other
(both ways, summed). The last line is machine-readable: ``badge-calibration: ...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fashion_desktop.core.thresholds import UNCERTAIN_MARGIN, uncertainty  # noqa: E402
from fashion_desktop.model.badge import (  # noqa: E402
    TARGET_SHARE,
    badge_line,
    badge_of,
    choose_cutoff,
    every_group_known,
    flag_figures,
    risk_groups,
    risk_of,
    wrong_photos,
)
from fashion_desktop.model.bundle_file import evaluation_dict, read_bundle_file  # noqa: E402


def row(name: str, f: dict) -> str:
    ratio = f["wrong_flagged"] / f["wrong_rest"] if f["wrong_rest"] else float("inf")
    ok = ratio >= 2 and f["caught"] >= 0.5
    return (
        f"{name:<44} {f['flagged']:>8.1%} {f['wrong_flagged']:>9.1%} {f['wrong_rest']:>9.1%} "
        f"{ratio:>6.2f}x {f['caught']:>7.1%}  {'meets' if ok else 'misses'} (>= 2x, >= 50 %)"
    )


def by_group(targets: np.ndarray, pred: np.ndarray, d) -> dict[str, float]:
    """The share of photos wrongly tagged in each group (a photo can be wrong in several)."""
    rg = risk_groups(d.labels, d.groups, d.exclusive_columns())
    out = {}
    for name, cols, exclusive in zip(rg.names, rg.columns, rg.exclusive, strict=True):
        own = (np.arange(len(cols)),) if exclusive else ()
        out[name or "other"] = float(wrong_photos(targets[:, cols], pred[:, cols], own).mean())
    return out


def halves(risk: np.ndarray, share: float) -> np.ndarray:
    """Flags with the cutoff chosen on the other half of the photos (even rows for odd ones and back)."""
    flagged = np.zeros(len(risk), bool)
    idx = np.arange(len(risk))
    for pick, test in ((idx % 2 == 0, idx % 2 == 1), (idx % 2 == 1, idx % 2 == 0)):
        flagged[test] = risk[test] > choose_cutoff(risk[pick], share)
    return flagged


def table(title: str, wrong: np.ndarray, rules: dict[str, np.ndarray], share: float) -> dict[str, dict]:
    """One table: each rule's figures on these photos, with what a perfect ranker could reach beside."""
    w = wrong.mean()
    print(f"\n{title}: {len(wrong)} photos, {w:.1%} wrongly tagged")
    if w > 0:
        best_rest = max(w - share, 0.0) / (1 - share)
        print(
            f"a perfect badge on {share:.0%} of them: {min(1.0, share / w):.0%} of the wrong ones caught, "
            f"ratio {(min(w, share) / share) / best_rest if best_rest else float('inf'):.2f}x"
        )
    print(f"{'rule':<46} {'flagged':>8} {'wrong|?':>9} {'wrong|-':>9} {'ratio':>7} {'caught':>7}")
    out = {}
    for name, flagged in rules.items():
        out[name] = flag_figures(flagged, wrong)
        print(row(name, out[name]))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundle", nargs="?", default=str(ROOT / "resources" / "models" / "default.fmodel"))
    p.add_argument("--share", type=float, default=TARGET_SHARE, help="most photos the badge may flag")
    ns = p.parse_args(argv)
    bundle = read_bundle_file(ns.bundle)
    d = bundle.description
    ev = evaluation_dict(bundle) or {}
    if "scores" not in ev or "targets" not in ev:
        print(f"{ns.bundle}: carries no evaluation arrays to measure the badge on", file=sys.stderr)
        return 1
    scores = ev["scores"].numpy().astype(np.float32)
    targets = ev["targets"].numpy().astype(np.int8)
    exclusive, required = d.exclusive_columns(), d.at_least_one_columns()
    th = np.asarray(d.thresholds, np.float32)
    risk, pred = risk_of(scores, th, d.labels, d.groups, exclusive, required)
    wrong = wrong_photos(targets, pred, exclusive)
    badge = badge_of(d.badge, ev, d.thresholds, d.labels, d.groups, exclusive, required)
    assert badge is not None
    stored = d.badge is not None and badge.get("chosen_on") != badge.get("measured_on")
    where = f"chosen on {badge['chosen_on']}" if stored else "chosen on these photos"
    print(f"{ns.bundle}: {len(scores)} {ev.get('split', 'evaluation')} photos")
    print(
        "wrongly tagged, by group: "
        + ", ".join(f"{g} {w:.1%}" for g, w in by_group(targets, pred, d).items())
    )
    rules = {
        f"before: a score within {UNCERTAIN_MARGIN} of its threshold": uncertainty(scores, th)
        < UNCERTAIN_MARGIN,
        f"after: risk > {badge['cutoff']:.3f} ({where})": risk > badge["cutoff"],
        "after: cutoff chosen on the other half": halves(risk, ns.share),
    }
    every = every_group_known(targets, risk_groups(d.labels, d.groups, exclusive))
    a = table("all photos (the issue's measure)", wrong, rules, ns.share)
    k = table("photos known in every group", wrong[every], {n: f[every] for n, f in rules.items()}, ns.share)
    print(f"\nModels tab: {badge_line(badge)}")
    after, fair, known = a[list(rules)[1]], a[list(rules)[2]], k[list(rules)[1]]
    print(
        f"badge-calibration: photos={len(scores)} wrong={wrong.mean():.3f} "
        f"before_flagged={a[list(rules)[0]]['flagged']:.3f} after_flagged={after['flagged']:.3f} "
        f"ratio={after['wrong_flagged'] / max(after['wrong_rest'], 1e-9):.2f} caught={after['caught']:.3f} "
        f"halves_ratio={fair['wrong_flagged'] / max(fair['wrong_rest'], 1e-9):.2f} "
        f"known_ratio={known['wrong_flagged'] / max(known['wrong_rest'], 1e-9):.2f} "
        f"known_caught={known['caught']:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
