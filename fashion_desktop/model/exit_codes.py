"""The exit codes of every command (``fashion ...``, the trainer, the tagging child) and their one table."""

from __future__ import annotations

import signal

OK = 0
ERROR = 1
USAGE = 2
PARTIAL = 3
INTERRUPTED = 128 + int(signal.SIGINT)  # 130: what a shell reports for Ctrl-C
TERMINATED = 128 + 15  # 143: SIGTERM (signal.SIGTERM is 15 everywhere, named on POSIX only)
# 141: what a shell reports for any tool whose reader left (`cat big | head -1`: SIGPIPE is 13, POSIX only);
# not 0, since the command stopped before its end (a tag run piped into head tagged only part of the photos).
READER_GONE = 128 + 13

TABLE = f"""\
exit codes (every command: tag, merge, export, write-keywords, import, adapt, similar, inspect,
init-model, convert, relink, train, evaluate):
  {OK:<4} everything went well
  {ERROR:<4} error: nothing useful was done (bad model file or data, missing folder or device, unwritable
       or protected output, a training run that failed ...); the message says which file and why
  {USAGE:<4} usage error: unknown option, bad argument or setting
  {PARTIAL:<4} partial (tag, relink, import, write-keywords): the output was written (photos relinked, rows
       imported, keywords written), but some photos could not be read, found or written, some folders
       not fully scanned or some rows skipped (each listed with its reason)
  {INTERRUPTED:<4} interrupted by Ctrl-C (SIGINT)
  {TERMINATED:<4} stopped by SIGTERM (kill, a service manager, the app's Stop button)
  {READER_GONE:<4} the reader of the output went away (piped into head, a pager closed early): the command
       stopped there, quietly, as any command-line tool does
  On 130 and 143 nothing half-written is left: tag keeps the photos tagged so far in its --catalog
  (a re-run does the rest), train saves its last checkpoint (continue with 'fashion train --resume RUN').
"""


def stopped_code(signum: int | None) -> int:
    """The exit code of a command stopped by signal ``signum``: 130 for SIGINT, else 143 (SIGTERM)."""
    return INTERRUPTED if signum == signal.SIGINT else TERMINATED
