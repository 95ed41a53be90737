"""Command line: ``python -m trainer train ...`` / ``evaluate ...`` (also reached via ``fashion train``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from fashion_desktop.model import exit_codes
from fashion_desktop.model.protocol import RUN_FAILED

from .config import ConfigError, TrainConfig, config_from_run_dir, load_config_file, make_config
from .report import event_output


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fashion train",
        description="Train a multi-label clothing classifier: a progress bar and logs on stderr, a summary "
        "on stdout (JSON events instead with --events).",
        epilog=exit_codes.TABLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", help="YAML or JSON file with settings (command-line options override it)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run from its last checkpoint")
    p.add_argument(
        "--data", action="append", help="image folder, spreadsheet, COCO json or catalog (repeatable)"
    )
    p.add_argument("--mapping", help="label mapping file (source label -> target names) for --data sources")
    p.add_argument("--out", help="run folder (the bundle ends up in OUT/model.fmodel)")
    p.add_argument("--arch", help="architecture name (cnn, efficientnet_lite0, resnet50, vit_b_16, ...)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--image-size", type=int)
    p.add_argument("--pretrained", dest="pretrained", action="store_true", default=None)
    p.add_argument("--no-pretrained", dest="pretrained", action="store_false")
    p.add_argument("--allow-random-init", action="store_true", default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any config setting")
    p.add_argument("--events", action="store_true", help="JSON events on stdout, one per line (for the app)")
    return p


def _overrides(ns: argparse.Namespace) -> dict:
    out = {
        k: getattr(ns, k)
        for k in ("data", "mapping", "out", "arch", "epochs", "batch_size", "lr", "image_size", "pretrained")
    }
    out["allow_random_init"] = ns.allow_random_init
    import yaml

    for item in ns.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def resolve_train_config(argv: Sequence[str] | None) -> tuple[TrainConfig, bool]:
    """Parse ``argv`` into the run's config; returns (config, resume). Raises ConfigError."""
    return _config_of(_train_parser().parse_args(argv))


def _config_of(ns: argparse.Namespace) -> tuple[TrainConfig, bool]:
    overrides = _overrides(ns)
    if ns.resume:
        base = config_from_run_dir(ns.resume).to_dict()
        base["out"] = ns.resume
        # Only settings that do not change what is being trained may differ on resume.
        runtime = ("epochs", "time_limit_min", "num_workers", "threads", "progress_per_s", "early_stopping")
        extra = {k: v for k, v in overrides.items() if v is not None and k in runtime}
        return make_config(base, extra), True
    file_values = load_config_file(ns.config) if ns.config else {}
    cfg = make_config(file_values, overrides)
    if not cfg.data:
        raise ConfigError("no data given: pass --data PATH (or 'data:' in the config file)")
    return cfg, False


def train_main(argv: Sequence[str] | None = None) -> int:
    """``fashion train``: returns 0 when finished, 1 on failure, 2 for bad options, 130 when stopped by
    Ctrl-C and 143 by SIGTERM (both after saving the last checkpoint; see ``exit_codes.TABLE``).

    Shows a progress bar and a summary, or writes JSON events on stdout with ``--events``.
    """
    from .engine import run_training

    ns = _train_parser().parse_args(argv)
    with event_output(ns.events) as events:
        try:
            cfg, resume = _config_of(ns)
        except ConfigError as exc:
            logging.getLogger("trainer").error("%s", exc)
            events.emit(RUN_FAILED, message=str(exc))
            return 2
        events.set_progress_rate(cfg.progress_per_s)
        return run_training(cfg, resume, events)


def evaluate_main(argv: Sequence[str] | None = None) -> int:
    """``fashion evaluate MODEL DATA``: metrics tables (CSV + XLSX) and per-image scores."""
    from .evaluate import evaluate_cli

    return evaluate_cli(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "evaluate"):
        print("usage: python -m trainer {train,evaluate} ...", file=sys.stderr)
        return 2
    return train_main(argv[1:]) if argv[0] == "train" else evaluate_main(argv[1:])
