"""The run-folder contract: events read through the protocol's decoder, splits.json checked, names once."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from fashion_desktop.model import run_folder
from fashion_desktop.model.protocol import PROTOCOL_VERSION
from fashion_desktop.model.run_folder import (
    EVENTS,
    RUN_FILES,
    SPLITS,
    SplitsError,
    check_run_folder,
    list_runs,
    load_splits,
    read_run,
    read_splits,
    write_splits,
)
from tests.conftest import ROOT


def _event(name: str, version: int = PROTOCOL_VERSION, **fields) -> str:
    return json.dumps({"event": name, "protocol": version, "time": fields.pop("time", 1000.0), **fields})


def test_events_of_a_newer_protocol_are_refused_with_a_message_naming_the_file(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "future"
    run.mkdir(parents=True)
    lines = [
        _event("run_started", config={"arch": "cnn", "epochs": 3}),
        _event("epoch_end", epoch=1, val_f1_micro=0.4, val_f1_macro=0.3),
        _event("epoch_end", PROTOCOL_VERSION + 1, epoch=2, val_f1_micro=0.9, val_f1_macro=0.9),
        _event("run_finished", bundle="x"),
    ]
    (run / EVENTS).write_text("\n".join(lines) + "\n")
    (run / run_folder.LAST).write_bytes(b"")
    record = read_run(run)
    expected = f"event protocol {PROTOCOL_VERSION + 1} is newer than this app understands"
    assert str(run / EVENTS) in record.info.message and expected in record.info.message
    assert record.info.state != "finished"  # its end was not read
    assert [r.epoch for r in record.epochs] == [1] and record.info.best_f1_macro == 0.3
    assert list_runs(tmp_path / "runs")[0].message == record.info.message
    assert check_run_folder(run).epochs == 1


def test_lines_the_decoder_cannot_use_are_counted_not_read(tmp_path: Path) -> None:
    (tmp_path / EVENTS).write_text(
        "\n".join(
            [
                _event("run_started", config={"arch": "cnn"}),
                json.dumps({"event": "epoch_end", "protocol": PROTOCOL_VERSION, "epoch": "one"}),
                json.dumps({"event": "run_failed", "message": "no protocol version"}),
                _event("epoch_end", 1, epoch=1, val_f1_macro=0.5),  # protocol 1 is still read
            ]
        )
    )
    record = read_run(tmp_path)
    assert record.skipped_lines == 2 and [r.epoch for r in record.epochs] == [1]
    assert record.info.state != "failed" and record.info.message == ""


def test_splits_json_is_read_only_in_its_format(tmp_path: Path) -> None:
    write_splits(tmp_path, {"train": [tmp_path / "a.jpg"], "val": []})
    assert load_splits(tmp_path / SPLITS) == {"train": [str(tmp_path / "a.jpg")], "val": []}
    (tmp_path / SPLITS).write_text(json.dumps({"format": "other", "splits": {"train": ["a.jpg"]}}))
    with pytest.raises(SplitsError, match=r"splits\.json: .*not a 'fashion-run-splits' file"):
        load_splits(tmp_path / SPLITS)
    assert read_splits(tmp_path) is None
    (tmp_path / SPLITS).write_text("[1, 2]")
    with pytest.raises(SplitsError, match=str(tmp_path / SPLITS).replace("\\", "\\\\")):
        load_splits(tmp_path / SPLITS)
    with pytest.raises(SplitsError, match="cannot read which photos"):
        load_splits(tmp_path / "absent.json")


def test_no_run_folder_file_name_is_spelled_outside_the_contract() -> None:
    names = {n for n in RUN_FILES if "." in n}  # "cache" is also an everyday word for other folders
    contract = Path(run_folder.__file__).resolve()
    found = []
    for top in ("fashion_desktop", "trainer"):
        for path in (ROOT / top).rglob("*.py"):
            if path.resolve() == contract:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert found == []


def test_a_runs_f1_is_the_epoch_its_model_comes_from(tmp_path: Path) -> None:
    """The trainer's choice (metrics.json's best_epoch, else the epochs it marked improved), not the highest
    F1 macro: a run that selects on balanced accuracy keeps an epoch with a lower one."""
    run = tmp_path / "runs" / "balanced"
    run.mkdir(parents=True)
    rows = [(1, 0.30, True), (2, 0.361, True), (3, 0.40, False)]
    lines = [_event("run_started", config={"arch": "cnn", "epochs": 3})]
    lines += [_event("epoch_end", epoch=e, val_f1_micro=0.5, val_f1_macro=f, improved=i) for e, f, i in rows]
    (run / EVENTS).write_text("\n".join(lines) + "\n")
    assert read_run(run).info.best_f1_macro == 0.361  # the last improved epoch
    (run / run_folder.METRICS).write_text(json.dumps({"best_epoch": 1, "history": []}))
    assert read_run(run).info.best_f1_macro == list_runs(tmp_path / "runs")[0].best_f1_macro == 0.30
    assert run_folder.chosen_epoch(
        [{"epoch": 1, "val_f1_macro": 0.2}, {"epoch": 2, "val_f1_macro": 0.5}]
    ) == {
        "epoch": 2,
        "val_f1_macro": 0.5,
    }  # trainers from before "improved": the highest F1 macro
    assert run_folder.score_text(0.36149) == "0.361" and run_folder.score_text(None) == "–"
