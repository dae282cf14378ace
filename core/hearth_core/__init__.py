"""The Hearth chat protocol without I/O: frames and codec, error codes, room and role rules.

Shared by the server and the client. Imports ``hearth_mls`` and ``msgspec``, never
asyncio or websockets (see ``tests/test_layering.py``).
"""
