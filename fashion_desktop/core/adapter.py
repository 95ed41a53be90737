"""Adapt a model to one library: a small linear correction on the stored embeddings, with the model's logits as prior.

A photo's adapted logits are ``base + x @ W + b``: ``base`` the model's own logits (read back from its stored
scores), ``x`` the photo's stored embedding (``core.embeddings``), centred and scaled. ``W`` and ``b`` are
fitted to a person's decisions, per group: a softmax over an exclusive group's labels (one value per photo),
an independent sigmoid per label elsewhere. The fit minimises the summed cross-entropy plus ``RIDGE`` times
the squared weights, so a few decisions move the scores a little and many move them more; with no decision
the correction is zero and the adapted scores are the model's.

Every group's correction is cross-validated over the decided photos (``FOLDS`` folds, over ``CV_MAX`` of them
at most): it is used only when its held-out log loss beats the model's on the same photos by ``MIN_GAIN`` and
its top-1 does not fall. The out-of-fold scores also tune each multi-label label's threshold where there are
enough yes and no examples (else the model's threshold stays). Labels a person created (the model has none) are fitted the same way from a zero
prior once they have ``MIN_PERSON`` yes and ``MIN_PERSON`` no decisions.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from ..model.metrics import tune_thresholds

RIDGE = 10.0  # 30, 100 and 300 scored within 0.01 of each other on the default model's validation photos; 10 lets ~8 consistent corrections of one look move it
BIAS_RIDGE = 3.0  # a shift of a label's prior is one number, learnt from fewer photos than a direction
FOLDS = 5
CV_MAX = 2000  # photos a cross-validation uses at most (drawn at random): the fit itself uses them all
MIN_GAIN = 0.01  # the held-out log loss a correction must take off the model's (a share of it) to be used
MIN_EXAMPLES = 10  # decided photos a group needs before it is fitted at all
MIN_PERSON = 5  # yes and no examples a person's own label needs
MIN_THRESHOLD_EXAMPLES = 10  # yes and no examples a label needs before the adapter tunes its threshold
EPS = 1e-6
FORMAT = 1


class AdapterError(ValueError):
    """A stored adapter that cannot be read (damaged, another format, another model's)."""


@dataclass
class Correction:
    """One group's fitted correction and its cross-validated report.

    ``kind``: ``exclusive`` (softmax over ``columns``), ``labels`` (sigmoid per column) or ``person`` (a
    label a person created: ``columns`` index ``Adapter.person_labels``, zero prior).
    """

    group: str
    kind: str
    columns: np.ndarray
    weights: np.ndarray  # float32 [k, C]
    bias: np.ndarray  # float32 [C]
    examples: int
    base: dict[str, float] = field(default_factory=dict)  # cross-validated figures: logloss, top1
    adapted: dict[str, float] = field(default_factory=dict)
    used: bool = False
    why: str = ""

    def summary(self) -> str:
        """One line: the group, its examples, before -> after and whether it is used."""

        def fig(d: Mapping[str, float]) -> str:
            top = f"top-1 {d['top1']:.3f}, " if "top1" in d else ""
            return f"{top}log loss {d['logloss']:.3f}" if "logloss" in d else "-"

        state = "used" if self.used else f"not used ({self.why})"
        return f"{self.group or 'other'}: {self.examples} photos; model {fig(self.base)} -> adapted {fig(self.adapted)}; {state}"


@dataclass
class Adapter:
    """A library's corrections for one model (``model_key``), fitted from ``reviewed`` photos."""

    model_key: str
    labels: tuple[str, ...]
    mean: np.ndarray  # float32 [k]: the embeddings' centre
    scale: float  # their spread: features are (x - mean) / scale
    corrections: list[Correction]
    thresholds: np.ndarray  # float32 [L]: tuned threshold per model label, NaN where the model's stays
    person_labels: tuple[str, ...] = ()
    person_thresholds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    reviewed: int = 0
    fitted_at: float = 0.0

    @property
    def used(self) -> list[Correction]:
        return [c for c in self.corrections if c.used]

    @property
    def useful(self) -> bool:
        """Whether any group's correction beat the model (else the model's scores stand)."""
        return bool(self.used)

    def features(self, embeddings: np.ndarray) -> np.ndarray:
        return (np.asarray(embeddings, np.float32) - self.mean) / np.float32(self.scale)

    def rescore(
        self, embeddings: np.ndarray, base_scores: np.ndarray, exclusive: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(model-label scores [n, L], person-label scores [n, P]) of photos with these embeddings and
        model scores: the model's where no used correction covers a label."""
        x = self.features(embeddings)
        base = np.asarray(base_scores, np.float32)
        out = base.copy()
        person = np.full((len(x), len(self.person_labels)), np.nan, np.float32)
        logits = base_logits(base, exclusive)
        for c in self.used:
            z = x @ c.weights + c.bias
            if c.kind == "person":
                person[:, c.columns] = _sigmoid(z)
            elif c.kind == "exclusive":
                out[:, c.columns] = _softmax(logits[:, c.columns] + z)
            else:
                out[:, c.columns] = _sigmoid(logits[:, c.columns] + z)
        return out, person

    # -- storage ------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """An npz (no pickled objects: ``from_bytes`` loads it with allow_pickle=False)."""
        meta = {
            "format": FORMAT,
            "model_key": self.model_key,
            "labels": list(self.labels),
            "scale": self.scale,
            "person_labels": list(self.person_labels),
            "reviewed": self.reviewed,
            "fitted_at": self.fitted_at,
            "corrections": [
                {"group": c.group, "kind": c.kind, "examples": c.examples, "base": c.base,
                 "adapted": c.adapted, "used": c.used, "why": c.why}
                for c in self.corrections
            ],
        }  # fmt: skip
        arrays = {"meta": np.array(json.dumps(meta)), "mean": self.mean, "thresholds": self.thresholds,
                  "person_thresholds": self.person_thresholds}  # fmt: skip
        for i, c in enumerate(self.corrections):
            arrays[f"c{i}_columns"] = c.columns
            arrays[f"c{i}_weights"] = c.weights
            arrays[f"c{i}_bias"] = c.bias
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Adapter:
        """Raises AdapterError when ``data`` is not an adapter this app wrote."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format") != FORMAT:
                    raise AdapterError(f"adapter format {meta.get('format')!r}, not {FORMAT}")
                corrections = [
                    Correction(
                        m["group"],
                        m["kind"],
                        z[f"c{i}_columns"].astype(np.int64),
                        z[f"c{i}_weights"].astype(np.float32),
                        z[f"c{i}_bias"].astype(np.float32),
                        int(m["examples"]),
                        dict(m["base"]),
                        dict(m["adapted"]),
                        bool(m["used"]),
                        m["why"],
                    )  # fmt: skip
                    for i, m in enumerate(meta["corrections"])
                ]
                return cls(
                    meta["model_key"], tuple(meta["labels"]), z["mean"].astype(np.float32), float(meta["scale"]),
                    corrections, z["thresholds"].astype(np.float32), tuple(meta["person_labels"]),
                    z["person_thresholds"].astype(np.float32), int(meta["reviewed"]), float(meta["fitted_at"]),
                )  # fmt: skip
        except AdapterError:
            raise
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError, EOFError) as exc:
            raise AdapterError(f"not a readable adapter ({exc})") from None


# -- maths ------------------------------------------------------------------------------------------
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))).astype(np.float32)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def base_logits(scores: np.ndarray, exclusive: Sequence[np.ndarray]) -> np.ndarray:
    """The logits behind stored scores: log-odds of sigmoid scores, log of an exclusive group's softmax
    scores (equal to its logits up to a per-photo constant, which a softmax ignores)."""
    p = np.clip(np.asarray(scores, np.float64), EPS, 1 - EPS)
    out = np.log(p) - np.log1p(-p)
    for cols in exclusive:
        out[:, cols] = np.log(p[:, cols])
    return out.astype(np.float32)


def _minimise(loss, theta0: np.ndarray) -> np.ndarray:
    return minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 200, "gtol": 1e-4}).x


def _theta(init: tuple[np.ndarray, np.ndarray] | None, size: int) -> np.ndarray:
    """A fit's starting point: the fit on all photos for a cross-validation fold (it is close), else zero."""
    if init is None:
        return np.zeros(size)
    return np.concatenate([init[0].ravel(), init[1]]).astype(np.float64)


def _fit_softmax(
    x: np.ndarray,
    prior: np.ndarray,
    y: np.ndarray,
    ridge: float,
    init: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """W [k, C], b [C] minimising sum CE(softmax(prior + xW + b), y) + ridge * (|W|^2 + |b|^2)."""
    n, k = x.shape
    c = prior.shape[1]
    onehot = np.zeros((n, c))
    onehot[np.arange(n), y] = 1.0
    x64, prior64 = x.astype(np.float64), prior.astype(np.float64)
    pen = np.concatenate([np.full(k * c, ridge), np.full(c, BIAS_RIDGE)])

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: k * c].reshape(k, c), theta[k * c :]
        z = prior64 + x64 @ w + b
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        g = np.exp(logp) - onehot
        value = -(logp * onehot).sum() + (pen * theta) @ theta
        grad = np.concatenate([(x64.T @ g).ravel(), g.sum(axis=0)]) + 2 * pen * theta
        return float(value), grad

    theta = _minimise(loss, _theta(init, k * c + c))
    return theta[: k * c].reshape(k, c).astype(np.float32), theta[k * c :].astype(np.float32)


def _fit_sigmoid(
    x: np.ndarray,
    prior: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    ridge: float,
    init: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """W [k, C], b [C] minimising the masked sum of BCE(sigmoid(prior + xW + b), y) + ridge * |theta|^2."""
    n, k = x.shape
    c = prior.shape[1]
    x64, prior64 = x.astype(np.float64), prior.astype(np.float64)
    y64, m64 = y.astype(np.float64), mask.astype(np.float64)
    pen = np.concatenate([np.full(k * c, ridge), np.full(c, BIAS_RIDGE)])

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: k * c].reshape(k, c), theta[k * c :]
        z = prior64 + x64 @ w + b
        # log(1 + e^z) - y z, stably
        value = float(((np.logaddexp(0.0, z) - y64 * z) * m64).sum() + (pen * theta) @ theta)
        g = (1.0 / (1.0 + np.exp(-z)) - y64) * m64
        grad = np.concatenate([(x64.T @ g).ravel(), g.sum(axis=0)]) + 2 * pen * theta
        return value, grad

    theta = _minimise(loss, _theta(init, k * c + c))
    return theta[: k * c].reshape(k, c).astype(np.float32), theta[k * c :].astype(np.float32)


def fold_ids(n: int, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Each of ``n`` examples' fold (0..folds-1), balanced and fixed by ``seed``."""
    order = np.random.RandomState(seed).permutation(n)
    out = np.empty(n, np.int64)
    out[order] = np.arange(n) % min(folds, max(n, 1))
    return out


@dataclass
class Examples:
    """The decided photos a fit learns from: embeddings, the model's scores and the decisions."""

    x: np.ndarray  # float32 [n, k] stored embeddings
    base: np.ndarray  # float32 [n, L] the model's scores
    decisions: np.ndarray  # int8 [n, L]: -1 undecided, 0 no, 1 yes (model labels)
    person: np.ndarray  # int8 [n, P]: the same for labels a person created
    person_labels: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.x)


def _group_columns(labels: Sequence[str], groups: Mapping[str, str]) -> dict[str, np.ndarray]:
    out: dict[str, list[int]] = {}
    for j, lab in enumerate(labels):
        out.setdefault(groups.get(lab, ""), []).append(j)
    return {g: np.asarray(c, np.int64) for g, c in out.items()}


def _logloss_soft(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(p[np.arange(len(y)), y], EPS, 1)).mean())


def _logloss_bin(p: np.ndarray, y: np.ndarray, m: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    ll = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    return float((ll * m).sum() / max(m.sum(), 1))


def _one_yes_top1(p: np.ndarray, dec: np.ndarray) -> float | None:
    """Top-1 over photos with exactly one yes in the group (None when there is none)."""
    rows = (dec == 1).sum(axis=1) == 1
    if not rows.any():
        return None
    return float((p[rows].argmax(axis=1) == (dec[rows] == 1).argmax(axis=1)).mean())


def _out_of_fold(fit, n: int, folds: int) -> tuple[np.ndarray, np.ndarray]:
    """The examples cross-validated (all, or ``CV_MAX`` of them drawn at random) and each one's held-out
    prediction from ``fit(train_rows, test_rows)`` (indices into the ``n`` examples)."""
    rows = np.arange(n) if n <= CV_MAX else np.sort(np.random.RandomState(1).choice(n, CV_MAX, replace=False))
    f = fold_ids(len(rows), folds)
    pieces: dict[int, np.ndarray] = {}
    for k in range(int(f.max()) + 1):
        pieces[k] = fit(rows[f != k], rows[f == k])
    first = next(iter(pieces.values()))
    out = np.zeros((len(rows), first.shape[1]), np.float32)
    for k, p in pieces.items():
        out[f == k] = p
    return rows, out


def _exclusive(g: str, cols: np.ndarray, x: np.ndarray, ex: Examples, ridge: float, folds: int) -> Correction:
    dec = ex.decisions[:, cols]
    rows = np.flatnonzero((dec == 1).sum(axis=1) == 1)
    k = x.shape[1]
    empty = Correction(g, "exclusive", cols, np.zeros((k, len(cols)), np.float32), np.zeros(len(cols), np.float32),
                       len(rows))  # fmt: skip
    if len(rows) < MIN_EXAMPLES:
        empty.why = f"fewer than {MIN_EXAMPLES} reviewed photos with a value"
        return empty
    xs, y = x[rows], (dec[rows] == 1).argmax(axis=1)
    prior = base_logits(ex.base[rows][:, cols], (np.arange(len(cols)),))

    full = _fit_softmax(xs, prior, y, ridge)

    def fit(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        w, b = _fit_softmax(xs[train], prior[train], y[train], ridge, full)
        return _softmax(prior[test] + xs[test] @ w + b)

    cv, oof = _out_of_fold(fit, len(rows), folds)
    base_p, y = _softmax(prior[cv]), y[cv]
    empty.base = {"top1": float((base_p.argmax(1) == y).mean()), "logloss": _logloss_soft(base_p, y)}
    empty.adapted = {"top1": float((oof.argmax(1) == y).mean()), "logloss": _logloss_soft(oof, y)}
    empty.weights, empty.bias = full
    return _judge(empty)


def _labels(
    g: str, cols: np.ndarray, x: np.ndarray, prior_all: np.ndarray | None, dec_all: np.ndarray, ridge: float,
    folds: int, kind: str = "labels",
) -> tuple[Correction, np.ndarray | None, np.ndarray]:  # fmt: skip
    """A sigmoid correction for ``cols``, with (when it is used) the out-of-fold scores of the photos it was
    cross-validated on and their decisions."""
    rows = np.flatnonzero((dec_all >= 0).any(axis=1))
    k = x.shape[1]
    c = Correction(
        g, kind, cols, np.zeros((k, len(cols)), np.float32), np.zeros(len(cols), np.float32), len(rows)
    )
    if len(rows) < MIN_EXAMPLES:
        c.why = f"fewer than {MIN_EXAMPLES} reviewed photos"
        return c, None, dec_all[:0]
    xs, dec = x[rows], dec_all[rows]
    mask, y = (dec >= 0), (dec == 1).astype(np.float32)
    if prior_all is None:  # a person's own label: no model behind it; the base is the rate of yes
        rate = np.clip((y * mask).sum(0) / np.maximum(mask.sum(0), 1), EPS, 1 - EPS)
        prior = np.zeros((len(rows), len(cols)), np.float32)
        base_p = np.broadcast_to(rate, y.shape).astype(np.float32)
    else:
        prior = prior_all[rows]
        base_p = _sigmoid(prior)

    full = _fit_sigmoid(xs, prior, y, mask, ridge)

    def fit(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        w, b = _fit_sigmoid(xs[train], prior[train], y[train], mask[train], ridge, full)
        return _sigmoid(prior[test] + xs[test] @ w + b)

    cv, oof = _out_of_fold(fit, len(rows), folds)
    base_p, y, mask, dec = base_p[cv], y[cv], mask[cv], dec[cv]
    c.base, c.adapted = {"logloss": _logloss_bin(base_p, y, mask)}, {"logloss": _logloss_bin(oof, y, mask)}
    if prior_all is not None and (top := _one_yes_top1(base_p, dec)) is not None:
        c.base["top1"], c.adapted["top1"] = top, _one_yes_top1(oof, dec) or 0.0
    c.weights, c.bias = full
    return _judge(c), (oof if c.used else None), dec


def _judge(c: Correction) -> Correction:
    worse_top = "top1" in c.base and c.adapted["top1"] < c.base["top1"]
    c.used = c.adapted["logloss"] < c.base["logloss"] * (1 - MIN_GAIN) and not worse_top
    if not c.used:
        c.why = "it did not beat the model on held-out reviewed photos"
    return c


def _thresholds(cols: np.ndarray, oof: np.ndarray, dec: np.ndarray, out: np.ndarray) -> None:
    """Tune ``out[cols]`` on the out-of-fold scores ``oof`` of photos with decisions ``dec`` (row for row; -1
    undecided), by the trainer's rule (``model.metrics.tune_thresholds``), where a label has enough of both."""
    tuned = tune_thresholds(dec, oof)
    for i, j in enumerate(cols):
        yes, no = int((dec[:, i] == 1).sum()), int((dec[:, i] == 0).sum())
        if yes >= MIN_THRESHOLD_EXAMPLES and no >= MIN_THRESHOLD_EXAMPLES:
            out[j] = tuned[i]


def fit_adapter(
    model_key: str,
    labels: Sequence[str],
    groups: Mapping[str, str],
    exclusive: Sequence[str],
    ex: Examples,
    ridge: float = RIDGE,
    folds: int = FOLDS,
) -> Adapter:
    """Fit and cross-validate every group's correction from the examples ``ex`` (see the module text).

    BLAS runs on one thread here: the products are small, and several threads fighting a busy machine's
    cores (the window, a tagging run) made a fit ten times slower.
    """
    with threadpool_limits(1):
        return _fit_adapter(model_key, tuple(labels), groups, exclusive, ex, ridge, folds)


def _fit_adapter(
    model_key: str,
    labels: tuple[str, ...],
    groups: Mapping[str, str],
    exclusive: Sequence[str],
    ex: Examples,
    ridge: float,
    folds: int,
) -> Adapter:
    raw = np.asarray(ex.x, np.float32)
    mean = raw.mean(axis=0) if len(raw) else np.zeros(raw.shape[1], np.float32)
    scale = float(np.sqrt(((raw - mean) ** 2).mean())) if len(raw) else 1.0
    scale = scale if scale > 0 else 1.0
    x = (raw - mean) / np.float32(scale)
    thresholds = np.full(len(labels), np.nan, np.float32)
    excl_cols = {g: c for g, c in _group_columns(labels, groups).items() if g in exclusive and len(c) >= 2}
    corrections: list[Correction] = []
    logits = base_logits(ex.base, tuple(excl_cols.values())) if len(ex) else ex.base
    for g, cols in _group_columns(labels, groups).items():
        if g in excl_cols:
            corrections.append(_exclusive(g, cols, x, ex, ridge, folds))
            continue
        c, oof, cv_dec = _labels(g, cols, x, logits[:, cols], ex.decisions[:, cols], ridge, folds)
        corrections.append(c)
        if oof is not None:
            _thresholds(cols, oof, cv_dec, thresholds)
    person_th = np.full(len(ex.person_labels), 0.5, np.float32)
    for j, name in enumerate(ex.person_labels):
        dec = ex.person[:, j : j + 1]
        if min(int((dec == 1).sum()), int((dec == 0).sum())) < MIN_PERSON:
            continue
        c, oof, cv_dec = _labels(name, np.array([j]), x, None, dec, ridge, folds, kind="person")
        corrections.append(c)
        if oof is not None:
            tuned = np.full(1, np.nan, np.float32)
            _thresholds(np.array([0]), oof, cv_dec, tuned)
            person_th[j] = tuned[0] if not np.isnan(tuned[0]) else 0.5
    reviewed = int(((ex.decisions >= 0).any(axis=1) | (ex.person >= 0).any(axis=1)).sum()) if len(ex) else 0
    return Adapter(model_key, labels, mean.astype(np.float32), scale, corrections, thresholds,
                   tuple(ex.person_labels), person_th, reviewed, time.time())  # fmt: skip
