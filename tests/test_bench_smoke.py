"""The boot-storm benchmark runs end to end (tiny and short: figures come from real runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bootstorm.py"


def test_benchmark_runs_and_reports_ratios() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--phones",
            "6",
            "--duration",
            "1",
            "--rounds",
            "2",
            "--connections",
            "4",
            "--loadgen",
            "aiohttp",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["phones"] == 6 and report["loadgen"] == "aiohttp"
    for phase in ("steady", "new_connection", "polling_304"):
        assert report[phase]["rps"] > 0 and report[phase]["ratio"] > 0
        assert (
            len(report[phase]["ratios"]) == 2 and report[phase]["ratio"] in report[phase]["ratios"]
        )
        assert report[phase]["bad"] == 0, phase
    assert report["storm"]["requests"] == 12  # 6 phones, vendors mixed: 2 + 3 + 1 files each
    assert report["storm"]["seconds"] > 0 and report["peak_rss_mb"] > 0
