"""``python -m bench relay``: deliveries/s and end-to-end latency against bare relays (issue 7).

Two phases, each interleaving the systems step by step so that a noisy neighbour
on the shared machine hits them alike:

1. fixed load: N clients (100, 1000, 2000) in rooms of 10, each sending once per
   second; delivered messages per second (one per receiver), p50/p99/p99.9,
   server CPU seconds and peak RSS, and the generator's own CPU;
2. ramp: at 1000 clients, the per-client rate rises until a system's p99 passes
   100 ms (or it drops or loses deliveries); then the rate between its last passed
   and its first failed step is bisected (``--ramp-refine`` times, the same for
   every system) so the maximum is not the ramp's step rounded down; its maximum
   sustained deliveries/s is the best rate it passed.

Every trial starts the system afresh and stops it afterwards. Ratios are taken to
the bare ``websockets`` relay of the same run.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import hearth_launch, profiling, systems
from bench.common import (
    Output,
    base_parser,
    latency_summary,
    proc_cpu_seconds,
    proc_peak_rss_mib,
    raise_nofile_limit,
    ratio,
)
from bench.loadgen import Generator, Trial, WorkerSpec, split_rooms

ROOM_SIZE = 10
P99_LIMIT_MS = 100.0
MODERATE = 1000  # issue 7's "moderate fixed load": 1,000 clients, 1,000 sends/s
FULL_SIZES = [100, 1000, 2000]
#: Per-client sends/s; Hearth's default per-identity limit is 20/s (protocol.md §7).
FULL_RAMP = [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 14.0, 17.0, 20.0]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = base_parser("relay", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--systems",
        default=",".join(systems.ALL_SYSTEMS),
        help="comma-separated, from " + ", ".join(systems.PROTOCOL),
    )
    parser.add_argument("--sizes", help="client counts for the fixed load (default 100,1000,2000)")
    parser.add_argument("--rate", type=float, default=1.0, help="fixed-load sends/s per client")
    parser.add_argument("--ramp-clients", type=int, help="clients during the ramp (default 1000)")
    parser.add_argument("--ramp-rates", help="per-client rates to try, comma-separated")
    parser.add_argument(
        "--ramp-tries",
        type=int,
        default=3,
        help="tries of a ramp step before the system counts as failing it",
    )
    parser.add_argument(
        "--ramp-refine",
        type=int,
        help="bisections between a system's last passed and first failed step (default 2)",
    )
    parser.add_argument("--no-ramp", action="store_true", help="only the fixed-load phase")
    parser.add_argument(
        "--moderate-repeat",
        type=int,
        help="fixed-load trials at the moderate size, 1000 clients (default 5)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        help="fixed-load trials per system and size "
        "(interleaved; the median by p99 is reported; default 3, quick 1)",
    )
    parser.add_argument("--workers", type=int, help="load generator processes (default 2)")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample Python servers with py-spy during each window into DIR "
        "(profiled trials are slower: use for diagnosis, not for figures)",
    )
    parser.add_argument("--warmup", type=float, help="seconds sent before the window")
    parser.add_argument("--duration", type=float, help="seconds in the measured window")
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = (
        [int(s) for s in args.sizes.split(",")] if args.sizes else ([20] if quick else FULL_SIZES)
    )
    args.ramp_clients = args.ramp_clients or (20 if quick else 1000)
    args.ramp_rates = (
        [float(r) for r in args.ramp_rates.split(",")]
        if args.ramp_rates
        else ([5.0] if quick else FULL_RAMP)
    )
    if args.ramp_refine is None:
        args.ramp_refine = 0 if quick else 2
    args.workers = args.workers or (1 if quick else 2)
    args.repeat = args.repeat or (1 if quick else 3)
    args.moderate_repeat = args.moderate_repeat or (1 if quick else 5)
    args.warmup = args.warmup if args.warmup is not None else (0.3 if quick else 1.0)
    args.duration = args.duration if args.duration is not None else (1.0 if quick else 4.0)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for size in [*args.sizes, args.ramp_clients]:
        if size < ROOM_SIZE or size % ROOM_SIZE:
            parser.error(f"client counts must be multiples of {ROOM_SIZE}, got {size}")
    return args


def run_trial(name: str, clients: int, rate: float, args: argparse.Namespace) -> dict[str, Any]:
    """Start ``name``, drive ``clients`` at ``rate`` sends/s each, stop it; one result row."""
    with systems.start(name) as running:
        rooms = clients // ROOM_SIZE
        specs = [
            WorkerSpec(
                worker=i,
                protocol=running.protocol,
                port=running.port,
                rooms=n,
                room_size=ROOM_SIZE,
                rate_per_client=rate,
                warmup=args.warmup,
                duration=args.duration,
            )
            for i, n in enumerate(split_rooms(rooms, min(args.workers, rooms)))
        ]
        with Generator(specs) as generator:
            setup = generator.wait_ready()
            start_ns = generator.start()
            window_start = start_ns / 1e9 + args.warmup
            _sleep_until(window_start)
            cpu_before = proc_cpu_seconds(running.pid)
            hearth = running.protocol == "hearth"
            scraped = hearth_launch.scrape_metrics(running.port) if hearth else {}
            sampler = None
            if args.profile and name != "node":
                stacks = args.profile / f"{name}-{clients}-{rate:g}.txt"
                sampler = profiling.record(running.pid, args.duration, stacks)
            _sleep_until(window_start + args.duration)
            cpu_after = proc_cpu_seconds(running.pid)
            peak_rss = proc_peak_rss_mib(running.pid)
            commits = (
                hearth_launch.commit_figures(scraped, hearth_launch.scrape_metrics(running.port))
                if hearth
                else {}
            )
            trial = generator.collect()
            if sampler is not None:
                try:
                    sampler.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    sampler.kill()
                    sampler.wait(timeout=5)
    result = summarize(name, trial, setup, cpu_after - cpu_before, peak_rss)
    result["storage"] = commits
    result["loadavg_1m"] = os.getloadavg()[0]  # the machine's load: how noisy this trial was
    if sampler is not None:
        result["profile"] = profiling.summarize(stacks)
    return result


def _sleep_until(monotonic_s: float) -> None:
    delay = monotonic_s - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def summarize(
    name: str, trial: Trial, setup: float, server_cpu: float, peak_rss: float
) -> dict[str, Any]:
    """Per-trial figures; undelivered messages count as infinitely late in the percentiles."""
    missing = max(0, trial.expected - trial.received)
    values: list[float] = list(trial.latencies_us)
    values.extend([math.inf] * missing)
    lat = latency_summary(values)
    window = trial.window_seconds
    delivered = trial.received / window
    sustained = (
        lat["p99_ms"] <= P99_LIMIT_MS
        and trial.received >= 0.99 * trial.expected
        and trial.closed == 0
        and trial.expected > 0
        and not trial.error_codes
    )
    worker_util = [c / window for c in trial.worker_cpu_seconds]
    acks = latency_summary(list(trial.ack_latencies_us)) if trial.acks else {}
    return {
        "system": name,
        "clients": trial.clients,
        "rate_per_client": trial.rate_per_client,
        "target_sends_per_s": trial.clients * trial.rate_per_client,
        "sends_per_s": trial.sent / window,
        "delivered_per_s": delivered,
        "delivered_fraction": (trial.received / trial.expected) if trial.expected else 0.0,
        **{k: (None if math.isinf(v) else v) for k, v in lat.items()},
        "server_cpu_s": server_cpu,
        "server_cpu_util": server_cpu / window,
        "server_peak_rss_mib": peak_rss,
        "loadgen_cpu_util_max": max(worker_util) if worker_util else 0.0,
        "loadgen_workers": len(worker_util),
        "max_send_lag_ms": trial.max_send_lag_ms,
        "closed": trial.closed,
        "errors": trial.error_codes,
        "ack_p50_ms": acks.get("p50_ms"),
        "ack_p99_ms": acks.get("p99_ms"),
        "setup_s": setup,
        "sustained": sustained,
    }


ROW_HEADERS = [
    "system",
    "clients",
    "sends/s",
    "deliv/s",
    "deliv%",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "srv cpu",
    "srv MiB",
    "gen cpu",
    "ok",
]


def row(r: dict[str, Any]) -> list[Any]:
    return [
        r["system"],
        r["clients"],
        r["sends_per_s"],
        r["delivered_per_s"],
        100 * r["delivered_fraction"],
        r["p50_ms"],
        r["p99_ms"],
        r["p999_ms"],
        r["server_cpu_util"],
        r["server_peak_rss_mib"],
        r["loadgen_cpu_util_max"],
        ("yes" if r["sustained"] else "NO") + (f" ({r['try']})" if r.get("try", 1) > 1 else ""),
    ]


def main(argv: list[str]) -> int:
    """Run the fixed-load and ramp phases, print tables (and JSON), return 0 on success."""
    args = parse(argv)
    out = Output(args.json)
    raise_nofile_limit()
    notes: list[str] = []
    names, skipped = systems.available(args.systems, notes)
    for note in notes:
        out.log(note)
    for name, reason in skipped.items():
        out.log(f"skipping {name}: {reason}")
    if "relay" not in names:
        out.log("the bare relay is not among the systems: no ratios will be computed")

    trials: list[dict[str, Any]] = []

    def repeats(size: int) -> int:
        return int(args.moderate_repeat if size == MODERATE else args.repeat)

    rounds = max(repeats(size) for size in args.sizes)
    for attempt in range(rounds):
        for size in args.sizes:
            if attempt >= repeats(size):
                continue
            for name in names:
                out.log(
                    f"fixed load {attempt + 1}/{repeats(size)}: {name}, {size} clients at "
                    f"{args.rate:g}/s each"
                )
                trials.append(run_trial(name, size, args.rate, args))
                out.log(outcome(trials[-1]))
    fixed = [
        median_by_p99([t for t in trials if t["system"] == name and t["clients"] == size])
        for size in args.sizes
        for name in names
    ]
    out.table(
        f"Fixed load (median by p99 of {args.repeat} trials, {args.moderate_repeat} at "
        f"{MODERATE} clients): rooms of {ROOM_SIZE}, "
        f"{args.rate:g} send/s per client, {args.duration:g} s window",
        ROW_HEADERS,
        [row(r) for r in fixed],
    )

    ramp: list[dict[str, Any]] = []
    best: dict[str, dict[str, Any] | None] = {name: None for name in names}
    if not args.no_ramp:
        ramp, best = ramp_phase(names, args, out.log)
        out.table(
            f"Ramp: {args.ramp_clients} clients, rate raised until p99 > {P99_LIMIT_MS:g} ms "
            f"in {args.ramp_tries} tries, then bisected {args.ramp_refine} times",
            ROW_HEADERS,
            [row(r) for r in ramp],
        )

    for result in trials + ramp:
        profile = result.get("profile")
        if profile:
            out.table(
                f"py-spy: {result['system']}, {result['clients']} clients at "
                f"{result['rate_per_client']:g}/s (% of samples)",
                ["own time", "%", "including callees", "%"],
                [
                    [a[0][-70:], a[1], b[0][-70:], b[1]]
                    for a, b in zip(profile["own"], profile["inclusive"], strict=False)
                ],
            )
    summary = ratios(fixed, best, args, trials)
    out.table(
        "Ratios to the bare websockets relay (same run)",
        ["figure", "value", "target", "met"],
        [[k, v["value"], v["target"], v["met"]] for k, v in summary.items()],
    )
    out.emit(
        "relay",
        args,
        {
            "systems": names,
            "skipped": skipped,
            "fixed": fixed,
            "fixed_trials": trials,
            "ramp": ramp,
            "max_sustained_delivered_per_s": {
                n: (b["delivered_per_s"] if b else None) for n, b in best.items()
            },
            "ratios": summary,
            "settings": {
                "ramp_tries": args.ramp_tries,
                "room_size": ROOM_SIZE,
                "rate": args.rate,
                "sizes": args.sizes,
                "ramp_clients": args.ramp_clients,
                "ramp_rates": args.ramp_rates,
                "ramp_refine": args.ramp_refine,
                "workers": args.workers,
                "warmup": args.warmup,
                "duration": args.duration,
            },
        },
    )
    return 0


def ramp_phase(
    names: list[str],
    args: argparse.Namespace,
    log: Callable[[str], None],
    trial: Callable[[str, int, float, argparse.Namespace], dict[str, Any]] = run_trial,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any] | None]]:
    """Raise each system's rate step by step (interleaved) until it fails, then bisect
    between its last passed and first failed rate; every trial row, and each system's
    best sustained trial."""
    ramp: list[dict[str, Any]] = []
    best: dict[str, dict[str, Any] | None] = {name: None for name in names}
    active = list(names)
    passed: dict[str, float] = {}

    def step(name: str, rate: float) -> bool:
        """Try ``name`` at ``rate``; a failure is tried again (up to --ramp-tries in
        all): on a shared machine one neighbour's burst must not end a ramp."""
        for attempt in range(args.ramp_tries):
            log(f"ramp: {name}, {args.ramp_clients} clients at {rate:g}/s each (try {attempt + 1})")
            result = trial(name, args.ramp_clients, rate, args)
            result["try"] = attempt + 1
            ramp.append(result)
            log(outcome(result))
            if result["sustained"]:
                current = best[name]
                if current is None or result["delivered_per_s"] > current["delivered_per_s"]:
                    best[name] = result
                return True
        return False

    for rate in args.ramp_rates:
        for name in list(active):
            if step(name, rate):
                passed[name] = rate
                continue
            active.remove(name)
            low, high = passed.get(name), rate
            if low is None:
                continue  # failed the first step: nothing to bisect
            for _ in range(args.ramp_refine):
                middle = round((low + high) / 2, 3)
                if step(name, middle):
                    low = middle
                else:
                    high = middle
        if not active:
            break
    return ramp, best


def outcome(result: dict[str, Any]) -> str:
    """One log line for a finished trial, so a long run's progress can be read."""
    p99 = result.get("p99_ms")
    return (
        f"  p99 {'-' if p99 is None else f'{p99:.2f}'} ms,"
        f" {100 * result.get('delivered_fraction', 0.0):.1f} % delivered,"
        f" closed {result.get('closed', 0)}, errors {result.get('errors') or '{}'}:"
        f" {'sustained' if result.get('sustained') else 'NOT sustained'}"
    )


def median_by_p99(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The trial whose p99 is the median (an undelivered message makes p99 infinite)."""
    ranked = sorted(rows, key=lambda r: math.inf if r["p99_ms"] is None else r["p99_ms"])
    chosen = dict(ranked[(len(ranked) - 1) // 2])
    chosen["trials"] = len(rows)
    return chosen


def ratios(
    fixed: list[dict[str, Any]],
    best: dict[str, dict[str, Any] | None],
    args: argparse.Namespace,
    trials: list[dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Issue 7's targets as ratios to the bare relay of this run (targets for Hearth's two
    systems; the other systems' ratios are shown for context)."""
    out: dict[str, dict[str, Any]] = {}
    targets_max = {"hearth": 0.6, "hearth-uvloop": 0.9}
    relay_max = best.get("relay")
    if relay_max is not None:
        for name, found in best.items():
            if name == "relay":
                continue
            value = ratio(found["delivered_per_s"] if found else 0.0, relay_max["delivered_per_s"])
            target = targets_max.get(name)
            out[f"{name} max / relay max"] = {
                "value": value,
                "target": f">= {target}" if target else "-",
                "met": None if target is None or value is None else value >= target,
            }
    moderate = MODERATE if MODERATE in args.sizes else max(args.sizes)

    def p99s(name: str) -> list[float]:
        return [
            math.inf if r["p99_ms"] is None else r["p99_ms"]
            for r in (trials or fixed)
            if r["system"] == name and r["clients"] == moderate
        ]

    relay_row = next(
        (r for r in fixed if r["system"] == "relay" and r["clients"] == moderate), None
    )
    for name in dict.fromkeys(r["system"] for r in fixed):
        other = next((r for r in fixed if r["system"] == name and r["clients"] == moderate), None)
        if name == "relay" or relay_row is None or other is None or not relay_row["p99_ms"]:
            continue
        target = 2.0 if name == "hearth" else None
        value = ratio(math.inf if other["p99_ms"] is None else other["p99_ms"], relay_row["p99_ms"])
        out[f"{name} p99 / relay p99 at {moderate} clients (median trials)"] = {
            "value": value,
            "target": f"<= {target}" if target else "-",
            "met": None if target is None or value is None else value <= target,
        }
        out[f"{name} p99 / relay p99 at {moderate} clients (best trials)"] = {
            "value": ratio(min(p99s(name)), min(p99s("relay"))),
            "target": "-",
            "met": None,
        }
    return out
