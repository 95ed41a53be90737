"""A demo model bundle whose scores follow a photo's dominant colour: try the app, test and benchmark it
without a trained model."""

from __future__ import annotations

import os
from pathlib import Path

from fashion_desktop.model.bundle import Bundle

DEMO_LABELS = ("red", "green", "blue")


def colour_reading_cnn(n_labels: int, reads: dict[int, int]):
    """A ``cnn`` whose convolutions pass the three colour channels through (ReLU keeps what is above the
    ImageNet mean) and whose head reads pooled channel c as label ``reads[c]`` (logit 4 c - 3)."""
    import torch

    from fashion_desktop.model.archs import build_model

    model = build_model("cnn", n_labels)
    with torch.no_grad():
        for conv in (m for m in model.features if isinstance(m, torch.nn.Conv2d)):
            conv.weight.zero_()
            for c in range(3):
                conv.weight[c, c, 1, 1] = 1.0
        model.classifier.weight.zero_()
        for channel, label in reads.items():
            model.classifier.weight[label, channel] = 4.0
        model.classifier.bias.fill_(-3.0)
    return model


def colour_bundle(model_id: str = "demo-colour-model", name: str = "demo (colours)") -> Bundle:
    """A ``cnn`` bundle (labels red/green/blue, group ``colour``, 32 px input) with hand-set weights.

    Every convolution passes the three colour channels through (ReLU keeps what is above the ImageNet
    mean) and the head reads pooled channel c as label c: a red photo scores about 0.98 on ``red`` and
    0.05 on the others.
    """
    from fashion_desktop.model.bundle import new_bundle

    model = colour_reading_cnn(len(DEMO_LABELS), {0: 0, 1: 1, 2: 2})
    return new_bundle(
        "cnn",
        DEMO_LABELS,
        model.state_dict(),
        input_size=32,
        groups={label: "colour" for label in DEMO_LABELS},
        provenance={"model_id": model_id, "name": name},
    )


def save_colour_bundle(path: str | os.PathLike, **kw: str) -> Path:
    """Write :func:`colour_bundle` to ``path`` (atomically); return the path."""
    from fashion_desktop.model.bundle import save_bundle

    return save_bundle(colour_bundle(**kw), path)
