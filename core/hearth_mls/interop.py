"""``python -m hearth_mls.interop``: drive Hearth's MLS groups over JSON lines.

One JSON request per stdin line, one JSON answer per stdout line, in order; the
protocol is documented in ``core/hearth_mls/README.md`` ("Interop driver").
Groups live in memory. Bytes are lowercase hex of RFC 9420 encodings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO, Any

from hearth_mls.errors import (
    DecodeError,
    MLSError,
    PeerError,
    UsageError,
    WelcomeNotForUsError,
    WrongEpochError,
)
from hearth_mls.extensions import Extension
from hearth_mls.framing import PrivateMessage
from hearth_mls.group import Group
from hearth_mls.group_info import GroupInfo
from hearth_mls.join import KeyPackageSecrets, create_key_package, default_capabilities
from hearth_mls.key_package import KeyPackage
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add, Remove
from hearth_mls.tree_nodes import ratchet_tree_to_bytes
from hearth_mls.welcome_structs import Welcome

Request = dict[str, Any]
Answer = dict[str, Any]

#: The label and length of the exporter value ``export_state`` reports.
EXPORTER_LABEL = "hearth-interop"


class BadRequest(Exception):
    """The request is malformed (missing or mistyped field, unknown op)."""


class UnknownGroup(Exception):
    """No group with that handle."""


def _field(req: Request, name: str, kind: type) -> Any:
    if name not in req:
        raise BadRequest(f"missing field {name!r}")
    value = req[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"field {name!r} must be {kind.__name__}")
    return value


def _hex(req: Request, name: str) -> bytes:
    text = _field(req, name, str)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise BadRequest(f"field {name!r} is not hex") from None


def _opt_hex(req: Request, name: str) -> bytes | None:
    return _hex(req, name) if req.get(name) is not None else None


def _message(data: bytes, kind: type) -> Any:
    body = MLSMessage.from_bytes(data).body
    if not isinstance(body, kind):
        raise BadRequest(f"expected an MLSMessage carrying {kind.__name__}")
    return body


class Driver:
    """Keeps key packages and groups; :meth:`handle` answers one request."""

    def __init__(self) -> None:
        self.key_packages: dict[bytes, KeyPackageSecrets] = {}
        self.groups: dict[str, Group] = {}
        self._next = 0
        self._ops: dict[str, Callable[[Request], Answer]] = {
            "create_key_package": self.create_key_package,
            "create_group": self.create_group,
            "add_members": self.add_members,
            "join": self.join,
            "protect": self.protect,
            "unprotect": self.unprotect,
            "update": self.update,
            "remove": self.remove,
            "process": self.process,
            "export_state": self.export_state,
            "group_info": self.group_info,
            "propose": self.propose,
            "commit": self.commit,
            "external_join": self.external_join,
        }

    def _handle(self, group: Group) -> str:
        self._next += 1
        handle = f"g{self._next}"
        self.groups[handle] = group
        return handle

    def _group(self, req: Request) -> Group:
        handle = _field(req, "group", str)
        group = self.groups.get(handle)
        if group is None:
            raise UnknownGroup(f"no group {handle!r}")
        return group

    def handle(self, line: str) -> Answer:
        try:
            req = json.loads(line)
        except json.JSONDecodeError as exc:
            return _error(None, "bad_request", f"not JSON: {exc.msg}")
        if not isinstance(req, dict):
            return _error(None, "bad_request", "a request is a JSON object")
        rid = req.get("id")
        op = req.get("op")
        fn = self._ops.get(op) if isinstance(op, str) else None
        if fn is None:
            return _error(rid, "bad_request", f"unknown op {op!r}")
        try:
            result = fn(req)
        except BadRequest as exc:
            return _error(rid, "bad_request", str(exc))
        except UnknownGroup as exc:
            return _error(rid, "unknown_group", str(exc))
        except DecodeError as exc:
            return _error(rid, "decode_error", str(exc))
        except WrongEpochError as exc:
            return _error(rid, "wrong_epoch", str(exc))
        except WelcomeNotForUsError as exc:
            return _error(rid, "no_key_package", str(exc))
        except PeerError as exc:
            return _error(rid, "rejected", f"{type(exc).__name__}: {exc}")
        except (UsageError, MLSError) as exc:
            return _error(rid, "usage", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a driver bug: report it, keep serving
            return _error(rid, "internal", f"{type(exc).__name__}: {exc}")
        return {"id": rid, "ok": True, **result}

    # --- operations -------------------------------------------------------------

    def create_key_package(self, req: Request) -> Answer:
        identity = _field(req, "identity", str).encode()
        types = req.get("extension_types") or []
        if not isinstance(types, list) or not all(
            isinstance(t, int) and 0 <= t < 1 << 16 for t in types
        ):
            raise BadRequest("extension_types is a list of uint16")
        secrets = create_key_package(identity, capabilities=default_capabilities(types))
        self.key_packages[secrets.ref] = secrets
        return {
            "key_package": MLSMessage(secrets.key_package).to_bytes().hex(),
            "ref": secrets.ref.hex(),
        }

    def create_group(self, req: Request) -> Answer:
        identity = _field(req, "identity", str).encode()
        extensions = []
        for ext in req.get("extensions") or []:
            if not isinstance(ext, dict):
                raise BadRequest("extensions are objects {type, data}")
            extensions.append(Extension(_field(ext, "type", int), _hex(ext, "data")))
        group = Group.create(identity, group_id=_opt_hex(req, "group_id"), extensions=extensions)
        return {
            "group": self._handle(group),
            "group_id": group.group_id.hex(),
            "epoch": group.epoch,
        }

    def add_members(self, req: Request) -> Answer:
        group = self._group(req)
        kps = _field(req, "key_packages", list)
        adds = []
        for item in kps:
            if not isinstance(item, str):
                raise BadRequest("key_packages holds hex strings")
            try:
                data = bytes.fromhex(item)
            except ValueError:
                raise BadRequest("a key package is not hex") from None
            adds.append(Add(_message(data, KeyPackage)))
        include_tree = bool(req.get("include_tree", True))
        commit, welcome, created = group.commit(adds, include_tree_in_welcome=include_tree)
        group.merge_pending_commit()
        assert welcome is not None
        return {
            "commit": commit.to_bytes().hex(),
            "welcome": welcome.to_bytes().hex(),
            "ratchet_tree": ratchet_tree_to_bytes(created.state.tree).hex(),
            "epoch": group.epoch,
        }

    def join(self, req: Request) -> Answer:
        welcome = _message(_hex(req, "welcome"), Welcome)
        secrets = next(
            (kp for ref, kp in self.key_packages.items() if welcome.secrets_for(ref) is not None),
            None,
        )
        if secrets is None:
            raise WelcomeNotForUsError("the Welcome is for no key package this driver holds")
        group = Group.join(welcome, secrets, ratchet_tree=_opt_hex(req, "ratchet_tree"))
        del self.key_packages[secrets.ref]
        return {
            "group": self._handle(group),
            "group_id": group.group_id.hex(),
            "epoch": group.epoch,
            "leaf_index": group.own_leaf,
        }

    def protect(self, req: Request) -> Answer:
        group = self._group(req)
        aad = _opt_hex(req, "authenticated_data") or b""
        message = group.protect(_hex(req, "plaintext"), aad)
        return {"message": message.to_bytes().hex()}

    def unprotect(self, req: Request) -> Answer:
        group = self._group(req)
        message = MLSMessage.from_bytes(_hex(req, "message"))
        if not isinstance(message.body, PrivateMessage):
            raise BadRequest("unprotect takes an application PrivateMessage")
        received = group.process(message)
        if received.kind != "application":
            raise BadRequest(f"the message was a {received.kind}, not application data")
        return {
            "plaintext": received.plaintext.hex(),
            "sender": received.sender.index,
            "authenticated_data": received.authenticated_data.hex(),
        }

    def update(self, req: Request) -> Answer:
        group = self._group(req)
        commit, _, _ = group.commit(force_path=True)
        group.merge_pending_commit()
        return {"commit": commit.to_bytes().hex(), "epoch": group.epoch}

    def remove(self, req: Request) -> Answer:
        group = self._group(req)
        commit, _, _ = group.commit([Remove(_field(req, "leaf_index", int))])
        group.merge_pending_commit()
        return {"commit": commit.to_bytes().hex(), "epoch": group.epoch}

    def propose(self, req: Request) -> Answer:
        group = self._group(req)
        kind = _field(req, "proposal", str)
        if kind == "add":
            message = group.propose_add(_message(_hex(req, "key_package"), KeyPackage))
        elif kind == "remove":
            message = group.propose_remove(_field(req, "leaf_index", int))
        elif kind == "update":
            message = group.propose_update()
        else:
            raise BadRequest("proposal is 'add', 'remove' or 'update'")
        return {"message": message.to_bytes().hex()}

    def commit(self, req: Request) -> Answer:
        group = self._group(req)
        commit, welcome, created = group.commit(force_path=bool(req.get("force_path", False)))
        group.merge_pending_commit()
        answer: Answer = {"commit": commit.to_bytes().hex(), "epoch": group.epoch}
        if welcome is not None:
            answer["welcome"] = welcome.to_bytes().hex()
            answer["ratchet_tree"] = ratchet_tree_to_bytes(created.state.tree).hex()
        return answer

    def process(self, req: Request) -> Answer:
        group = self._group(req)
        received = group.process(MLSMessage.from_bytes(_hex(req, "message")))
        answer: Answer = {"kind": received.kind, "epoch": group.epoch}
        if received.kind == "application":
            answer["plaintext"] = received.plaintext.hex()
            answer["sender"] = received.sender.index
        if received.kind == "commit":
            answer["removed"] = received.removed
        return answer

    def export_state(self, req: Request) -> Answer:
        group = self._group(req)
        state = group.state
        return {
            "epoch": group.epoch,
            "group_id": group.group_id.hex(),
            "leaf_index": group.own_leaf,
            "tree_hash": state.context.tree_hash.hex(),
            "epoch_authenticator": group.epoch_authenticator.hex(),
            "members": [{"leaf_index": i, "identity": ident.hex()} for i, ident in group.members()],
            "exporter": group.export_secret(EXPORTER_LABEL, b"", 32).hex(),
            "phase": group.phase.value,
            "state": group.to_bytes().hex(),
        }

    def group_info(self, req: Request) -> Answer:
        group = self._group(req)
        fmt = req.get("external_pub_format", "rfc")
        if fmt not in ("rfc", "bare"):
            raise BadRequest("external_pub_format is 'rfc' or 'bare'")
        info = group.group_info(
            external_pub=bool(req.get("external_pub", True)), bare_external_pub=fmt == "bare"
        )
        return {
            "group_info": MLSMessage(info).to_bytes().hex(),
            "ratchet_tree": ratchet_tree_to_bytes(group.state.tree).hex(),
        }

    def external_join(self, req: Request) -> Answer:
        info = _message(_hex(req, "group_info"), GroupInfo)
        identity = _field(req, "identity", str).encode()
        group, commit = Group.join_external(
            info, identity, ratchet_tree=_opt_hex(req, "ratchet_tree")
        )
        return {
            "group": self._handle(group),
            "commit": commit.to_bytes().hex(),
            "epoch": group.epoch,
            "leaf_index": group.own_leaf,
        }


def _error(rid: object, code: str, message: str) -> Answer:
    return {"id": rid, "ok": False, "error": {"code": code, "message": message}}


def serve(stdin: IO[str], stdout: IO[str]) -> int:
    """Answer every line of ``stdin`` on ``stdout`` until EOF."""
    driver = Driver()
    for line in stdin:
        if not line.strip():
            continue
        stdout.write(json.dumps(driver.handle(line)) + "\n")
        stdout.flush()
    return 0


def main() -> int:
    return serve(sys.stdin, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
