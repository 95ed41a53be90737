"""Item 9: a tag name that holds the tag separator '|' (or is empty) never gets into a library or a bundle,
so the tags column of every export can be split back."""

from __future__ import annotations

from pathlib import Path

import pytest

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.model.bundle_format import BundleDescription, BundleError


@pytest.mark.parametrize("label", ["denim|blue", "", "   "])
def test_a_person_cannot_record_an_unsplittable_tag(tmp_path: Path, label: str) -> None:
    cat = Catalog(tmp_path / "lib.ffcat")
    try:
        ids = cat.ensure_images([str(tmp_path / "a.jpg")])
        image_id = ids[str(tmp_path / "a.jpg")]
        with pytest.raises(ValueError, match="not a usable tag name"):
            cat.set_decision(image_id, label, True)
        with pytest.raises(ValueError, match="not a usable tag name"):
            cat.set_decisions([(image_id, "floral", True), (image_id, label, True)])
        assert cat.decisions(image_id) == {}  # the good one of the refused batch was not written either
        cat.set_decision(image_id, "denim", True)
        assert cat.decisions(image_id) == {"denim": True}
    finally:
        cat.close()


@pytest.mark.parametrize("label", ["denim|blue", ""])
def test_a_bundle_with_an_unsplittable_label_is_refused_naming_file_and_field(label: str) -> None:
    raw = {"format": "fashion-finder-bundle", "format_version": 2, "arch": "cnn", "labels": ["red", label]}
    with pytest.raises(BundleError, match=r"m\.fmodel: .*labels: "):
        BundleDescription.from_raw(raw, "m.fmodel")
