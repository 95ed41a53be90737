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
) -> list[str]:
    """A person's decision wins; else a score at or above its threshold (NaN: not scored), the best
    ``top_k`` of those (earlier label first on ties), or the best scored label when none passes."""
    on: set[str] = set()
    if scores is not None:
        scored = [j for j, s in enumerate(scores) if not math.isnan(s)]
        passing = [j for j in scored if scores[j] >= thresholds[j]]
        if top_k:
            passing = sorted(passing, key=lambda j: (-scores[j], j))[:top_k]
        if at_least_one and not passing and scored:
            passing = [max(scored, key=lambda j: (scores[j], -j))]
        on = {labels[j] for j in passing}
    for label, value in decisions.items():
        if value:
            on.add(label)
        else:
            on.discard(label)
    return [lab for lab in labels if lab in on] + sorted(on.difference(labels))
