"""The architectures users can name, torch-free: one table for the Train tab, the trainer and the registry."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ArchInfo:
    """What an architecture name means without building it (``model.archs`` adds the builders)."""

    name: str
    input_size: int
    description: str
    hint: str  # one line for the Train tab's list: speed and size
    head_prefixes: tuple[str, ...]  # parameter-name prefixes of the fresh classification head
    aux_logits: bool = False
    offline_weights: bool = False  # ImageNet weights ship with the app: no download, works offline
    # torchvision's ImageNet weights (its DEFAULT): the file name in torch's hub cache and its size, so
    # the app can say before a run that it must download them (tests/model check both against torchvision)
    weights_file: str = ""
    download_mb: int = 0


_ROWS = (
    ArchInfo(
        "cnn",
        224,
        "the original study's custom 3-block CNN (no pretrained weights)",
        "the original study's small CNN, random weights: fastest, for a quick look",
        ("classifier",),
    ),
    ArchInfo(
        "resnet18", 224, "ResNet-18 (torchvision)", "ResNet-18: fast, small (45 MB)", ("fc",),
        weights_file="resnet18-f37072fd.pth", download_mb=45,
    ),
    ArchInfo(
        "resnet50", 224, "ResNet-50 (torchvision)", "ResNet-50: medium speed, 98 MB", ("fc",),
        weights_file="resnet50-11ad3fa6.pth", download_mb=98,
    ),
    ArchInfo(
        "resnet101", 224, "ResNet-101 (torchvision), as in the original study", "ResNet-101: slow, 171 MB",
        ("fc",), weights_file="resnet101-cd907fc2.pth", download_mb=171,
    ),
    ArchInfo(
        "vit_b_16",
        224,
        "ViT-B/16 (torchvision), the original study's best model",
        "ViT-B/16: the original study's best; slow on CPU, 330 MB",
        ("heads.head",),
        weights_file="vit_b_16-c867db91.pth",
        download_mb=330,
    ),
    ArchInfo(
        "inception_v3",
        299,
        "Inception v3 (torchvision), 299 px, auxiliary head",
        "Inception v3: 299 px, medium speed, 104 MB",
        ("fc", "AuxLogits.fc"),
        aux_logits=True,
        weights_file="inception_v3_google-0cc3c7bd.pth",
        download_mb=104,
    ),
    ArchInfo(
        "efficientnet_lite0",
        224,
        "EfficientNet-Lite0 (offline ImageNet weights)",
        "EfficientNet-Lite0: fast, small (14 MB), offline ImageNet weights",
        ("_fc",),
        offline_weights=True,
    ),
    ArchInfo(
        "mobilenet_v3_large",
        224,
        "MobileNetV3-Large (torchvision)",
        "MobileNetV3-Large: fastest pretrained, small (22 MB)",
        ("classifier.3",),
        weights_file="mobilenet_v3_large-5c1a4163.pth",
        download_mb=22,
    ),
    ArchInfo(
        "convnext_tiny",
        224,
        "ConvNeXt-Tiny (torchvision)",
        "ConvNeXt-Tiny: medium speed, 110 MB",
        ("classifier.2",),
        weights_file="convnext_tiny-983f1562.pth",
        download_mb=110,
    ),
)  # fmt: skip
ARCH_TABLE: dict[str, ArchInfo] = {row.name: row for row in _ROWS}
ARCH_NAMES: tuple[str, ...] = tuple(ARCH_TABLE)
ARCH_HINTS: dict[str, str] = {name: row.hint for name, row in ARCH_TABLE.items()}
ARCH_INPUT_SIZES: dict[str, int] = {name: row.input_size for name, row in ARCH_TABLE.items()}
# Architectures whose ImageNet weights need no download (the others fetch theirs once, online).
OFFLINE_WEIGHTS: frozenset[str] = frozenset(name for name, row in ARCH_TABLE.items() if row.offline_weights)


def hub_checkpoint_dir() -> Path:
    """Where torch keeps downloaded weights (``torch.hub.get_dir()/checkpoints``), found without torch:
    ``$TORCH_HOME/hub``, else ``$XDG_CACHE_HOME/torch/hub``, else ``~/.cache/torch/hub``."""
    home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def download_needed_mb(arch: str) -> int:
    """Megabytes of ImageNet weights a run starting ``arch`` from them must download first: 0 when they
    ship with the app, are already in torch's cache, or ``arch`` has none."""
    row = ARCH_TABLE.get(arch)
    if row is None or row.offline_weights or not row.weights_file:
        return 0
    return 0 if (hub_checkpoint_dir() / row.weights_file).is_file() else row.download_mb
