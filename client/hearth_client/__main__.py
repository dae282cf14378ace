"""``hearth`` entry point: the Textual client, line mode, or a CLI command (see
:mod:`hearth_client.cli` for usage and exit codes)."""

from __future__ import annotations

from hearth_client.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["main"]
