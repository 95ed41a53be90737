"""The final-tag rule written out plainly, one photo at a time: what every caller must agree with."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def reference_tags(
    labels: Sequence[str],
    scores: Sequence[float] | None,
    decisions: Mapping[str, bool],
    thresholds: Sequence[float],
    top_k: int | None = None,
    at_least_one: bool = False,
    required: Sequence[Sequence[int]] = (),
) -> list[str]:
    """A person's decision wins; else a score at or above its threshold (NaN: not scored), plus the best
    scored label of each ``required`` group (label indices) with none passing, the best ``top_k`` of
    those (a required group's best tag first, then by score, earlier label first on ties), or the best
    scored label when the photo has none."""
    on: set[str] = set()
    if scores is not None:
        scored = [j for j, s in enumerate(scores) if not math.isnan(s)]
        passing = [j for j in scored if scores[j] >= thresholds[j]]
        row = scores

        def best(js: Sequence[int]) -> int:
            return max(js, key=lambda j: (row[j], -j))

        first = set()
        for cols in required:
            have = [j for j in cols if j in passing]
            if not have and any(j in scored for j in cols):
                have = [best([j for j in cols if j in scored])]
                passing.append(have[0])
            if have:
                first.add(best(have))
        if top_k:
            passing = sorted(passing, key=lambda j: (j not in first, -scores[j], j))[:top_k]
        if at_least_one and not passing and scored:
            passing = [best(scored)]
        on = {labels[j] for j in passing}
    for label, value in decisions.items():
        if value:
            on.add(label)
        else:
            on.discard(label)
    return [lab for lab in labels if lab in on] + sorted(on.difference(labels))
