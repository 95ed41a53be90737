"""The app's tagging process for tests: a run holds once it has tagged a few photos, until it is cancelled.

Started by the ``held_tagging`` fixture (tests/conftest.py) as ``python tests/held_tag_process.py MODE``
in place of ``python -m fashion_desktop.core.tag_process MODE``. With ``FASHION_TEST_HOLD_AFTER=N`` in
its environment a tagging run commits and reports its first N or more photos, then waits for the app's
``cancel`` (or stdin closing, or a kill): a run the test can cancel, kill or quit mid-way on a machine of
any speed. Without it the process is the real one.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

from fashion_desktop.core import tag_process

HOLD_AFTER = "FASHION_TEST_HOLD_AFTER"
_real_run_tag = tag_process.run_tag


def held_run_tag(job: dict[str, Any], cancel: threading.Event) -> Iterator[Any]:
    hold_after = int(os.environ.get(HOLD_AFTER) or 0)
    done = 0
    for event in _real_run_tag(job, cancel):
        yield event  # the caller has sent it once this returns: the app sees these photos tagged
        if isinstance(event, tag_process.TagScores):
            done += len(event.ids)
            if hold_after and done >= hold_after:
                cancel.wait()


if __name__ == "__main__":
    tag_process.run_tag = held_run_tag
    raise SystemExit(tag_process.main(sys.argv[1:]))
