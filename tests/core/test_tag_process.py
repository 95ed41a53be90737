"""The tagging process and its JSON-lines events: what the app reads from a run it cannot share memory with."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fashion_desktop.core.catalog import Catalog
from fashion_desktop.core.scan import sync_folder
from fashion_desktop.core.tag_process import TagRequest, TagRequestError, child_environment, command
from fashion_desktop.model.protocol import (
    PROTOCOL_VERSION,
    TAGGING,
    Comparison,
    Devices,
    Failure,
    ImageError,
    LineDecoder,
    ModelInfo,
    Notice,
    Progress,
    ProtocolError,
    Summary,
    TagScores,
    Unreadable,
    decode_line,
    encode,
)
from tests.conftest import make_photo


def decode_event(line: str | bytes):
    """The tagging event on ``line``; fails the test on a line that is not one."""
    event = decode_line(line, TAGGING)
    assert not isinstance(event, Unreadable), event
    return event


def test_every_event_survives_the_pipe_exactly() -> None:
    scores = np.random.default_rng(0).random((3, 46), dtype=np.float32)
    events = [
        Progress(10, 100, 52.5, 1.7),
        Progress(0, 100, 0.0, None),
        ImageError(Path("/photos/ümlaut 1.jpg"), "not an image (cannot identify image file)"),
        Notice("Out of memory at batch 64: halved to 32"),
        Summary(5, 2, [(Path("/p/a.jpg"), "empty file")], cancelled=True, seconds=3.25),
        ModelInfo("abc123", ("dress", "skirt"), {"dress": "category"}, (0.4, 0.55)),
        TagScores(np.array([7, 8, 9], np.int64), scores),
        Devices(True, False, ("NVIDIA H200",), "2.14.1"),
        Failure("/m.fmodel: not a model bundle"),
        Comparison(
            12,
            30,
            1,
            (
                {
                    "name": "current",
                    "bundle": "/m/a.fmodel",
                    "groups": {"colour": {"top1_accuracy": 0.75, "images": 12}},
                },
                {"name": "new", "bundle": "/m/b.fmodel", "groups": {}},
            ),
        ),
    ]
    for event in events:
        line = encode(event)
        assert "\n" not in line
        envelope = json.loads(line)
        assert envelope["event"] == event.EVENT and envelope["protocol"] == PROTOCOL_VERSION
        assert isinstance(envelope["time"], float)
        back = decode_event(line.encode("utf-8"))
        if isinstance(event, TagScores):
            assert back.ids.tolist() == [7, 8, 9] and back.scores.dtype == np.float32
            assert np.array_equal(back.scores, scores)  # bit-exact, not rounded decimals
            assert back.scores.tobytes() == scores.tobytes()
        else:
            assert back == event


def _line(event: str, version: int = PROTOCOL_VERSION, **fields) -> bytes:
    return json.dumps({"event": event, "protocol": version, "time": 1.0, **fields}).encode()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"Traceback (most recent call last):", "not JSON"),
        (b'{"type": "notice", "v": 1, "message": "the old envelope"}', "without an event name"),
        (b'["notice"]', "without an event name"),
        (_line("teleport"), "unknown tagging event 'teleport'"),
        (_line("progress", done=1), "bad fields for 'progress'"),
        (_line("scores", ids=[1, 2], shape=[3, 2], data="AAAA"), "bad fields for 'scores'"),
        (_line("scores", ids=[1], shape=[1, 1], data="not base64!"), "bad fields for 'scores'"),
        (b'{"event": "notice", "message": "hi"}', "without a valid protocol version"),
    ],
)
def test_a_line_that_is_not_an_event_is_reported_with_the_reason(line: bytes, problem: str) -> None:
    got = decode_line(line, TAGGING)
    assert isinstance(got, Unreadable) and problem in got.reason
    assert got.line == line.decode()


def test_older_versions_are_read_and_a_newer_one_is_refused_naming_both() -> None:
    assert decode_line(_line("notice", 1, message="from an older child"), TAGGING) == Notice(
        "from an older child"
    )
    with pytest.raises(ProtocolError, match=r"event protocol 3 is newer than this app understands \(2\)"):
        decode_line(_line("notice", PROTOCOL_VERSION + 1, message="hi"), TAGGING)


def test_lines_split_across_reads_are_put_back_together() -> None:
    a, b = encode(Notice("one")).encode(), encode(Notice("two")).encode()
    scores = encode(TagScores(np.array([1], np.int64), np.array([[0.1, 0.7]], np.float32))).encode()
    decoder = LineDecoder(TAGGING)
    assert list(decoder.feed(a[:5])) == []
    assert list(decoder.feed(a[5:] + b"\n" + b[:3])) == [Notice("one")]
    assert list(decoder.feed(b[3:] + b"\n\nstray text\n" + scores[:7])) == [
        Notice("two"),
        Unreadable("stray text", "not JSON (a stray print?)"),
    ]
    for i in range(7, len(scores), 11):  # a long line in many small reads
        assert list(decoder.feed(scores[i : i + 11])) == []
    (last,) = decoder.finish()  # the child ended without a final newline
    assert isinstance(last, TagScores) and last.scores.tolist() == [[np.float32(0.1), np.float32(0.7)]]


def test_a_newer_line_stops_decoding_after_the_events_before_it() -> None:
    decoder = LineDecoder(TAGGING)
    got = []
    with pytest.raises(ProtocolError, match="update the app"):
        for event in decoder.feed(
            encode(Notice("ok")).encode() + b"\n" + _line("notice", 99, message="x") + b"\n"
        ):
            got.append(event)
    assert got == [Notice("ok")]


def _library(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "photos"
    for i in range(n):
        make_photo(folder / f"p{i:03d}.jpg", (48, 40), ("red", "green", "blue")[i % 3])
    cat_path = tmp_path / "lib.ffcat"
    cat = Catalog(cat_path)
    for _ in sync_folder(cat, folder):
        pass
    cat.close()
    return cat_path


def _start(mode: str, job: dict, argv: list[str] | None = None) -> subprocess.Popen:
    """Start the process like the app does and send the job; stdin stays open (closing it = the app died)."""
    program, args = command(mode)
    proc = subprocess.Popen(
        [program, *(args if argv is None else argv)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_environment(),
    )
    proc.stdin.write(json.dumps(job).encode() + b"\n")
    proc.stdin.flush()
    return proc


def _finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, list, str]:
    """Read to the end, wait, close the pipes: exit code, decoded events, stderr."""
    try:
        out = proc.stdout.read()  # until the process exits
        err = proc.stderr.read()
        proc.wait(timeout=timeout)
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
    events = [decode_event(line) for line in out.splitlines() if line.strip()]
    return proc.returncode, events, err.decode("utf-8", "replace")


def _run(mode: str, job: dict, argv: list[str] | None = None) -> tuple[int, list, str]:
    return _finish(_start(mode, job, argv))


@pytest.mark.slow
def test_the_process_tags_the_library_and_reports_every_photo(tmp_path: Path, tiny_bundle_path: Path) -> None:
    cat_path = _library(tmp_path, 7)
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    cat = Catalog(cat_path)
    for _ in sync_folder(cat, tmp_path / "photos"):
        pass
    ids = {r.path: r.id for r in cat.images()}
    cat.close()
    code, events, err = _run(
        "tag", {"catalog": str(cat_path), "bundle": str(tiny_bundle_path), "batch_size": 4}
    )
    assert code == 0, err
    assert isinstance(events[0], Devices) and isinstance(events[1], ModelInfo)
    assert events[1].labels == ("red", "green", "blue")
    scored = {
        int(i): s for e in events if isinstance(e, TagScores) for i, s in zip(e.ids, e.scores, strict=True)
    }
    assert len(scored) == 7
    by_id = {v: k for k, v in ids.items()}
    for image_id, s in scored.items():  # each photo's colour wins, keyed by the catalog's own id
        colour = ("red", "green", "blue")[int(Path(by_id[image_id]).stem[1:]) % 3]
        assert ("red", "green", "blue")[int(np.argmax(s))] == colour
    errors = [e for e in events if isinstance(e, ImageError)]
    assert [e.path.name for e in errors] == ["broken.jpg"] and errors[0].reason
    summary = events[-1]
    assert isinstance(summary, Summary) and summary.tagged == 7 and len(summary.failed) == 1
    assert not summary.cancelled
    cat = Catalog(cat_path)
    try:  # the process wrote the scores itself: the catalog is the source of truth, not the pipe
        stored = cat.scores(events[1].key, list(scored))
        assert all(np.allclose(stored[i], scored[i]) for i in scored)
    finally:
        cat.close()


@pytest.mark.slow
def test_a_bad_bundle_fails_with_a_message_naming_the_file(tmp_path: Path) -> None:
    cat_path = _library(tmp_path, 2)
    bad = tmp_path / "stranger.fmodel"
    bad.write_bytes(b"PK\x03\x04 definitely not a bundle")
    code, events, _err = _run("tag", {"catalog": str(cat_path), "bundle": str(bad)})
    assert code == 2
    failure = events[-1]
    assert isinstance(failure, Failure) and "stranger.fmodel" in failure.message
    assert not any(isinstance(e, TagScores) for e in events)


def test_the_tagging_request_is_typed_on_both_sides_and_the_same_on_the_wire() -> None:
    request = TagRequest("/lib/a.ffcat", "/m/b.fmodel", "cuda", 16, True)
    assert request.to_json() == {
        "catalog": "/lib/a.ffcat",
        "bundle": "/m/b.fmodel",
        "device": "cuda",
        "batch_size": 16,
        "force": True,
    }
    assert TagRequest.from_json(json.loads(json.dumps(request.to_json()))) == request
    # what older callers and the tests send: optional fields left out or null take their defaults
    sparse = TagRequest.from_json({"catalog": "/lib/a.ffcat", "bundle": "/m/b.fmodel", "device": None})
    assert sparse == TagRequest("/lib/a.ffcat", "/m/b.fmodel", "auto", 0, False)
    fill = TagRequest("/lib/a.ffcat", "/m/b.fmodel", fill_embeddings=True)
    assert fill.to_json()["fill_embeddings"] is True and TagRequest.from_json(fill.to_json()) == fill


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (["/lib/a.ffcat"], "must be a JSON object with 'catalog' and 'bundle', not list"),
        ({"bundle": "/m/b.fmodel"}, "needs 'catalog': the path of the library's file, not None"),
        ({"catalog": "/lib/a.ffcat", "bundle": " "}, "needs 'bundle': the path of the model file, not ' '"),
        ({"catalog": "a", "bundle": "b", "device": 3}, "'device' must be text such as 'auto', not 3"),
        ({"catalog": "a", "bundle": "b", "batch_size": "8"}, "'batch_size' must be a whole number"),
        ({"catalog": "a", "bundle": "b", "batch_size": -1}, "0 or more (0: automatic), not -1"),
        ({"catalog": "a", "bundle": "b", "force": "yes"}, "'force' must be true or false, not 'yes'"),
    ],
)
def test_a_bad_tagging_request_names_the_field(job, message) -> None:
    with pytest.raises(TagRequestError, match=re.escape(message)):
        TagRequest.from_json(job)


@pytest.mark.slow
def test_the_process_refuses_a_bad_request_with_a_clear_message(tmp_path: Path) -> None:
    code, events, _err = _run("tag", {"bundle": str(tmp_path / "m.fmodel")})
    assert code == 2 and len(events) == 1 and isinstance(events[0], Failure)
    assert (
        events[0].message == "the tagging request needs 'catalog': the path of the library's file, not None"
    )


@pytest.mark.slow
def test_cancel_stops_after_a_batch_and_keeps_what_was_tagged(tmp_path: Path, tiny_bundle_path: Path) -> None:
    cat_path = _library(tmp_path, 60)
    job = {"catalog": str(cat_path), "bundle": str(tiny_bundle_path), "batch_size": 1}
    proc = _start("tag", job)
    events = []
    for line in proc.stdout:  # cancel once the first photo is scored, as the Cancel button would
        events.append(decode_event(line))
        if isinstance(events[-1], TagScores):
            proc.stdin.write(b"cancel\n")
            proc.stdin.flush()
            break
    code, rest_of_run, err = _finish(proc)
    events += rest_of_run
    assert code == 0, err
    summary = events[-1]
    assert isinstance(summary, Summary) and summary.cancelled and 1 <= summary.tagged < 60
    assert sum(len(e.ids) for e in events if isinstance(e, TagScores)) == summary.tagged
    cat = Catalog(cat_path)
    try:
        assert len(cat.predicted_paths(events[1].key)) == summary.tagged
    finally:
        cat.close()
    # A second run picks up where the cancelled one stopped.
    code, rest, err = _run("tag", job)
    assert code == 0, err
    assert rest[-1].skipped == summary.tagged and rest[-1].tagged == 60 - summary.tagged


@pytest.mark.slow
def test_closing_stdin_cancels_so_a_dead_app_leaves_no_run_behind(
    tmp_path: Path, tiny_bundle_path: Path
) -> None:
    cat_path = _library(tmp_path, 40)
    proc = _start("tag", {"catalog": str(cat_path), "bundle": str(tiny_bundle_path), "batch_size": 1})
    proc.stdin.close()  # what the OS does when the app dies
    code, events, err = _finish(proc)
    assert code == 0, err
    summary = events[-1]
    assert isinstance(summary, Summary) and summary.cancelled


@pytest.mark.slow
def test_probe_reports_what_torch_sees() -> None:
    import torch

    code, events, err = _run("probe", {})
    assert code == 0, err
    (found,) = events
    assert isinstance(found, Devices) and found.torch == torch.__version__
    assert found.cuda == torch.cuda.is_available()


@pytest.mark.slow
def test_a_frozen_app_runs_the_tagging_process_through_its_own_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    program, args = command("tag")
    assert program == sys.executable and args == ["-m", "fashion_desktop.core.tag_process", "tag"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    program, frozen_args = command("probe")
    assert program == sys.executable and frozen_args == ["--tag-process", "probe"]
    with pytest.raises(ValueError):
        command("rm -rf")
    monkeypatch.setattr(sys, "frozen", False)
    # What the frozen executable does with those arguments: the GUI entry point hands over to the
    # tagging process before any window is made.
    code, events, err = _run("probe", {}, argv=["-m", "fashion_desktop.gui.app", *frozen_args])
    assert code == 0, err
    assert len(events) == 1 and isinstance(events[0], Devices)


@pytest.mark.slow
def test_stray_prints_in_the_process_go_to_stderr_not_the_event_stream() -> None:
    # A library that prints (Python print, C-level write to fd 1, a subprocess) while the device check runs.
    script = (
        "import os, subprocess, sys\n"
        "import fashion_desktop.core.tag_process as tp\n"
        "real = tp.probe_devices\n"
        "def noisy():\n"
        "    print('hello from a library')\n"
        "    os.write(1, b'raw bytes on fd 1\\n')\n"
        "    subprocess.run([sys.executable, '-c', 'print(\"from a subprocess\")'])\n"
        "    return real()\n"
        "tp.probe_devices = noisy\n"
        "raise SystemExit(tp.main(['probe']))\n"
    )
    code, events, err = _run("probe", {}, argv=["-c", script])
    assert code == 0, err
    assert len(events) == 1 and isinstance(events[0], Devices)  # _finish decodes every stdout line
    for stray in ("hello from a library", "raw bytes on fd 1", "from a subprocess"):
        assert stray in err


@pytest.mark.slow
def test_an_old_format_bundle_still_tags_in_the_app_with_a_notice(
    tmp_path: Path, tiny_bundle_path: Path
) -> None:
    """A bundle written by an older app (a torch zip) is converted in memory by the child, never read
    by the app itself; the person is told once how to convert it for good."""
    import torch

    from fashion_desktop.model.bundle import load_bundle
    from fashion_desktop.model.protocol import Notice

    old = tmp_path / "old.fmodel"
    raw = load_bundle(tiny_bundle_path).to_dict()
    raw["format_version"] = 1
    torch.save(raw, old)
    cat_path = _library(tmp_path, 4)
    cat = Catalog(cat_path)
    for _ in sync_folder(cat, tmp_path / "photos"):
        pass
    cat.close()
    code, events, err = _run("tag", {"catalog": str(cat_path), "bundle": str(old), "batch_size": 4})
    assert code == 0, err
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("old bundle format" in n and "fashion convert" in n for n in notices), notices
    (model,) = [e for e in events if isinstance(e, ModelInfo)]
    assert events[-1].tagged == 4 and model.key == "tiny-test-model"  # the model id is kept
