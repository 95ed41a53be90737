"""Children the app starts for background work (the tagging process, the trainer) run below the window's CPU
priority, so the window stays responsive while they keep both cores busy."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fashion_desktop.core.tag_process import child_environment
from fashion_desktop.model.priority import BACKGROUND_NICE, NICE_ENV

pytestmark = pytest.mark.skipif(not hasattr(os, "nice"), reason="no os.nice on this system")

ENTRIES = {
    "tagging process": "from fashion_desktop.core.tag_process import main; main(['no-such-mode'])",
    "trainer": "from trainer.cli import main; main([])",
}


def _niceness_after(entry: str, env: dict[str, str]) -> int:
    code = f"import os, threading\n{entry}\nbox = []\nt = threading.Thread(target=lambda: box.append(os.nice(0)))\n"
    code += "t.start(); t.join(); print(os.nice(0), box[0])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    main_nice, thread_nice = (int(x) for x in out.stdout.split())
    assert main_nice == thread_nice  # threads the child starts later (torch's, the decoders') have it too
    return main_nice


@pytest.mark.parametrize("entry", list(ENTRIES), ids=list(ENTRIES))
def test_a_child_the_app_starts_runs_at_background_priority(entry):
    base = os.nice(0)
    assert _niceness_after(ENTRIES[entry], child_environment()) == max(base, BACKGROUND_NICE)
    alone = {k: v for k, v in child_environment().items() if k != NICE_ENV}  # started from a shell
    assert _niceness_after(ENTRIES[entry], alone) == base
