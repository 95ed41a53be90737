"""Does a new model tag a library better than the one in use? Per group, with an interval; what it loses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..model.groups import exclusive_columns
from ..model.metrics import one_value_targets
from ..model.tag_rule import predicted_matrix

# Fewer held-out photos than this and the comparison gives no verdict. One photo of three is 33 points of
# accuracy, and an interval computed from a handful of photos is narrower than the truth (a bootstrap
# cannot see the photos it was not given); from about thirty photos on, the paired interval below is a fair
# account of what the photos say.
MIN_PHOTOS = 30
BOOTSTRAP_DRAWS = 4000
LEVEL = 0.95
INTERVAL = (
    "95% paired bootstrap interval of the difference in the share of photos each model gets exactly "
    "right in the group (the same photos resampled for both models)"
)
NEW, CURRENT, NEITHER, TOO_FEW = "new", "current", "neither", "too few photos"  # who wins a group
BETTER, WORSE, NO_CLEAR, UNDECIDED = "better", "worse", "no clear difference", "too few photos"  # overall


class Described(Protocol):
    """What a comparison reads of a model (a ``Bundle`` or its ``BundleDescription``)."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def groups(self) -> Mapping[str, str]: ...

    @property
    def exclusive_groups(self) -> tuple[str, ...]: ...

    @property
    def at_least_one_groups(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class ModelChanges:
    """What switching from the model in use to a new one changes: labels it loses and adds, and the groups
    that lose their one-value rule (``lost_exclusive``) or their every-photo-gets-one rule."""

    lost: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    lost_exclusive: tuple[str, ...] = ()
    lost_at_least_one: tuple[str, ...] = ()


def model_changes(current: Described, new: Described) -> ModelChanges:
    """The labels and group rules ``new`` lacks (or adds) compared with ``current``, in their order."""
    have = set(new.labels)
    return ModelChanges(
        tuple(lab for lab in current.labels if lab not in have),
        tuple(lab for lab in new.labels if lab not in set(current.labels)),
        tuple(g for g in current.exclusive_groups if g not in set(new.exclusive_groups)),
        tuple(g for g in current.at_least_one_groups if g not in set(new.at_least_one_groups)),
    )


def tags_of(model: Any, scores: np.ndarray) -> np.ndarray:
    """bool [N, L]: the tags ``model`` (a Bundle) gives these scores by the tag rule at its own thresholds."""
    thresholds = np.asarray(model.thresholds, np.float32)
    return predicted_matrix(scores, thresholds, None, model.exclusive_columns(), model.at_least_one_columns())


def _spread(labels: Sequence[str], tags: np.ndarray, model_labels: Sequence[str]) -> np.ndarray:
    """``tags`` (over ``model_labels``) over ``labels``: a label the model does not have is never on."""
    col = {lab: j for j, lab in enumerate(model_labels)}
    out = np.zeros((len(tags), len(labels)), bool)
    for j, lab in enumerate(labels):
        if lab in col:
            out[:, j] = tags[:, col[lab]]
    return out


def _interval(diff: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """The LEVEL percentile interval of the mean of ``diff`` (each -1, 0 or 1) over BOOTSTRAP_DRAWS
    resamples of the photos; drawn as counts of the three values (the same as resampling photos)."""
    n = len(diff)
    share = [float(np.mean(diff == v)) for v in (-1, 0, 1)]
    counts = np.random.default_rng(seed).multinomial(n, share, size=BOOTSTRAP_DRAWS)
    means = (counts[:, 2] - counts[:, 0]) / n
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def group_verdicts(
    targets: np.ndarray,
    labels: Sequence[str],
    groups: Mapping[str, str],
    current: np.ndarray,
    new: np.ndarray,
) -> dict[str, dict[str, Any]]:
    """Per group: photos, the share each model gets exactly right, the difference (new - current) with
    its interval (``INTERVAL``) and who wins (NEW, CURRENT, NEITHER, or TOO_FEW below MIN_PHOTOS).

    ``targets`` [N, L] (1 / 0 / -1 unknown) and the two models' tags ``current``/``new`` (bool [N, L])
    are over the same ``labels`` (both models' together). A photo counts in a group when it knows one of
    the group's labels; a model is right on it when its tags agree with every known label of the group
    (a label the model lacks and the photo has makes it wrong).
    """
    out: dict[str, dict[str, Any]] = {}
    for g in dict.fromkeys(groups.get(lab, "") for lab in labels):
        cols = [j for j, lab in enumerate(labels) if groups.get(lab, "") == g]
        t = targets[:, cols]
        known = t >= 0
        counted = known.any(axis=1)
        n = int(counted.sum())
        if not n:
            continue
        truth = t == 1
        right = [((tags[:, cols] == truth) | ~known).all(axis=1)[counted] for tags in (current, new)]
        diff = right[1].astype(np.int8) - right[0].astype(np.int8)
        low, high = _interval(diff)
        winner = TOO_FEW if n < MIN_PHOTOS else NEW if low > 0 else CURRENT if high < 0 else NEITHER
        out[g or "other"] = {  # named as compute_metrics names a group of labels without one
            "photos": n,
            "current": float(right[0].mean()),
            "new": float(right[1].mean()),
            "difference": float(diff.mean()),
            "low": low,
            "high": high,
            "winner": winner,
        }
    return out


def verdict(photos: int, per_group: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The comparison's verdict on ``photos`` held-out photos: ``overall`` (BETTER when the new model
    wins a group and loses none, WORSE when it loses one, NO_CLEAR, or UNDECIDED below MIN_PHOTOS with
    ``needs`` more photos), ``groups`` as ``group_verdicts`` gives them, and how the interval is made."""
    winners = {str(v.get("winner")) for v in per_group.values()}
    if photos < MIN_PHOTOS:
        overall = UNDECIDED
    elif CURRENT in winners:
        overall = WORSE
    elif NEW in winners:
        overall = BETTER
    else:
        overall = NO_CLEAR
    return {
        "photos": photos,
        "min_photos": MIN_PHOTOS,
        "needs": max(MIN_PHOTOS - photos, 0),
        "overall": overall,
        "groups": {g: dict(v) for g, v in per_group.items()},
        "interval": INTERVAL,
    }


def both_models_labels(current: Described, new: Described) -> tuple[list[str], dict[str, str]]:
    """The two models' labels together (the current model's first) and their groups (the current model's
    group for a label both have)."""
    labels = list(dict.fromkeys([*current.labels, *new.labels]))
    return labels, {**dict(new.groups), **dict(current.groups)}


def verdict_of(
    targets: np.ndarray,
    labels: Sequence[str],
    groups: Mapping[str, str],
    scored: Sequence[tuple[Any, np.ndarray]],
) -> dict[str, Any]:
    """``verdict`` of the new model against the current one: ``scored`` is (model, its scores [N, its
    labels]) for each, ``targets`` [N, ``labels``] the photos' final tags (``both_models_labels``). In a
    group either model keeps to one value, a photo's known value makes its other values known "no"s: a
    second colour is a wrong tag, not an unknown one."""
    one_value = [g for model, _ in scored for g in model.exclusive_groups]
    targets = one_value_targets(targets, exclusive_columns(labels, groups, one_value))
    tags = [_spread(labels, tags_of(model, scores), model.labels) for model, scores in scored]
    return verdict(len(targets), group_verdicts(targets, labels, groups, tags[0], tags[1]))


def reasons_to_ask(changes: ModelChanges, result: Mapping[str, Any] | None) -> list[str]:
    """Why switching to the new model deserves a question, one line each for a person (empty: it does
    not): labels and group rules it loses, and a comparison that is worse, undecided or missing
    (``result``: ``verdict``'s mapping, None when the two were not compared)."""
    out = []
    if changes.lost:
        more = f" and {len(changes.lost) - 15} more" if len(changes.lost) > 15 else ""
        shown = ", ".join(changes.lost[:15]) + more
        out.append(f"It does not have {len(changes.lost)} of the current model's labels: {shown}.")
    if changes.lost_exclusive:
        out.append(
            "It no longer keeps one value per photo in "
            + ", ".join(changes.lost_exclusive)
            + " (a photo could get several)."
        )
    if changes.lost_at_least_one:
        out.append("It no longer gives every photo a value in " + ", ".join(changes.lost_at_least_one) + ".")
    overall = (result or {}).get("overall")
    if result is None or not result:
        out.append("It has not been compared with the current model on your reviewed photos.")
    elif overall == UNDECIDED:
        out.append(
            f"The comparison rests on {result.get('photos', 0)} photos, too few for a verdict "
            f"(review {result.get('needs', 0)} more photos the run did not learn from)."
        )
    elif overall == WORSE:
        worse = [g for g, v in (result.get("groups") or {}).items() if v.get("winner") == CURRENT]
        out.append("The current model does better on " + ", ".join(worse) + ".")
    elif overall == NO_CLEAR:
        out.append(f"On {result.get('photos', 0)} photos the comparison shows no clear difference.")
    return out
