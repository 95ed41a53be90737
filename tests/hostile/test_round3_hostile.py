"""Never lose or corrupt a person's work, round 3: each case as a hostile user tried it (issue 23)."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.model.fileio import atomic_write_bytes
from tests.hostile.test_catalog_hostile import _fingerprint, _old_catalog

needs_links = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX links")


def _other_database(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE precious(x)")
    db.execute("INSERT INTO precious VALUES(42)")
    db.commit()
    db.close()
    return path


# -- 1: a planted link overwrites another file ------------------------------------------------------
@needs_links
def test_links_planted_at_the_backups_names_are_never_written_through(tmp_path: Path) -> None:
    path = _old_catalog(tmp_path / "lib.ffcat", 3)
    other = _other_database(tmp_path / "elsewhere.db")
    before = _fingerprint(other)
    # What an older app used as its temporary name, and the backup's own name pointing at nothing.
    (tmp_path / f"lib.ffcat.bak-v3.tmp-{os.getpid()}").symlink_to(other)
    (tmp_path / "lib.ffcat.bak-v3").symlink_to(tmp_path / "nowhere.db")
    with Catalog(path) as cat:
        backup = cat.backup_path
    assert _fingerprint(other) == before  # its table is still there
    assert sqlite3.connect(other).execute("SELECT x FROM precious").fetchall() == [(42,)]
    assert not (tmp_path / "nowhere.db").exists()
    assert backup == tmp_path / "lib.ffcat.bak-v3.2" and not backup.is_symlink() and backup.is_file()
    assert sqlite3.connect(backup).execute("SELECT label FROM decisions").fetchall() == [("dress",)]
    assert (tmp_path / "lib.ffcat.bak-v3").is_symlink()  # the planted link is left as it was, not replaced
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@needs_links
def test_an_export_replaces_a_link_at_its_name_and_never_writes_through_it(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("the person's notes")
    out = tmp_path / "tags.csv"
    out.symlink_to(other)
    atomic_write_bytes(out, b"path,tags\n")
    assert other.read_text() == "the person's notes"
    assert not out.is_symlink() and out.read_bytes() == b"path,tags\n"


@needs_links
@pytest.mark.slow
@pytest.mark.parametrize("resume", [False, True])
def test_a_link_planted_among_a_run_folders_files_is_refused_before_training(
    resume: bool, tmp_path: Path
) -> None:
    from tests.trainer.trainer_helpers import FAST, make_class_folders, run_trainer

    data = make_class_folders(
        tmp_path / "data", per_class=3, splits=("train", "val"), classes=["red", "blue"]
    )
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    train = ["--data", str(data), "--out", str(run), "--epochs", "1", *FAST]
    if resume:  # a run stopped after its first epoch (checkpoints, no model yet)
        assert run_trainer(["train", *train], tmp_path).returncode == 0
        for name in ("model.fmodel", "metrics.json", "events.jsonl"):
            (run / name).unlink()
    else:
        run.mkdir()
    (run / "events.jsonl").symlink_to(victim)
    res = run_trainer(["train", *(["--resume", str(run), "--epochs", "2"] if resume else train)], tmp_path)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert f"{run / 'events.jsonl'} is a link" in res.stderr
    assert victim.read_text() == "precious"


# -- 4: tracebacks after the work is done ---------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("preview", [False, True])
def test_labels_a_model_cannot_hold_are_refused_before_training(tmp_path: Path, preview: bool) -> None:
    from tests.trainer.trainer_helpers import FAST, make_class_folders, run_trainer

    data = make_class_folders(
        tmp_path / "data", per_class=3, splits=("train", "val"), classes=["red", "t|shirt"]
    )
    args = ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", *FAST]
    res = run_trainer([*args, "--preview"] if preview else args, tmp_path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert "'t|shirt' contains the tag separator" in res.stderr and str(data) in res.stderr
    assert not (tmp_path / "run" / "last.pt").exists()  # refused before the first epoch, not after the last


def _bundle_with(path: Path, groups: dict[str, str] | None = None, n_labels: int = 0) -> Path:
    """The colour demo bundle with other group names, or a cnn with ``n_labels`` labels."""
    import dataclasses

    from fashion_desktop.core.demo import colour_bundle
    from fashion_desktop.model.archs import build_model
    from fashion_desktop.model.bundle import new_bundle, save_bundle

    if n_labels:
        labels = [f"label{i}" for i in range(n_labels)]
        bundle = new_bundle("cnn", labels, build_model("cnn", n_labels).state_dict(), input_size=32)
    else:
        bundle = dataclasses.replace(colour_bundle(), groups=groups)
    return save_bundle(bundle, path)


@pytest.mark.parametrize("group", ["error", "path", "Tags"])
def test_a_group_named_like_an_output_column_gets_a_column_of_its_own(
    group: str, photo_folder: Path, tmp_path: Path
) -> None:
    import pandas as pd

    from fashion_desktop.cli import EXIT_OK, main

    model = _bundle_with(tmp_path / "m.fmodel", groups={"red": group, "green": group, "blue": group})
    out = tmp_path / "out.csv"
    assert main(["tag", str(photo_folder), "--model", str(model), "--out", str(out)]) == EXIT_OK
    df = pd.read_csv(out, comment="#", keep_default_na=False)
    assert len(set(df.columns)) == len(df.columns)  # no two columns with one name
    assert f"group:{group}" in df.columns and "error" in df.columns and "path" in df.columns
    assert sorted(set(df[f"group:{group}"])) == ["blue", "green", "red"]
    assert set(df["error"]) == {""}


def test_a_model_wider_than_an_excel_sheet_is_refused_before_tagging(
    photo_folder: Path, tmp_path: Path, capsys
):
    from fashion_desktop.cli import EXIT_ERROR, main

    model = _bundle_with(tmp_path / "wide.fmodel", n_labels=18_279)
    out = tmp_path / "out.xlsx"
    code = main(["tag", str(photo_folder), "--model", str(model), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert f"{out}: 18,282 columns do not fit in an Excel sheet (16,384 at most); write a .csv file" in err
    assert "nothing was tagged" in err and "photos to tag" not in err and not out.exists()


def test_without_a_catalog_a_failed_write_keeps_the_scores_and_says_where(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    import re

    import pandas as pd

    from fashion_desktop.cli import EXIT_ERROR, EXIT_OK, main
    from fashion_desktop.core import spreadsheet

    def disk_full(df, path, *a, **k):
        raise spreadsheet.ExportError(f"{path}: cannot write: the disk is full")

    monkeypatch.setattr(spreadsheet, "write_table", disk_full)
    out = tmp_path / "out.csv"
    assert main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{out}: cannot write: the disk is full" in err
    kept = Path(re.search(r"kept in (\S+catalog\.sqlite)", err).group(1))
    monkeypatch.undo()
    again = tmp_path / "again.csv"
    assert main(["export", "--catalog", str(kept), "--out", str(again), "--scores"]) == EXIT_OK
    assert len(pd.read_csv(again, comment="#")) == 9
    import shutil

    shutil.rmtree(kept.parent)


# -- 5: names that crash ------------------------------------------------------------------------------
BAD_NAME = os.fsdecode(b"shop\xff photos")  # Latin-1 bytes from another system: not valid UTF-8


@pytest.mark.skipif(
    os.name == "nt" or sys.platform == "darwin", reason="only POSIX file systems keep such bytes"
)
def test_a_folder_whose_own_name_is_not_text_is_listed_and_the_others_are_tagged(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, capsys
) -> None:
    from fashion_desktop.cli import EXIT_OK, EXIT_PARTIAL, main
    from tests.conftest import make_photo

    bad = tmp_path / BAD_NAME
    make_photo(bad / "red.jpg", colour="red")
    out = tmp_path / "out.csv"
    lib = tmp_path / os.fsdecode(b"lib\xfe.ffcat")
    args = ["tag", str(bad), str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out)]
    assert main([*args, "--catalog", str(lib)]) == EXIT_PARTIAL
    err = capsys.readouterr().err
    assert "shop\ufffd photos: the folder's name is not valid text" in err and "Traceback" not in err
    assert out.read_text(encoding="utf-8-sig").count(".jpg") == 9  # the good folder's photos
    # A catalog whose own name is not text exports; its name is shown with a replacement mark.
    exported = tmp_path / "export.csv"
    assert main(["export", "--catalog", str(lib), "--out", str(exported)]) == EXIT_OK
    assert "lib\ufffd.ffcat\n" in exported.read_text(encoding="utf-8-sig")


@pytest.mark.skipif(
    os.name == "nt" or sys.platform == "darwin", reason="only POSIX file systems keep such bytes"
)
def test_the_window_refuses_such_a_folder_with_a_message(qtbot, tmp_path: Path) -> None:
    from tests.gui.test_first_launch import open_window

    bad = tmp_path / BAD_NAME
    bad.mkdir()
    w = open_window(qtbot, tmp_path)
    w.library_ctl.add_folder(bad)
    assert "the folder's name is not valid text" in w.first_launch.notice.text()
    assert w.catalog.folders() == [] and w.scan_worker is None
    w.close()


def _with_deep_description(bundle_path: Path, out: Path, levels: int) -> Path:
    """``bundle_path`` with a ``notes`` entry nested ``levels`` deep in its description (written as text:
    building it as a Python value would hit the recursion limit first)."""
    import json
    import struct

    from fashion_desktop.model.bundle_format import METADATA_KEY

    data = bundle_path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    description = header["__metadata__"][METADATA_KEY]
    deep = '{"x":' * levels + "{}" + "}" * levels
    header["__metadata__"][METADATA_KEY] = description[:-1] + ', "notes": ' + deep + "}"
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # keeps the tensors aligned
    out.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n :])
    return out


@pytest.mark.parametrize("command", ["inspect", "tag"])
def test_a_bundle_whose_description_nests_900_levels_is_refused_by_inspect_and_tag_alike(
    command: str, photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, capsys
) -> None:
    from fashion_desktop.cli import EXIT_ERROR, main

    path = _with_deep_description(tiny_bundle_path, tmp_path / "deep.fmodel", 900)
    args = (
        ["inspect", str(path)] if command == "inspect" else ["tag", str(photo_folder), "--model", str(path)]
    )
    if command == "tag":
        args += ["--out", str(tmp_path / "o.csv")]
    assert main(args) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{path}: not a valid model bundle: its description nests 902 levels deep (at most 32)" in err
    assert "Traceback" not in err and "RecursionError" not in err


# -- 7: things that disagree silently -----------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_parts_tagged_by_two_models_that_share_labels_are_not_merged(
    suffix: str, photo_folder: Path, tmp_path: Path, capsys
) -> None:
    from fashion_desktop.cli import EXIT_ERROR, EXIT_OK, main
    from fashion_desktop.core.demo import save_colour_bundle
    from fashion_desktop.core.spreadsheet import read_about

    one = save_colour_bundle(tmp_path / "one.fmodel", model_id="model-one", name="one")
    two = save_colour_bundle(tmp_path / "two.fmodel", model_id="model-two", name="two")
    parts = [tmp_path / f"part{i}{suffix}" for i in range(3)]
    for i, (model, part) in enumerate(zip((one, one, two), parts, strict=True)):
        args = ["tag", str(photo_folder), "--model", str(model), "--out", str(part), "--shard", f"{i % 2}/2"]
        assert main(args) == EXIT_OK
    assert read_about(parts[0])["Model id"] == "model-one"
    capsys.readouterr()
    out = tmp_path / f"all{suffix}"
    assert main(["merge", *map(str, parts), "--out", str(out)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "the parts were tagged by different models" in err and "model model-two" in err
    assert str(parts[2]) in err and not out.exists()
    assert main(["merge", str(parts[0]), str(parts[1]), "--out", str(out)]) == EXIT_OK
    assert read_about(out)["Model id"] == "model-one"


def test_a_label_mapping_whose_rows_disagree_is_refused_with_the_rows_named(tmp_path: Path) -> None:
    from tests.trainer.trainer_helpers import FAST, make_class_folders, run_trainer

    data = make_class_folders(
        tmp_path / "data", per_class=3, splits=("train", "val"), classes=["red", "blue"]
    )
    mapping = tmp_path / "map.csv"
    mapping.write_text("source,target\nred,dress\nRed,dress\nred ,hat\nblue,coat\n", encoding="utf-8")
    args = ["train", "--data", str(data), "--mapping", str(mapping), "--out", str(tmp_path / "run"), *FAST]
    res = run_trainer([*args, "--epochs", "1", "--preview"], tmp_path)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert f"{mapping}: rows for one source label disagree" in res.stderr
    assert "row 2 'red' -> dress" in res.stderr and "row 4 'red' -> hat" in res.stderr
    # Rows that say the same thing in other case are fine.
    mapping.write_text("source,target\nred,dress\nRed ,dress\nblue,coat\n", encoding="utf-8")
    res = run_trainer([*args, "--epochs", "1", "--preview"], tmp_path)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_trainer_reads_the_apps_own_export_header_lines_and_groups_included(
    suffix: str, photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path
) -> None:
    from fashion_desktop.cli import EXIT_OK, main
    from fashion_desktop.core.catalog import Catalog
    from trainer.data import read_table

    lib = tmp_path / "lib.ffcat"
    args = ["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(tmp_path / "t.csv")]
    assert main([*args, "--catalog", str(lib)]) == EXIT_OK
    with Catalog(lib) as cat:  # a person reviewed one photo and called it green
        first = cat.images()[0]
        cat.set_reviewed(
            [first.id], True, [(first.id, "green", True), (first.id, "red", False), (first.id, "blue", False)]
        )
    out = tmp_path / f"export{suffix}"
    assert main(["export", "--catalog", str(lib), "--out", str(out)]) == EXIT_OK
    if suffix == ".csv":
        assert out.read_text(encoding="utf-8-sig").startswith("# Exported:")  # the header lines are there
    table = read_table(out)
    assert len(table) == 9 and sorted(table.labels) == ["blue", "green", "red"]
    assert set(table.groups.values()) == {"colour"}
    row = table.paths.index(first.path)
    assert [table.labels[j] for j in range(3) if table.targets[row, j] == 1] == ["green"]
    reds = [i for i, p in enumerate(table.paths) if Path(p).name.startswith("red") and i != row]
    assert reds and all(table.targets[i, table.labels.index("red")] == 1 for i in reds)
    assert any("8 of 9 rows are not reviewed" in note for note in table.notes)


# -- 6: sidecars that hang ----------------------------------------------------------------------------
@needs_links
@pytest.mark.timeout(60)
@pytest.mark.parametrize("planted", ["fifo", "dev-zero", "link"])
def test_a_pipe_or_device_at_a_sidecars_name_is_listed_never_read_or_replaced(
    planted: str, tmp_path: Path
) -> None:
    from fashion_desktop.core.xmp import write_xmp_sidecars
    from tests.conftest import make_photo

    one, two = make_photo(tmp_path / "one.jpg"), make_photo(tmp_path / "two.jpg")
    sidecar = tmp_path / "one.xmp"
    other = tmp_path / "notes.txt"
    other.write_text("the person's notes")
    if planted == "fifo":
        os.mkfifo(sidecar)
    else:
        sidecar.symlink_to("/dev/zero" if planted == "dev-zero" else other)
    report = write_xmp_sidecars([(one, ["dress"]), (two, ["dress"])])
    assert report.written == [tmp_path / "two.xmp"]  # the other photo's sidecar is written
    ((photo, reason),) = report.errors
    assert photo == str(one)
    assert ("not a regular file" in reason) if planted == "fifo" else ("is a link" in reason)
    assert other.read_text() == "the person's notes"
    assert sidecar.is_fifo() if planted == "fifo" else sidecar.is_symlink()  # left as it was


# -- 8: clearer messages ------------------------------------------------------------------------------
@needs_links
@pytest.mark.parametrize("where", ["inside-a-file", "link-loop", "missing"])
def test_an_output_folder_that_is_not_one_is_named_for_what_it_is(
    where: str, photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, capsys
) -> None:
    from fashion_desktop.cli import EXIT_ERROR, main

    if where == "inside-a-file":
        (tmp_path / "tags.csv").write_text("x")
        out, said = tmp_path / "tags.csv" / "out.csv", f"{tmp_path / 'tags.csv'} is a file, not a folder"
    elif where == "link-loop":
        (tmp_path / "a").symlink_to(tmp_path / "b")
        (tmp_path / "b").symlink_to(tmp_path / "a")
        out, said = tmp_path / "a" / "out.csv", f"{tmp_path / 'a'} is a loop of symbolic links"
    else:
        out, said = tmp_path / "gone" / "deeper" / "out.csv", f"({tmp_path / 'gone'} is not there)"
    assert main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{out}: " in err and said in err and "photos to tag" not in err


@needs_links
def test_an_output_through_a_link_to_a_device_is_not_left_world_writable(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path
) -> None:
    import stat

    from fashion_desktop.cli import EXIT_OK, main

    out = tmp_path / "tags.csv"
    out.symlink_to("/dev/full")
    assert main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out)]) == EXIT_OK
    mode = out.lstat().st_mode
    assert stat.S_ISREG(mode) and not mode & stat.S_IWOTH and not mode & stat.S_IWGRP


def _catalog_in_read_only_folder(photo_folder: Path, tiny_bundle_path: Path, share: Path) -> Path:
    from fashion_desktop.cli import EXIT_OK, main

    share.mkdir()
    lib = share / "lib.ffcat"
    args = ["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(share / "t.csv")]
    assert main([*args, "--catalog", str(lib)]) == EXIT_OK
    return lib


def test_a_writable_catalog_in_a_read_only_folder_is_said_as_such(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, capsys
) -> None:
    from fashion_desktop.cli import EXIT_ERROR, EXIT_OK, main

    share = tmp_path / "share"
    lib = _catalog_in_read_only_folder(photo_folder, tiny_bundle_path, share)
    share.chmod(0o555)
    try:
        capsys.readouterr()
        args = ["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(tmp_path / "o.csv")]
        assert main([*args, "--catalog", str(lib)]) == EXIT_ERROR
        err = capsys.readouterr().err
        assert f"the folder {share} is read-only" in err and "the catalog file is read-only" not in err
        assert main(["export", "--catalog", str(lib), "--out", str(tmp_path / "e.csv")]) == EXIT_OK
    finally:
        share.chmod(0o755)


def test_a_wal_file_in_a_read_only_folder_gets_the_clear_message(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    from fashion_desktop.cli import EXIT_ERROR, main
    from fashion_desktop.core import catalog as catalog_module

    share = tmp_path / "share"
    lib = _catalog_in_read_only_folder(photo_folder, tiny_bundle_path, share)
    (share / "lib.ffcat-wal").write_bytes(b"")

    def no_shared_memory(*args, **kwargs):  # what SQLite says when it cannot make lib.ffcat-shm (not root)
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(catalog_module, "connect_read_only", no_shared_memory)
    share.chmod(0o555)
    try:
        capsys.readouterr()
        assert main(["export", "--catalog", str(lib), "--out", str(tmp_path / "e.csv")]) == EXIT_ERROR
        err = capsys.readouterr().err
        assert "its last changes are still in lib.ffcat-wal" in err and f"{share} is read-only" in err
        assert "unable to open database file" not in err
    finally:
        share.chmod(0o755)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "job", "said"),
    [
        ("tag", {}, "the tagging request needs 'catalog'"),
        ("adapt", {}, "the adapt request needs 'catalog'"),
        ("compare", {}, "the compare request needs 'catalog'"),
        ("tag", {"catalog": "MISSING", "bundle": "BUNDLE"}, "MISSING: catalog not found"),
    ],
)
def test_the_tagging_process_refuses_an_empty_job_or_a_missing_catalog_in_one_line(
    mode: str, job: dict, said: str, tmp_path: Path, tiny_bundle_path: Path
) -> None:
    from fashion_desktop.model.protocol import Failure
    from tests.core.test_tag_process import _run

    missing = tmp_path / "gone.ffcat"
    job = {k: str(missing) if v == "MISSING" else str(tiny_bundle_path) for k, v in job.items()}
    code, events, err = _run(mode, job)
    failures = [e for e in events if isinstance(e, Failure)]
    assert code == 2 and len(failures) == 1, err
    assert failures[0].message.startswith(said.replace("MISSING", str(missing)))
    assert "Traceback" not in err and "KeyError" not in failures[0].message
    assert not missing.exists()  # no empty file left behind


def test_relink_lists_a_few_missing_photos_and_keeps_the_rest_in_a_file(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    import re
    import shutil

    from fashion_desktop import cli
    from fashion_desktop.cli import EXIT_OK, EXIT_PARTIAL, main

    db = tmp_path / "lib.ffcat"
    tag = ["--model", str(tiny_bundle_path), "--catalog", str(db), "--out", str(tmp_path / "o.csv")]
    assert main(["tag", str(photo_folder), *tag]) == EXIT_OK
    moved = tmp_path / "moved"
    shutil.copytree(photo_folder, moved)
    gone = sorted(moved.rglob("*.jpg"))[:6]
    for p in gone:
        p.unlink()
    monkeypatch.setattr(cli, "SHOWN_PATHS", 2)  # 20 in use: the same path with 200,000 photos
    capsys.readouterr()
    assert main(["relink", str(photo_folder), str(moved), "--catalog", str(db)]) == EXIT_PARTIAL
    err = capsys.readouterr().err
    assert "6 not found in" in err and "... and 4 more: all 6 are listed in" in err
    listed = Path(re.search(r"all 6 are listed in (\S+\.txt)", err).group(1))
    assert listed.parent == tmp_path and listed.name.startswith("lib.ffcat.relink-missing-")
    missing = sorted(str(photo_folder / p.relative_to(moved)) for p in gone)
    assert sorted(listed.read_text().splitlines()) == missing
    assert sum(1 for line in err.splitlines() if line.startswith("  /")) == 2
