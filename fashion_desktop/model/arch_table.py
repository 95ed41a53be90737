"""The architectures users can name, torch-free: one table for the Train tab, the trainer and the registry."""

from __future__ import annotations

from dataclasses import dataclass


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


_ROWS = (
    ArchInfo(
        "cnn",
        224,
        "the seed's custom 3-block CNN (no pretrained weights)",
        "seed's small CNN, random weights: fastest, for a quick look",
        ("classifier",),
    ),
    ArchInfo("resnet18", 224, "ResNet-18 (torchvision)", "ResNet-18: fast, small (45 MB)", ("fc",)),
    ArchInfo("resnet50", 224, "ResNet-50 (torchvision)", "ResNet-50: medium speed, 95 MB", ("fc",)),
    ArchInfo(
        "resnet101", 224, "ResNet-101 (torchvision), as in the seed", "ResNet-101: slow, 170 MB", ("fc",)
    ),
    ArchInfo(
        "vit_b_16",
        224,
        "ViT-B/16 (torchvision), the seed's best model",
        "ViT-B/16: the seed's best; slow on CPU, 330 MB",
        ("heads.head",),
    ),
    ArchInfo(
        "inception_v3",
        299,
        "Inception v3 (torchvision), 299 px, auxiliary head",
        "Inception v3: 299 px, medium speed, 90 MB",
        ("fc", "AuxLogits.fc"),
        aux_logits=True,
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
        "MobileNetV3-Large: fastest pretrained, small (17 MB)",
        ("classifier.3",),
    ),
    ArchInfo(
        "convnext_tiny",
        224,
        "ConvNeXt-Tiny (torchvision)",
        "ConvNeXt-Tiny: medium speed, 110 MB",
        ("classifier.2",),
    ),
)
ARCH_TABLE: dict[str, ArchInfo] = {row.name: row for row in _ROWS}
ARCH_NAMES: tuple[str, ...] = tuple(ARCH_TABLE)
ARCH_HINTS: dict[str, str] = {name: row.hint for name, row in ARCH_TABLE.items()}
ARCH_INPUT_SIZES: dict[str, int] = {name: row.input_size for name, row in ARCH_TABLE.items()}
# Architectures whose ImageNet weights need no download (the others fetch theirs once, online).
OFFLINE_WEIGHTS: frozenset[str] = frozenset(name for name, row in ARCH_TABLE.items() if row.offline_weights)
