"""bench_gui.py's --adapt phase: a person reviews in a 100,000-photo library while the adapter refits and re-scores.

The library's photos get a model's scores and embeddings written straight into the catalog (the default
model's 66 labels and groups; embeddings from 40 looks in 1,280 pooled features, encoded as the tagging child
encodes them), so the phase needs no hour of tagging. The person then reviews one photo every ``pace_s``
seconds, correcting one look's colour (the model calls it the wrong one), while the stall meter runs: each
refit (debounced, in a thread) re-scores every photo and the window shows the new scores a block at a time.
"""

from __future__ import annotations

import time

import numpy as np

LOOKS = 40
WIDTH = 1280
KEY = "bench-adapter-model"


def write_model_scores(
    catalog, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, str]]:
    """Register a model with the default model's labels and write scores and embeddings for every photo.
    Returns the photos' ids and each one's look (arrays: the bench's own memory stays out of the app's peak),
    the labels and the groups."""
    from fashion_desktop.core.embeddings import encode
    from fashion_desktop.model.bundle_file import read_header
    from fashion_desktop.model.groups import exclusive_columns, group_softmax
    from fashion_desktop.model.resources import default_model_path

    b = read_header(default_model_path())[0]  # the labels without torch: the window never imports it
    labels, groups = tuple(b.labels), dict(b.groups)
    catalog.register_model(KEY, labels, "Bench model", None, groups, list(b.thresholds), b.exclusive_groups,
                           b.at_least_one_groups)  # fmt: skip
    excl = exclusive_columns(labels, groups, b.exclusive_groups)
    rng = np.random.RandomState(seed)
    centres = np.abs(rng.normal(0, 1, (LOOKS, WIDTH))).astype(np.float32)
    head = rng.normal(0, 0.08, (WIDTH, len(labels))).astype(np.float32)
    ids = np.array(
        [r[0] for r in catalog.query("SELECT id FROM images WHERE present=1 ORDER BY id")], np.int64
    )
    looks = np.zeros(len(ids), np.int8)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        look = rng.randint(0, LOOKS, len(chunk))
        feats = np.abs(centres[look] + rng.normal(0, 0.3, (len(chunk), WIDTH))).astype(np.float32)
        logits = feats @ head - 2.0
        scores = group_softmax(logits, 1 / (1 + np.exp(-logits)), excl).astype(np.float32)
        catalog.add_predictions(KEY, zip(chunk.tolist(), scores, strict=True), encode(feats, KEY))
        looks[start : start + 5000] = look
    return ids, looks, labels, groups


class Timings:
    """The longest single call of each GUI-thread step the phase goes through (where a stall comes from)."""

    def __init__(self) -> None:
        self.longest: dict[str, float] = {}
        self.calls: list[tuple[float, str, float]] = []  # (start, step, seconds) of every call

    def wrap(self, obj, name: str, label: str) -> None:
        inner = getattr(obj, name)

        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                d = time.perf_counter() - t
                self.longest[label] = max(self.longest.get(label, 0.0), d)
                self.calls.append((t, label, d))

        setattr(obj, name, timed)

    def inside(self, start: float, gap: float) -> str:
        """The steps that ran during a stall (from ``start``, ``gap`` seconds long)."""
        steps = [f"{lab} {d * 1000:.0f}" for t, lab, d in self.calls if start - 0.001 <= t <= start + gap]
        return "+".join(steps) or "none of the timed steps"

    def line(self) -> str:
        worst = sorted(self.longest.items(), key=lambda kv: -kv[1])[:10]
        return ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in worst)


def review(
    app, window, meter, photos, looks, colours, seconds, pace_s, wait_until, phase
) -> tuple[int, float, int]:
    """Review ``photos`` in turn for ``seconds``, correcting look 0's colour; (reviewed, longest stall, stalls
    over 40 ms)."""
    m = window.library
    meter.max_gap, meter.over = 0.0, []
    meter.start(phase)
    reviewed = 0
    end = time.perf_counter() + seconds
    for image_id in photos:
        if time.perf_counter() > end:
            break
        scores = m.scores_of(image_id)
        top = max(colours, key=lambda c: scores.get(c, 0.0))
        if looks[image_id] == 0:  # this look is really the colour after the one the model says
            right = colours[(colours.index(top) + 1) % len(colours)]
            m.write_decisions([(image_id, c, c == right) for c in colours])
        m.write_reviewed([image_id], True, m.review_changes([image_id]))
        reviewed += 1
        wait_until(app, lambda: False, timeout=pace_s, step_s=0.002)
    wait_until(app, lambda: not window.adapter_ctl.busy, timeout=600)
    return reviewed, meter.max_gap, len(meter.over)


def adapt_phase(app, window, meter, seconds: float, wait_until, pace_s: float = 0.25) -> str:
    """Review for ``seconds`` with the adapter off (the baseline), then ``seconds`` with it on; the result line."""
    catalog = window.library_ctl.catalog
    t = time.perf_counter()
    ids, look_of, labels, groups = write_model_scores(catalog)
    written_s = time.perf_counter() - t
    m = window.library
    m.set_active_model(KEY)
    ctl = window.adapter_ctl
    wait_until(app, lambda: not ctl.busy, timeout=600)
    # The counts a model switch starts (debounced; the first one counts the photos without an embedding in
    # the catalog, once per model: ~0.1 s at 100,000) are not the review's: they end before the meter starts.
    wait_until(app, lambda: False, timeout=1.0)
    colours = [lab for lab in labels if groups.get(lab) == "colour"]
    fits = {"n": 0}
    ctl.shown.connect(lambda: fits.__setitem__("n", fits["n"] + 1))
    timings = Timings()
    for obj, name in ((m, "apply_adapted"), (m, "recompute_rows"), (m, "write_reviewed"), (m, "write_decisions"),
                      (window.view_state, "update_counts"), (ctl, "_done"), (ctl, "_apply_some")):  # fmt: skip
        timings.wrap(obj, name, name)
    # The corrected look (0) comes up often; a review a pace_s can reach only the first few thousand.
    first = np.lexsort((ids, look_of % 4))[: 4 * int(seconds / pace_s) + 100]
    order = ids[first].tolist()
    looks = dict(zip(order, look_of[first].tolist(), strict=True))
    window.tag_panel.adapter_box.setChecked(False)
    wait_until(app, lambda: not ctl.busy, timeout=600)
    off = review(
        app, window, meter, order[::2], looks, colours, seconds, pace_s, wait_until, "review, adapter off"
    )
    window.tag_panel.adapter_box.setChecked(True)
    wait_until(app, lambda: not ctl.busy, timeout=600)
    fits["n"] = 0
    t = time.perf_counter()
    on = review(
        app, window, meter, order[1::2], looks, colours, seconds, pace_s, wait_until, "review, adapter on"
    )
    settle_s = time.perf_counter() - t - seconds
    stalls = "; ".join(
        f"{g * 1000:.0f} ms: {timings.inside(meter.phase_t0 + at, g)}"
        for _p, at, g in sorted(meter.over, key=lambda o: -o[2])[:5]
    )
    paints = []
    for _ in range(5):  # what one full repaint of the grid's visible photos costs here
        t = time.perf_counter()
        window.grid.viewport().repaint()
        paints.append(time.perf_counter() - t)
    a = ctl.adapter
    return (
        f"grid repaint {np.median(paints) * 1000:.0f} ms; adapter: {len(ids):,} photos scored in {written_s:.1f}s; one review every {pace_s:.2f}s for "
        f"{seconds:.0f}s each way. Adapter off (baseline): {off[0]} reviewed, longest stall {off[1] * 1000:.0f} ms "
        f"({off[2]} over 40 ms). Adapter on: {on[0]} reviewed, {fits['n']} refits shown (the last {settle_s:.1f}s "
        f"after the last review), {a.reviewed if a else 0} learnt from, {m.columns.adapted_count():,} photos show "
        f"adapted scores, '{ctl.state_text()}'; longest stall {on[1] * 1000:.0f} ms ({on[2]} over 40 ms); "
        f"ratio on/off {on[1] / max(off[1], 1e-9):.2f}x; longest calls: {timings.line()}; the longest stalls held {stalls}"
    )
