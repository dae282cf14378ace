"""Every benchmark's quick mode runs once and produces numbers (issue 7).

Each runs as ``python -m bench NAME --quick --json`` in a subprocess, as a user would;
the test checks that it exited cleanly and that its JSON holds measured numbers. It
never asserts how fast anything is: performance lives in bench/RESULTS.md as ratios.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.__main__ import BENCHMARKS
from bench.common import format_table, latency_summary, percentile

ROOT = Path(__file__).resolve().parent.parent

PRESENT = [n for n in BENCHMARKS if importlib.util.find_spec(f"bench.{n}") is not None]


def run_bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def numbers(value: Any) -> list[float]:
    """Every finite number anywhere in a JSON document."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)] if math.isfinite(value) else []
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers(v)]
    return []


@pytest.mark.parametrize("name", PRESENT)
def test_quick_mode_runs_and_measures(name: str) -> None:
    done = run_bench(name, "--quick", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(done.stdout)
    assert isinstance(document, dict), document
    assert document.get("benchmark", name) == name
    assert any(n > 0 for n in numbers(document.get("results", document))), document
    check = CHECKS.get(name)
    if check is not None:
        assert document["machine"]["cores"] >= 1
        check(document["results"])


def check_relay(results: dict[str, Any]) -> None:
    assert "relay" in results["systems"]
    for row in results["fixed"] + results["ramp"]:
        assert row["delivered_per_s"] > 0, row
        assert row["p50_ms"] is not None, row
        assert row["p50_ms"] > 0, row
        assert row["server_cpu_s"] >= 0, row
        assert row["server_peak_rss_mib"] > 0, row
    assert results["max_sustained_delivered_per_s"]["relay"] is not None
    ran = {row["system"] for row in results["fixed"]}
    assert ran == set(results["systems"])


def check_connections(results: dict[str, Any]) -> None:
    assert {row["system"] for row in results["rows"]} == set(results["systems"])
    for row in results["rows"]:
        assert row["connect_s"] > 0, row
        assert row["rss_after_mib"] > 0, row


CHECKS = {"relay": check_relay, "connections": check_connections}


def test_unknown_and_missing_benchmarks_are_explained() -> None:
    done = run_bench("no-such-bench", timeout=30)
    assert done.returncode == 2
    assert "unknown benchmark 'no-such-bench'" in done.stderr
    listed = run_bench("--help", timeout=30)
    assert listed.returncode == 0
    for name in BENCHMARKS:
        assert name in listed.stdout


def test_percentiles_and_table() -> None:
    values = [float(v) for v in range(1, 1001)]
    assert percentile(values, 0.5) == 500.0
    assert percentile(values, 0.99) == 990.0
    assert percentile(values, 0.999) == 999.0
    assert math.isnan(percentile([], 0.5))
    summary = latency_summary([1000.0, 2000.0, math.inf])
    assert summary["p50_ms"] == 2.0
    assert math.isinf(summary["p99_ms"])
    table = format_table("T", ["a", "b"], [["x", 1234.5678], ["y", None]])
    assert "1,235" in table
    assert "-" in table.splitlines()[-1]


def test_the_ramp_bisects_between_the_last_passed_and_first_failed_step() -> None:
    # The ramp's logic alone: a trial function stands in for the load, sustaining up to
    # a known rate per system (the real trials run in test_quick_mode_runs_and_measures).
    from bench.relay import parse, ramp_phase

    limits = {"relay": 8.6, "hearth": 7.3, "hearth-uvloop": 1.0}
    tried: list[tuple[str, float]] = []

    def trial(name: str, clients: int, rate: float, _args: Any) -> dict[str, Any]:
        tried.append((name, rate))
        ok = rate <= limits[name]
        return {
            "system": name,
            "sustained": ok,
            "delivered_per_s": clients * rate * 9,
            "p99_ms": 1.0,
        }

    args = parse(["--ramp-rates", "2,4,6,8,10", "--ramp-tries", "2", "--systems", "relay"])
    assert args.ramp_refine == 2
    ramp, best = ramp_phase(list(limits), args, lambda _line: None, trial)
    rates = {name: best[name]["delivered_per_s"] / 9000 if best[name] else None for name in best}
    # relay: passes 8, fails 10, then 9 (fail), 8.5 (pass); hearth: passes 6, fails 8,
    # then 7 (pass), 7.5 (fail); hearth-uvloop fails its first step: nothing to bisect.
    assert rates == {"relay": 8.5, "hearth": 7.0, "hearth-uvloop": None}
    assert [r for n, r in tried if n == "relay"] == [2, 4, 6, 8, 10, 10, 9, 9, 8.5]
    assert [r for n, r in tried if n == "hearth-uvloop"] == [2, 2]
    assert len(ramp) == len(tried)
