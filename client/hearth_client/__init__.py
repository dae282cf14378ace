"""The Hearth client: connection engine, key store, Textual TUI and scriptable CLI."""
