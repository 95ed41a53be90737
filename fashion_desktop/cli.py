"""The ``fashion`` command line: tag folders, merge sharded outputs, inspect and create models, export."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from fashion_desktop.cli_adapt import add_adapt_parser
from fashion_desktop.cli_import import add_import_parser
from fashion_desktop.cli_keywords import add_write_keywords_parser
from fashion_desktop.cli_similar import add_similar_parser
from fashion_desktop.model import exit_codes
from fashion_desktop.model.progress_text import TerminalBar, bar_text, format_duration

EXIT_OK = exit_codes.OK
EXIT_ERROR = exit_codes.ERROR
EXIT_USAGE = exit_codes.USAGE
EXIT_PARTIAL = exit_codes.PARTIAL
EXIT_INTERRUPTED = exit_codes.INTERRUPTED
EXIT_TERMINATED = exit_codes.TERMINATED
EXIT_READER_GONE = exit_codes.READER_GONE

EPILOG = (
    exit_codes.TABLE
    + """
MODEL is a model bundle file (.fmodel) or the word 'default' for the model shipped with the app.
A bundle of the old format (torch zip) is converted in memory; 'fashion convert OLD NEW' converts it once.
'fashion train ...' and 'fashion evaluate ...' run the trainer (see 'fashion train --help'): a progress bar
and a summary table, or JSON events on stdout with --events.
"""
)


class UserError(Exception):
    """A problem with what the user asked for; printed as one clear message, exit code 1."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwinds like Ctrl-C (temporary folder removed, catalog closed), exit code 143."""


# -- small helpers --------------------------------------------------------------------------------
def _err(msg: str) -> None:
    print(f"fashion: {msg}", file=sys.stderr)


def _load_model(spec: str) -> Any:
    """Load MODEL (a path or 'default'; an old-format file is converted in memory); raise UserError otherwise."""
    from fashion_desktop.model.bundle import BundleError, load_bundle_converting
    from fashion_desktop.model.resources import model_file

    path = model_file(spec)
    if path is None:
        raise UserError("no default model is bundled with this build yet; pass --model PATH")
    try:
        return load_bundle_converting(path, lambda text: _err(f"note: {text}"))
    except BundleError as exc:
        raise UserError(str(exc)) from None


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N; raises argparse.ArgumentTypeError otherwise."""
    try:
        i_text, n_text = text.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard {text!r} must look like I/N, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"shard {text!r}: need 0 <= I < N")
    return i, n


def shard_paths(paths: Sequence[str], index: int, count: int) -> list[str]:
    """This shard's part of ``paths``: every count-th of the sorted list, starting at ``index``.

    Deterministic for a given set of files, so processes on several machines split a folder
    without talking to each other; striding keeps the shards even when sub-folders differ in size.
    """
    return sorted(paths)[index::count]


def _env_shard() -> tuple[int, int] | None:
    """(rank, world size) when started by torchrun with more than one process."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        return None
    return (rank, world) if world > 1 and 0 <= rank < world else None


def _torchrun_device(device: str) -> str:
    """Under torchrun, 'auto'/'cuda' means this process's own GPU (LOCAL_RANK)."""
    local = os.environ.get("LOCAL_RANK")
    if local is None or not local.isdigit() or device not in ("auto", "cuda"):
        return device
    import torch

    if not torch.cuda.is_available():
        return device
    return f"cuda:{int(local) % torch.cuda.device_count()}"


def _check_output(path: Path, catalog: str | None = None, inputs: Sequence[str] = ()) -> None:
    """Refuse, before any work, an output that cannot or must not be written; raise UserError.

    The output must be a .csv/.xlsx file name in a folder where a file can be created (a probe file
    is made and removed), not a read-only file, not the catalog (or its -wal/-shm/-journal files),
    not one of ``inputs``, and not an existing photo or database given a table's name by mistake.
    """
    from fashion_desktop.model.fileio import WriteError, check_not_protected, os_reason

    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise UserError(f"{path}: the output must end in .csv or .xlsx")
    if path.is_dir():
        raise UserError(f"{path}: the output is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"{path}: {_missing_folder_reason(folder)}")
    _refuse_own_files(path, catalog, inputs)
    try:
        check_not_protected(path)
    except WriteError as exc:
        raise UserError(str(exc)) from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".fashion-probe-", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        # No file is open yet: os_reason's hint about a file open in Excel does not apply to a folder.
        reason = (
            "permission denied (no new files may be made there)" if isinstance(exc, PermissionError) else None
        )
        raise UserError(f"{path}: cannot write in {folder}: {reason or os_reason(exc)}") from None


def _missing_folder_reason(folder: Path) -> str:
    """Why ``folder`` cannot hold an output: a part of it that is a file, a loop of links, or not there."""
    import errno

    for part in [*reversed(folder.parents), folder]:
        try:
            os.stat(part)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"{part} is a loop of symbolic links (each points at another); no folder there"
            if exc.errno == errno.ENOTDIR:
                break
            if isinstance(exc, FileNotFoundError):
                return f"the folder {folder} does not exist" + (
                    f" ({part} is not there)" if part != folder else ""
                )
            return f"the folder {folder} cannot be reached ({exc.strerror or exc})"
        if not part.is_dir():
            return f"{part} is a file, not a folder; the output cannot go inside it"
    return f"the folder {folder} does not exist"


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same resolved path, or (both existing) samefile."""
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _refuse_own_files(out: Path, catalog: str | None, inputs: Sequence[str]) -> None:
    """UserError when writing ``out`` would replace the catalog, an input, a photo or a database."""
    if catalog:
        db = Path(catalog)
        for suffix in ("", "-wal", "-shm", "-journal"):
            if _same_file(out, db.with_name(db.name + suffix)):
                what = f"the catalog {catalog}" + (f" (its {suffix[1:]} file)" if suffix else "")
                raise UserError(
                    f"{out}: this is {what}; writing the table there would destroy it; choose another --out"
                )
    for item in inputs:
        if _same_file(out, Path(item)):
            raise UserError(
                f"{out}: this is one of the inputs ({item}); choose another --out (inputs are kept)"
            )
    if not out.is_file():
        return
    try:
        with open(out, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError:
        return  # unreadable: the write itself will say why
    if head == _SQLITE_MAGIC:
        raise UserError(
            f"{out}: this file is a database (a catalog?), not a table; choose another --out (it is kept)"
        )
    from fashion_desktop.model.images import is_photo

    if is_photo(out):
        raise UserError(f"{out}: this file is a photo, not a table; choose another --out (it is kept)")


class ProgressBar(TerminalBar):
    """The tagging bar on a terminal; occasional plain lines when the stream is a file or pipe."""

    def __init__(self, stream: IO[str], every_s: float = 15.0, width: int = 28) -> None:
        super().__init__(stream, every_s=every_s)
        self.width = width

    def update(self, done: int, total: int, rate: float, eta: float | None) -> None:
        text = f"{done}/{total} photos  {rate:.1f} img/s  ETA {format_duration(eta, clock=True)}"
        if self.tty:
            frac = done / total if total else 1.0
            self.show(f"{bar_text(frac, self.width)} {frac * 100:3.0f}%  {text}")
        elif not (done == 0 and total):  # a log line saying nothing happened yet is noise
            self.show(f"tagging: {text}", force=done >= total)

    def close(self, keep: bool = True) -> None:
        super().close(keep)

    def message(self, text: str) -> None:
        self.close()
        self.stream.write(text + "\n")
        self.stream.flush()


# -- fashion tag ----------------------------------------------------------------------------------
def cmd_tag(args: argparse.Namespace) -> int:
    """Scan FOLDERs, score their photos (resuming with --catalog), write one row per photo to --out."""
    from fashion_desktop.core.catalog import Catalog, CatalogWriteError
    from fashion_desktop.core.engine import ModelRunner, ScoreOptions

    out, shard = _tag_output(args)
    for folder in args.folders:
        if not Path(folder).is_dir():
            what = "is not a folder" if Path(folder).exists() else "folder not found"
            raise UserError(f"{folder}: {what}")
    bundle = _load_model(args.model)
    _check_fits(out, bundle, args)
    options = ScoreOptions(
        device=_torchrun_device(args.device),
        batch_size=args.batch_size,
        precision=args.precision,
        progress_interval_s=0.2 if sys.stderr.isatty() else 1.0,
    )
    runner = ModelRunner(bundle, options)  # fails fast on an absent device, before any scanning

    tmp = tempfile.mkdtemp(prefix="fashion-tag-")
    catalog = None
    keep = False  # the temporary catalog holds scores no file has yet: keep it when writing them fails
    try:
        catalog = _open_catalog(Path(args.catalog)) if args.catalog else Catalog(Path(tmp) / "catalog.sqlite")
        paths, scan_problems = _scan_folders(catalog, args.folders)
        todo = shard_paths(paths, *shard) if shard else sorted(paths)
        where = f" (shard {shard[0]}/{shard[1]})" if shard else ""
        print(f"{len(todo)} photos to tag{where} with {bundle.name} on {runner.describe()}", file=sys.stderr)
        summary = _tag_with_progress(catalog, todo, runner, options, args.force, args.verbose)
        try:
            rows = _write_tag_table(catalog, bundle.model_id, todo, summary, args, out)
        except UserError as exc:
            if args.catalog:
                raise
            keep = True
            kept = Path(tmp) / "catalog.sqlite"
            raise UserError(
                f"{exc}\nThe scores of the {summary.tagged} photos tagged are kept in {kept}: "
                f"fashion export --catalog {shlex.quote(str(kept))} --out FILE.csv writes them"
            ) from None
        args.written = out  # a signal from here on stops only the clean-up: say the output is whole
    except CatalogWriteError as exc:
        if args.catalog:
            raise
        # The scores live in a temporary catalog that goes with this run: say where the disk filled.
        raise UserError(
            f"{tmp}: {exc.reason} (the temporary folder that holds the scores until {out} is "
            "written); pass --catalog FILE on another disk to keep scores as they are made"
        ) from None
    finally:
        with _signals_deferred():  # a Ctrl-C or SIGTERM now must not leave the temporary folder behind
            if catalog is not None:
                catalog.close()
            if not keep:
                shutil.rmtree(tmp, ignore_errors=True)

    _print_summary(summary, scan_problems, out, rows)
    return EXIT_PARTIAL if summary.failed or scan_problems else EXIT_OK


def _check_fits(out: Path, bundle: Any, args: argparse.Namespace) -> None:
    """Refuse, before tagging, an Excel output the model's columns cannot fit in."""
    from fashion_desktop.core.export import ExportColumns, column_count
    from fashion_desktop.core.spreadsheet import XLSX_MAX_COLUMNS, xlsx_columns_problem

    if out.suffix.lower() not in (".xlsx", ".xlsm"):
        return
    n = column_count(
        bundle.labels, bundle.groups, ExportColumns(groups=True, scores=not args.no_scores), extra=1
    )
    if n > XLSX_MAX_COLUMNS:
        raise UserError(f"{xlsx_columns_problem(out, n)}; nothing was tagged")


def _open_catalog(path: Path) -> Any:
    """The catalog at ``path`` for writing, saying so when an upgrade kept a copy of the old file."""
    from fashion_desktop.core.catalog import Catalog

    catalog = Catalog(path)
    if catalog.backup_path is not None:
        _err(f"note: {path} was upgraded to this version; the old file is kept as {catalog.backup_path}")
    return catalog


def _tag_output(args: argparse.Namespace) -> tuple[Path, tuple[int, int] | None]:
    """The output file and shard of this process (torchrun processes each get their own file)."""
    out = Path(args.out)
    shard = args.shard
    env_shard = _env_shard() if shard is None else None
    if env_shard is not None:
        shard = env_shard
        # Every torchrun process gets the same command line: give each its own output file.
        out = out.with_name(f"{out.stem}.shard-{shard[0]}-of-{shard[1]}{out.suffix}")
    _check_output(out, catalog=args.catalog)
    return out, shard


def _scan_folders(catalog: Any, folders: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Sync each folder into the catalog; the photos found in them and the scan's problems."""
    from fashion_desktop.core.catalog import CatalogWriteError, write_reason
    from fashion_desktop.core.scan import folder_name_problem, sync_folder

    problems: list[tuple[str, str]] = []
    paths: set[str] = set()
    for folder in folders:
        bad_name = folder_name_problem(os.path.abspath(folder))
        if bad_name:  # listed like any photo that cannot be read; the other folders are tagged
            problems.append(tuple(bad_name.split(": ", 1)))
            continue
        try:
            for progress in sync_folder(catalog, folder):
                if progress.done:
                    problems += [(str(p.path), p.reason) for p in progress.problems]
        except sqlite3.OperationalError as exc:
            reason = write_reason(exc)
            raise CatalogWriteError(
                f"{catalog.path}: {reason} while scanning {folder}; no photo was tagged in this run and "
                "nothing in the catalog was lost",
                reason,
            ) from None
        paths.update(r.path for r in catalog.images(folder=folder))
    return list(paths), problems


def _tag_with_progress(
    catalog: Any, todo: Sequence[str], runner: Any, options: Any, force: bool, verbose: bool
) -> Any:
    """Tag ``todo`` into the catalog with a progress bar on stderr; the run's Summary."""
    from fashion_desktop.core.engine import ImageError, Notice, Progress, Summary, tag_into_catalog

    bar = ProgressBar(sys.stderr)
    summary: Summary | None = None
    for event in tag_into_catalog(catalog, todo, runner, options, force=force):
        if isinstance(event, Progress):
            bar.update(event.done, event.total, event.img_per_s, event.eta_s)
        elif isinstance(event, Notice):
            bar.message(f"note: {event.message}")
        elif isinstance(event, ImageError) and verbose:
            bar.message(f"cannot read {event.path}: {event.reason}")
        elif isinstance(event, Summary):
            summary = event
    bar.close()
    assert summary is not None
    return summary


def _write_tag_table(
    catalog: Any, model_key: str, todo: Sequence[str], summary: Any, args: argparse.Namespace, out: Path
) -> int:
    """Write one row per photo of ``todo`` (final tags by the tag rule, an error column); the row count."""
    from fashion_desktop.core.export import ERROR_COLUMN, ExportColumns, export_table
    from fashion_desktop.core.spreadsheet import ExportError, write_table
    from fashion_desktop.core.thresholds import ThresholdPolicy

    policy = ThresholdPolicy(
        global_threshold=args.threshold, top_k=args.top_k, at_least_one=args.at_least_one
    )
    ids = catalog.ensure_images(todo)
    df = export_table(
        catalog,
        model_key,
        policy,
        list(ids.values()),
        columns=ExportColumns(groups=True, scores=not args.no_scores),
        adapter=False,  # what the model says of the photos just tagged; `fashion export` follows the adapter
    )
    errors = {str(p): reason for p, reason in summary.failed}
    first_score = next((i for i, c in enumerate(df.columns) if str(c).startswith("score:")), len(df.columns))
    df.insert(first_score, ERROR_COLUMN, [errors.get(p, "") for p in df["path"]])
    try:
        write_table(df, out, about=_tag_about(catalog, model_key, args))
    except ExportError as exc:
        raise UserError(str(exc)) from None
    return len(df)


MODEL_ID_FIELD = "Model id"  # what `fashion merge` compares across parts


def _tag_about(catalog: Any, model_key: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    """What produced a tag output (its header lines / About sheet): the model above all, so parts tagged by
    different models are never merged."""
    from datetime import datetime

    from fashion_desktop import __version__

    record = catalog.model(model_key)
    about = [
        ("Tagged", datetime.now().astimezone().isoformat(timespec="seconds")),
        ("App", f"Fashion Finder {__version__}"),
        ("Model", record.name if record is not None and record.name else model_key),
        (MODEL_ID_FIELD, model_key),
        ("Global threshold", "the model's own" if args.threshold is None else f"{args.threshold:g}"),
    ]
    return about


def _print_summary(summary: Any, scan_problems: list[tuple[str, str]], out: Path, rows: int) -> None:
    lines = [
        f"tagged {summary.tagged}, skipped {summary.skipped} (already in the catalog), "
        f"failed {len(summary.failed)} in {summary.seconds:.1f} s",
    ]
    if summary.failed:
        lines.append("photos that could not be read:")
        lines += [f"  {p}: {reason}" for p, reason in summary.failed]
    if scan_problems:
        lines.append("problems while scanning (photos there were not tagged, or may have been missed):")
        lines += [f"  {p}: {reason}" for p, reason in scan_problems]
    lines.append(f"wrote {out} ({rows} rows)")
    if summary.failed or scan_problems:
        what = [
            f"{n} {noun}{'s' if n != 1 else ''}"
            for n, noun in ((len(summary.failed), "unreadable photo"), (len(scan_problems), "scan problem"))
            if n
        ]
        lines.append(f"partial result (exit code {EXIT_PARTIAL}): {' and '.join(what)}, listed above")
    print("\n".join(lines), file=sys.stderr)


# -- fashion merge --------------------------------------------------------------------------------
def _merge_models(parts: Sequence[str]) -> dict[str, list[str]]:
    """Model id -> the parts tagged with it. Refuses parts tagged by different models (they may share
    labels, so the columns alone cannot tell), naming them; parts without a model id (older outputs) pass."""
    from fashion_desktop.core.spreadsheet import read_about

    models: dict[str, list[str]] = {}
    for part in parts:
        model = read_about(part).get(MODEL_ID_FIELD)
        if model:
            models.setdefault(model, []).append(str(part))
    if len(models) > 1:
        listed = "; ".join(f"{', '.join(p[:3])}: model {m}" for m, p in models.items())
        raise UserError(
            f"the parts were tagged by different models ({listed}); merge parts of one model only"
        )
    return models


def cmd_merge(args: argparse.Namespace) -> int:
    import pandas as pd

    from fashion_desktop.core.export import PATH_COLUMN, SCORE_PREFIX
    from fashion_desktop.core.spreadsheet import ExportError, read_table, write_table

    out = Path(args.out)
    _check_output(out, inputs=args.parts)
    frames = []
    columns: list[str] | None = None
    first = None
    models = _merge_models(args.parts)
    for part in args.parts:
        try:
            df = read_table(part, required=(PATH_COLUMN,))
        except ExportError as exc:
            raise UserError(str(exc)) from None
        cols = [str(c) for c in df.columns]
        if columns is None:
            columns, first = cols, part
        elif cols != columns:
            missing = [c for c in columns if c not in cols]
            extra = [c for c in cols if c not in columns]
            detail = (
                f"missing {missing[:5]}, extra {extra[:5]}"
                if missing or extra
                else "same columns, other order"
            )
            raise UserError(
                f"{part}: its columns do not match {first} ({detail}); "
                "were the parts tagged with the same model and options?"
            )
        frames.append(df)
    merged = pd.concat(frames, ignore_index=True)
    for col in merged.columns:
        if str(col).startswith(SCORE_PREFIX):
            merged[col] = pd.to_numeric(merged[col].replace("", None), errors="coerce")
    merged = merged.drop_duplicates(subset=PATH_COLUMN, keep="first").sort_values(PATH_COLUMN, kind="stable")
    about = [(MODEL_ID_FIELD, next(iter(models)))] if len(models) == 1 else []
    about.append(("Merged from", f"{len(args.parts)} parts"))
    try:
        write_table(merged.reset_index(drop=True), out, about=about)
    except ExportError as exc:
        raise UserError(str(exc)) from None
    print(f"merged {len(args.parts)} parts into {out} ({len(merged)} rows)", file=sys.stderr)
    return EXIT_OK


# -- fashion inspect ------------------------------------------------------------------------------
def bundle_info(bundle: Any) -> dict[str, Any]:
    """What a person wants to know about a bundle, as plain data (no weights)."""
    from fashion_desktop.model.badge import badge_of

    n_params = sum(int(v.numel()) for v in bundle.state_dict.values() if hasattr(v, "numel"))
    return {
        "file": str(bundle.path) if bundle.path else None,
        "name": bundle.name,
        "model_id": bundle.model_id,
        "arch": bundle.arch,
        "parameters": n_params,
        "input_size": bundle.input_size,
        "resize": bundle.resize,
        "mean": list(bundle.mean),
        "std": list(bundle.std),
        "labels": [
            {"label": lab, "group": bundle.groups.get(lab), "threshold": thr}
            for lab, thr in zip(bundle.labels, bundle.thresholds, strict=True)
        ],
        "exclusive_groups": list(bundle.exclusive_groups),
        "at_least_one_groups": list(bundle.at_least_one_groups),
        "metrics": dict(bundle.metrics),
        "provenance": dict(bundle.provenance),
        "evaluation": (
            {"split": bundle.evaluation.get("split"), "images": len(bundle.evaluation.get("scores", []))}
            if bundle.evaluation
            else None
        ),
        "badge": badge_of(
            bundle.badge,
            bundle.evaluation,
            bundle.thresholds,
            bundle.labels,
            bundle.groups,
            bundle.exclusive_columns(),
            bundle.at_least_one_columns(),
        ),
    }


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def cmd_inspect(args: argparse.Namespace) -> int:
    bundle = _load_model(args.model)
    info = _plain(bundle_info(bundle))
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"file:          {info['file']}")
    print(f"name:          {info['name']}  (id {info['model_id']})")
    print(f"architecture:  {info['arch']}  ({info['parameters'] / 1e6:.2f} M parameters)")
    print(f"input:         {info['input_size']} x {info['input_size']} px, resize '{info['resize']}'")
    print(f"normalisation: mean {_fmt_floats(info['mean'])}  std {_fmt_floats(info['std'])}")
    groups = bundle.group_names()
    print(f"labels:        {len(bundle.labels)}" + (f" in groups: {', '.join(groups)}" if groups else ""))
    exclusive = set(bundle.exclusive_groups)
    shown: set[str] = set()
    for item in info["labels"]:
        g = item["group"]
        if g in exclusive:  # one value per photo: one floor for the group
            if g not in shown:
                shown.add(g)
                values = [i["label"] for i in info["labels"] if i["group"] == g]
                print(f"  {item['threshold']:.2f}  [{g}] one value per photo (its top score, at this floor): "
                      + ", ".join(values))  # fmt: skip
            continue
        group = f"[{g}] " if g else ""
        print(f"  {item['threshold']:.2f}  {group}{item['label']}")
    for g in bundle.at_least_one_groups:
        print(f"at least one:  {g} (a photo on which no {g} passes gets its most likely {g})")
    from fashion_desktop.model.badge import badge_line

    print(f"badge:         {badge_line(info['badge'])}")
    _print_mapping("metrics", info["metrics"])
    provenance = dict(info["provenance"])
    card = provenance.pop("card", None)
    if isinstance(card, dict):  # a shipped model's card: what it is, its data and licences, its limits
        print("card:")
        for key, value in card.items():
            if key == "held_out_top1" and isinstance(value, dict):
                for source, groups in value.items():
                    figures = ", ".join(f"{g} {v:.3f}" for g, v in dict(groups).items())
                    print(f"  held-out top-1, {source}: {figures}")
            else:
                print(f"  {key.replace('_', ' ')}: {value}")
    _print_mapping("provenance", provenance)
    if info["evaluation"]:
        ev = info["evaluation"]
        print(f"evaluation:    stored scores of {ev['images']} images ({ev['split']} split)")
    return EXIT_OK


def _fmt_floats(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"


def _print_mapping(title: str, data: dict[str, Any]) -> None:
    if not data:
        print(f"{title + ':':14} none")
        return
    print(f"{title}:")
    for key, value in data.items():
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
        if len(text) > 200:
            text = text[:197] + "..."
        print(f"  {key}: {text}")


# -- fashion export -------------------------------------------------------------------------------
def final_tags_choice(catalog: Any, db: Path, args: argparse.Namespace) -> tuple[str | None, Any]:
    """The model (``--model``, else the catalog's only one) and threshold policy (the options, else the view
    the app saved in the library) whose final tags export and write-keywords write; raise UserError."""
    from fashion_desktop.core.thresholds import ThresholdPolicy

    key = args.model
    models = catalog.models()
    if key is None and len(models) == 1:
        key = models[0].key
    elif key is None and len(models) > 1:
        raise UserError(
            f"{db} holds predictions of several models; choose one with --model: "
            + ", ".join(m.key for m in models)
        )
    elif key is not None and catalog.model(key) is None:
        known = ", ".join(m.key for m in models) or "none"
        raise UserError(f"{db}: no model {key!r} in this catalog (known: {known})")
    policy = ThresholdPolicy(
        global_threshold=args.threshold, top_k=args.top_k, at_least_one=args.at_least_one
    )
    saved = catalog.view_state(key) if key is not None else None
    if saved is not None and policy == ThresholdPolicy():
        # No threshold option given: the view the app saved in the library, as the app exports it.
        policy = saved
        print(f"using the thresholds saved in {db.name} for {key}", file=sys.stderr)
    return key, policy


def cmd_export(args: argparse.Namespace) -> int:
    from fashion_desktop import __version__
    from fashion_desktop.core.catalog import Catalog, CatalogError
    from fashion_desktop.core.export import ExportColumns, export_file, score_source, two_value_photos
    from fashion_desktop.core.spreadsheet import ExportError

    db = Path(args.catalog)
    if not db.is_file():
        raise UserError(f"{db}: catalog not found")
    _check_output(Path(args.out), catalog=args.catalog)
    try:
        # Read-only: an export never writes to (or upgrades) the person's library.
        catalog = Catalog(db, read_only=True)
    except CatalogError as exc:
        raise UserError(str(exc)) from None
    try:
        key, policy = final_tags_choice(catalog, db, args)
        columns = ExportColumns(groups=True, scores=args.scores, review=True, split=True, files=True)
        try:
            # The model's own thresholds are the catalog's record of them (core.tags.default_thresholds).
            rows = export_file(
                catalog, args.out, key, policy, layout=args.layout, columns=columns, app_version=__version__,
                adapter=not args.no_adapter,
            )  # fmt: skip
        except ExportError as exc:
            raise UserError(str(exc)) from None
        clashes = two_value_photos(catalog, key)
        if key is not None:
            print(f"scores: {score_source(catalog, key, not args.no_adapter).note}", file=sys.stderr)
    finally:
        catalog.close()
    print(f"wrote {args.out} ({rows} rows)", file=sys.stderr)
    if clashes:
        shown = ", ".join(f"{Path(p).name} ({what})" for p, what in clashes[:5])
        more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        print(
            f"warning: {len(clashes)} photos have two values you set in a one-value group, exported as set: "
            f"{shown}{more}; fix them in the app (review filter: Two values in a one-value group)",
            file=sys.stderr,
        )
    return EXIT_OK


# -- fashion relink -------------------------------------------------------------------------------
SHOWN_PATHS = 20  # a command lists this many paths of a long list; a file beside the catalog holds them all


def _list_file(beside: Path, what: str, paths: Sequence[str]) -> Path | None:
    """Save ``paths`` (one a line) as ``<beside>.<what>-<time>.txt``, a new file never replacing one; None
    when it cannot be written."""
    from datetime import datetime

    from fashion_desktop.model.fileio import exclusive_temp, place_new

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = beside.with_name(f"{beside.name}.{what}-{stamp}")
    tmp = None
    try:
        tmp = exclusive_temp(beside.parent, base.name)
        tmp.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8", errors="surrogateescape")
        return place_new(
            tmp, (base.with_name(f"{base.name}{'' if n == 1 else f'-{n}'}.txt") for n in range(1, 100))
        )
    except OSError:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        return None


def cmd_relink(args: argparse.Namespace) -> int:
    """Point the catalog's photos of a moved folder at its new place, keeping every decision and score."""
    from fashion_desktop.core.relink import relink_folder

    db = Path(args.catalog)
    if not db.is_file():
        raise UserError(f"{db}: catalog not found")
    catalog = _open_catalog(db)
    try:
        report = relink_folder(catalog, args.old, args.new)
    finally:
        catalog.close()
    total = report.moved + len(report.not_found)
    how = f"{report.by_content} by content, {report.by_name} by name and size"
    if report.changed:
        how += f", {report.changed} by name with changed content (scores dropped, decisions kept to confirm)"
    lines = [
        f"relinked {report.moved} of {total} photos from {report.old_folder} to {report.new_folder} ({how})"
    ]
    if report.merged:
        lines.append(f"merged {report.merged} photos that a scan of {report.new_folder} had already added")
    if report.not_found:
        lines.append(
            f"{len(report.not_found):,} not found in {report.new_folder} (kept in the catalog as missing, with "
            "their decisions):"
        )
        lines += [f"  {p}" for p in report.not_found[:SHOWN_PATHS]]
        if len(report.not_found) > SHOWN_PATHS:
            rest = len(report.not_found) - SHOWN_PATHS
            kept = _list_file(db, "relink-missing", report.not_found)
            lines.append(
                f"  ... and {rest:,} more: "
                + (
                    f"all {len(report.not_found):,} are listed in {kept}"
                    if kept
                    else "(the list could not be saved)"
                )
            )
    print("\n".join(lines), file=sys.stderr)
    if not report.moved:
        return EXIT_ERROR
    return EXIT_PARTIAL if report.not_found else EXIT_OK


# -- fashion init-model ---------------------------------------------------------------------------
def read_labels(path: str) -> tuple[list[str], dict[str, str]]:
    """Labels (and groups) from a text file: one label per line, or ``group: label``.

    Blank lines and lines starting with ``#`` are skipped; the word ``taxonomy`` (when no such file
    exists) means the app's 46 clothing categories. Raises UserError for unreadable files, an empty
    list or duplicate labels.
    """
    from fashion_desktop.model.resources import taxonomy_labels

    if path == "taxonomy" and not Path(path).exists():
        return taxonomy_labels(), {}
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the label file ({exc})") from None
    labels: list[str] = []
    groups: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        group, sep, label = line.partition(":")
        label, group = (label.strip(), group.strip()) if sep else (line, "")
        if not label or (sep and not group):
            raise UserError(f"{path}, line {n}: expected 'label' or 'group: label', got {raw!r}")
        if label in groups or label in labels:
            raise UserError(f"{path}, line {n}: label {label!r} is listed twice")
        labels.append(label)
        if group:
            groups[label] = group
    if not labels:
        raise UserError(f"{path}: no labels found (one label per line)")
    return labels, groups


def cmd_init_model(args: argparse.Namespace) -> int:
    import torch

    from fashion_desktop.model.archs import (
        ARCHITECTURES,
        WeightsUnavailable,
        build_model,
        get_arch,
        torch_hub_checkpoint_dir,
    )
    from fashion_desktop.model.bundle import new_bundle, save_bundle
    from fashion_desktop.model.fileio import WriteError

    if args.arch not in ARCHITECTURES:
        raise UserError(f"unknown architecture {args.arch!r}; choose one of: {', '.join(ARCHITECTURES)}")
    labels, groups = read_labels(args.labels)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise UserError(f"{out}: the folder {out.parent} does not exist")
    spec = get_arch(args.arch)
    torch.manual_seed(args.seed)
    if spec.pretrained is None or args.no_pretrained:
        model = build_model(args.arch, len(labels), pretrained=False)
        start = "random weights"
    else:
        try:
            model = build_model(args.arch, len(labels), pretrained=True, allow_download=not args.no_download)
        except WeightsUnavailable as exc:
            raise UserError(
                f"{exc}\nThe ImageNet weights are looked up in {torch_hub_checkpoint_dir()} (the torch hub "
                "cache; set TORCH_HOME to move it). Copy the weights file there from a machine with internet "
                "access, or pass --no-pretrained to start from random weights (training then needs much more data)."
            ) from None
        start = "ImageNet backbone, new head"
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    bundle = new_bundle(
        args.arch,
        labels,
        model.state_dict(),
        groups=groups,
        provenance={
            "model_id": f"{args.arch}-{uuid.uuid4().hex[:12]}",
            "name": out.stem,
            "created": created,
            "source": "fashion init-model",
            "start": start,
            "seed": args.seed,
        },
    )
    try:
        save_bundle(bundle, out)
    except WriteError as exc:
        raise UserError(str(exc)) from None  # it names the file and the reason
    except OSError as exc:
        raise UserError(f"{out}: cannot write the model ({exc.strerror or exc})") from None
    print(
        f"wrote {out}: {args.arch} ({start}), {len(labels)} labels, input {bundle.input_size} px",
        file=sys.stderr,
    )
    return EXIT_OK


# -- fashion convert -----------------------------------------------------------------------------
def cmd_convert(args: argparse.Namespace) -> int:
    from fashion_desktop.model.bundle import OldBundleFormat, convert_old_bundle, save_bundle
    from fashion_desktop.model.bundle_file import read_header
    from fashion_desktop.model.fileio import WriteError

    old, new = Path(args.old), Path(args.new)
    if old.exists() and new.exists() and os.path.samefile(old, new):
        raise UserError(f"{new}: choose another name for the converted bundle (the old file is kept)")
    try:
        read_header(old)
    except OldBundleFormat:
        pass
    else:
        raise UserError(f"{old}: already in the current bundle format; nothing to convert")
    bundle = convert_old_bundle(old)
    try:
        save_bundle(bundle, new)
    except WriteError as exc:
        raise UserError(str(exc)) from None
    print(f"converted {old} -> {new} (model id {bundle.model_id})", file=sys.stderr)
    return EXIT_OK


# -- train / evaluate dispatch --------------------------------------------------------------------
def _dispatch_trainer(name: str, argv: list[str]) -> int:
    try:
        from trainer import cli as trainer_cli
    except ImportError as exc:
        _err(f"the trainer is not available in this installation ({exc})")
        return EXIT_ERROR
    entry = getattr(trainer_cli, f"{name}_main", None)
    if entry is None:
        _err(f"this version of the trainer has no '{name}' command")
        return EXIT_ERROR
    return int(entry(argv) or 0)


# -- argument parsing -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from fashion_desktop import __version__

    p = argparse.ArgumentParser(
        prog="fashion",
        description="Tag folders of fashion photos with multi-label clothing models.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"fashion {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    _add_tag_parser(sub)
    _add_merge_parser(sub)
    _add_inspect_parser(sub)
    _add_export_parser(sub)
    add_import_parser(sub, UserError)
    add_similar_parser(sub, UserError)
    add_adapt_parser(sub, UserError)
    add_write_keywords_parser(sub, UserError)
    _add_relink_parser(sub)
    _add_init_model_parser(sub)
    _add_convert_parser(sub)

    for name, text in (
        ("train", "train a model (see 'fashion train --help')"),
        ("evaluate", "evaluate a model"),
    ):
        sub.add_parser(name, help=text, add_help=False)
    return p


def _add_merge_parser(sub: Any) -> None:
    """``fashion merge``: the outputs of sharded tag runs into one file."""
    m = sub.add_parser(
        "merge",
        help="merge the outputs of sharded 'fashion tag' runs",
        description="Merge outputs of 'fashion tag' (CSV or XLSX) into one file: rows de-duplicated by "
        "path and sorted by path. All parts must have the same columns (same model and options).",
    )
    m.add_argument("parts", nargs="+", metavar="PART")
    m.add_argument("--out", required=True, metavar="FILE", help="output file, .csv or .xlsx")
    m.set_defaults(func=cmd_merge)


def _add_inspect_parser(sub: Any) -> None:
    """``fashion inspect``: what a model bundle contains."""
    i = sub.add_parser(
        "inspect", help="show what a model bundle contains", description="Show a model bundle."
    )
    i.add_argument("model", metavar="MODEL", help="model bundle file, or 'default'")
    i.add_argument("--json", action="store_true", help="print JSON instead of text")
    i.set_defaults(func=cmd_inspect)


def _add_export_parser(sub: Any) -> None:
    """``fashion export``: a catalog's final tags to CSV/XLSX."""
    e = sub.add_parser(
        "export",
        help="export a catalog's tags to CSV/XLSX",
        description="Export the final tags of a catalog (a person's decision where there is one, else "
        "the model's score against the threshold). Where 'fashion adapt' (or the app) fitted an adapter to "
        "the library that beats the model and it is switched on, the unreviewed photos get the adapted "
        "scores and the adapter's tuned thresholds (a threshold option still wins); the About sheet says "
        "whose scores were written.",
    )
    e.add_argument("--catalog", required=True, metavar="DB")
    e.add_argument("--out", required=True, metavar="FILE", help="output file, .csv or .xlsx")
    e.add_argument(
        "--layout", choices=("app", "seed"), default="app", help="app (default) or the seed's layout"
    )
    e.add_argument("--scores", action="store_true", help="add score:<label> columns")
    add_final_tag_options(e)
    e.set_defaults(func=cmd_export)


def add_final_tag_options(p: argparse.ArgumentParser) -> None:
    """The options that choose the final tags (export, write-keywords): model, thresholds, adapter."""
    p.add_argument("--model", metavar="KEY", help="model id whose scores count (default: the only one)")
    p.add_argument("--threshold", type=_unit_float, help="one threshold for all labels")
    p.add_argument("--top-k", type=_positive_int, help="keep at most this many tags per photo")
    p.add_argument("--at-least-one", action="store_true", help="give every photo its best tag if none passes")
    p.add_argument(
        "--no-adapter", action="store_true", help="write the model's own scores, not the library's adapter's"
    )


def _add_relink_parser(sub: Any) -> None:
    """``fashion relink``: a catalog pointed at a moved folder."""
    r = sub.add_parser(
        "relink",
        help="point a catalog at a folder that was moved or renamed",
        description="Find the photos a catalog knew in OLD (moved, renamed, or a drive mounted elsewhere) in "
        "NEW, by their content (else by relative path and size), and point the catalog at them: every "
        "decision, review state and score moves with its photo. Photos not found are listed and kept. "
        "Exit 0: all found; 3: some not found; 1: none found.",
    )
    r.add_argument("old", metavar="OLD", help="the folder as the catalog knows it")
    r.add_argument("new", metavar="NEW", help="where the folder is now")
    r.add_argument("--catalog", required=True, metavar="DB")
    r.set_defaults(func=cmd_relink)


def _add_init_model_parser(sub: Any) -> None:
    """``fashion init-model``: a new bundle to start training from."""
    n = sub.add_parser(
        "init-model",
        help="create a model bundle to start training from",
        description="Create a model bundle: the architecture's ImageNet backbone (where there is one) with "
        "a new head for your labels. The label file has one label per line, or 'group: label' to put "
        "labels in groups (e.g. 'colour: red'); blank lines and '#' comments are ignored; label names "
        "cannot contain ':'. LABELS may also be the word 'taxonomy' for the 46 built-in categories.",
    )
    n.add_argument("--arch", required=True, help="cnn, resnet18, resnet50, resnet101, vit_b_16, inception_v3, "
                   "efficientnet_lite0, mobilenet_v3_large, convnext_tiny")  # fmt: skip
    n.add_argument("--labels", required=True, metavar="FILE")
    n.add_argument("--out", required=True, metavar="MODEL", help="bundle file to write (.fmodel)")
    n.add_argument("--no-pretrained", action="store_true", help="start from random weights")
    n.add_argument(
        "--no-download", action="store_true", help="never download weights, use only the local cache"
    )
    n.add_argument("--seed", type=int, default=0, help="random seed for the new head (default 0)")
    n.set_defaults(func=cmd_init_model)


def _add_convert_parser(sub: Any) -> None:
    """``fashion convert``: an old (torch zip) bundle to the current format."""
    c = sub.add_parser(
        "convert",
        help="convert an old (torch zip) model bundle to the current format",
        description="Convert a model bundle of the old format (a torch zip) into the current one (safetensors), "
        "keeping its model id, so catalogs keep its scores. The old file is left as it is.",
    )
    c.add_argument("old", metavar="OLD", help="the old bundle file")
    c.add_argument("new", metavar="NEW", help="the bundle file to write (.fmodel)")
    c.set_defaults(func=cmd_convert)


def _add_tag_parser(sub: Any) -> None:
    """The ``fashion tag`` subcommand and its options."""
    t = sub.add_parser(
        "tag",
        help="tag the photos of folders and write a CSV/XLSX with one row per photo",
        description="Tag every photo of FOLDER(s) (recursively) and write one row per photo, including "
        "photos that could not be read (with an 'error' column) and photos skipped because --catalog "
        "already had their scores.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("folders", nargs="+", metavar="FOLDER")
    t.add_argument(
        "--model",
        default="default",
        metavar="MODEL",
        help="model bundle file, or 'default' (the model shipped with the app; the default)",
    )
    t.add_argument("--out", required=True, metavar="FILE", help="output file, .csv or .xlsx")
    t.add_argument(
        "--threshold", type=_unit_float, help="one threshold for all labels (default: the model's)"
    )
    t.add_argument("--top-k", type=_positive_int, help="keep at most this many tags per photo")
    t.add_argument("--at-least-one", action="store_true", help="give every photo its best tag if none passes")
    t.add_argument(
        "--device", default="auto", help="auto (default: cuda, then mps, then cpu), cpu, cuda, cuda:N, mps"
    )
    t.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="auto (default): bf16 on CPUs with native bf16, mixed precision on CUDA, else fp32",
    )
    t.add_argument(
        "--batch-size", type=_positive_int, help="photos per forward pass (default 16 CPU, 64 GPU)"
    )
    t.add_argument(
        "--catalog",
        metavar="DB",
        help="keep scores in this catalog file; a re-run skips photos it already has",
    )
    t.add_argument("--force", action="store_true", help="re-tag photos the catalog already has scores for")
    t.add_argument(
        "--shard",
        type=parse_shard,
        metavar="I/N",
        help="tag only part I of N of the sorted file list (0-based), to split a folder across processes "
        "or machines; merge the outputs with 'fashion merge'. Under torchrun RANK/WORLD_SIZE are used "
        "and each process writes OUT with '.shard-I-of-N' added",
    )
    t.add_argument("--no-scores", action="store_true", help="leave out the score:<label> columns")
    t.add_argument("-v", "--verbose", action="store_true", help="report each unreadable photo as it is met")
    t.set_defaults(func=cmd_tag)


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return v


def _unit_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return v


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fashion`` command; return its exit code (see EPILOG)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parsed: list[argparse.Namespace] = []
    try:
        # From the start: a SIGTERM or Ctrl-C while torch is still importing also ends with a message.
        with _sigterm_as_interrupt():
            code = _run(argv, parsed)
            sys.stdout.flush()  # here, not at exit: a reader gone by now is handled below, quietly
            return code
    except KeyboardInterrupt as exc:
        args = parsed[0] if parsed else argparse.Namespace(command=argv[0] if argv else None)
        return _interrupted(args, isinstance(exc, Terminated))
    except BrokenPipeError:
        return _reader_gone()


def _reader_gone() -> int:
    """The output's reader went away (``| head``): stop quietly, as Python's "Note on SIGPIPE" says."""
    try:
        # What is still buffered goes nowhere, so the interpreter's flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # a stdout without a file (an embedding caller's stream)
        pass
    return EXIT_READER_GONE


def _run(argv: list[str], parsed: list[argparse.Namespace]) -> int:
    """Parse ``argv`` (appending the result to ``parsed``) and run the command; its exit code."""
    if argv and argv[0] in ("train", "evaluate"):
        # The trainer handles SIGINT/SIGTERM itself while it trains (saving a checkpoint first).
        return _dispatch_trainer(argv[0], argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    parsed.append(args)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from fashion_desktop.core.catalog import CatalogError
    from fashion_desktop.core.engine import EngineError
    from fashion_desktop.model.bundle import BundleError
    from fashion_desktop.model.devices import DeviceError

    try:
        return args.func(args)
    except (UserError, BundleError, DeviceError, EngineError, CatalogError) as exc:
        _err(f"error: {exc}")
        return EXIT_ERROR
    except sqlite3.DatabaseError as exc:
        # Past every check (e.g. the disk filled while the output table was read): still a message.
        from fashion_desktop.core.catalog import write_reason

        where = getattr(args, "catalog", None) or "the catalog"
        _err(f"error: {where}: {write_reason(exc)}")
        return EXIT_ERROR


def _interrupted(args: argparse.Namespace, terminated: bool) -> int:
    """Say what a Ctrl-C or SIGTERM left behind; the exit code 130 or 143."""
    print("", file=sys.stderr)
    what = "stopped by SIGTERM" if terminated else "interrupted (Ctrl-C)"
    catalog = getattr(args, "catalog", None)
    if getattr(args, "written", None):
        what += f" after writing {args.written} (complete)"
    elif args.command == "tag":
        what += (
            f"; the photos tagged so far are kept in {catalog} (run the same command again to tag the rest)"
            if catalog
            else "; no output was written (use --catalog to keep what is tagged across runs)"
        )
    _err(what)
    return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


def _raise_terminated(signum: int, frame: Any) -> None:
    # A second SIGTERM must not cut the clean-up the first one started (SIGKILL still ends everything).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM are held; on leaving, each one held is raised again (clean-up that
    must finish: closing the catalog, removing the temporary folder)."""
    held: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    try:
        old = {sig: signal.signal(sig, lambda signum, frame: held.append(signum)) for sig in sigs}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(held):
            signal.raise_signal(sig)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises Terminated (a KeyboardInterrupt), so it cleans up as Ctrl-C does."""
    try:
        old = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (an embedding program): leave signals to it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


if __name__ == "__main__":
    raise SystemExit(main())
