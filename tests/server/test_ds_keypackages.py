"""KeyPackage upload and claim (protocol.md §12.1, §12.3): every check has its error,
a refused upload stores nothing, a KeyPackage is given out once."""

from __future__ import annotations

import time
from dataclasses import replace

from hearth_core.errors import ErrorCode
from hearth_core.frames import (
    ClaimKeyPackage,
    Error,
    KeyPackageFrame,
    KeyPackageStock,
    UploadKeyPackages,
)
from hearth_mls import suite
from hearth_mls.credential import Credential, CredentialType
from hearth_mls.join import create_key_package, default_capabilities
from hearth_mls.mls_message import MLSMessage

from .conftest import Connect, invite
from .mls_fixtures import create_mls_room, join_by_invite, key_package, kp_bytes


async def _upload(client: object, identity: bytes, blobs: list[bytes]) -> object:
    return await client.request(UploadKeyPackages(identity=identity, key_packages=blobs))  # type: ignore[attr-defined]


async def test_valid_upload_reports_stock_and_low_mark(connect: Connect) -> None:
    client = await connect()
    me = await client.new_identity()
    answer = await _upload(client, me, [kp_bytes(key_package(me)) for _ in range(3)])
    assert isinstance(answer, KeyPackageStock)
    assert (answer.stock, answer.low) == (3, True)
    query = await _upload(client, me, [])
    assert isinstance(query, KeyPackageStock)
    assert query.stock == 3


async def _refused(connect: Connect, make: object, code: ErrorCode) -> None:
    client = await connect()
    me = await client.new_identity()
    good = kp_bytes(key_package(me))
    bad = make(me)  # type: ignore[operator]
    answer = await _upload(client, me, [good, bad])
    assert isinstance(answer, Error), answer
    assert answer.code is code, answer
    assert answer.field == "$.key_packages[1]"
    stock = await _upload(client, me, [])
    assert isinstance(stock, KeyPackageStock)
    assert stock.stock == 0


async def test_bad_signature_is_refused(connect: Connect) -> None:
    def make(me: bytes) -> bytes:
        kp = key_package(me).key_package
        forged = replace(kp, signature=bytes(64))
        return MLSMessage(forged).to_bytes()

    await _refused(connect, make, ErrorCode.KEY_PACKAGE_INVALID)


async def test_wrong_suite_is_refused(connect: Connect) -> None:
    def make(me: bytes) -> bytes:
        secrets = key_package(me)
        kp = replace(secrets.key_package, cipher_suite=2)
        kp = kp.with_signature(
            suite.sign_with_label(secrets.signature_priv, "KeyPackageTBS", kp.to_be_signed())
        )
        return MLSMessage(kp).to_bytes()

    await _refused(connect, make, ErrorCode.UNSUPPORTED_SUITE)


async def test_expired_lifetime_is_refused(connect: Connect) -> None:
    def make(me: bytes) -> bytes:
        old = int(time.time()) - 10 * 86400
        return kp_bytes(key_package(me, lifetime=86400, now=old))

    await _refused(connect, make, ErrorCode.KEY_PACKAGE_EXPIRED)


async def test_credential_not_bound_to_uploader_is_refused(connect: Connect) -> None:
    await _refused(
        connect, lambda me: kp_bytes(key_package(b"\x01" * 32)), ErrorCode.CREDENTIAL_MISMATCH
    )


async def test_without_room_roles_capability_is_refused(connect: Connect) -> None:
    def make(me: bytes) -> bytes:
        return kp_bytes(create_key_package(me, capabilities=default_capabilities()))

    await _refused(connect, make, ErrorCode.KEY_PACKAGE_INVALID)


async def test_garbage_and_non_keypackage_bytes_are_refused(connect: Connect) -> None:
    await _refused(connect, lambda me: b"\x00\x01garbage", ErrorCode.KEY_PACKAGE_INVALID)
    cred = Credential(CredentialType.BASIC, identity=b"x")
    await _refused(connect, lambda me: cred.to_bytes(), ErrorCode.KEY_PACKAGE_INVALID)


async def test_reupload_is_refused_even_after_claim(connect: Connect) -> None:
    client = await connect()
    creator = await create_mls_room(client)
    secret = (await invite(client, creator.room, waiting_room=True)).secret
    joiner = await join_by_invite(await connect(), secret)
    made = key_package(joiner.identity)
    assert isinstance(
        await _upload(joiner.client, joiner.identity, [kp_bytes(made)]), KeyPackageStock
    )
    again = await _upload(joiner.client, joiner.identity, [kp_bytes(made)])
    assert isinstance(again, Error)
    assert again.code is ErrorCode.KEY_PACKAGE_REUSED
    claimed = await client.ok(ClaimKeyPackage(room=creator.room, member=joiner.identity))
    assert isinstance(claimed, KeyPackageFrame)
    assert claimed.key_package == kp_bytes(made)
    low = await joiner.client.next_of(KeyPackageStock)
    assert (low.stock, low.low) == (0, True)
    after = await _upload(joiner.client, joiner.identity, [kp_bytes(made)])
    assert isinstance(after, Error)
    assert after.code is ErrorCode.KEY_PACKAGE_REUSED
    empty = await client.request(ClaimKeyPackage(room=creator.room, member=joiner.identity))
    assert isinstance(empty, Error)
    assert empty.code is ErrorCode.NO_KEY_PACKAGE


async def test_claim_needs_a_facilitator_and_a_member_outside_the_group(connect: Connect) -> None:
    client = await connect()
    creator = await create_mls_room(client)
    secret = (await invite(client, creator.room, waiting_room=False, max_uses=2)).secret
    joiner = await join_by_invite(await connect(), secret)
    await joiner.upload(2)
    refused = await joiner.client.request(
        ClaimKeyPackage(room=creator.room, member=joiner.identity)
    )
    assert isinstance(refused, Error)
    assert refused.code is ErrorCode.FORBIDDEN
    stranger = await client.request(ClaimKeyPackage(room=creator.room, member=b"\x02" * 32))
    assert isinstance(stranger, Error)
    assert stranger.code is ErrorCode.NO_SUCH_MEMBER
    in_group = await client.request(ClaimKeyPackage(room=creator.room, member=creator.identity))
    assert isinstance(in_group, Error)
    assert in_group.code is ErrorCode.NO_SUCH_MEMBER


async def test_two_claims_at_once_never_share_a_keypackage(connect: Connect) -> None:
    import asyncio

    client = await connect()
    creator = await create_mls_room(client)
    secret = (await invite(client, creator.room, waiting_room=True)).secret
    joiner = await join_by_invite(await connect(), secret)
    await joiner.upload(3)
    claims = await asyncio.gather(
        *(
            client.request(ClaimKeyPackage(room=creator.room, member=joiner.identity))
            for _ in range(4)
        )
    )
    got = [c.key_package for c in claims if isinstance(c, KeyPackageFrame)]
    errors = [c for c in claims if isinstance(c, Error)]
    assert len(got) == 3
    assert len(set(got)) == 3
    assert [e.code for e in errors] == [ErrorCode.NO_KEY_PACKAGE]
