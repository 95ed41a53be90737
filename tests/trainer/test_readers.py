"""Every data reader on tiny files written here (and on the shared real data when present)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from trainer_helpers import make_class_folders, write_image
from trainer_helpers import shared_data as data_root

from trainer.data import (
    DataError,
    assign_splits,
    combine,
    load_dataset,
    load_mapping,
    read_coco,
    read_folders,
    read_imaterialist,
    read_source,
    read_table,
)


def _row(table, name):
    return table.targets[next(i for i, p in enumerate(table.paths) if p.endswith(name))]


def test_folder_per_class_with_split_folders_and_mapping(tmp_path):
    root = make_class_folders(
        tmp_path / "clothes", 2, ("train", "validation", "test"), ["red", "green", "blue"]
    )
    mapping = tmp_path / "map.csv"
    mapping.write_text("source,target\nRed,dress\ngreen,shoe|sock\nblue,\n")
    t = read_folders(root, load_mapping(mapping))
    assert t.labels == ["dress", "sock", "shoe"]  # iMaterialist order (10, 22, 23), not alphabetical
    assert sorted(set(t.splits)) == ["test", "train", "val"]
    assert len(t) == 12  # blue is excluded by the mapping
    assert list(_row(t, "green_0.jpg")) == [0, 1, 1]
    assert list(_row(t, "red_1.jpg")) == [1, 0, 0]
    assert any("blue" in n for n in t.notes)


def test_flat_class_folders_get_deterministic_grouped_splits(tmp_path):
    root = make_class_folders(tmp_path / "flat", 10, (), ["red", "green"])
    t = read_folders(root)
    assert set(t.splits) == {""}
    a = assign_splits(t, 0.2, 0.2, seed=3)
    b = assign_splits(t, 0.2, 0.2, seed=3)
    assert a.splits == b.splits and {"train", "val", "test"} >= set(a.splits) and "train" in a.splits


def test_missing_folder_is_a_plain_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_source(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        read_folders(tmp_path / "empty")


def test_seed_xlsx_layout_keeps_numeric_class_order(tmp_path):
    for i in range(4):
        write_image(tmp_path / "imgs" / f"im{i}.jpg", (100, 100, 100), seed=i)
    rows = [
        ("im0", 10, "dress", "train"),
        ("im0", 2, "sweater", "train"),
        ("im1", 1, "top, t-shirt, sweatshirt", "train"),
        ("im2", 10, "dress", "val"),
        ("im3", 2, "sweater", "test"),
    ]
    df = pd.DataFrame(rows, columns=["ImageId", "Category", "CategoryName", "Split"])
    xlsx = tmp_path / "final_dataset.xlsx"
    df.to_excel(xlsx, index=False)
    t = read_table(xlsx, {"images": "imgs"})
    # ids 1, 2, 10 in numeric order (a string sort would put 10 before 2)
    assert t.labels == ["top, t-shirt, sweatshirt", "sweater", "dress"]
    assert list(_row(t, "im0.jpg")) == [0, 1, 1]
    assert t.splits[t.paths.index(str(tmp_path / "imgs" / "im2.jpg"))] == "val"


def test_generic_image_tags_csv_with_separator_and_missing_images(tmp_path):
    write_image(tmp_path / "a.jpg", (1, 2, 3))
    write_image(tmp_path / "b.jpg", (1, 2, 3))
    csv = tmp_path / "tags.csv"
    csv.write_text("image,tags\na.jpg,dress|Red\nb.jpg,shoe\ngone.jpg,dress\n")
    t = read_table(csv, {"separator": "|"})
    assert len(t) == 2 and any("missing" in n for n in t.notes)
    assert set(t.labels) == {"dress", "shoe", "Red"}
    a = dict(zip(t.labels, _row(t, "a.jpg"), strict=True))
    assert a == {"dress": 1, "shoe": 0, "Red": 1}
    with pytest.raises(DataError, match="missing column 'tags'"):
        bad = tmp_path / "bad.csv"
        bad.write_text("image,labels\na.jpg,x\n")
        read_table(bad)


def test_a_spreadsheet_is_read_as_the_app_reads_it(tmp_path):
    """Excel's ";" CSV, the "#" lines an app export starts with and a neutralised formula cell: the trainer
    reads them through the app's reader, not a second one that would take the "#" line as the header."""
    from fashion_desktop.core.spreadsheet import write_csv

    for name in ("a.jpg", "b.jpg", "c.jpg"):
        write_image(tmp_path / name, (1, 2, 3))
    excel = tmp_path / "excel.csv"
    excel.write_text("# exported by: Fashion Finder\nimage;tags\na.jpg;'=dress|red\nb.jpg;shoe\n")
    t = read_table(excel, {"separator": "|"})
    assert set(t.labels) == {"=dress", "red", "shoe"}
    assert dict(zip(t.labels, _row(t, "a.jpg"), strict=True)) == {"=dress": 1, "red": 1, "shoe": 0}
    app = tmp_path / "app.csv"
    frame = pd.DataFrame({"image": ["a.jpg", "c.jpg"], "tags": ["=dress", "-hat|coat"]})
    write_csv(frame, app, about=[("model", "demo"), ("threshold", "0.5")])
    assert app.read_text(encoding="utf-8-sig").startswith("# model: demo")
    t = read_table(app, {"separator": "|"})
    assert set(t.labels) == {"=dress", "-hat", "coat"} and len(t) == 2


def test_columns_layout_with_fallback_mapping_leaves_unmapped_unknown(tmp_path):
    for i in range(3):
        write_image(tmp_path / "images" / f"{i}.jpg", (9, 9, 9), seed=i)
    (tmp_path / "art.csv").write_text('articleType,imat\nTshirts,"top, t-shirt, sweatshirt"\nHeels,shoe\n')
    (tmp_path / "sub.csv").write_text('subCategory,imat\nBags,"bag, wallet"\nTopwear,\n')
    (tmp_path / "labels.csv").write_text(
        "image,id,subCategory,articleType,baseColour\n"
        "images/0.jpg,10,Topwear,Tshirts,Red\n"
        "images/1.jpg,11,Bags,,Blue\n"
        "images/2.jpg,12,Topwear,Waistcoat,\n"
    )
    spec = {
        "key_column": "id",
        "columns": {"category": ["articleType", "subCategory"], "colour": "baseColour"},
        "mappings": {"articleType": "art.csv", "subCategory": "sub.csv"},
    }
    t = read_table(tmp_path / "labels.csv", spec)
    cat = [lab for lab in t.labels if t.groups[lab] == "category"]
    assert cat == ["top, t-shirt, sweatshirt", "bag, wallet"]
    r2 = dict(zip(t.labels, _row(t, "2.jpg"), strict=True))
    assert all(v == -1 for v in r2.values())  # unmapped category, no colour: nothing known
    r1 = dict(zip(t.labels, _row(t, "1.jpg"), strict=True))
    assert (
        r1["bag, wallet"] == 1 and r1["top, t-shirt, sweatshirt"] == 0 and r1["Blue"] == 1 and r1["Red"] == 0
    )
    assert t.keys[0] == "10"


def test_imaterialist_csv_and_label_descriptions(tmp_path):
    desc = {
        "categories": [{"id": i, "name": n} for i, n in enumerate(["shirt, blouse", "top", "sweater"])]
        + [{"id": 10, "name": "dress"}],
        "attributes": [{"id": 0, "name": "a-line"}, {"id": 5, "name": "floral"}],
    }
    (tmp_path / "label_descriptions.json").write_text(json.dumps(desc))
    for name in ("x1", "x2"):
        write_image(tmp_path / "train" / f"{name}.jpg", (5, 5, 5))
    (tmp_path / "train.csv").write_text(
        "ImageId,EncodedPixels,Height,Width,ClassId\n"
        "x1.jpg,1 2,32,32,10_0_5\nx1.jpg,3 4,32,32,2\nx2.jpg,1 2,32,32,1\n"
    )
    t = read_imaterialist(tmp_path / "train.csv", attributes=True)
    assert t.labels[:4] == ["shirt, blouse", "top", "sweater", "dress"]  # json id order, 10 last
    r = dict(zip(t.labels, _row(t, "x1.jpg"), strict=True))
    assert r["dress"] == 1 and r["sweater"] == 1 and r["top"] == 0 and r["a-line"] == 1 and r["floral"] == 1
    assert read_source(tmp_path).labels == t.labels[:4]  # a folder with train.csv is detected


def test_coco_json_matches_categories_by_name(tmp_path):
    write_image(tmp_path / "images" / "p.jpg", (1, 1, 1))
    write_image(tmp_path / "images" / "q.jpg", (1, 1, 1))
    coco = {
        "images": [{"id": 7, "file_name": "p.jpg"}, {"id": 8, "file_name": "q.jpg"}],
        "categories": [{"id": 40, "name": "dress"}, {"id": 3, "name": "shoe"}],
        "annotations": [{"image_id": 7, "category_id": 40}, {"image_id": 7, "category_id": 40}],
    }
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    t = read_coco(tmp_path / "ann.json")
    assert t.labels == ["dress", "shoe"]  # by name, in iMaterialist order (dress=10, shoe=23)
    assert list(_row(t, "p.jpg")) == [1, 0] and list(_row(t, "q.jpg")) == [0, 0]


def test_fashionpedia_sample():
    shared_data = data_root()
    sample = shared_data / "fashionpedia-sample" / "sample.json"
    if not sample.is_file():
        pytest.skip("fashionpedia sample not present")
    t = read_source(sample)
    assert len(t) == 2
    data = json.loads(sample.read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    for im in data["images"]:
        want = {names[a["category_id"]] for a in data["annotations"] if a["image_id"] == im["id"]}
        row = t.targets[t.paths.index(str(sample.parent / "images" / im["file_name"]))]
        assert {lab for lab, v in zip(t.labels, row, strict=True) if v == 1} == want


def test_shared_mapping_files():
    shared_data = data_root()
    maps = shared_data / "taxonomy" / "mappings"
    m = load_mapping(maps / "clothing-dataset_label_to_imat46.csv")
    assert m.lookup("t-shirt") == ("top, t-shirt, sweatshirt",)
    assert m.lookup("Outwear") == ("jacket",)
    assert m.lookup("Not sure") == ()  # excluded on purpose
    assert m.lookup("spaceship") is None
    from fashion_desktop.model.resources import taxonomy_labels

    tax = set(taxonomy_labels())
    for f in maps.glob("*.csv"):
        assert set(load_mapping(f).targets()) <= tax, f


def test_combined_sources_teach_only_their_own_labels(tmp_path):
    a = make_class_folders(tmp_path / "a", 2, (), ["red", "green"])
    b = tmp_path / "b.csv"
    write_image(tmp_path / "x.jpg", (0, 0, 0))
    b.write_text("image,tags\nx.jpg,blue\n")
    t = combine([read_source(a), read_source(b, None)])
    x = dict(zip(t.labels, t.targets[t.paths.index(str(tmp_path / "x.jpg"))], strict=True))
    assert x == {"green": -1, "red": -1, "blue": 1}
    r = dict(zip(t.labels, t.targets[0], strict=True))
    assert r["blue"] == -1


def test_catalog_reviewed_images(tmp_path):
    catalog = pytest.importorskip("fashion_desktop.core.catalog")
    imgs = [write_image(tmp_path / "photos" / f"{i}.jpg", (i, i, i), seed=i) for i in range(3)]
    cat = catalog.Catalog(tmp_path / "cat.db")
    try:
        ids = cat.ensure_images(imgs)
        i0, i1, i2 = (ids[str(p)] for p in imgs)
        cat.set_decisions([(i0, "dress", True), (i0, "shoe", False), (i1, "shoe", True), (i2, "dress", True)])
        cat.set_reviewed([i0, i1])
    finally:
        cat.close()
    t = read_source(tmp_path / "cat.db", None)
    assert len(t) == 2  # the unreviewed image is not training data
    r0 = dict(zip(t.labels, _row(t, "0.jpg"), strict=True))
    r1 = dict(zip(t.labels, _row(t, "1.jpg"), strict=True))
    assert r0 == {"dress": 1, "shoe": 0}
    assert r1 == {"dress": -1, "shoe": 1}  # nobody decided 'dress' for image 1
    # The app's own library file (library.ffcat), and a catalog under any name, read as a catalog too.
    for name in ("library.ffcat", "my-library.bak"):
        (tmp_path / name).write_bytes((tmp_path / "cat.db").read_bytes())
        assert read_source(tmp_path / name, None).paths == t.paths


def test_catalog_scores_count_at_the_models_own_thresholds_with_its_groups(tmp_path):
    """Changed on purpose: a scored label counts at the threshold the catalog recorded (was 0.5) and
    keeps the model's group (was category/tags by name)."""
    catalog = pytest.importorskip("fashion_desktop.core.catalog")
    imgs = [write_image(tmp_path / "photos" / f"{i}.jpg", (i, i, i), seed=i) for i in range(2)]
    cat = catalog.Catalog(tmp_path / "cat.db")
    try:
        ids = cat.ensure_images(imgs)
        i0, i1 = (ids[str(p)] for p in imgs)
        cat.register_model("m", ["dress", "red"], groups={"red": "colour"}, thresholds=[0.7, 0.2])
        cat.add_predictions("m", [(i0, np.float32([0.6, 0.3])), (i1, np.float32([0.9, 0.1]))])
        cat.set_decisions([(i1, "red", True), (i1, "sparkly", True)])
        cat.add_person_label("denim", "fabric", [(i0, "denim", True)])  # made in the review pane
        cat.set_reviewed([i0, i1])
    finally:
        cat.close()
    t = read_source(tmp_path / "cat.db", None)
    assert t.groups == {"dress": "category", "red": "colour", "sparkly": "tags", "denim": "fabric"}
    assert dict(zip(t.labels, _row(t, "0.jpg"), strict=True)) == {
        "dress": 0, "red": 1, "sparkly": -1, "denim": 1,
    }  # fmt: skip
    assert dict(zip(t.labels, _row(t, "1.jpg"), strict=True)) == {
        "dress": 1, "red": 1, "sparkly": 1, "denim": -1,
    }  # fmt: skip


def test_catalog_source_options_confident_predictions_and_its_own_mapping(tmp_path):
    catalog = pytest.importorskip("fashion_desktop.core.catalog")
    imgs = [write_image(tmp_path / "photos" / f"{i}.jpg", (i, i, i), seed=i) for i in range(3)]
    cat = catalog.Catalog(tmp_path / "cat.db")
    try:
        ids = cat.ensure_images(imgs)
        i0, i1, i2 = (ids[str(p)] for p in imgs)
        cat.register_model("m", ["dress", "frock", "red"], thresholds=[0.5, 0.5, 0.5])
        scores = [(i0, np.float32([0.9, 0.1, 0.6])), (i1, np.float32([0.05, 0.95, 0.5]))]
        cat.add_predictions("m", [*scores, (i2, np.float32([0.55, 0.5, 0.5]))])
        cat.set_reviewed([i0])
    finally:
        cat.close()
    db = tmp_path / "cat.db"
    assert len(read_source(db)) == 1  # reviewed photos only unless asked
    library = tmp_path / "library.ffcat"  # the app's own name for a library is read as one
    library.write_bytes(db.read_bytes())
    assert len(read_source(library)) == 1
    t = read_source({"path": str(db), "confident_predictions": True})
    assert len(t) == 2  # image 2 has no confident answer
    assert dict(zip(t.labels, _row(t, "1.jpg"), strict=True)) == {"dress": 0, "frock": 1, "red": -1}
    mapping = tmp_path / "lib_map.csv"
    mapping.write_text("source,target\ndress,dress\nfrock,dress\nred,\n")
    t = read_source({"path": str(db), "confident_predictions": True, "mapping": str(mapping)})
    assert t.labels == ["dress"]
    assert t.targets[:, 0].tolist() == [1, 1]  # frock merged into dress; red excluded
    assert t.inputs[0]["labels"] == ["dress", "frock", "red"]  # the catalog's own names
    assert any("red" in n and "left out" in n for n in t.notes)
    # A run's --mapping (written for other sources) leaves the library's labels alone.
    assert read_source(db, str(mapping)).labels == ["dress", "frock", "red"]


def test_each_entry_reports_its_own_label_names_before_mapping(tmp_path):
    root = tmp_path / "folders"
    for cls in ("Red_Shirts", "blue"):
        write_image(root / cls / "a.jpg", (1, 2, 3))
    mapping = tmp_path / "m.csv"
    mapping.write_text("source,target\nred shirts,jacket\nblue,\n")
    sheet = tmp_path / "s.csv"
    sheet.write_text("image,tags\nfolders/blue/a.jpg,coat;hat\n")
    t = combine([read_source({"path": str(root), "mapping": str(mapping)}), read_source(sheet)])
    assert [i["labels"] for i in t.inputs] == [["Red_Shirts", "blue"], ["coat", "hat"]]
    assert [i["images"] for i in t.inputs] == [1, 1]
    assert [i["path"] for i in t.inputs] == [str(root), str(sheet)]


def test_a_mapping_the_app_writes_is_what_the_trainer_reads(tmp_path):
    from fashion_desktop.model.label_mapping import read_mapping_rows, write_mapping_csv

    path = tmp_path / "maps" / "m.csv"
    write_mapping_csv(
        path, [("Tee", ["top, t-shirt, sweatshirt"]), ("dress", ["dress", "sleeve"]), ("x", [])]
    )
    m = load_mapping(path)
    assert m.lookup("tee") == ("top, t-shirt, sweatshirt",)  # a comma inside a name survives
    assert m.lookup("Dress") == ("dress", "sleeve") and m.lookup("x") == () and m.lookup("y") is None
    assert [r.source for r in read_mapping_rows(path)] == ["Tee", "dress", "x"]
    bad = tmp_path / "bad.csv"
    bad.write_text("only one column\n")
    with pytest.raises(DataError, match="bad.csv: a mapping CSV needs two columns"):
        load_mapping(bad)
    with pytest.raises(DataError, match="label mapping file not found"):
        load_mapping(tmp_path / "nope.csv")


def test_real_data_combination():
    shared_data = data_root()
    maps = shared_data / "taxonomy" / "mappings"
    entries = [
        {
            "path": str(shared_data / "fashion-products" / "labels.csv"),
            "key_column": "id",
            "columns": {"category": ["articleType", "subCategory"], "colour": "baseColour"},
            "mappings": {
                "articleType": str(maps / "fashion-product_articleType_to_imat46.csv"),
                "subCategory": str(maps / "fashion-product_subCategory_to_imat46.csv"),
            },
        },
        {
            "path": str(shared_data / "clothing-small"),
            "mapping": str(maps / "clothing-dataset_label_to_imat46.csv"),
        },
    ]
    t = load_dataset(entries, None, 0.1, 0.1, max_images=300)
    src = np.array(t.sources)
    colour = [j for j, lab in enumerate(t.labels) if t.groups[lab] == "colour"]
    assert (t.targets[src == "folders:clothing-small"][:, colour] == -1).all()
    test_rows = [i for i in t.split_rows("test") if src[i] == "folders:clothing-small"]
    assert all("/test/" in t.paths[i] for i in test_rows)


def test_class_folders_read_heic_and_raw_photos_as_the_app_does(tmp_path):
    """The trainer lists the app's photo kinds (one list) and its loader decodes them."""
    import shutil

    from fashion_desktop.model.images import EXTENSIONS, load_for_model
    from tests.heic_raw_files import bayer_halves, halves, make_dng, make_heic
    from trainer.data import IMAGE_EXTENSIONS

    assert {f".{ext}" for ext in EXTENSIONS} == IMAGE_EXTENSIONS
    root = tmp_path / "kinds"
    write_image(root / "red" / "r.jpg", (220, 30, 30))
    make_dng(root / "red" / "r.DNG", bayer_halves((48, 32)))
    write_image(root / "blue" / "b.jpg", (30, 40, 220))
    make_dng(root / "blue" / "b.dng", bayer_halves((48, 32)), halves((24, 16), (30, 60, 220), (30, 60, 220)))
    expected = {"r.jpg", "r.DNG", "b.jpg", "b.dng"}
    if shutil.which("heif-enc"):
        make_heic(root / "blue" / "b.heic", halves((32, 32), (30, 60, 220), (30, 60, 220)))
        expected.add("b.heic")
    t = read_folders(root)
    assert {p.rsplit("/", 1)[-1] for p in t.paths} == expected
    assert list(_row(t, "r.DNG")) == [0, 1] and t.labels == ["blue", "red"]
    for path in t.paths:
        pixels = load_for_model(path, 16)
        assert pixels.shape == (16, 16, 3), pixels
    assert (
        load_for_model(next(p for p in t.paths if p.endswith("b.dng")), 16)[8, 8, 2] > 180
    )  # its blue preview
