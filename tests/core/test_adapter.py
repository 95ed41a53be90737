"""The adapter learns a library's look from decisions, refuses a fit that does not help, and round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_desktop.core.adapter import Adapter, AdapterError, Examples, base_logits, fit_adapter

LABELS = ("Red", "Pink", "Blue", "dress", "skirt")
GROUPS = {"Red": "colour", "Pink": "colour", "Blue": "colour", "dress": "category", "skirt": "category"}


def _library(n: int, seed: int = 0):
    """Photos of two looks: ``pinkish`` ones (embedding direction 0) the model calls Red though they are Pink."""
    rng = np.random.RandomState(seed)
    x = rng.normal(0, 1, (n, 32)).astype(np.float32)
    pinkish = rng.rand(n) < 0.5
    x[pinkish, 0] += 4.0
    truth = np.where(pinkish, 1, rng.choice([0, 2], n))  # index into Red/Pink/Blue
    base = np.zeros((n, 5), np.float32)
    colour = np.full((n, 3), 0.05, np.float32)
    colour[np.arange(n), np.where(truth == 1, 0, truth)] = 0.9  # the model: Pink photos look Red to it
    base[:, :3] = colour / colour.sum(1, keepdims=True)
    base[:, 3:] = rng.uniform(0.2, 0.8, (n, 2))
    dec = np.full((n, 5), -1, np.int8)
    dec[:, :3] = 0
    dec[np.arange(n), truth] = 1
    return x, base, dec, truth


def _fit(x, base, dec, **kw):
    ex = Examples(x, base, dec, np.zeros((len(x), 0), np.int8))
    return fit_adapter("m1", LABELS, GROUPS, ("colour",), ex, **kw)


def test_decisions_that_move_a_look_from_red_to_pink_move_the_other_photos_of_that_look():
    x, base, dec, truth = _library(400)
    adapter = _fit(x[:60], base[:60], dec[:60])
    colour = next(c for c in adapter.corrections if c.group == "colour")
    assert colour.used and colour.adapted["top1"] > colour.base["top1"]
    new, _ = adapter.rescore(x[60:], base[60:], (np.arange(3),))
    before = (base[60:, :3].argmax(1) == truth[60:]).mean()
    after = (new[:, :3].argmax(1) == truth[60:]).mean()
    assert before < 0.6 and after > 0.85
    assert np.allclose(new[:, :3].sum(1), 1, atol=1e-5)  # still one value per photo


def test_a_fit_that_cannot_beat_the_model_is_not_used_and_the_scores_stay_the_models():
    x, base, dec, truth = _library(200, seed=1)
    base[:, :3] = 0.02
    base[np.arange(200), truth] = 0.96  # the model is right already: nothing to learn
    rng = np.random.RandomState(3)
    x = rng.normal(0, 1, x.shape).astype(np.float32)  # embeddings that say nothing
    adapter = _fit(x[:40], base[:40], dec[:40])
    colour = next(c for c in adapter.corrections if c.group == "colour")
    assert not colour.used and "did not beat" in colour.why
    new, _ = adapter.rescore(x, base, (np.arange(3),))
    np.testing.assert_array_equal(new[:, :3], base[:, :3])


def test_too_few_decisions_fit_nothing():
    x, base, dec, _ = _library(30)
    adapter = _fit(x[:5], base[:5], dec[:5])
    assert not adapter.useful
    assert all("fewer than" in c.why for c in adapter.corrections)


def test_a_persons_own_label_gets_scores_once_it_has_a_handful_of_yes_and_no():
    x, base, dec, truth = _library(120, seed=2)
    person = np.where(truth == 1, 1, 0).astype(np.int8)[:, None]  # "rose" = the pinkish look
    ex = Examples(x[:40], base[:40], dec[:40], person[:40], ("rose",))
    adapter = fit_adapter("m1", LABELS, GROUPS, ("colour",), ex)
    assert adapter.person_labels == ("rose",)
    _, rose = adapter.rescore(x[40:], base[40:], (np.arange(3),))
    assert ((rose[:, 0] > adapter.person_thresholds[0]) == (truth[40:] == 1)).mean() > 0.9


def test_an_adapter_round_trips_and_a_damaged_one_is_refused():
    x, base, dec, _ = _library(100)
    adapter = _fit(x[:50], base[:50], dec[:50])
    back = Adapter.from_bytes(adapter.to_bytes())
    a, _ = adapter.rescore(x, base, (np.arange(3),))
    b, _ = back.rescore(x, base, (np.arange(3),))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert back.reviewed == 50 and [c.used for c in back.corrections] == [c.used for c in adapter.corrections]
    with pytest.raises(AdapterError):
        Adapter.from_bytes(b"not an adapter")


def test_base_logits_invert_the_scores():
    scores = np.array([[0.7, 0.2, 0.1, 0.9, 0.3]], np.float32)
    logits = base_logits(scores, (np.arange(3),))
    e = np.exp(logits[0, :3])
    np.testing.assert_allclose(e / e.sum(), scores[0, :3], rtol=1e-5)
    np.testing.assert_allclose(1 / (1 + np.exp(-logits[0, 3:])), scores[0, 3:], rtol=1e-5)


def test_a_label_the_model_scores_too_low_gets_its_own_threshold_from_held_out_reviews():
    rng = np.random.RandomState(4)
    n = 80
    x = rng.normal(0, 1, (n, 16)).astype(np.float32)
    dress = rng.rand(n) < 0.5
    x[dress, 1] += 2.0
    base = np.full((n, 5), 0.3, np.float32)
    base[:, :3] = 1 / 3
    base[:, 3] = np.where(dress, 0.35, 0.15)  # right order, but never over the model's 0.5
    dec = np.full((n, 5), -1, np.int8)
    dec[:, 3] = dress
    adapter = _fit(x[:60], base[:60], dec[:60])
    category = next(c for c in adapter.corrections if c.group == "category")
    assert category.used
    th = adapter.thresholds[3]
    assert not np.isnan(th) and np.isnan(adapter.thresholds[4])  # skirt: nobody decided it, the model's stays
    new, _ = adapter.rescore(x[60:], base[60:], (np.arange(3),))
    assert ((new[:, 3] >= th) == dress[60:]).mean() > 0.8
