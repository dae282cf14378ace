"""Render the JSON documents of a full run as the tables of bench/RESULTS.md (issue 7).

``python -m bench all --out DIR`` writes ``DIR/NAME.json`` for every benchmark, then
``DIR/results.md`` from them with :func:`render`: the machine, the versions, the
command, each benchmark's table and the ratios to the bare relay with their targets.
The analysis (profiles, reasons for misses) is written by hand around it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import connections as connections_bench
from bench import storage as storage_bench
from bench.common import fmt


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table with numbers formatted as in the console tables."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    return (
        f"- machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, "
        f"Linux {m['kernel']}, 1-minute load average {m['loadavg_at_start'][0]:.2f} at the "
        f"start and {m.get('loadavg_at_end', [float('nan')])[0]:.2f} at the end\n"
        f"- Python {m['python']}, Node {m['node'] or 'absent'}; {versions}\n"
        f"- open-file limit {m['nofile_limit'][0]}; run at {m['utc']}\n"
    )


def _relay_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for r in rows:
        storage = r.get("storage") or {}
        verdict = ("yes" if r["sustained"] else "no") + (
            f" (try {r['try']})" if r.get("try", 1) > 1 else ""
        )
        out.append(
            [
                r["system"],
                r["clients"],
                r["sends_per_s"],
                r["delivered_per_s"],
                100 * r["delivered_fraction"],
                r["p50_ms"],
                r["p99_ms"],
                r["p999_ms"],
                r.get("ack_p99_ms"),
                r["server_cpu_s"],
                r["server_peak_rss_mib"],
                r["loadgen_cpu_util_max"],
                storage.get("mean_batch"),
                storage.get("mean_commit_ms"),
                r.get("loadavg_1m"),
                verdict,
            ]
        )
    return out


RELAY_HEADERS = [
    "system",
    "clients",
    "sends/s",
    "delivered/s",
    "delivered %",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "ack p99 ms",
    "server CPU s",
    "peak RSS MiB",
    "generator CPU (busiest worker)",
    "msgs/commit",
    "commit ms",
    "load 1m",
    "sustained",
]


def ratios_table(ratios: dict[str, dict[str, Any]]) -> str:
    return md_table(
        ["figure", "value", "target", "met"],
        [[k, v["value"], v["target"], v["met"]] for k, v in ratios.items()],
    )


def relay(doc: dict[str, Any]) -> str:
    res = doc["results"]
    s = res["settings"]
    parts = [
        f"### relay\n\n`{doc['command']}`\n\n"
        f"Fixed load, rooms of {s['room_size']}, {s['rate']:g} send/s per client, "
        f"{s['duration']:g} s window after {s['warmup']:g} s warm-up; each row is the median "
        f"by p99 of its interleaved trials ("
        + ", ".join(
            f"{r['clients']} clients: {r.get('trials', 1)}"
            for r in res["fixed"]
            if r["system"] == "relay"
        )
        + "):\n\n",
        md_table(RELAY_HEADERS, _relay_rows(res["fixed"])),
        f"\nRamp at {s['ramp_clients']} clients (rates {s['ramp_rates']}), each system "
        "until its p99 passed 100 ms or it lost deliveries:\n\n",
        md_table(RELAY_HEADERS, _relay_rows(res["ramp"])),
        "\nMaximum sustained deliveries/s: "
        + ", ".join(f"{k} {fmt(v)}" for k, v in res["max_sustained_delivered_per_s"].items())
        + "\n\n",
        ratios_table(res["ratios"]),
    ]
    if res.get("skipped"):
        parts.append(
            "\nSkipped: " + "; ".join(f"{k}: {v}" for k, v in res["skipped"].items()) + "\n"
        )
    return "".join(parts)


def connections(doc: dict[str, Any]) -> str:
    res = doc["results"]
    rows = [[r[key] for key in connections_bench.ROW_KEYS] for r in res["rows"]]
    return (
        f"### connections\n\n`{doc['command']}`\n\n"
        + md_table(
            [
                "system",
                "connections",
                "connect all s",
                "connects/s",
                "server CPU s",
                "RSS before MiB",
                "RSS after MiB",
                "KiB/connection",
                "dropped",
            ],
            rows,
        )
        + "\n"
        + ratios_table(res["ratios"])
    )


def catchup(doc: dict[str, Any]) -> str:
    res = doc["results"]
    rows = []
    for name, r in res["results"].items():
        median = next(x for x in r["runs"] if x["total_s"] == r["median_s"])
        rows.append(
            [
                name,
                r["missed"],
                r["median_s"],
                r["best_s"],
                median["connect_auth_s"],
                median["subscribe_to_synced_s"],
                r["missed"] / r["median_s"],
                median["server_cpu_s"],
                "yes" if r["met"] else "no",
            ]
        )
    return f"### catchup\n\n`{doc['command']}`\n\n" + md_table(
        [
            "system",
            "missed",
            "median s",
            "best s",
            "connect+auth s",
            "subscribe to synced s",
            "messages/s",
            "server CPU s",
            f"< {res['target_s']:g} s",
        ],
        rows,
    )


def storage(doc: dict[str, Any]) -> str:
    res = doc["results"]
    # Runs recorded before the commit columns existed show them empty.
    rows = [[r.get(key) for key in storage_bench.ROW_KEYS] for r in res["runs"]]
    headers = [
        "mode",
        "writers",
        "messages",
        "seconds",
        "writes/s",
        "commits",
        "messages/commit",
        "append p50 ms",
        "append p99 ms",
        "commit p50 ms",
        "commit p99 ms",
    ]
    return (
        f"### storage\n\n`{doc['command']}`\n\n"
        + md_table(headers, rows)
        + "\n"
        + md_table(["median figure", "value"], res.get("summary", []))
    )


def generic(name: str, doc: dict[str, Any]) -> str:
    command = doc.get("command", f"python -m bench {name} --json")
    body = json.dumps(doc.get("results", doc), indent=1)
    return f"### {name}\n\n`{command}`\n\n```json\n{body[:6000]}\n```\n"


RENDERERS = {"relay": relay, "connections": connections, "catchup": catchup, "storage": storage}


def render(documents: dict[str, dict[str, Any]]) -> str:
    """The numeric part of RESULTS.md for the given benchmark documents."""
    if not documents:
        return "No benchmark ran.\n"
    first = next(iter(documents.values()))
    out = ["## Machine and versions\n\n", machine(first), "\n"]
    for name, doc in documents.items():
        renderer = RENDERERS.get(name)
        out.append(renderer(doc) if renderer else generic(name, doc))
        out.append("\n")
    return "".join(out)


def load(directory: Path) -> dict[str, dict[str, Any]]:
    """Every ``NAME.json`` in ``directory``, in benchmark order."""
    from bench.__main__ import BENCHMARKS

    found = {}
    for name in BENCHMARKS:
        path = directory / f"{name}.json"
        if path.is_file():
            found[name] = json.loads(path.read_text())
    return found
