"""The ``fashion`` command line end to end on generated photos: tag, shards + merge, resume, inspect, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fashion_desktop import cli
from fashion_desktop.cli import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, main, parse_shard, shard_paths
from fashion_desktop.core.spreadsheet import comment_lines
from tests.conftest import BAD_FAILS, ROOT, TINY_LABELS, make_photo


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".xlsx":
        return pd.read_excel(path, keep_default_na=False)
    # An export starts with "# field: value" lines saying what produced it.
    return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, skiprows=comment_lines(path))


def score_matrix(df: pd.DataFrame) -> np.ndarray:
    return df[[f"score:{lab}" for lab in TINY_LABELS]].to_numpy(dtype=float)


def all_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file())


def test_tag_writes_one_row_per_photo_csv_and_xlsx(
    photo_folder: Path, tiny_bundle_path: Path, tmp_path, capsys
):
    for name in ("out.csv", "out.xlsx"):
        out = tmp_path / name
        assert (
            main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out)]) == EXIT_OK
        )
        df = read(out)
        assert sorted(df["path"]) == all_files(photo_folder)
        assert list(df.columns[:4]) == ["path", "tags", "colour", "error"]
        for _, row in df.iterrows():
            colour = Path(row["path"]).name.split("_")[0]
            assert row["tags"] == colour and row["colour"] == colour and row["error"] == ""
            assert row[f"score:{colour}"] > 0.9
    err = capsys.readouterr().err
    assert "tagged 9, skipped 0" in err and "img/s" in err


def test_xlsx_is_formatted(photo_folder: Path, tiny_bundle_path: Path, tmp_path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "out.xlsx"
    main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out)])
    ws = load_workbook(out).active
    assert ws["A1"].value == "path" and ws["A1"].font.bold
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref


def test_bad_photos_are_listed_with_reasons_and_the_exit_code_says_partial(
    bad_folder, tiny_bundle_path: Path, tmp_path, capsys
):
    folder, cases = bad_folder
    out = tmp_path / "mixed.xlsx"
    code = main(["tag", str(folder), "--model", str(tiny_bundle_path), "--out", str(out)])
    assert code == EXIT_PARTIAL
    df = read(out)
    assert sorted(df["path"]) == all_files(folder)  # the bad files are rows too
    errors = dict(zip(df["path"], df["error"], strict=True))
    for name in BAD_FAILS:
        assert errors[str(cases[name])], name
    assert sum(1 for e in errors.values() if e) == len(BAD_FAILS)
    err = capsys.readouterr().err
    assert f"failed {len(BAD_FAILS)}" in err
    for name in BAD_FAILS:
        assert f"{cases[name]}: {errors[str(cases[name])]}" in err
    assert "empty file (0 bytes)" in err and "Traceback" not in err


def test_shards_merged_equal_one_unsharded_run(tmp_path: Path, tiny_bundle_path: Path, capsys) -> None:
    folder = tmp_path / "photos"
    for i in range(13):
        make_photo(
            folder / ("a" if i % 2 else "b") / f"{TINY_LABELS[i % 3]}_{i}.jpg",
            (70 + i, 50),
            TINY_LABELS[i % 3],
        )
    model = ["--model", str(tiny_bundle_path)]
    full, p0, p1, merged = (tmp_path / n for n in ("full.csv", "p0.csv", "p1.xlsx", "merged.csv"))
    assert main(["tag", str(folder), *model, "--out", str(full)]) == EXIT_OK
    assert main(["tag", str(folder), *model, "--out", str(p0), "--shard", "0/2"]) == EXIT_OK
    assert main(["tag", str(folder), *model, "--out", str(p1), "--shard", "1/2"]) == EXIT_OK
    parts = [read(p0), read(p1)]
    assert {len(parts[0]), len(parts[1])} == {6, 7} and not set(parts[0]["path"]) & set(parts[1]["path"])
    assert (
        main(["merge", str(p0), str(p1), str(p0), "--out", str(merged)]) == EXIT_OK
    )  # a part twice: no dups
    a, b = read(full), read(merged)
    assert list(a.columns) == list(b.columns)
    assert list(a["path"]) == list(b["path"]) == sorted(a["path"])
    np.testing.assert_allclose(score_matrix(a), score_matrix(b), atol=1e-5)
    assert list(a["tags"]) == list(b["tags"])


def test_merge_refuses_parts_with_other_columns(
    tmp_path: Path, photo_folder, tiny_bundle_path, capsys
) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(a)])
    main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(b), "--no-scores"])
    capsys.readouterr()
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "m.csv")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "b.csv" in err and "do not match" in err and "score:red" in err
    assert not (tmp_path / "m.csv").exists()


def test_catalog_resume_skips_but_still_lists_every_photo(
    photo_folder, tiny_bundle_path, tmp_path, capsys
) -> None:
    db = tmp_path / "lib.sqlite"
    args = ["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--catalog", str(db)]
    assert main([*args, "--out", str(tmp_path / "first.csv")]) == EXIT_OK
    capsys.readouterr()
    make_photo(photo_folder / "red_new.jpg", colour="red")
    assert main([*args, "--out", str(tmp_path / "second.csv")]) == EXIT_OK
    assert "tagged 1, skipped 9" in capsys.readouterr().err
    first, second = read(tmp_path / "first.csv"), read(tmp_path / "second.csv")
    assert sorted(second["path"]) == all_files(photo_folder)
    merged = second.set_index("path").loc[first["path"]]
    np.testing.assert_allclose(score_matrix(merged.reset_index()), score_matrix(first), atol=1e-6)
    assert second.set_index("path").loc[str(photo_folder / "red_new.jpg"), "tags"] == "red"
    assert main([*args, "--out", str(tmp_path / "third.csv"), "--force"]) == EXIT_OK
    assert "tagged 10, skipped 0" in capsys.readouterr().err


def test_threshold_option_changes_the_tags(photo_folder, tiny_bundle_path, tmp_path) -> None:
    out = tmp_path / "low.csv"
    main(
        ["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out), "--threshold", "0.01"]
    )
    assert all(t == "red|green|blue" for t in read(out)["tags"])


def test_init_model_then_tag(tmp_path: Path, photo_folder: Path, capsys) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("# colours\ncolour: red\ncolour: green\n\nstyle: plain\n", encoding="utf-8")
    model = tmp_path / "new.fmodel"
    assert main(["init-model", "--arch", "cnn", "--labels", str(labels), "--out", str(model)]) == EXIT_OK
    out = tmp_path / "o.csv"
    assert main(["tag", str(photo_folder), "--model", str(model), "--out", str(out)]) == EXIT_OK
    df = read(out)
    assert len(df) == 9
    assert {"colour", "style", "score:red", "score:green", "score:plain"} <= set(df.columns)
    capsys.readouterr()
    assert main(["inspect", str(model), "--json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["arch"] == "cnn"
    assert [(x["label"], x["group"]) for x in info["labels"]] == [
        ("red", "colour"),
        ("green", "colour"),
        ("plain", "style"),
    ]
    assert info["provenance"]["source"] == "fashion init-model"


def test_init_model_bad_label_files(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# nothing\n")
    dup = tmp_path / "dup.txt"
    dup.write_text("red\nred\n")
    out = str(tmp_path / "m.fmodel")
    assert main(["init-model", "--arch", "cnn", "--labels", str(empty), "--out", out]) == EXIT_ERROR
    assert main(["init-model", "--arch", "cnn", "--labels", str(dup), "--out", out]) == EXIT_ERROR
    assert main(["init-model", "--arch", "nope", "--labels", str(dup), "--out", out]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "no labels" in err and "listed twice" in err and "unknown architecture" in err
    assert not Path(out).exists()


@pytest.mark.slow
def test_init_model_without_cached_weights_offline(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-cache"))
    labels = tmp_path / "l.txt"
    labels.write_text("a\nb\n")
    out = tmp_path / "m.fmodel"
    args = ["init-model", "--arch", "resnet18", "--labels", str(labels), "--out", str(out), "--no-download"]
    assert main(args) == EXIT_ERROR
    err = capsys.readouterr().err
    assert str(tmp_path / "torch-cache") in err and "--no-pretrained" in err and "Traceback" not in err
    assert not out.exists()
    assert main([*args, "--no-pretrained"]) == EXIT_OK
    assert out.is_file()


def test_inspect_prints_what_a_person_needs(tiny_bundle_path: Path, capsys) -> None:
    assert main(["inspect", str(tiny_bundle_path)]) == EXIT_OK
    text = capsys.readouterr().out
    for needle in (
        "architecture:  cnn",
        "32 x 32 px",
        "groups: colour",
        "[colour] red",
        "tiny-test-model",
        "mean",
    ):
        assert needle in text


def test_default_model_missing_is_a_clear_message(photo_folder, tmp_path, monkeypatch, capsys) -> None:
    from fashion_desktop.model import resources

    monkeypatch.setattr(resources, "default_model_path", lambda: None)
    code = main(["tag", str(photo_folder), "--model", "default", "--out", str(tmp_path / "o.csv")])
    assert code == EXIT_ERROR
    assert "no default model is bundled with this build yet; pass --model PATH" in capsys.readouterr().err


def test_tag_without_model_uses_the_shipped_default(
    photo_folder, tmp_path, monkeypatch, tiny_bundle_path
) -> None:
    from fashion_desktop.model import resources

    monkeypatch.setattr(resources, "default_model_path", lambda: tiny_bundle_path)
    out = tmp_path / "tags.csv"
    code = main(["tag", str(photo_folder), "--out", str(out)])
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "red" in text and "score:red" in text  # tagged by the default model's labels


def test_bad_model_file_names_the_file(photo_folder, tmp_path, capsys) -> None:
    bad = tmp_path / "broken.fmodel"
    bad.write_bytes(b"not a model at all")
    code = main(["tag", str(photo_folder), "--model", str(bad), "--out", str(tmp_path / "o.csv")])
    assert code == EXIT_ERROR
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_user_errors_exit_cleanly(photo_folder, tiny_bundle_path, tmp_path, capsys) -> None:
    model = ["--model", str(tiny_bundle_path)]
    assert main(["tag", str(tmp_path / "nowhere"), *model, "--out", str(tmp_path / "o.csv")]) == EXIT_ERROR
    assert main(["tag", str(photo_folder), *model, "--out", str(tmp_path / "o.txt")]) == EXIT_ERROR
    assert main(["tag", str(photo_folder), *model, "--out", str(tmp_path / "no" / "o.csv")]) == EXIT_ERROR
    assert (
        main(["tag", str(photo_folder), *model]) == EXIT_USAGE
    )  # no --out (--model defaults to the shipped one)
    assert main(["tag", str(photo_folder), *model, "--out", "o.csv", "--shard", "2/2"]) == EXIT_USAGE
    assert (
        main(["export", "--catalog", str(tmp_path / "none.db"), "--out", str(tmp_path / "e.csv")])
        == EXIT_ERROR
    )
    err = capsys.readouterr().err
    assert "folder not found" in err and ".csv or .xlsx" in err and "does not exist" in err
    assert "catalog not found" in err and "Traceback" not in err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_absent_device_is_a_clear_error(photo_folder, tiny_bundle_path, tmp_path, capsys) -> None:
    args = ["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(tmp_path / "o.csv")]
    assert main([*args, "--device", "cuda"]) == EXIT_ERROR
    assert "'cuda' was requested" in capsys.readouterr().err


def test_export_from_a_catalog(photo_folder, tiny_bundle_path, tmp_path) -> None:
    db = tmp_path / "lib.sqlite"
    main(
        [
            "tag",
            str(photo_folder),
            "--model",
            str(tiny_bundle_path),
            "--out",
            str(tmp_path / "t.csv"),
            "--catalog",
            str(db),
        ]
    )
    out = tmp_path / "e.xlsx"
    assert main(["export", "--catalog", str(db), "--out", str(out), "--scores"]) == EXIT_OK
    df = read(out)
    assert sorted(df["path"]) == all_files(photo_folder)
    assert all(Path(p).name.startswith(t) for p, t in zip(df["path"], df["tags"], strict=True))
    seed = tmp_path / "seed.csv"
    assert main(["export", "--catalog", str(db), "--out", str(seed), "--layout", "seed"]) == EXIT_OK
    assert list(read(seed).columns) == ["ImageId", "Category", "CategoryName", "Split"]


def test_shard_split_is_a_partition() -> None:
    paths = [f"/p/{c}{i}.jpg" for c in "zyx" for i in range(7)]
    parts = [shard_paths(paths, i, 3) for i in range(3)]
    assert sorted(sum(parts, [])) == sorted(paths)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert shard_paths(list(reversed(paths)), 1, 3) == parts[1]  # order of discovery does not matter
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "a/b", "3"):
        with pytest.raises(Exception, match="shard"):
            parse_shard(bad)


def test_torchrun_rank_picks_the_shard_and_output_name(photo_folder, tiny_bundle_path, tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    out = tmp_path / "o.csv"
    assert main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out)]) == EXIT_OK
    part = tmp_path / "o.shard-1-of-2.csv"
    assert not out.exists() and part.is_file()
    assert list(read(part)["path"]) == shard_paths(all_files(photo_folder), 1, 2)


@pytest.mark.slow
def test_python_dash_m_and_help_document_exit_codes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-m", "fashion_desktop", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0
    for needle in ("exit codes", "partial", "tag", "merge", "inspect", "export", "init-model", "train"):
        assert needle in res.stdout
    res = subprocess.run(
        [sys.executable, "-m", "fashion_desktop", "tag", str(tmp_path), "--model", str(tmp_path / "x.fmodel"),
         "--out", str(tmp_path / "o.csv")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert (
        res.returncode == EXIT_ERROR
        and "model file not found" in res.stderr
        and "Traceback" not in res.stderr
    )


@pytest.mark.slow
def test_a_reader_that_goes_away_ends_the_command_quietly(tiny_bundle_path: Path) -> None:
    """``fashion inspect ... | head -1``: the reader leaves, the command stops with 141 and no traceback."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | {"PYTHONPATH": str(ROOT)}
    # Unbuffered, a print fails; buffered (a shell's usual case), the flush at the end does.
    for unbuffered in ({"PYTHONUNBUFFERED": "1"}, {}):
        read_end, write_end = os.pipe()
        os.close(read_end)  # gone before the first write, so every write fails (no race with the child)
        try:
            res = subprocess.run(
                [sys.executable, "-m", "fashion_desktop", "inspect", str(tiny_bundle_path)],
                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, env=env | unbuffered,
            )  # fmt: skip
        finally:
            os.close(write_end)
        assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr, (unbuffered, res.stderr)
        assert res.returncode == 141 == cli.EXIT_READER_GONE


def test_train_dispatches_to_the_trainer(monkeypatch, capsys) -> None:
    import types

    calls = []
    fake = types.ModuleType("trainer.cli")
    fake.train_main = lambda argv: calls.append(("train", argv)) or 0
    fake.evaluate_main = lambda argv: calls.append(("evaluate", argv)) or 4
    monkeypatch.setitem(sys.modules, "trainer.cli", fake)
    import trainer

    monkeypatch.setattr(trainer, "cli", fake, raising=False)
    assert main(["train", "--epochs", "1"]) == 0
    assert main(["evaluate", "m.fmodel"]) == 4
    assert calls == [("train", ["--epochs", "1"]), ("evaluate", ["m.fmodel"])]
    monkeypatch.setitem(sys.modules, "trainer.cli", None)  # import fails
    monkeypatch.delattr(trainer, "cli", raising=False)
    assert main(["train"]) == EXIT_ERROR
    assert "trainer is not available" in capsys.readouterr().err


def test_progress_bar_on_a_terminal_and_in_a_log() -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = cli.ProgressBar(tty)
    bar.update(0, 10, 0.0, None)
    bar.update(5, 10, 2.5, 2.0)
    bar.update(10, 10, 2.5, 0.0)
    bar.close()
    assert "\r\x1b[K[" in tty.getvalue() and "100%" in tty.getvalue() and "2.5 img/s" in tty.getvalue()
    log = io.StringIO()
    bar = cli.ProgressBar(log, every_s=3600)
    for i in range(0, 101):
        bar.update(i, 100, 10.0, (100 - i) / 10)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in log.getvalue()  # first and last only
    assert lines[-1].startswith("tagging: 100/100")


def test_export_applies_the_models_own_thresholds_after_the_bundle_moved(
    photo_folder, tiny_bundle_path, tmp_path
):
    from fashion_desktop.model.bundle import load_bundle, save_bundle, with_thresholds

    strict = tmp_path / "strict.fmodel"  # "red" needs 0.99: the tiny model's red photos score ~0.98
    save_bundle(with_thresholds(load_bundle(tiny_bundle_path), [0.99, 0.5, 0.5]), strict)
    db = tmp_path / "lib.sqlite"
    main(
        [
            "tag",
            str(photo_folder),
            "--model",
            str(strict),
            "--out",
            str(tmp_path / "t.csv"),
            "--catalog",
            str(db),
        ]
    )
    strict.unlink()
    out = tmp_path / "e.csv"
    assert main(["export", "--catalog", str(db), "--out", str(out)]) == EXIT_OK
    tags = dict(zip(read(out)["path"], read(out)["tags"], strict=True))
    assert all(tags[p] == "" for p in tags if Path(p).name.startswith("red"))
    assert all(tags[p] == "green" for p in tags if Path(p).name.startswith("green"))


def test_ctrl_c_keeps_what_was_tagged_in_the_catalog(
    tmp_path: Path, tiny_bundle_path, monkeypatch, capsys
) -> None:
    from fashion_desktop.core import engine

    folder = tmp_path / "photos"
    for i in range(12):
        make_photo(folder / f"{TINY_LABELS[i % 3]}_{i:02d}.jpg", colour=TINY_LABELS[i % 3])
    real = engine.tag_into_catalog

    def interrupted(*args, **kwargs):
        for event in real(*args, **kwargs):
            yield event
            if isinstance(event, engine.BatchResult):
                raise KeyboardInterrupt  # the person pressed Ctrl-C after the first batch

    monkeypatch.setattr(engine, "tag_into_catalog", interrupted)
    db = tmp_path / "lib.sqlite"
    args = ["tag", str(folder), "--model", str(tiny_bundle_path), "--catalog", str(db), "--batch-size", "4"]
    assert main([*args, "--out", str(tmp_path / "o.csv")]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
    monkeypatch.setattr(engine, "tag_into_catalog", real)
    assert main([*args, "--out", str(tmp_path / "o.csv")]) == EXIT_OK
    assert "tagged 8, skipped 4" in capsys.readouterr().err


def _old_format_copy(bundle_path: Path, out: Path, **provenance: str) -> Path:
    """``bundle_path`` written as a format-1 bundle (a torch zip), as older apps wrote them."""
    import torch

    from fashion_desktop.model.bundle import load_bundle

    d = load_bundle(bundle_path).to_dict()
    d["format_version"] = 1
    d["provenance"] = {**d["provenance"], **provenance}
    torch.save(d, out)
    return out


def test_convert_keeps_the_model_id_and_the_scores(photo_folder, tiny_bundle_path, tmp_path, capsys) -> None:
    old = _old_format_copy(tiny_bundle_path, tmp_path / "old.fmodel")
    new = tmp_path / "new.fmodel"
    assert main(["convert", str(old), str(new)]) == EXIT_OK
    assert "tiny-test-model" in capsys.readouterr().err
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(a)]) == EXIT_OK
    assert main(["tag", str(photo_folder), "--model", str(new), "--out", str(b)]) == EXIT_OK
    assert read(a).equals(read(b))
    capsys.readouterr()
    assert main(["inspect", str(new), "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["model_id"] == "tiny-test-model"
    # Converting again, or onto itself, or something that is not an old bundle: a message, exit 1.
    assert main(["convert", str(new), str(tmp_path / "again.fmodel")]) == EXIT_ERROR
    assert main(["convert", str(old), str(old)]) == EXIT_ERROR
    assert main(["convert", str(tmp_path / "none.fmodel"), str(tmp_path / "x.fmodel")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "already in the current bundle format" in err and "choose another name" in err
    assert "not found" in err and "Traceback" not in err
    assert main(["convert", str(old)]) == EXIT_USAGE


def test_tag_and_inspect_convert_an_old_bundle_on_the_fly(
    photo_folder, tiny_bundle_path, tmp_path, capsys
) -> None:
    old = _old_format_copy(tiny_bundle_path, tmp_path / "old.fmodel")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(a)]) == EXIT_OK
    capsys.readouterr()
    assert main(["tag", str(photo_folder), "--model", str(old), "--out", str(b)]) == EXIT_OK
    err = capsys.readouterr().err
    assert "old bundle format" in err and "fashion convert" in err
    assert read(a).equals(read(b))
    assert main(["inspect", str(old)]) == EXIT_OK
    assert "tiny-test-model" in capsys.readouterr().out


def test_convert_refuses_a_crafted_pickle_and_runs_nothing(tmp_path, capsys) -> None:
    import torch

    from fashion_desktop.model.bundle_format import FORMAT

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch '{marker}'",))

    evil = tmp_path / "evil.fmodel"
    torch.save({"format": FORMAT, "format_version": 1, "arch": "cnn", "labels": ["a"], "x": Evil()}, evil)
    assert main(["convert", str(evil), str(tmp_path / "new.fmodel")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "refused to load" in err and str(evil) in err
    assert not marker.exists() and not (tmp_path / "new.fmodel").exists()
