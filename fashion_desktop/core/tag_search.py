"""The tag search box's grammar (Qt-free): space-separated terms over final tags, groups and review states."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The words that test a photo's review state instead of naming a label ("reviewed" in quotes is a label).
STATE_WORDS = {"reviewed": "reviewed", "unreviewed": "unreviewed", "to-confirm": "to confirm"}

SEARCH_HELP = (
    "Shows the photos that match every word typed:\n"
    "  dress — tagged with a label whose name contains “dress” (any case)\n"
    "  colour:black — tagged with a label of the group “colour” whose name contains “black”\n"
    "  -dress — not tagged so; -reviewed: not reviewed yet\n"
    "  reviewed, unreviewed, to-confirm — the photo's review state\n"
    '  "shirt, blouse" — quotes keep spaces and commas in a name\n'
    "A photo's tags are a person's decisions, else the model's scores against the thresholds in effect; "
    "tags people created count too. A word that names no tag shows no photo."
)

# A term: an optional "-", then unquoted characters and quoted parts ("a, b"; a quote still open while
# typing counts to the end).
_TOKEN = re.compile(r'(-?)((?:[^\s"]+|"[^"]*"?)+)')


@dataclass(frozen=True)
class Term:
    """One search term: ``text`` (lower case) names labels, or ``state`` is a review state to test."""

    text: str
    group: str = ""  # lower case: only labels of this group (colour:black)
    negate: bool = False
    state: str = ""  # "reviewed", "unreviewed" or "to confirm" for a state word


def parse(text: str) -> list[Term]:
    """The terms of the search box's ``text`` (a lone "-" or "group:" still being typed is no term)."""
    terms = []
    for m in _TOKEN.finditer(text):
        negate, body = m.group(1) == "-", m.group(2)
        group, body = _split_group(body)
        name = body.replace('"', "").strip().lower()
        if not name or name == "-":
            continue
        state = "" if '"' in body or group else STATE_WORDS.get(name, "")
        terms.append(Term(name, group.replace('"', "").strip().lower(), negate, state))
    return terms


def _split_group(body: str) -> tuple[str, str]:
    """(group, value) at the first colon outside quotes; ("", body) without one."""
    inside = False
    for i, c in enumerate(body):
        if c == '"':
            inside = not inside
        elif c == ":" and not inside:
            return body[:i], body[i + 1 :]
    return "", body


def matching_labels(term: Term, labels: Sequence[str], groups: Mapping[str, str]) -> list[str]:
    """The labels a term names: those whose name contains its text (case-insensitive), and when it names a
    group, only that group's (its name in full)."""
    return [
        lab
        for lab in labels
        if term.text in lab.lower() and (not term.group or (groups.get(lab) or "").lower() == term.group)
    ]


def _quoted(name: str) -> str:
    return f'"{name}"' if any(c in name for c in ' ,:"') else name


def completions(labels: Sequence[str], groups: Mapping[str, str]) -> list[str]:
    """What the box offers to complete a word with: each label, each ``group:value`` and the state words."""
    out = [_quoted(lab) for lab in labels]
    out += [f"{_quoted(g)}:{_quoted(lab)}" for lab in labels if (g := groups.get(lab) or "")]
    out += [*STATE_WORDS, *(f"-{w}" for w in STATE_WORDS)]
    return list(dict.fromkeys(out))
