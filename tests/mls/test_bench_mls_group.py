"""``bench/mls_group.py`` runs and reports every operation per size (no timing asserted)."""

from __future__ import annotations

import contextlib
import io
import json

from bench import mls_group


def test_quick_json_report() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert mls_group.main(["--quick", "--json"]) == 0
    report = json.loads(out.getvalue())
    assert report["baseline_encrypt_decrypt_ms"] > 0
    for size in ("10", "50"):
        row = report["by_size"][size]
        for op in ("add_create_ms", "add_process_ms", "remove_create_ms", "remove_process_ms"):
            assert row[op] > 0
            assert report["in_baseline_units"][size][op] > 0
    assert report["by_size"]["50"]["join_from_welcome_ms"] > 0
    assert set(report["growth_10_to_50"]) == {
        "add_create_ms",
        "add_process_ms",
        "remove_create_ms",
        "remove_process_ms",
    }
