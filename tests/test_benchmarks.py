"""The similar-search and catalog-growth benchmarks run at a tiny size and report what the issue asks of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _last_line_fields(script: str, *args: str) -> dict[str, str]:
    """Run ``benchmarks/<script> --quick`` in its own process (it sets thread variables) and parse its
    last line, ``name: key=value ...``."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(kv.split("=", 1) for kv in proc.stdout.splitlines()[-1].split()[1:])


@pytest.mark.slow
def test_the_similar_bench_finds_what_the_float_baseline_finds_in_a_quarter_of_the_memory() -> None:
    got = _last_line_fields("bench_similar.py")
    assert got["sizes"] == "5000"
    assert float(got["recall"]) == 1.0 and got["copies_first"] == "20/20"
    assert float(got["float32_mb"]) > 3.5 * float(got["int8_mb"])


@pytest.mark.slow
def test_the_catalog_growth_bench_keeps_embeddings_under_a_kilobyte_a_photo() -> None:
    got = _last_line_fields("bench_catalog_growth.py")
    assert got["photos"] == "1000" and int(got["labels"]) > 1
    assert 260 <= float(got["growth_bytes_per_photo"]) <= 1024
    assert float(got["embedded_bytes_per_photo"]) > float(got["plain_bytes_per_photo"])
