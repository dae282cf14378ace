"""hearth_core.ds: Delivery Service checks on MLS objects (protocol.md §12), each
failure with its stable code."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from hearth_core.ds import (
    application_epoch,
    check_group_info,
    check_key_package,
    commit_effects,
    decode_mls,
    public_handshake,
    welcome_refs,
)
from hearth_core.errors import ErrorCode, FrameError
from hearth_core.public_group import PublicGroup
from hearth_core.room_roles import room_capabilities, room_extensions
from hearth_mls.group import Group
from hearth_mls.join import create_key_package
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add
from hearth_mls.welcome_structs import Welcome

ALICE, BOB = b"A" * 32, b"B" * 32


def _room() -> Group:
    return Group.create(ALICE, extensions=room_extensions(ALICE))


def _code(call: object) -> ErrorCode:
    with pytest.raises(FrameError) as info:
        call()  # type: ignore[operator]
    return info.value.code


def test_key_package_ref_and_identity() -> None:
    secrets = create_key_package(BOB, capabilities=room_capabilities())
    checked = check_key_package(MLSMessage(secrets.key_package).to_bytes(), BOB, int(time.time()))
    assert checked.ref == secrets.ref
    assert checked.identity == BOB


def test_key_package_not_yet_valid_is_expired() -> None:
    data = MLSMessage(create_key_package(BOB, capabilities=room_capabilities()).key_package)
    assert (
        _code(lambda: check_key_package(data.to_bytes(), BOB, 1000))
        is ErrorCode.KEY_PACKAGE_EXPIRED
    )


def test_welcome_addressing() -> None:
    group = _room()
    kp = create_key_package(BOB, capabilities=room_capabilities())
    message, welcome, _ = group.commit([Add(kp.key_package)])
    assert welcome is not None
    assert welcome_refs(welcome.to_bytes()) == {kp.ref}
    body = welcome.body
    assert isinstance(body, Welcome)
    wrong_suite = MLSMessage(replace(body, cipher_suite=3)).to_bytes()
    assert _code(lambda: welcome_refs(wrong_suite)) is ErrorCode.UNSUPPORTED_SUITE
    repeated = MLSMessage(replace(body, secrets=body.secrets * 2)).to_bytes()
    assert _code(lambda: welcome_refs(repeated)) is ErrorCode.WELCOME_INVALID
    assert _code(lambda: welcome_refs(message.to_bytes())) is ErrorCode.WELCOME_INVALID
    assert _code(lambda: welcome_refs(b"\x00")) is ErrorCode.MLS_INVALID


def test_commit_effects_and_group_info() -> None:
    group = _room()
    public = PublicGroup.from_group_info(MLSMessage(group.group_info()).to_bytes())
    kp = create_key_package(BOB, capabilities=room_capabilities())
    message, _welcome, created = group.commit([Add(kp.key_package)])
    body = public_handshake(message)
    effects = commit_effects(public, body)
    assert effects.committer == ALICE
    assert effects.added == {kp.ref: BOB}
    assert not effects.external
    after = public.apply_commit(body)
    info = MLSMessage(created.group_info).to_bytes()
    assert check_group_info(after, info) == info
    assert _code(lambda: check_group_info(public, info)) is ErrorCode.GROUP_INFO_INVALID
    not_info = MLSMessage(kp.key_package).to_bytes()
    assert _code(lambda: check_group_info(after, not_info)) is ErrorCode.GROUP_INFO_INVALID


def test_application_and_handshake_shapes() -> None:
    group = _room()
    app = group.protect(b"hi")
    assert application_epoch(app) == (group.group_id, 0)
    commit, _, _ = group.commit([])
    assert _code(lambda: application_epoch(commit)) is ErrorCode.MLS_INVALID
    assert _code(lambda: public_handshake(app)) is ErrorCode.MLS_INVALID
    private_commit, _, _ = Group.create(BOB, extensions=room_extensions(BOB)).commit(
        [], private=True
    )
    assert _code(lambda: application_epoch(private_commit)) is ErrorCode.MLS_INVALID
    assert _code(lambda: decode_mls(b"\x00\x01", "x")) is ErrorCode.MLS_INVALID
