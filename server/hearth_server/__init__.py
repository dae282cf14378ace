"""The Hearth server: an asyncio ``websockets`` shell around ``hearth_core``."""
