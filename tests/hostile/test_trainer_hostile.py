"""Hostile use of ``fashion train``: run folders, resume settings, bad settings, NaN advice, mapping typos."""

from __future__ import annotations

import io
import logging
import re
import shlex
import shutil
from pathlib import Path

import pytest

from fashion_desktop.model import protocol
from tests.trainer.trainer_helpers import FAST, make_class_folders, run_trainer


def _events(text: str) -> list[protocol.TrainEvent]:
    return [
        e for e in protocol.decode_lines(text, protocol.TRAINING) if not isinstance(e, protocol.Unreadable)
    ]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished one-epoch run (data, run folder, the command that made it)."""
    tmp = tmp_path_factory.mktemp("finished")
    data = make_class_folders(tmp / "data", 4, ("train", "val"), ["red", "green"])
    args = ["train", "--data", str(data), *FAST, "--no-pretrained", "--epochs", "1", "--out", str(tmp / "r1")]
    proc = run_trainer(args, tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return tmp, data, args


def _copy_run(finished, dest: Path) -> Path:
    tmp, _data, _args = finished
    shutil.copytree(tmp / "r1", dest)
    return dest


# ---------------------------------------------------------------- item 1: run folders


@pytest.mark.slow
def test_training_again_into_a_finished_run_is_refused_and_changes_nothing(finished, tmp_path):
    run = _copy_run(finished, tmp_path / "r1")
    before = _snapshot(run)
    _tmp, _data, args = finished
    args = [*args[:-1], str(run), "--events"]
    proc = run_trainer(args, tmp_path)
    assert proc.returncode == 1
    message = f"{run} holds a finished run (model.fmodel, 1 epoch); continue it with --resume {run}"
    assert message in proc.stderr and "--overwrite to move the old run aside" in proc.stderr
    assert "Traceback" not in proc.stderr
    events = _events(proc.stdout)
    assert [e.name for e in events] == ["run_failed"] and message in events[0]["message"]
    assert _snapshot(run) == before  # not a byte of the old run changed, the events log included


@pytest.mark.slow
def test_overwrite_moves_the_old_run_aside_and_deletes_nothing(finished, tmp_path):
    run = _copy_run(finished, tmp_path / "r1")
    before = _snapshot(run)
    _tmp, _data, args = finished
    proc = run_trainer([*args[:-1], str(run), "--overwrite"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("r1.old-")]
    assert len(aside) == 1 and _snapshot(aside[0]) == before
    assert f"moved aside to {aside[0]}" in proc.stderr
    assert (run / "model.fmodel").is_file() and (run / "model.fmodel").read_bytes() != before["model.fmodel"]


def test_a_folder_of_other_files_is_never_a_run_folder(tmp_path):
    from fashion_desktop.model.train_config import make_config
    from trainer.engine import run_training

    out = tmp_path / "Documents"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"years of work")
    data = make_class_folders(tmp_path / "data", 2, ("train", "val"), ["red", "green"])
    buf = io.StringIO()
    cfg = make_config({"data": [str(data)], "arch": "cnn", "image_size": 32, "out": str(out)})
    for overwrite in (False, True):
        assert run_training(cfg, events=protocol.EventWriter(buf), overwrite=overwrite) == 1
        failed = _events(buf.getvalue())[-1]
        assert failed.name == "run_failed"
        assert f"{out} already holds other files (thesis.docx) and no training run" in failed["message"]
        assert sorted(p.name for p in out.iterdir()) == ["thesis.docx"]
    assert [p.name for p in tmp_path.iterdir() if ".old-" in p.name] == []


@pytest.mark.slow
def test_the_run_folder_rule_is_one_function_the_app_can_call_without_torch(finished, tmp_path):
    import subprocess
    import sys

    from tests.trainer.trainer_helpers import trainer_env

    run = _copy_run(finished, tmp_path / "r1")
    (tmp_path / "empty").mkdir()
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / "events.jsonl").write_text('{"event": "run_failed", "message": "x"}\n')
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "config.yaml").write_text("db: prod\n")
    (tmp_path / "project" / "main.py").write_text("print()\n")
    code = (
        "import sys; from fashion_desktop.model.run_folder import check_run_folder, run_folder_problem\n"
        "for name in ('r1', 'empty', 'failed', 'project', 'absent'):\n"
        "    s = check_run_folder(name); print(name, s.kind, s.epochs, run_folder_problem(name) is None)\n"
        "print('torch' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=trainer_env(tmp_path), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "r1 finished 1 False",
        "empty empty None True",
        "failed unstarted None True",  # a run that trained nothing may be retried in place
        "project foreign None False",  # a config.yaml among other files is somebody's project
        "absent absent None True",
        "False",
    ]
    assert run.is_dir()


# ---------------------------------------------------------------- item 11: settings given with --resume


@pytest.mark.slow
def test_resume_applies_a_new_learning_rate_and_more_epochs(finished, tmp_path):
    run = _copy_run(finished, tmp_path / "r1")
    proc = run_trainer(
        ["train", "--events", "--resume", str(run), "--epochs", "2", "--lr", "0.0005"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ends = [e for e in _events(proc.stdout) if e.name == "epoch_end"]
    assert [e["epoch"] for e in ends] == [2]
    assert ends[0]["lr"] == pytest.approx(0.0005)  # the head's rate; it was 0.001
    saved = (run / "config.yaml").read_text()
    assert "lr: 0.0005" in saved and "epochs: 2" in saved


@pytest.mark.slow
def test_resume_refuses_settings_that_change_the_model_by_name(finished, tmp_path):
    from fashion_desktop.model.train_config import ConfigError
    from trainer.cli import resolve_train_config

    run = _copy_run(finished, tmp_path / "r1")
    with pytest.raises(
        ConfigError, match=re.escape(f"--resume {run} cannot change arch (was cnn); start a new run")
    ):
        resolve_train_config(["--resume", str(run), "--arch", "resnet50"])
    with pytest.raises(ConfigError, match=re.escape("cannot change image_size (was 32)")):
        resolve_train_config(["--resume", str(run), "--image-size", "64"])
    with pytest.raises(ConfigError, match=re.escape("cannot change loss (was bce)")):
        resolve_train_config(["--resume", str(run), "--set", "loss=focal"])
    # the same values as the run's, and the settings resume applies, are fine
    cfg, resume = resolve_train_config(["--resume", str(run), "--arch", "cnn", "--set", "time_limit_min=5"])
    assert resume and cfg.time_limit_min == 5 and cfg.out == str(run)


@pytest.mark.slow
def test_resume_of_a_finished_run_without_more_epochs_says_how(finished, tmp_path):
    run = _copy_run(finished, tmp_path / "r1")
    before = _snapshot(run)
    proc = run_trainer(["train", "--resume", str(run)], tmp_path)
    assert proc.returncode == 1
    assert f"{run} already finished its 1 epochs; to train it further, pass --epochs above 1" in proc.stderr
    assert _snapshot(run)["model.fmodel"] == before["model.fmodel"]


# ---------------------------------------------------------------- item 10: messages, not tracebacks


@pytest.mark.slow
def test_unknown_architecture_is_one_line_with_the_choices_and_a_run_failed_event(tmp_path):
    data = make_class_folders(tmp_path / "data", 1, (), ["red"])
    proc = run_trainer(["train", "--events", "--data", str(data), "--arch", "nope", "--out", "r"], tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    line = [ln for ln in proc.stderr.splitlines() if "nope" in ln]
    assert len(line) == 1 and "unknown architecture 'nope'" in line[0] and "cnn" in line[0]
    events = _events(proc.stdout)
    assert [e.name for e in events] == ["run_failed"] and "efficientnet_lite0" in events[0]["message"]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--epochs", "abc"], 2, "invalid int value"),  # argparse cannot parse it: a usage error
        (["--set", "loss=nope"], 1, "'loss' must be one of"),  # a bad setting: an ordinary failure
        (["--set", "epoch=3"], 1, "unknown setting 'epoch'"),
        (["--image-size", "4"], 1, "'image_size' must be between 32 and 1024"),
        (["--lr", "0"], 1, "'lr' must be a number above 0"),
    ],
)
def test_every_bad_option_reports_run_failed_on_the_event_stream(tmp_path, capfd, args, code, needle):
    from trainer.cli import train_main

    logger = logging.getLogger("trainer")  # train_main points it at this test's captured stderr
    saved = logger.handlers[:], logger.level, logger.propagate

    rc = train_main(["--events", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "r"), *args])
    out, err = capfd.readouterr()
    logger.handlers[:], logger.level, logger.propagate = saved
    assert rc == code and needle in err and "Traceback" not in err
    events = _events(out)
    assert [e.name for e in events] == ["run_failed"] and needle in events[0]["message"]
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- item 11: trainer guidance


@pytest.mark.slow
def test_nan_loss_advice_names_only_options_fashion_train_accepts(tmp_path, monkeypatch):
    import trainer.engine as engine
    from fashion_desktop.model.train_config import make_config, save_config
    from trainer.cli import resolve_train_config

    data = make_class_folders(tmp_path / "d", 3, ("train", "val"), ["red", "green"])
    monkeypatch.setattr(engine, "masked_bce", lambda logits, y, w=None: logits.sum() * float("nan"))
    buf = io.StringIO()
    cfg = make_config(
        {"data": [str(data)], "arch": "cnn", "image_size": 32, "batch_size": 2, "out": str(tmp_path / "r")}
    )
    assert engine.run_training(cfg, events=protocol.EventWriter(buf)) == 1
    message = _events(buf.getvalue())[-1]["message"]
    assert "diverged" in message
    # every "--option [value]" the advice names, as a person would copy it
    named = re.findall(r"(--[a-z-]+)(?: ([^\s),;]+))?", message)
    assert {n for n, _ in named} >= {"--lr", "--set", "--resume"}
    advice = [tok for name, value in named if name != "--resume" for tok in (name, value)]
    fresh, _ = resolve_train_config(["--data", str(data), *advice])
    assert fresh.precision == "fp32" and fresh.grad_clip == 1 and fresh.lr == pytest.approx(1e-4)
    # ... and --resume applies every one of them to the run that diverged
    save_config(cfg, tmp_path / "r" / "config.yaml")
    resume_args = shlex.split(message[message.index("--resume") :].split(" with them")[0])
    resumed, resume = resolve_train_config([*resume_args, *advice])
    assert resume and resumed.precision == "fp32" and resumed.lr == pytest.approx(1e-4)


def _mapped_data(tmp_path: Path, mapping_rows: str) -> tuple[Path, Path]:
    data = make_class_folders(tmp_path / "data", 2, (), ["red", "green"])
    for cls in ("dress", "hat"):
        shutil.copytree(data / "red", data / cls)
    shutil.rmtree(data / "red")
    shutil.rmtree(data / "green")
    mapping = tmp_path / "mapping.csv"
    mapping.write_text("source,target\n" + mapping_rows)
    return data, mapping


def test_a_mapping_target_a_typo_away_from_a_known_label_is_refused_with_the_closest(tmp_path):
    from trainer.data import DataError, load_dataset

    data, mapping = _mapped_data(tmp_path, "jeans,pants\nsocks,sock\nhat,hat\ndress,dres\n")
    with pytest.raises(DataError) as err:
        load_dataset([str(data)], str(mapping), 0.0, 0.0)
    assert str(err.value).startswith("mapping.csv row 5: 'dres' is not a known label; did you mean 'dress'?")
    assert "allow_new_labels=true" in str(err.value)
    # a deliberate new label (far from every known one) is taken, and named in the notes
    data, mapping = _mapped_data(tmp_path / "b", "dress,evening wear\nhat,hat\n")
    table = load_dataset([str(data)], str(mapping), 0.0, 0.0)
    assert set(table.labels) == {"evening wear", "hat"}
    assert any("new labels" in n and "evening wear" in n for n in table.notes)
    # the typo's spelling on purpose, when asked for
    data, mapping = _mapped_data(tmp_path / "c", "dress,dres\nhat,hat\n")
    table = load_dataset([str(data)], str(mapping), 0.0, 0.0, allow_new_labels=True)
    assert "dres" in table.labels


@pytest.mark.slow
def test_a_mapping_typo_fails_the_run_with_its_message(tmp_path):
    data, mapping = _mapped_data(tmp_path, "dress,dres\nhat,hats\n")
    proc = run_trainer(
        ["train", "--events", "--data", str(data), "--mapping", str(mapping), *FAST, "--out", "r"], tmp_path
    )
    assert proc.returncode == 1
    failed = _events(proc.stdout)[-1]
    assert (
        failed.name == "run_failed"
        and "'dres' is not a known label; did you mean 'dress'?" in failed["message"]
    )


def test_a_mapping_that_matches_no_class_folder_says_so(tmp_path):
    from trainer.data import DataError, read_source

    data, mapping = _mapped_data(tmp_path, "Dresses,dress\nHats,hat\n")
    with pytest.raises(DataError) as err:
        read_source(str(data), str(mapping))
    assert str(err.value) == (
        f"mapping.csv maps none of the 2 class folders of {data} (folders: dress, hat; mapping keys: dresses, hats)"
    )
    excluded = tmp_path / "excl.csv"
    excluded.write_text("source,target\ndress,\nhat,\n")
    with pytest.raises(DataError, match="excl.csv excludes all 2 class folders"):
        read_source(str(data), str(excluded))


def test_nan_loss_advice_does_not_suggest_what_the_run_already_does(tmp_path):
    from fashion_desktop.model.train_config import make_config
    from trainer.engine import _divergence_advice

    cfg = make_config({"lr": 0.01, "precision": "fp32", "grad_clip": 0.5})
    assert _divergence_advice(cfg, tmp_path / "r") == (
        f"Try a lower learning rate (--lr 0.001); --resume {tmp_path / 'r'} with them goes on from the last checkpoint."
    )


def test_a_spreadsheet_columns_mapping_is_checked_the_same_way(tmp_path):
    from tests.trainer.trainer_helpers import write_image
    from trainer.data import DataError, read_source

    for name in ("a", "b"):
        write_image(tmp_path / f"{name}.jpg", (10, 10, 10))
    (tmp_path / "labels.csv").write_text("image,articleType\na.jpg,Dresses\nb.jpg,Hats\n")
    (tmp_path / "art.csv").write_text("articleType,target\nDresses,dres\nHats,hat\n")
    spec = {"path": str(tmp_path / "labels.csv"), "columns": {"category": "articleType"}}
    spec["mappings"] = {"articleType": "art.csv"}
    with pytest.raises(
        DataError, match=re.escape("art.csv row 2: 'dres' is not a known label; did you mean 'dress'?")
    ):
        read_source(spec)
    assert "dres" in read_source(spec, allow_new_labels=True).labels
