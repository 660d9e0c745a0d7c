"""The boot-storm benchmark runs end to end (tiny and short: figures come from real runs); on the
suite's PostgreSQL run, on SQLite and PostgreSQL side by side."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import databases

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bootstorm.py"


def test_benchmark_runs_and_reports_ratios() -> None:
    compared = ["--database-url", "sqlite", "--database-url", databases.POSTGRES_URL]
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
            *(compared if databases.ON_POSTGRES else []),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["phones"] == 6 and report["loadgen"] == "aiohttp"
    names = ["sqlite", "postgresql"] if databases.ON_POSTGRES else ["sqlite"]
    assert list(report["databases"]) == names
    for figures in report["databases"].values():
        for phase in ("steady", "new_connection", "polling_304"):
            assert figures[phase]["rps"] > 0 and figures[phase]["ratio"] > 0
            assert (
                len(figures[phase]["ratios"]) == 2
                and figures[phase]["ratio"] in figures[phase]["ratios"]
            )
            assert figures[phase]["bad"] == 0, phase
        assert figures["storm"]["requests"] == 12  # 6 phones, vendors mixed: 2 + 3 + 1 files each
        assert figures["storm"]["seconds"] > 0 and figures["peak_rss_mb"] > 0
    if databases.ON_POSTGRES:
        versus = report["versus_sqlite"]["postgresql"]
        assert len(versus["steady"]["ratios"]) == 2 and versus["peak_rss"] > 0
    else:
        assert "versus_sqlite" not in report


def test_the_instruction_count_plays_the_storm_it_counts(tmp_path: Path) -> None:
    """What bench/instructions.py runs under callgrind (callgrind itself is not on every
    machine): the storm played twice, every file of every phone answered each time."""
    script = BENCH.parent / "instructions.py"
    out = subprocess.run(
        [sys.executable, str(script), "--play", "2", "--phones", "6", "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"requests": 12}
    assert (tmp_path / "phones.json").exists()  # (built once, kept for the counted runs)
