"""Messages of the trainer and the tagger in the window's words: their options become the controls."""

from __future__ import annotations

import re

# Whole phrases first (the advice reads as what to do in the window), then any option left, by its field.
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"continue it with --resume \S+, train into a new --out, or pass --overwrite to move the old run aside",
     "Resume continues it, or choose a new output folder"),
    (r"continue (?:it )?with --resume \S+?(?=[,;)]|$|\s)", "Resume continues it"),
    (r"pass --epochs above (\d+) with --resume \S+", r"set Epochs above \1 and press Resume"),
    (r"--resume \S+ with them goes on", "Resume with them goes on"),
    (r"--resume (\S+) cannot change", r"Resuming \1 cannot change"),
    (r"--resume (\S+) continues in that folder; leave out --out", r"Resuming \1 continues in that folder"),
    (r"pass --allow-random-init or --no-pretrained", 'choose "Random weights" under Start from'),
    (r"train into a new or empty folder with --out", "choose a new or empty output folder"),
    (r"choose another --out", "choose another output folder"),
    (r"(?:use|pass) --data PATH(?: \(or 'data:' in the config file\))?", "add a data source"),
    (r"use --device cpu or auto", 'choose Device "cpu" or "auto"'),
    (r"or --device cpu", 'or choose Device "cpu"'),
    (r" \(--lr ([^)]+)\)", r" (\1)"),
    (r" \(--set [^)]*\)", ""),
    (r" \(to add it as a new label anyway, pass --set allow_new_labels=true\)", ""),
    (r" or run `fashion [^`]*`", ""),
    (r"pass --mapping to translate them", "add a label mapping to translate them"),
    (r"--init-from (\S+) is a (\S+) model; --arch \S+ cannot start from it "
     r"\(leave out --arch, or pass --arch \S+\)",
     r"the model to start from (\1) is a \2 model: choose Architecture \2"),
)  # fmt: skip
_OPTIONS = {
    "resume": "Resume",
    "init-from": "the model to start from",
    "arch": "Architecture",
    "epochs": "Epochs",
    "lr": "Learning rate",
    "batch-size": "Batch size",
    "device": "Device",
    "out": "the output folder",
    "data": "the data sources",
    "overwrite": "moving the old run aside",
    "no-pretrained": "random weights",
    "allow-random-init": "random weights",
}
_OPTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")


def for_window(message: str) -> str:
    """``message`` (a trainer's failure, stop or warning) with no command-line option left in it: known
    advice becomes the window's wording ("continue with --resume RUN" → "Resume continues it"), and any
    other option its field's name ("--lr" → "Learning rate")."""
    text = message
    for pattern, words in _PHRASES:
        text = re.sub(pattern, words, text)
    return _OPTION.sub(lambda m: _OPTIONS.get(m[1], f'the "{m[1].replace("-", " ")}" setting'), text)
