"""Keywords photos already carry, read as the person's decisions (issue 21: import from photos)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.exiftool import config_path
from fashion_desktop.core.keyword_import import NEW_TAG_GROUP, import_photo_keywords
from fashion_desktop.core.xmp import build_xmp
from tests.conftest import scored_library

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="ExifTool not installed")

LABELS = ["dress", "shoe", "Black", "White", "Red"]
GROUPS = {"dress": "category", "shoe": "category", "Black": "colour", "White": "colour", "Red": "colour"}


def write_keywords(photo: Path, *args: str) -> None:
    """Keywords put there by another tool (ExifTool on its own, as Lightroom or digiKam would)."""
    subprocess.run(
        ["exiftool", "-config", str(config_path()), "-q", "-overwrite_original", *args, str(photo)],
        check=True,
    )


def keyword_library(
    tmp_path: Path, names: tuple[str, ...] = ("a.jpg", "b.jpg", "c.jpg")
) -> tuple[Path, Path]:
    """A catalog of JPEGs (no keywords yet) and a model whose one-value group colour holds Black."""
    # the model says dress, Red
    return scored_library(tmp_path, names, LABELS, GROUPS, [0.9, 0.1, 0.1, 0.1, 0.8], exclusive=["colour"])


def decisions(db: Path, folder: Path) -> dict[str, dict[str, bool]]:
    with Catalog(db, read_only=True) as cat:
        return {Path(r.path).name: cat.decisions(r.id) for r in cat.images()}


@needs_exiftool
def test_colour_black_and_denim_become_a_decision_and_a_new_tag(tmp_path):
    db, folder = keyword_library(tmp_path)
    write_keywords(folder / "a.jpg", "-XMP-lr:HierarchicalSubject=colour|Black", "-XMP-dc:Subject=denim")
    write_keywords(folder / "b.jpg", "-XMP-dc:Subject=DENIM")  # names compare ignoring case
    with Catalog(db, read_only=True) as cat:
        preview = import_photo_keywords(cat, dry_run=True)
    assert (len(preview.matched_ids), preview.added, preview.changed) == (2, 3, 0)
    assert preview.new_tags == {"denim": NEW_TAG_GROUP}
    assert decisions(db, folder) == {"a.jpg": {}, "b.jpg": {}, "c.jpg": {}}  # a preview changes nothing
    with Catalog(db) as cat:
        report = import_photo_keywords(cat)
        assert cat.person_labels() == {"denim": "keywords"}
        assert not any(r.reviewed for r in cat.images())  # keywords say what is there, not that all is
    assert decisions(db, folder) == {
        "a.jpg": {"Black": True, "denim": True},  # no "no" for White, Red or shoe: keywords don't say
        "b.jpg": {"denim": True},
        "c.jpg": {},
    }
    assert "3 decisions recorded (3 new, 0 changed)" in report.summary()
    assert "new tags: denim (keywords)" in report.summary()


@needs_exiftool
def test_a_label_only_decisions_hold_is_matched_not_made_again(tmp_path):
    db, folder = keyword_library(tmp_path)
    with Catalog(db) as cat:
        cat.set_decision(cat.image_by_path(folder / "c.jpg").id, "Linen", True)  # a table import's label
    write_keywords(folder / "a.jpg", "-XMP-dc:Subject=linen")
    with Catalog(db) as cat:
        report = import_photo_keywords(cat)
        assert report.new_tags == {} and cat.person_labels() == {}
    assert decisions(db, folder)["a.jpg"] == {"Linen": True}


@needs_exiftool
def test_keywords_the_app_wrote_itself_are_not_imported(tmp_path):
    db, folder = keyword_library(tmp_path)
    write_keywords(
        folder / "a.jpg",
        "-XMP-dc:Subject=dress",
        "-XMP-lr:HierarchicalSubject=colour|White",
        "-XMP-ffd:Keywords=dress",
        "-XMP-ffd:Hierarchical=colour|White",
        "-XMP-dc:Subject=linen",
    )
    with Catalog(db) as cat:
        report = import_photo_keywords(cat)
    assert decisions(db, folder)["a.jpg"] == {"linen": True}
    assert report.ours_skipped == 2 and "2 keywords the app wrote itself (skipped)" in report.summary()


@needs_exiftool
def test_a_keyword_changes_the_persons_earlier_decision_and_replaces_the_groups_other_value(tmp_path):
    """The photo's keyword wins: the person asked for the import and the preview counted the changes."""
    db, folder = keyword_library(tmp_path)
    with Catalog(db) as cat:
        a = cat.image_by_path(folder / "a.jpg").id
        cat.set_decision(a, "White", True)  # the person's earlier colour
        cat.set_decision(a, "shoe", False)
    write_keywords(folder / "a.jpg", "-XMP-lr:HierarchicalSubject=colour|Black", "-XMP-dc:Subject=shoe")
    with Catalog(db) as cat:
        report = import_photo_keywords(cat)
    assert (report.added, report.changed) == (1, 2)  # Black added; shoe no -> yes, White yes -> no
    assert decisions(db, folder)["a.jpg"] == {"Black": True, "White": False, "shoe": True}


@needs_exiftool
def test_two_values_of_a_one_value_group_skip_that_group_and_flat_levels_of_a_hierarchy_are_not_tags(
    tmp_path,
):
    db, folder = keyword_library(tmp_path)
    write_keywords(
        folder / "a.jpg",
        "-XMP-lr:HierarchicalSubject=colour|Black",
        "-XMP-lr:HierarchicalSubject=colour|White",
        "-XMP-lr:HierarchicalSubject=Clothing|category|Dress",  # deeper: the last two levels count
        # Lightroom also writes each level of a hierarchy as a flat keyword
        "-XMP-dc:Subject=colour",
        "-XMP-dc:Subject=Black",
        "-XMP-dc:Subject=Clothing",
        "-XMP-dc:Subject=category|shoe",  # a hierarchy among the flat keywords
    )
    with Catalog(db) as cat:
        report = import_photo_keywords(cat)
    assert decisions(db, folder)["a.jpg"] == {"dress": True, "shoe": True}
    assert report.new_tags == {}
    assert "a.jpg: 'colour: Black|White'" in report.summary()


@needs_exiftool
def test_a_name_in_two_groups_is_ambiguous_and_a_hierarchy_names_a_new_tags_group(tmp_path):
    db, folder = keyword_library(tmp_path)
    with Catalog(db) as cat:
        cat.add_person_label("black", "fabric")  # "black" now names a label of two groups
    write_keywords(folder / "a.jpg", "-XMP-dc:Subject=Black", "-XMP-lr:HierarchicalSubject=material|Silk")
    with Catalog(db) as cat:
        report = import_photo_keywords(cat)
        assert cat.person_labels() == {"black": "fabric", "Silk": "material"}
    assert decisions(db, folder)["a.jpg"] == {"Silk": True}
    assert report.ambiguous_keywords == [(str(folder / "a.jpg"), "Black")]
    assert "keywords naming labels of two groups (skipped)" in report.summary()


@needs_exiftool
def test_sidecars_are_read_and_the_apps_own_sidecar_keywords_skipped(tmp_path):
    db, folder = keyword_library(tmp_path)
    (folder / "a.xmp").write_bytes(build_xmp(["Red"], {"Red": "colour"}))  # the app's own sidecar
    subprocess.run(
        ["exiftool", "-q", "-o", str(folder / "b.jpg.xmp"), "-XMP-lr:HierarchicalSubject=colour|White"],
        check=True,
    )  # another tool's sidecar, darktable's naming
    with Catalog(db) as cat:
        report = import_photo_keywords(cat)
    got = decisions(db, folder)
    assert got["a.jpg"] == {} and got["b.jpg"] == {"White": True}
    assert report.ours_skipped == 1


@needs_exiftool
def test_an_unreadable_file_is_listed_and_the_rest_import(tmp_path):
    db, folder = keyword_library(tmp_path)
    write_keywords(folder / "a.jpg", "-XMP-dc:Subject=denim")
    fifo = folder / "x.jpg"
    os.mkfifo(fifo)  # never handed to ExifTool (it would wait for ever)
    with Catalog(db) as cat:
        cat.ensure_images([str(fifo)])  # as if the scan had seen a photo there before
        report = import_photo_keywords(cat)
    assert decisions(db, folder)["a.jpg"] == {"denim": True}
    assert [p for p, _ in report.unreadable] == [str(fifo)]
    assert "1 files could not be read" in report.summary() and "not a regular file" in report.summary()
