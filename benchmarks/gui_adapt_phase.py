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


def write_model_scores(catalog, seed: int = 0) -> tuple[dict[int, int], tuple[str, ...], dict[str, str]]:
    """Register a model with the default model's labels and write scores and embeddings for every photo.
    Returns each photo's look, the labels and the groups."""
    from fashion_desktop.core.embeddings import encode
    from fashion_desktop.model.bundle import load_bundle
    from fashion_desktop.model.groups import exclusive_columns, group_softmax
    from fashion_desktop.model.resources import default_model_path

    b = load_bundle(default_model_path())
    labels, groups = tuple(b.labels), dict(b.groups)
    catalog.register_model(KEY, labels, "Bench model", None, groups, list(b.thresholds), b.exclusive_groups,
                           b.at_least_one_groups)  # fmt: skip
    excl = exclusive_columns(labels, groups, b.exclusive_groups)
    rng = np.random.RandomState(seed)
    centres = np.abs(rng.normal(0, 1, (LOOKS, WIDTH))).astype(np.float32)
    head = rng.normal(0, 0.08, (WIDTH, len(labels))).astype(np.float32)
    ids = [r[0] for r in catalog.query("SELECT id FROM images WHERE present=1 ORDER BY id")]
    looks = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        look = rng.randint(0, LOOKS, len(chunk))
        feats = np.abs(centres[look] + rng.normal(0, 0.3, (len(chunk), WIDTH))).astype(np.float32)
        logits = feats @ head - 2.0
        scores = group_softmax(logits, 1 / (1 + np.exp(-logits)), excl).astype(np.float32)
        catalog.add_predictions(KEY, zip(chunk, scores, strict=True), encode(feats, KEY))
        looks.update(zip(chunk, look.tolist(), strict=True))
    return looks, labels, groups


def adapt_phase(app, window, meter, seconds: float, wait_until, pace_s: float = 0.25) -> str:
    """Review for ``seconds`` while the adapter follows; return the result line."""
    catalog = window.library_ctl.catalog
    t = time.perf_counter()
    looks, labels, groups = write_model_scores(catalog)
    written_s = time.perf_counter() - t
    m = window.library
    m.set_active_model(KEY)
    ctl = window.adapter_ctl
    wait_until(app, lambda: not ctl.busy, timeout=600)
    colours = [lab for lab in labels if groups.get(lab) == "colour"]
    fits = {"n": 0, "last": 0.0}

    def shown() -> None:
        fits["n"] += 1
        fits["last"] = time.perf_counter()

    ctl.shown.connect(shown)
    meter.max_gap, meter.over = 0.0, []
    meter.start("adapter refits during review")
    order = sorted(looks, key=lambda i: (looks[i] % 4, i))  # the corrected look (0) comes up often
    reviewed = 0
    end = time.perf_counter() + seconds
    for image_id in order:
        if time.perf_counter() > end:
            break
        scores = m.scores_of(image_id)
        top = max(colours, key=lambda c: scores.get(c, 0.0))
        changes = []
        if looks[image_id] == 0:  # this look is really the colour after the one the model says
            right = colours[(colours.index(top) + 1) % len(colours)]
            changes = [(image_id, c, c == right) for c in colours]
        if changes:
            m.write_decisions(changes)
        m.write_reviewed([image_id], True, m.review_changes([image_id]))
        reviewed += 1
        wait_until(app, lambda: False, timeout=pace_s, step_s=0.002)
    wait_until(app, lambda: not ctl.busy, timeout=600)
    settle_s = time.perf_counter() - end
    a = ctl.adapter
    state = ctl.state_text()
    return (
        f"adapter: {len(looks):,} photos scored in {written_s:.1f}s; {reviewed} photos reviewed in {seconds:.0f}s "
        f"(one every {pace_s:.2f}s), {fits['n']} refits shown (last {settle_s:.1f}s after the last review); "
        f"{a.reviewed if a else 0} learnt from, {m.columns.adapted_count():,} photos show adapted scores; "
        f"'{state}'; longest stall {meter.max_gap * 1000:.0f} ms"
        f" ({len(meter.over)} over 40 ms)"
    )
