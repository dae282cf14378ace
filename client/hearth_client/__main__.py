"""``hearth`` entry point."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run the client (replaced by the terminal client)."""
    raise SystemExit("hearth: not built yet")


if __name__ == "__main__":
    raise SystemExit(main())
