"""Hearth benchmarks, each measured beside its baseline in the same run (issue 7).

Run ``python -m bench NAME [--quick] [--json]`` with NAME one of ``relay``,
``connections``, ``catchup``, ``storage`` or ``mls``. Figures are reported as
ratios to a baseline measured in the same invocation, with absolute numbers only
beside them, because the machine is shared and noisy.
"""
