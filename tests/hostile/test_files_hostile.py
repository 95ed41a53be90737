"""Hostile cases around the files a person owns: protected outputs, outputs on top of the catalog or a photo,
an unwritable output found before any tagging, exit codes and signals, HEIC and AVIF photos."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from fashion_desktop.cli import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, main
from fashion_desktop.model.exit_codes import TABLE
from tests.conftest import ROOT, make_photo

PROTECTED = "the file is read-only (protected); choose another name or make it writable"
SQLITE_MAGIC = b"SQLite format 3\x00"


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(key, None)
    return env


def _protected(path: Path, text: str = "the person's own table\n") -> Path:
    path.write_text(text)
    os.chmod(path, 0o444)
    return path


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A folder owned by ``nobody`` that ``nobody`` can reach (pytest's tmp_path is root's 0700 tree)."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("needs root, to drop privileges to 'nobody' in a child process")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user")
    folder = Path(tempfile.mkdtemp(prefix="fashion-hostile-", dir="/tmp"))
    os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_nobody(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``script`` in a child that imports what it needs as root (root's Python may be unreadable
    for others), then becomes ``nobody`` (setgid/setuid) at the line ``DROP()``."""
    prologue = textwrap.dedent(
        """
        import os, pwd, sys
        _n = pwd.getpwnam("nobody")
        def DROP():
            os.setgroups([])
            os.setgid(_n.pw_gid)
            os.setuid(_n.pw_uid)
            assert os.geteuid() == _n.pw_uid
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prologue + textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )


# -- 3. outputs never replace a read-only file -----------------------------------------------------------
def test_a_read_only_file_is_never_replaced_by_any_writer(tmp_path: Path) -> None:
    from fashion_desktop.core.spreadsheet import ExportError, write_table
    from fashion_desktop.model.fileio import WriteError, atomic_write_bytes

    df = pd.DataFrame({"path": ["/p/a.jpg"], "tags": ["red"]})
    for name in ("export.csv", "export.xlsx"):
        target = _protected(tmp_path / name)
        with pytest.raises(ExportError, match="read-only"):
            write_table(df, target)
        assert target.read_text() == "the person's own table\n"
    table = _protected(tmp_path / "per_class_metrics.csv")  # the trainer's tables use atomic_write_bytes
    with pytest.raises(WriteError) as info:
        atomic_write_bytes(table, b"new")
    assert str(info.value) == f"{table}: {PROTECTED}"
    assert table.read_text() == "the person's own table\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "export.csv",
        "export.xlsx",
        "per_class_metrics.csv",
    ]


def test_read_only_sidecars_are_reported_per_file_and_the_others_written(tmp_path: Path) -> None:
    from fashion_desktop.core.xmp import write_xmp_sidecars

    a = make_photo(tmp_path / "a.jpg")
    b = make_photo(tmp_path / "b.jpg")
    kept = b'<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"/><?xpacket end="w"?>'
    (tmp_path / "a.xmp").write_bytes(kept)
    os.chmod(tmp_path / "a.xmp", 0o444)
    report = write_xmp_sidecars([(a, ["red"]), (b, ["blue"])])
    assert report.written == [tmp_path / "b.xmp"]
    assert report.errors == [(str(a), f"{tmp_path / 'a.xmp'}: {PROTECTED}")]
    assert (tmp_path / "a.xmp").read_bytes() == kept
    assert b"blue" in (tmp_path / "b.xmp").read_bytes()


def test_cli_refuses_a_read_only_export_and_keeps_it(
    photo_folder, tiny_bundle_path, tmp_path, capsys
) -> None:
    db = tmp_path / "lib.sqlite"
    args = ["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--catalog", str(db)]
    assert main([*args, "--out", str(tmp_path / "first.csv")]) == EXIT_OK
    out = _protected(tmp_path / "tags.csv")
    assert main(["export", "--catalog", str(db), "--out", str(out)]) == EXIT_ERROR
    parts = [tmp_path / "first.csv", tmp_path / "first.csv"]
    assert main(["merge", *map(str, parts), "--out", str(out)]) == EXIT_ERROR
    assert out.read_text() == "the person's own table\n"
    err = capsys.readouterr().err
    assert err.count(f"fashion: error: {out}: {PROTECTED}") == 2 and "Traceback" not in err


@pytest.mark.slow
def test_a_read_only_file_of_its_owner_is_kept_when_not_root(nobody_dir: Path) -> None:
    """As its owner (not root) a person can rename over a 0444 file; atomic_write must still refuse."""
    target = nobody_dir / "tags.csv"
    target.write_text("nobody's own table\n")
    os.chown(target, *(lambda n: (n.pw_uid, n.pw_gid))(pwd.getpwnam("nobody")))
    os.chmod(target, 0o444)
    res = _as_nobody(
        """
        from fashion_desktop.model.fileio import WriteError, atomic_write_bytes
        DROP()
        try:
            atomic_write_bytes(sys.argv[1], b"replaced")
        except WriteError as exc:
            print("refused:", exc)
        else:
            print("written")
        """,
        str(target),
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"refused: {target}: {PROTECTED}"
    assert target.read_text() == "nobody's own table\n"
    assert [p.name for p in nobody_dir.iterdir()] == ["tags.csv"]  # no temp file left


# -- 4. the output is never the catalog, an input or a photo ---------------------------------------------
def test_out_equal_to_the_catalog_is_refused_and_the_catalog_kept(
    photo_folder, tiny_bundle_path, tmp_path, capsys
) -> None:
    db = tmp_path / "lib.csv"  # a catalog with a table's name, picked twice by mistake
    tag = ["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--catalog", str(db)]
    assert main([*tag, "--out", str(tmp_path / "t.csv")]) == EXIT_OK
    before = db.read_bytes()
    assert main([*tag, "--out", str(db)]) == EXIT_ERROR
    assert main(["export", "--catalog", str(db), "--out", str(tmp_path / "." / "lib.csv")]) == EXIT_ERROR
    assert db.read_bytes()[:16] == SQLITE_MAGIC and db.read_bytes() == before
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 9
    err = capsys.readouterr().err
    assert err.count("this is the catalog") == 2 and "choose another --out" in err


def test_out_naming_a_photo_a_database_or_a_part_is_refused(photo_folder, tiny_bundle_path, tmp_path, capsys):
    photo = make_photo(tmp_path / "look.csv", fmt="JPEG")  # a photo saved under a table's name
    photo_bytes = photo.read_bytes()
    other_db = tmp_path / "old.csv"
    sqlite3.connect(other_db).execute("CREATE TABLE t(x)").connection.close()
    model = ["--model", str(tiny_bundle_path)]
    assert main(["tag", str(photo_folder), *model, "--out", str(photo)]) == EXIT_ERROR
    assert main(["tag", str(photo_folder), *model, "--out", str(other_db)]) == EXIT_ERROR
    part = tmp_path / "part.csv"
    assert main(["tag", str(photo_folder), *model, "--out", str(part)]) == EXIT_OK
    part_bytes = part.read_bytes()
    assert main(["merge", str(part), str(part), "--out", str(part)]) == EXIT_ERROR
    assert photo.read_bytes() == photo_bytes and other_db.read_bytes()[:16] == SQLITE_MAGIC
    assert part.read_bytes() == part_bytes
    err = capsys.readouterr().err
    assert f"{photo}: this file is a photo, not a table" in err
    assert f"{other_db}: this file is a database (a catalog?), not a table" in err
    assert f"{part}: this is one of the inputs" in err


# -- 6. the output is checked before any tagging starts ---------------------------------------------------
def test_an_unwritable_output_is_found_before_anything_is_scanned(
    photo_folder, tiny_bundle_path, tmp_path, capsys
) -> None:
    out = _protected(tmp_path / "tags.xlsx")
    db = tmp_path / "lib.sqlite"
    code = main(
        ["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out), "--catalog", str(db)]
    )
    assert code == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{out}: {PROTECTED}" in err and "photos to tag" not in err
    assert not db.exists()  # not even scanned: nothing was done that the error would throw away
    assert out.read_text() == "the person's own table\n"


@pytest.mark.slow
def test_an_unwritable_output_folder_is_found_before_tagging_as_a_normal_user(
    nobody_dir: Path, tiny_bundle_path: Path
) -> None:
    photos = nobody_dir / "photos"
    for i, colour in enumerate(("red", "green", "blue")):
        make_photo(photos / f"{colour}_{i}.jpg", colour=colour)
    model = nobody_dir / "tiny.fmodel"
    shutil.copy(tiny_bundle_path, model)
    for p in (photos, *photos.iterdir(), model):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    locked = nobody_dir / "results"  # root's folder: others may read it but not create files in it
    locked.mkdir(mode=0o755)
    res = _as_nobody(
        """
        import fashion_desktop.cli as cli, fashion_desktop.core.catalog, fashion_desktop.core.engine
        import fashion_desktop.model.bundle, fashion_desktop.model.devices, fashion_desktop.model.fileio
        DROP()
        sys.exit(cli.main(["tag", sys.argv[1], "--model", sys.argv[2], "--out", sys.argv[3]]))
        """,
        str(photos),
        str(model),
        str(locked / "tags.csv"),
    )
    assert res.returncode == EXIT_ERROR, res.stderr
    assert f"{locked / 'tags.csv'}: cannot write in {locked}: permission denied" in res.stderr
    assert "photos to tag" not in res.stderr and "Traceback" not in res.stderr
    assert list(locked.iterdir()) == []


# -- 12. exit codes and signals ----------------------------------------------------------------------------
@pytest.mark.slow
def test_one_exit_code_table_in_every_help_and_the_readme() -> None:
    lines = [line.strip() for line in TABLE.splitlines() if line.strip()]
    assert any(line.startswith("130") and "Ctrl-C" in line for line in lines)
    assert any(line.startswith("143") and "SIGTERM" in line for line in lines)
    table = " ".join(TABLE.split())  # compared word by word: a help formatter may re-indent
    assert table in " ".join((ROOT / "README.md").read_text().split())
    for argv in (["--help"], ["tag", "--help"], ["train", "--help"], ["evaluate", "--help"]):
        res = subprocess.run(
            [sys.executable, "-m", "fashion_desktop", *argv],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        assert table in " ".join(res.stdout.split()), argv


@pytest.mark.slow
def test_ctrl_c_stops_training_with_130_and_sigterm_with_143(tmp_path: Path) -> None:
    from fashion_desktop.model import protocol
    from tests.trainer.trainer_helpers import FAST, make_class_folders

    data = make_class_folders(tmp_path / "d", 8, ("train", "val"), ["red", "green", "blue"])
    for sig, expected in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        run = tmp_path / f"run-{sig.name}"
        argv = [
            "train",
            "--events",
            "--data",
            str(data),
            *FAST,
            "--epochs",
            "40",
            "--set",
            "early_stopping=0",
        ]
        proc = subprocess.Popen(
            [sys.executable, "-m", "fashion_desktop", *argv, "--out", str(run)],
            cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            ev = protocol.decode_line(line, protocol.TRAINING)
            if ev.name == "checkpoint_saved" and ev["kind"] == "last":
                proc.send_signal(sig)
                break
        rest = proc.stdout.read()
        assert proc.wait(timeout=60) == expected, sig.name
        assert '"run_stopped"' in rest and (run / "last.pt").is_file()


def _tagging_child(argv: list[str], tmp: Path, pause_s: float) -> subprocess.Popen:
    """``fashion tag`` in a child whose batches take ``pause_s`` longer (so a signal lands mid-run)."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from fashion_desktop import cli
        from fashion_desktop.core import engine
        real = engine.tag_into_catalog
        def slow(*a, **k):
            for event in real(*a, **k):
                if isinstance(event, engine.BatchResult):
                    time.sleep({pause_s})
                yield event
        engine.tag_into_catalog = slow
        sys.exit(cli.main(sys.argv[1:]))
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script, *argv],
        cwd=tmp,
        env=_env(TMPDIR=str(tmp)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_scores(db_glob: str, folder: Path, timeout: float = 90) -> Path:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for db in folder.glob(db_glob):
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                    if con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] > 0:
                        return db
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    raise AssertionError("no batch was tagged in time")


@pytest.mark.slow
@pytest.mark.parametrize("with_catalog", [False, True])
def test_sigterm_on_tag_cleans_up_like_ctrl_c(
    tmp_path: Path, tiny_bundle_path: Path, with_catalog: bool
) -> None:
    photos = tmp_path / "photos"
    for i in range(24):
        make_photo(photos / f"p{i:02d}.jpg", (40, 40), ("red", "green", "blue")[i % 3])
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    db = tmp_path / "lib.sqlite"
    out = tmp_path / "tags.csv"
    argv = ["tag", str(photos), "--model", str(tiny_bundle_path), "--out", str(out), "--batch-size", "2"]
    proc = _tagging_child([*argv, *(["--catalog", str(db)] if with_catalog else [])], tmp, pause_s=0.5)
    try:
        if with_catalog:
            _wait_for_scores(db.name, tmp_path)
        else:
            _wait_for_scores("fashion-tag-*/catalog.sqlite", tmp)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "fashion: stopped by SIGTERM" in err and "Traceback" not in err
    assert list(tmp.glob("fashion-tag-*")) == [], "the temporary folder was left behind"
    assert not out.exists()
    if with_catalog:
        assert f"the photos tagged so far are kept in {db}" in err
        with sqlite3.connect(db) as con:
            kept = con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
        assert 0 < kept < 24
    else:
        assert "no output was written" in err


@pytest.mark.slow
def test_a_sigterm_during_the_clean_up_still_removes_the_temporary_folder(
    tmp_path: Path, tiny_bundle_path
) -> None:
    script = textwrap.dedent(
        """
        import os, shutil, signal, sys
        real = shutil.rmtree
        def rmtree(path, *a, **k):
            if "fashion-tag-" in str(path):
                os.kill(os.getpid(), signal.SIGTERM)  # e.g. a service manager stopping the job just now
                sum(range(10000))  # a few bytecodes, where Python runs the signal handler
            return real(path, *a, **k)
        shutil.rmtree = rmtree
        from fashion_desktop import cli
        sys.exit(cli.main(sys.argv[1:]))
        """
    )
    make_photo(tmp_path / "photos" / "a.jpg")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "o.csv"
    argv = ["tag", str(tmp_path / "photos"), "--model", str(tiny_bundle_path), "--out", str(out)]
    res = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        env=_env(TMPDIR=str(tmp)),
        timeout=120,
    )
    assert res.returncode == 143 and "Traceback" not in res.stderr, res.stderr
    assert f"fashion: stopped by SIGTERM after writing {out} (complete)" in res.stderr
    assert list(tmp.iterdir()) == [] and len(pd.read_csv(out, encoding="utf-8-sig", comment="#")) == 1


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_torch_still_imports_ends_with_a_message(
    tmp_path: Path, tiny_bundle_path, sig
) -> None:
    # The signal arrives while the tagging engine (and torch) are being imported, a few seconds on a slow disk.
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        # As at a terminal: a shell that starts jobs in the background (CI's, nohup) ignores Ctrl-C in them.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        class SignalOnImport:
            def find_spec(self, name, path=None, target=None):
                if name == "fashion_desktop.core.engine":
                    os.kill(os.getpid(), {int(sig)})
                return None
        sys.meta_path.insert(0, SignalOnImport())
        from fashion_desktop import cli
        sys.exit(cli.main(sys.argv[1:]))
        """
    )
    make_photo(tmp_path / "photos" / "a.jpg")
    argv = [
        "tag",
        str(tmp_path / "photos"),
        "--model",
        str(tiny_bundle_path),
        "--out",
        str(tmp_path / "o.csv"),
    ]
    res = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, env=_env(), timeout=120
    )
    expected = (143, "stopped by SIGTERM") if sig == signal.SIGTERM else (130, "interrupted (Ctrl-C)")
    assert (res.returncode, "Traceback" in res.stderr) == (expected[0], False), res.stderr
    assert f"fashion: {expected[1]}" in res.stderr


def test_a_symlink_loop_alone_is_listed_and_explains_the_partial_exit_code(
    photo_folder, tiny_bundle_path, tmp_path, capsys
) -> None:
    (photo_folder / "sub" / "loop").symlink_to(photo_folder, target_is_directory=True)
    out = tmp_path / "o.csv"
    assert (
        main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out)]) == EXIT_PARTIAL
    )
    err = capsys.readouterr().err
    assert "failed 0" in err
    assert f"{photo_folder / 'sub' / 'loop'}: link to a folder that was already scanned (loop?)" in err
    assert err.rstrip().endswith("partial result (exit code 3): 1 scan problem, listed above")
    assert len(pd.read_csv(out, encoding="utf-8-sig", comment="#")) == 9


def test_heic_is_reported_and_avif_is_tagged(photo_folder, tiny_bundle_path, tmp_path, capsys) -> None:
    """HEIC is read now (issue 21): a damaged one is a failed photo with its reason, a real one is tagged."""
    from PIL import features

    from tests.heic_raw_files import make_heic

    heic = photo_folder / "IMG_0001.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(64))
    real_heic = photo_folder / "red_phone.heic" if shutil.which("heif-enc") else None
    if real_heic is not None:
        make_heic(real_heic, Image.new("RGB", (64, 64), (220, 30, 30)))
    avif_readable = features.check("avif")
    if avif_readable:
        avif = make_photo(photo_folder / "blue_avif.avif", (64, 64), "blue", fmt="AVIF")
    out = tmp_path / "o.csv"
    assert (
        main(["tag", str(photo_folder), "--model", str(tiny_bundle_path), "--out", str(out)]) == EXIT_PARTIAL
    )
    err = capsys.readouterr().err
    assert f"{heic}: not a HEIC photo that can be read (damaged or truncated)" in err
    assert "failed 1" in err and "scan problem" not in err
    df = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False, comment="#")
    assert (
        df[df["path"] == str(heic)]["error"].item()
        == "not a HEIC photo that can be read (damaged or truncated)"
    )
    if real_heic is not None:
        row = df[df["path"] == str(real_heic)]
        assert row["error"].item() == "" and row["tags"].item() == "red"
    if not avif_readable:
        pytest.skip("this Pillow cannot read AVIF (the HEIC part passed)")
    row = df[df["path"] == str(avif)]
    assert len(row) == 1 and row["error"].item() == "" and row["tags"].item() == "blue"
