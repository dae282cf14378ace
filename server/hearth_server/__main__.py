"""``hearth-server`` entry point."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run the server (replaced by the server foundation)."""
    raise SystemExit("hearth-server: not built yet")


if __name__ == "__main__":
    raise SystemExit(main())
