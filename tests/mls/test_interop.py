"""The JSON-lines interop driver (core/hearth_mls/README.md "Interop driver")."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from hearth_mls.interop import Driver


class Client:
    def __init__(self) -> None:
        self.driver = Driver()
        self.next_id = 0

    def __call__(self, op: str, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        answer = self.driver.handle(json.dumps({"id": self.next_id, "op": op, **fields}))
        assert answer["id"] == self.next_id
        return answer

    def ok(self, op: str, **fields: Any) -> dict[str, Any]:
        answer = self(op, **fields)
        assert answer["ok"], answer
        return answer


def test_two_drivers_talk_across_add_update_remove() -> None:
    a, b = Client(), Client()
    kp_b = b.ok("create_key_package", identity="bob")
    kp_c = b.ok("create_key_package", identity="carol")
    g = a.ok("create_group", identity="alice")["group"]
    added = a.ok("add_members", group=g, key_packages=[kp_b["key_package"], kp_c["key_package"]])
    assert added["epoch"] == 1
    bob = b.ok("join", welcome=added["welcome"], ratchet_tree=added["ratchet_tree"])["group"]
    carol = b.ok("join", welcome=added["welcome"])["group"]
    msg = a.ok("protect", group=g, plaintext="6869", authenticated_data="00")
    got = b.ok("unprotect", group=bob, message=msg["message"])
    assert (got["plaintext"], got["sender"], got["authenticated_data"]) == ("6869", 0, "00")
    upd = b.ok("update", group=bob)
    assert a.ok("process", group=g, message=upd["commit"])["kind"] == "commit"
    b.ok("process", group=carol, message=upd["commit"])
    rem = a.ok("remove", group=g, leaf_index=2)
    assert b.ok("process", group=carol, message=rem["commit"])["removed"] is True
    b.ok("process", group=bob, message=rem["commit"])
    late = b.ok("protect", group=bob, plaintext="7a")
    assert a.ok("process", group=g, message=late["message"])["plaintext"] == "7a"
    denied = b(
        "unprotect", group=carol, message=a.ok("protect", group=g, plaintext="00")["message"]
    )
    assert denied["ok"] is False
    assert denied["error"]["code"] == "wrong_epoch"
    sa, sb = a.ok("export_state", group=g), b.ok("export_state", group=bob)
    for key in ("epoch", "epoch_authenticator", "exporter", "tree_hash", "members"):
        assert sa[key] == sb[key]
    assert sa["members"] == [
        {"leaf_index": 0, "identity": b"alice".hex()},
        {"leaf_index": 1, "identity": b"bob".hex()},
    ]


def test_external_join_through_group_info() -> None:
    a, b = Client(), Client()
    g = a.ok("create_group", identity="alice")["group"]
    info = a.ok("group_info", group=g)
    joined = b.ok("external_join", identity="dave", group_info=info["group_info"])
    a.ok("process", group=g, message=joined["commit"])
    assert (
        a.ok("export_state", group=g)["epoch_authenticator"]
        == b.ok("export_state", group=joined["group"])["epoch_authenticator"]
    )


def test_error_answers_carry_code_and_message() -> None:
    c = Client()
    assert c.driver.handle("not json")["error"]["code"] == "bad_request"
    assert c("nope")["error"]["code"] == "bad_request"
    assert c("protect", group="g9", plaintext="00")["error"]["code"] == "unknown_group"
    assert c("create_group")["error"]["code"] == "bad_request"
    g = c.ok("create_group", identity="alice")["group"]
    assert c("process", group=g, message="0001")["error"]["code"] == "decode_error"
    assert c("protect", group=g, plaintext="zz")["error"]["code"] == "bad_request"
    other = Client()
    kp = other.ok("create_key_package", identity="x")
    welcome = c.ok("add_members", group=g, key_packages=[kp["key_package"]])["welcome"]
    assert c("join", welcome=welcome)["error"]["code"] == "no_key_package"
    answer = c("remove", group=g, leaf_index=7)
    assert answer["error"]["code"] == "rejected"
    assert "RemoveBlankLeafError" in answer["error"]["message"]


def test_cli_speaks_json_lines() -> None:
    requests = [
        {"id": "a", "op": "create_group", "identity": "alice"},
        {"id": 2, "op": "export_state", "group": "g1"},
    ]
    text = "".join(json.dumps(r) + "\n" for r in requests)
    out = subprocess.run(
        [sys.executable, "-m", "hearth_mls.interop"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert [a["id"] for a in answers] == ["a", 2]
    assert answers[1]["epoch"] == 0


def test_group_info_external_pub_formats() -> None:
    """RFC encoding by default; the bare key (ts-mls 1.6.4's form) on request, both joinable."""
    from hearth_mls.extensions import EXTERNAL_PUB
    from hearth_mls.group_info import GroupInfo
    from hearth_mls.mls_message import MLSMessage

    for fmt, length in (("rfc", 33), ("bare", 32)):
        a, b = Client(), Client()
        g = a.ok("create_group", identity="alice")["group"]
        raw = a.ok("group_info", group=g, external_pub_format=fmt)["group_info"]
        info = MLSMessage.from_bytes(bytes.fromhex(raw)).body
        assert isinstance(info, GroupInfo)
        ext = next(e for e in info.extensions if e.extension_type == EXTERNAL_PUB)
        assert len(ext.extension_data) == length
        joined = b.ok("external_join", identity="dave", group_info=raw)
        a.ok("process", group=g, message=joined["commit"])
    assert a("group_info", group=g, external_pub_format="x")["error"]["code"] == "bad_request"


def test_proposals_by_reference_through_the_driver() -> None:
    a, b = Client(), Client()
    kp_b = b.ok("create_key_package", identity="bob")
    g = a.ok("create_group", identity="alice")["group"]
    added = a.ok("add_members", group=g, key_packages=[kp_b["key_package"]])
    bob = b.ok("join", welcome=added["welcome"])["group"]
    kp_c = b.ok("create_key_package", identity="carol")
    proposals = [
        b.ok("propose", group=bob, proposal="update")["message"],
        a.ok("propose", group=g, proposal="add", key_package=kp_c["key_package"])["message"],
    ]
    assert a.ok("process", group=g, message=proposals[0])["kind"] == "proposal"
    assert b.ok("process", group=bob, message=proposals[1])["kind"] == "proposal"
    committed = a.ok("commit", group=g)
    assert "welcome" in committed
    b.ok("process", group=bob, message=committed["commit"])
    carol = b.ok("join", welcome=committed["welcome"])["group"]
    states = [a.ok("export_state", group=g), b.ok("export_state", group=bob)]
    states.append(b.ok("export_state", group=carol))
    assert len({s["epoch_authenticator"] for s in states}) == 1
    assert c_code(a("propose", group=g, proposal="bogus")) == "bad_request"


def c_code(answer: dict[str, Any]) -> str:
    return str(answer["error"]["code"])


def test_key_package_for_a_group_with_a_private_extension() -> None:
    a, b = Client(), Client()
    ext = [{"type": 0xF0A0, "data": "00"}]
    g = a.ok("create_group", identity="alice", extensions=ext)["group"]
    plain = b.ok("create_key_package", identity="bob")
    refused = a("add_members", group=g, key_packages=[plain["key_package"]])
    assert refused["error"]["code"] == "rejected"
    kp = b.ok("create_key_package", identity="bob", extension_types=[0xF0A0])
    added = a.ok("add_members", group=g, key_packages=[kp["key_package"]])
    b.ok("join", welcome=added["welcome"])
    assert c_code(b("create_key_package", identity="x", extension_types=["no"])) == "bad_request"
