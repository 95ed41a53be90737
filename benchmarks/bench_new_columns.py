"""Benchmark: the first write to a new big column, with numpy's huge pages (its default on Linux) against
ordinary pages (``gui.app.small_pages_for_big_arrays``, what the app asks for).

A library's columns are new arrays each time a scan makes them room; the first write to one is what the
window waits for. Each trial runs in a fresh process (the first big array of a process is the one that waits
for the kernel to find free huge pages) and copies ``--mb`` MB of rows into a new array with room for half
as many again, as ``core.column_room.extend_rows`` does.

    python benchmarks/bench_new_columns.py --mb 40 --trials 15
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

TRIAL = """
import sys, time
import numpy as np
from numpy._core.multiarray import _set_madvise_hugepage
_set_madvise_hugepage(sys.argv[1] == "huge")
rows = int(sys.argv[2]) * 2**20 // 8
column = np.ones(rows, np.int64)
t = time.perf_counter()
room = np.empty(rows + rows // 2, np.int64)
room[:rows] = column
print(time.perf_counter() - t)
"""


def trial(pages: str, mb: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", TRIAL, pages, str(mb)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, default=40, help="size of the column copied (MB)")
    p.add_argument("--trials", type=int, default=15)
    args = p.parse_args(argv)
    times: dict[str, list[float]] = {"huge": [], "small": []}
    for _ in range(args.trials):  # interleaved: both kinds see the same machine
        for pages in times:
            times[pages].append(trial(pages, args.mb))
    for pages, ts in times.items():
        print(
            f"{pages} pages: {args.mb} MB column copied into new room: median {statistics.median(ts) * 1000:.1f} ms, "
            f"longest {max(ts) * 1000:.1f} ms ({args.trials} fresh processes)"
        )
    ratio = max(times["huge"]) / max(times["small"])
    print(f"bench-new-columns: mb={args.mb} longest_ratio_huge_over_small={ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
