"""Command line: ``python -m trainer train ...`` / ``evaluate ...`` (also reached via ``fashion train``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from fashion_desktop.model import exit_codes
from fashion_desktop.model.arch_table import ARCH_NAMES
from fashion_desktop.model.priority import lower_priority_from_env
from fashion_desktop.model.protocol import DATASET_PREVIEW, RUN_FAILED, EventWriter
from fashion_desktop.model.train_config import (
    ConfigError,
    TrainConfig,
    config_from_run_dir,
    load_config_file,
    make_config,
    resume_config,
)

from .report import event_output

USAGE_EXIT_CODE = 2  # an option argparse cannot parse; a bad setting value is an ordinary failure (1)


class UsageError(Exception):
    """An option that cannot be parsed; the message is argparse's."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError instead of exiting, so ``--events`` still reports it."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _train_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="fashion train",
        description="Train a multi-label clothing classifier: a progress bar and logs on stderr, a summary "
        "on stdout (JSON events instead with --events).",
        epilog=exit_codes.TABLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", help="YAML or JSON file with settings (command-line options override it)")
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its last checkpoint; --epochs, --lr, --batch-size and --set "
        "time_limit_min/early_stopping/grad_clip/precision are applied, settings that change the model "
        "or data are refused",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="when --out holds a run, move it aside (OUT.old-<time>) and start afresh; nothing is deleted",
    )
    p.add_argument(
        "--data", action="append", help="image folder, spreadsheet, COCO json or catalog (repeatable)"
    )
    p.add_argument("--mapping", help="label mapping file (source label -> target names) for --data sources")
    p.add_argument("--out", help="run folder (the bundle ends up in OUT/model.fmodel)")
    p.add_argument("--arch", help="architecture name (cnn, efficientnet_lite0, resnet50, vit_b_16, ...)")
    p.add_argument(
        "--init-from",
        metavar="BUNDLE",
        help="start from this model bundle: its architecture, image size and weights; labels it knows keep "
        "their head weights, new labels start fresh, labels the data no longer has are dropped",
    )
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--image-size", type=int)
    p.add_argument("--pretrained", dest="pretrained", action="store_true", default=None)
    p.add_argument("--no-pretrained", dest="pretrained", action="store_false")
    p.add_argument("--allow-random-init", action="store_true", default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any config setting")
    p.add_argument("--events", action="store_true", help="JSON events on stdout, one per line (for the app)")
    p.add_argument(
        "--preview",
        action="store_true",
        help="read the data as training would and print the labels with their counts per split and any "
        "warnings, then exit without training or writing anything (one dataset_preview event with --events)",
    )
    return p


def _overrides(ns: argparse.Namespace) -> dict:
    names = ("data", "mapping", "out", "arch", "epochs", "batch_size", "lr", "image_size", "pretrained")
    out = {k: getattr(ns, k) for k in (*names, "init_from")}
    out["allow_random_init"] = ns.allow_random_init
    import yaml

    for item in ns.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def resolve_train_config(argv: Sequence[str] | None) -> tuple[TrainConfig, bool]:
    """Parse ``argv`` into the run's config; returns (config, resume).

    Raises ConfigError for a bad setting, UsageError for options that cannot be parsed.
    """
    return _config_of(_train_parser().parse_args(argv))


def _config_of(ns: argparse.Namespace) -> tuple[TrainConfig, bool]:
    overrides = _overrides(ns)
    file_values = load_config_file(ns.config) if ns.config else {}
    if ns.resume:
        if ns.overwrite:
            raise ConfigError("--resume continues a run and --overwrite moves it aside: choose one")
        saved = config_from_run_dir(ns.resume)
        cfg = resume_config(saved, ns.resume, {**file_values, **overrides})
        _check_arch(cfg)
        return cfg, True
    cfg = make_config(file_values, overrides)
    if not cfg.data:
        raise ConfigError("no data given: pass --data PATH (or 'data:' in the config file)")
    if cfg.init_from:
        from .init_from import resolve_init_from

        explicit = {k.replace("-", "_"): v for k, v in {**file_values, **overrides}.items() if v is not None}
        cfg = resolve_init_from(cfg, explicit)
    _check_arch(cfg)
    return cfg, False


def _check_arch(cfg: TrainConfig) -> None:
    """Raise ConfigError listing the known architectures when ``cfg.arch`` is none of them."""
    if cfg.arch not in ARCH_NAMES:
        raise ConfigError(f"unknown architecture {cfg.arch!r}; choose one of: {', '.join(ARCH_NAMES)}")


def train_main(argv: Sequence[str] | None = None) -> int:
    """``fashion train``: returns 0 when finished, 1 on failure (a bad setting included), 2 for options
    that cannot be parsed, 130 when stopped by Ctrl-C and 143 by SIGTERM (both after saving the last
    checkpoint; see ``exit_codes.TABLE``).

    Shows a progress bar and a summary, or writes JSON events on stdout with ``--events``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _train_parser()
    try:
        ns = parser.parse_args(argv)
    except UsageError as exc:
        return _usage_failed(parser, str(exc), "--events" in argv)
    with event_output(ns.events) as events:
        try:
            cfg, resume = _config_of(ns)
        except ConfigError as exc:
            logging.getLogger("trainer").error("%s", exc)
            events.emit(RUN_FAILED, message=str(exc))
            return 1
        if ns.preview:
            return _preview(cfg, events, ns.events)
        from .engine import run_training  # torch: only a run needs it, --preview answers without

        events.set_progress_rate(cfg.progress_per_s)
        return run_training(cfg, resume, events, overwrite=ns.overwrite)


def _preview(cfg: TrainConfig, events: EventWriter, as_events: bool) -> int:
    """``--preview``: the dataset table on stdout (or one ``dataset_preview`` event); 0, or 1 with
    ``run_failed`` when the data cannot be read. Writes nothing into the run folder."""
    from .data import DataError
    from .preview import dataset_preview, format_preview

    try:
        preview = dataset_preview(cfg)
    except (DataError, OSError) as exc:
        logging.getLogger("trainer").error("%s", exc)
        events.emit(RUN_FAILED, message=str(exc))
        return 1
    if as_events:
        events.emit(DATASET_PREVIEW, **preview)
    else:
        print(format_preview(preview))
    return 0


def _usage_failed(parser: argparse.ArgumentParser, message: str, events: bool) -> int:
    """argparse's usage and message on stderr (and a ``run_failed`` event with ``--events``)."""
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    if events:
        with event_output(True) as out:
            out.emit(RUN_FAILED, message=message)
    return USAGE_EXIT_CODE


def evaluate_main(argv: Sequence[str] | None = None) -> int:
    """``fashion evaluate MODEL DATA``: metrics tables (CSV + XLSX) and per-image scores."""
    from .evaluate import evaluate_cli

    return evaluate_cli(argv)


def main(argv: Sequence[str] | None = None) -> int:
    lower_priority_from_env()  # started by the app: below the window's priority (model.priority)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "evaluate", "preview", "package"):
        print("usage: python -m trainer {train,evaluate,preview,package} ...", file=sys.stderr)
        return 2
    if argv[0] == "package":  # a finished run's bundle made shippable (card, half precision)
        from .package import package_main

        return package_main(argv[1:])
    if argv[0] == "preview":  # the same options as train; nothing is trained or written
        return train_main([*argv[1:], "--preview"])
    return train_main(argv[1:]) if argv[0] == "train" else evaluate_main(argv[1:])
