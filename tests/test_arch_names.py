"""The torch-free architecture list the app's Train tab offers matches the model registry."""

from trainer.config import ARCH_HINTS, ARCH_INPUT_SIZES, ARCH_NAMES


def test_arch_names_match_the_registry() -> None:
    from fashion_desktop.model.archs import ARCHITECTURES

    assert tuple(ARCHITECTURES) == ARCH_NAMES
    assert all(ARCH_HINTS[n] for n in ARCH_NAMES)
    assert {n: spec.input_size for n, spec in ARCHITECTURES.items()} == ARCH_INPUT_SIZES
