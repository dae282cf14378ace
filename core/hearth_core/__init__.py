"""The Hearth chat protocol without I/O: frames and codec, error codes, room and role rules.

Shared by the server and the client. Imports ``hearth_mls`` and ``msgspec``, never
asyncio or websockets (see ``tests/test_layering.py``). Modules:

- ``frames``: every protocol v1 frame (protocol.md §4)
- ``codec``: ``encode_frame``, ``decode_client_frame``, ``decode_server_frame`` (§2, §5.1)
- ``errors``: ``ErrorCode``, ``CloseCode`` and the exception tree (§5, §6)
- ``auth``: the signed authentication transcript (§3.2)
- ``ids``: random room ids, invite ids and secrets, their hashes (§4.3, §4.4)
- ``rules``: roles, membership states and permissions (§4.3)
- ``ratelimit``: token buckets (§7)
"""
