"""``bench/mls.py`` runs and reports every operation with its ratios (no timing asserted)."""

from __future__ import annotations

import contextlib
import io
import json

from bench import mls


def test_quick_json_report() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert mls.main(["--quick", "--json"]) == 0
    report = json.loads(out.getvalue())
    results = report["results"]
    for name in ("protect+unprotect 200 B", "SignWithLabel", "VerifyWithLabel", "EncryptWithLabel"):
        assert results[name]["us_per_op"] > 0
        assert all(r > 0 for r in results[name]["ratio_to"].values())
