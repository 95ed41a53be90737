"""Threshold policy: which threshold each label gets (the rule that applies it lives in ``core.tags``)."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ThresholdPolicy:
    """How scores become predicted tags.

    A label's threshold is the user's per-label override if any, else ``global_threshold`` if set,
    else the bundle's default for that label. ``top_k`` caps how many predicted tags an image gets
    (highest scores first); ``at_least_one`` gives every scored image its best label when none passes.
    ``group_at_least_one`` applies the model's own at-least-one groups (``model.tag_rule``): on unless a
    person turns it off for this view; it changes nothing for a model that declares none.
    """

    global_threshold: float | None = None
    per_label: Mapping[str, float] = field(default_factory=dict)
    top_k: int | None = None
    at_least_one: bool = False
    group_at_least_one: bool = True

    def thresholds(
        self, labels: Sequence[str], defaults: Sequence[float], floors: Collection[str] = ()
    ) -> np.ndarray:
        """One threshold per label, in ``labels`` order.

        ``floors`` are the labels of exclusive groups (``model.groups.exclusive_labels``): their default
        is the group's confidence floor for a softmax score, which the global slider (a cut for
        independent sigmoid scores) does not replace; a per-label override still does.
        """
        out = np.empty(len(labels), dtype=np.float32)
        floors = set(floors)
        for i, (label, default) in enumerate(zip(labels, defaults, strict=True)):
            if label in self.per_label:
                out[i] = self.per_label[label]
            elif self.global_threshold is not None and label not in floors:
                out[i] = self.global_threshold
            else:
                out[i] = default
        return out

    def to_json(self) -> str:
        """The policy as a JSON object (the catalog's view state and an export's "About" sheet)."""
        return json.dumps(
            {
                "global_threshold": self.global_threshold,
                "per_label": dict(sorted(self.per_label.items())),
                "top_k": self.top_k,
                "at_least_one": self.at_least_one,
                "group_at_least_one": self.group_at_least_one,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> ThresholdPolicy:
        """The policy ``to_json`` wrote. Values that do not fit (a hand-edited or damaged catalog) are
        left at their defaults rather than refusing the library. Raises ValueError for text that is not
        a JSON object."""
        data: Any = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a threshold policy is a JSON object")

        def unit(v: object) -> float | None:
            ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1
            return float(v) if ok else None  # type: ignore[arg-type]

        raw = data.get("per_label")
        per_label = {
            str(k): t for k, v in (raw.items() if isinstance(raw, dict) else ()) if (t := unit(v)) is not None
        }
        top_k = data.get("top_k")
        return cls(
            global_threshold=unit(data.get("global_threshold")),
            per_label=per_label,
            top_k=top_k if isinstance(top_k, int) and not isinstance(top_k, bool) and top_k > 0 else None,
            at_least_one=data.get("at_least_one") is True,
            group_at_least_one=data.get("group_at_least_one") is not False,  # views saved before it: on
        )


# A score this close to its label's threshold marks the photo as uncertain in the grid: a small change
# of threshold would flip that tag, so it is worth a person's look first.
UNCERTAIN_MARGIN = 0.05
# Training on an unreviewed photo's predictions (only when asked for) takes a label's score as an answer
# when it is at least this far from the label's threshold (0.5: >= 0.8 yes, <= 0.2 no); the rest stay unknown.
CONFIDENT_MARGIN = 0.3


def uncertainty(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per image, the smallest distance of any score to its threshold (small = needs a look first)."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    return np.abs(s - thresholds[None, :]).min(axis=1)
