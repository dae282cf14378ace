"""Interop with ts-mls 1.6.4 (issue 4, "Must show"), both ways.

Every test pairs two implementations as members of one RFC 9420 group, each member
behind its own JSON-lines driver process (tests/mls/interop/README.md): Hearth's
``python -m hearth_mls.interop`` and ``tsmls_driver.mjs`` on ts-mls. The creator's
implementation adds members of the other implementation; application messages must
decrypt in every direction across the epochs of an add (RFC 9420 §12.1.1), an update
(§12.4, a commit with an UpdatePath) and a remove (§12.1.3); the removed member must
then fail to decrypt (§12.4.2: it is not in the new epoch's secret tree). The
ts-mls/ts-mls pair is the control: it checks the driver and the scenario without Hearth.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator

import pytest

from tests.mls.interop.driver import (
    DriverError,
    DriverFailure,
    InteropError,
    LineDriver,
    Member,
    ci,
    hearth_argv,
    install_tsmls,
    node_argv,
)

TSMLS = "ts-mls"
HEARTH = "hearth"
GROUP_ID = b"hearth-interop-room"

Spawn = Callable[[str, str], Member]


@pytest.fixture(scope="session")
def tsmls_argv() -> list[str]:
    """Node and the pinned ts-mls, installed with ``npm ci`` on first use.

    Without Node the tests fail in CI (``CI=true``) and are skipped elsewhere.
    """
    try:
        argv = node_argv()
    except InteropError as e:
        if ci():
            pytest.fail(f"interop with ts-mls cannot run in CI: {e}")
        pytest.skip(f"interop with ts-mls needs Node.js (not in CI, so skipped): {e}")
    try:
        install_tsmls()
    except InteropError as e:
        pytest.fail(str(e))
    return argv


@pytest.fixture
def spawn(request: pytest.FixtureRequest) -> Iterator[Spawn]:
    """Start one driver process per member; every process is closed after the test."""
    drivers: list[LineDriver] = []

    def start(implementation: str, name: str) -> Member:
        if implementation == TSMLS:
            argv = request.getfixturevalue("tsmls_argv")
        elif implementation == HEARTH:
            argv = hearth_argv()
        else:
            raise ValueError(f"unknown implementation {implementation!r}")
        driver = LineDriver(f"{name}@{implementation}", argv)
        drivers.append(driver)
        return Member(implementation, name, driver)

    yield start
    for driver in drivers:
        driver.close()


def send(sender: Member, receivers: list[Member], label: str) -> bytes:
    """``sender`` protects one message; every receiver decrypts exactly it, from its leaf."""
    plaintext = f"{label}: {sender.name} says hi ✓".encode() + bytes(range(7))
    message = sender.protect(plaintext)
    for receiver in receivers:
        received = receiver.unprotect(message)
        assert received.plaintext == plaintext, f"{label}: {sender} -> {receiver}"
        assert received.sender == sender.leaf_index, f"{label}: {sender} -> {receiver}"
    return message


def all_talk(members: list[Member], label: str) -> None:
    """Every member sends once and every other member decrypts it (§6.3)."""
    for sender in members:
        send(sender, [m for m in members if m is not sender], label)


def deliver(commit: bytes, receivers: list[Member], epoch: int) -> None:
    """The Delivery Service fans a commit out; each receiver applies it (§12.4.2)."""
    for receiver in receivers:
        outcome = receiver.process(commit)
        assert outcome.get("kind") == "commit"
        assert outcome.get("epoch") == epoch
        assert outcome.get("removed") is False


def assert_agree(members: list[Member], epoch: int) -> None:
    """Every member is at ``epoch`` and derived the same epoch from the same tree.

    Equal epoch authenticators (§8.7) and exported secrets (§8.5) mean both
    implementations agree on the whole key schedule; equal tree hashes (§7.8) and member
    lists mean they agree on the ratchet tree.
    """
    states = {m.name: m.export_state() for m in members}
    for m in members:
        state = states[m.name]
        assert state.get("epoch") == epoch, f"{m} is at epoch {state.get('epoch')}"
        assert state.get("leaf_index") == m.leaf_index, f"{m}"
        assert state.get("group_id") == GROUP_ID.hex(), f"{m}"
    for key in ("epoch_authenticator", "exporter", "tree_hash", "members"):
        values = {m.name: states[m.name].get(key) for m in members}
        first = values[members[0].name]
        assert first, f"epoch {epoch}: {members[0]} reports no {key}"
        assert all(v == first for v in values.values()), f"epoch {epoch}: {key} differ: {values}"
    roster = states[members[0].name]["members"]
    assert sorted((e["leaf_index"], bytes.fromhex(e["identity"]).decode()) for e in roster) == (
        sorted((m.leaf_index, m.name) for m in members)
    )


def cannot_decrypt(member: Member, message: bytes) -> None:
    with pytest.raises(DriverError) as caught:
        member.unprotect(message)
    assert caught.value.code in {"rejected", "wrong_epoch", "usage"}, caught.value


PAIRS = [
    pytest.param(TSMLS, TSMLS, id="control-tsmls-creates-tsmls-joins"),
    pytest.param(HEARTH, TSMLS, id="hearth-creates-tsmls-joins"),
    pytest.param(TSMLS, HEARTH, id="tsmls-creates-hearth-joins"),
]


@pytest.mark.parametrize(("creator_impl", "joiner_impl"), PAIRS)
def test_group_across_add_update_remove(creator_impl: str, joiner_impl: str, spawn: Spawn) -> None:
    """Alice (creator) adds Bob, then Carol (both of the other implementation); Bob
    updates; Alice removes Carol; Bob updates again. Everyone talks in every epoch and
    Carol reads nothing after her removal.
    """
    alice = spawn(creator_impl, "alice")
    bob = spawn(joiner_impl, "bob")
    carol = spawn(joiner_impl, "carol")

    assert alice.create_group(GROUP_ID) == 0
    assert alice.group_id == GROUP_ID

    # Epoch 1: Alice adds Bob (§12.1.1); Bob joins from the Welcome and the ratchet tree.
    added = alice.add_members([bob.create_key_package()])
    assert added.epoch == 1
    assert bob.join(added.welcome, added.ratchet_tree) == 1
    assert (bob.group_id, bob.leaf_index) == (GROUP_ID, 1)
    assert_agree([alice, bob], 1)
    all_talk([alice, bob], "epoch 1")

    # Epoch 2: Alice adds Carol; Bob processes the commit, Carol joins.
    added = alice.add_members([carol.create_key_package()])
    assert added.epoch == 2
    deliver(added.commit, [bob], 2)
    assert carol.join(added.welcome, added.ratchet_tree) == 2
    assert carol.leaf_index == 2
    assert_agree([alice, bob, carol], 2)
    all_talk([alice, bob, carol], "epoch 2 (after add)")

    # Epoch 3: Bob (the joiner's implementation) commits a fresh UpdatePath (§12.4).
    commit, epoch = bob.update()
    assert epoch == 3
    deliver(commit, [alice, carol], 3)
    assert_agree([alice, bob, carol], 3)
    all_talk([alice, bob, carol], "epoch 3 (after update)")

    # Epoch 4: Alice removes Carol (§12.1.3). Carol receives the commit too and learns it.
    commit, epoch = alice.remove(carol.leaf_index)
    assert epoch == 4
    deliver(commit, [bob], 4)
    assert carol.process(commit).get("removed") is True
    assert_agree([alice, bob], 4)
    for sender, receiver in [(alice, bob), (bob, alice)]:
        message = send(sender, [receiver], "epoch 4 (after remove)")
        cannot_decrypt(carol, message)

    # Epoch 5: Bob updates again, in a tree with a blank leaf; Carol stays locked out.
    commit, epoch = bob.update()
    assert epoch == 5
    deliver(commit, [alice], 5)
    with pytest.raises(DriverError):
        carol.process(commit)
    assert_agree([alice, bob], 5)
    for sender, receiver in [(alice, bob), (bob, alice)]:
        message = send(sender, [receiver], "epoch 5")
        cannot_decrypt(carol, message)


@pytest.mark.parametrize(("creator_impl", "joiner_impl"), PAIRS)
def test_joiner_adds_and_removes(creator_impl: str, joiner_impl: str, spawn: Spawn) -> None:
    """The other way round inside one group: the joiner's implementation commits the
    add of a member of the creator's implementation (its Welcome and tree), then removes
    the creator; the creator can read nothing afterwards.
    """
    alice = spawn(creator_impl, "alice")
    bob = spawn(joiner_impl, "bob")
    dave = spawn(creator_impl, "dave")
    erin = spawn(joiner_impl, "erin")

    alice.create_group(GROUP_ID)
    # Epoch 1: two members added by one commit.
    added = alice.add_members([bob.create_key_package(), erin.create_key_package()])
    bob.join(added.welcome, added.ratchet_tree)
    erin.join(added.welcome, added.ratchet_tree)
    assert sorted([bob.leaf_index, erin.leaf_index]) == [1, 2]
    assert_agree([alice, bob, erin], 1)

    # Epoch 2: Bob adds Dave, who runs Alice's implementation.
    added = bob.add_members([dave.create_key_package()])
    assert added.epoch == 2
    deliver(added.commit, [alice, erin], 2)
    assert dave.join(added.welcome, added.ratchet_tree) == 2
    assert dave.leaf_index == 3
    everyone = [alice, bob, erin, dave]
    assert_agree(everyone, 2)
    all_talk(everyone, "epoch 2")

    # Epoch 3: Dave commits an update.
    commit, _ = dave.update()
    deliver(commit, [alice, bob, erin], 3)
    assert_agree(everyone, 3)
    all_talk(everyone, "epoch 3")

    # Epoch 4: Bob removes Alice, the group's creator (leaf 0).
    commit, epoch = bob.remove(alice.leaf_index)
    assert epoch == 4
    deliver(commit, [erin, dave], 4)
    assert alice.process(commit).get("removed") is True
    rest = [bob, erin, dave]
    assert_agree(rest, 4)
    for sender in rest:
        message = send(sender, [m for m in rest if m is not sender], "epoch 4")
        cannot_decrypt(alice, message)


@pytest.mark.parametrize(
    "implementations",
    [
        pytest.param((TSMLS, TSMLS), id="control-tsmls-only"),
        pytest.param((HEARTH, TSMLS), id="alternating-hearth-first"),
        pytest.param((TSMLS, HEARTH), id="alternating-tsmls-first"),
    ],
)
def test_mixed_group_of_nine(implementations: tuple[str, str], spawn: Spawn) -> None:
    """Nine members alternating between the implementations, every one of them
    committing at some point: adds of several members at once, adds into a blank leaf,
    updates and removes in a tree of eight leaves with blank nodes and unmerged leaves
    (§7.7, §7.9, §12.1), checked by the epoch authenticator after every commit.
    """
    names = [f"m{i}" for i in range(9)]
    members = {n: spawn(implementations[i % 2], n) for i, n in enumerate(names)}
    group: list[Member] = []

    def commit_by(committer: Member, commit: bytes, epoch: int) -> None:
        deliver(commit, [m for m in group if m is not committer], epoch)

    def add(committer: str, *joiners: str) -> None:
        added = members[committer].add_members([members[j].create_key_package() for j in joiners])
        commit_by(members[committer], added.commit, added.epoch)
        for j in joiners:
            assert members[j].join(added.welcome, added.ratchet_tree) == added.epoch
            group.append(members[j])
        assert_agree(group, added.epoch)

    def update(committer: str) -> None:
        commit, epoch = members[committer].update()
        commit_by(members[committer], commit, epoch)
        assert_agree(group, epoch)

    def remove(committer: str, removed: str) -> None:
        gone = members[removed]
        commit, epoch = members[committer].remove(gone.leaf_index)
        group.remove(gone)
        commit_by(members[committer], commit, epoch)
        assert gone.process(commit).get("removed") is True
        assert_agree(group, epoch)
        cannot_decrypt(gone, members[committer].protect(b"not for you"))

    members["m0"].create_group(GROUP_ID)
    group.append(members["m0"])
    add("m0", "m1")
    add("m1", "m2", "m3")
    add("m2", "m4")
    add("m3", "m5", "m6", "m7")
    all_talk(group, "eight members")
    update("m5")
    remove("m4", "m1")
    update("m6")
    remove("m7", "m2")
    add("m0", "m8")  # into the blank leaf left by m1
    assert members["m8"].leaf_index == 1
    update("m8")
    remove("m8", "m3")
    all_talk(group, "after the churn")


@pytest.mark.parametrize("seed", [7, 2026])
def test_seeded_soak_mixed(seed: int, spawn: Spawn) -> None:
    """A seeded random run of 30 commits among six members, three per implementation:
    random committers add outsiders (also members removed earlier, who rejoin), remove
    and update; after each commit all members agree (§8.7) and a random member's message
    decrypts everywhere, and each removed member fails to decrypt it. A failure names
    the seed and the step, so it replays exactly.
    """
    rng = random.Random(seed)
    pool = [spawn((HEARTH, TSMLS)[i % 2], f"p{i}") for i in range(6)]
    group = [pool[0]]
    outside = pool[1:]
    pool[0].create_group(GROUP_ID)
    epoch = 0
    for step in range(30):
        where = f"seed {seed} step {step}"
        committer = rng.choice(group)
        others = [m for m in group if m is not committer]
        removed: Member | None = None
        action = rng.random()
        if outside and (len(group) < 3 or action < 0.4):
            joiners = rng.sample(outside, k=min(len(outside), rng.choice([1, 2])))
            added = committer.add_members([j.create_key_package() for j in joiners])
            commit, epoch = added.commit, added.epoch
            deliver(commit, others, epoch)
            for j in joiners:
                assert j.join(added.welcome, added.ratchet_tree) == epoch, where
                outside.remove(j)
                group.append(j)
        elif others and action < 0.7:
            removed = rng.choice(others)
            commit, epoch = committer.remove(removed.leaf_index)
            group.remove(removed)
            deliver(commit, [m for m in others if m is not removed], epoch)
            assert removed.process(commit).get("removed") is True, where
            outside.append(removed)
        else:
            commit, epoch = committer.update()
            deliver(commit, others, epoch)
        assert_agree(group, epoch)
        sender = rng.choice(group)
        message = send(sender, [m for m in group if m is not sender], where)
        if removed is not None:
            cannot_decrypt(removed, message)


@pytest.mark.parametrize(("creator_impl", "joiner_impl"), PAIRS)
def test_out_of_order_previous_epoch_and_aad(
    creator_impl: str, joiner_impl: str, spawn: Spawn
) -> None:
    """Messages arrive out of order within an epoch (secret tree generations, §9.1), a
    message from the previous epoch arrives after the commit (receiver secrets kept for
    a bounded window, §14), and authenticated_data travels in the clear but
    authenticated (§6.3.1), in both directions.
    """
    alice = spawn(creator_impl, "alice")
    bob = spawn(joiner_impl, "bob")
    alice.create_group(GROUP_ID)
    added = alice.add_members([bob.create_key_package()])
    bob.join(added.welcome, added.ratchet_tree)

    for sender, receiver in [(alice, bob), (bob, alice)]:
        texts = [f"{sender.name} #{i}".encode() for i in range(4)]
        aads = [b"", b"room-topic:42", b"", b"\x00\xff"]
        messages = [sender.protect(t, a) for t, a in zip(texts, aads, strict=True)]
        for i in (3, 0, 2, 1):
            received = receiver.unprotect(messages[i])
            assert (received.plaintext, received.authenticated_data) == (texts[i], aads[i])
            assert received.sender == sender.leaf_index

    # One message from each side at epoch 1, delivered only after the epoch-2 commit.
    late_from_alice = alice.protect(b"sent at epoch 1 by alice")
    late_from_bob = bob.protect(b"sent at epoch 1 by bob")
    commit, epoch = bob.update()
    deliver(commit, [alice], epoch)
    assert_agree([alice, bob], 2)
    assert bob.unprotect(late_from_alice).plaintext == b"sent at epoch 1 by alice"
    assert alice.unprotect(late_from_bob).plaintext == b"sent at epoch 1 by bob"
    all_talk([alice, bob], "epoch 2")


@pytest.mark.parametrize(
    ("creator_impl", "member_impl"),
    [
        pytest.param(TSMLS, TSMLS, id="tsmls-group"),
        pytest.param(HEARTH, TSMLS, id="hearth-group-with-tsmls-member"),
    ],
)
def test_external_join(creator_impl: str, member_impl: str, spawn: Spawn) -> None:
    """A Hearth member joins by an external commit (§12.4.3.2) through the creator's
    GroupInfo with ``external_pub``, and the ts-mls members apply that commit.

    Only Hearth joins externally: ts-mls 1.6.4 cannot read an RFC 9420 external_pub
    (see ``test_tsmls_cannot_join_externally_from_rfc_group_info``).
    """
    alice = spawn(creator_impl, "alice")
    bob = spawn(member_impl, "bob")
    frank = spawn(HEARTH, "frank")

    alice.create_group(GROUP_ID)
    added = alice.add_members([bob.create_key_package()])
    bob.join(added.welcome, added.ratchet_tree)

    group_info, tree = alice.group_info()
    commit, epoch = frank.external_join(group_info, tree)
    assert epoch == 2
    assert frank.leaf_index == 2
    deliver(commit, [alice, bob], 2)
    everyone = [alice, bob, frank]
    assert_agree(everyone, 2)
    all_talk(everyone, "after external join")

    # The external joiner can run the group like anyone else.
    commit, epoch = frank.remove(bob.leaf_index)
    deliver(commit, [alice], epoch)
    assert bob.process(commit).get("removed") is True
    assert_agree([alice, frank], 3)
    all_talk([alice, frank], "after the external joiner's remove")


@pytest.mark.parametrize("creator_impl", [TSMLS, HEARTH])
def test_tsmls_cannot_join_externally_from_rfc_group_info(creator_impl: str, spawn: Spawn) -> None:
    """Known limit of ts-mls 1.6.4: it reads external_pub as the bare key, while RFC 9420
    §12.4.3.2 frames it as ``opaque HPKEPublicKey<V>`` (changed on ts-mls' main line
    by PR #449, not in the 1.6.x release pinned here). Both drivers send the RFC form,
    and the GroupInfo signature covers it, so the ts-mls driver refuses an external join
    with a ``usage`` error naming the cause.
    When ts-mls is upgraded this test fails: then add ts-mls joiners to
    ``test_external_join``.
    """
    alice = spawn(creator_impl, "alice")
    frank = spawn(TSMLS, "frank")
    alice.create_group(GROUP_ID)
    group_info, tree = alice.group_info()
    with pytest.raises(DriverError) as caught:
        frank.external_join(group_info, tree)
    assert caught.value.code == "usage"
    assert "PR #449" in caught.value.message


def _external_senders_rfc() -> bytes:
    """``ExternalSender external_senders<V>`` (RFC 9420 §12.1.8.1) with one sender: a
    Delivery Service with an Ed25519 key and a basic credential (§5.3).
    """

    def opaque(data: bytes) -> bytes:  # a short opaque<V> (§2.1.2, one-byte length)
        assert len(data) < 64
        return bytes([len(data)]) + data

    sender = opaque(bytes(range(32))) + (1).to_bytes(2, "big") + opaque(b"delivery-service")
    return opaque(sender)


def test_hearth_room_with_external_senders_admits_tsmls(spawn: Spawn) -> None:
    """A Hearth room announces its Delivery Service in ``external_senders`` (RFC encoding,
    §12.1.8.1) and ``required_capabilities`` (§11.1); a ts-mls member joins it and the
    two talk across a commit.
    """
    alice = spawn(HEARTH, "alice")
    bob = spawn(TSMLS, "bob")
    required = bytes([0, 0, 2, 0, 1])  # no extensions, no proposals, credential basic
    extensions = {5: _external_senders_rfc(), 3: required}
    assert alice.create_group(GROUP_ID, extensions) == 0
    added = alice.add_members([bob.create_key_package()])
    assert bob.join(added.welcome, added.ratchet_tree) == 1
    assert_agree([alice, bob], 1)
    all_talk([alice, bob], "room with a delivery service")
    commit, epoch = bob.update()
    deliver(commit, [alice], epoch)
    all_talk([alice, bob], "after update")


def test_tsmls_refuses_rfc_external_senders(spawn: Spawn) -> None:
    """Known limit of ts-mls 1.6.4: it reads ``external_senders`` as one ExternalSender,
    not the RFC's ``ExternalSender external_senders<V>`` (§12.1.8.1), so it cannot create
    a group carrying the RFC encoding (../shared/mls-interop/ shows its own encoding).
    """
    alice = spawn(TSMLS, "alice")
    with pytest.raises(DriverError) as caught:
        alice.create_group(GROUP_ID, {5: _external_senders_rfc()})
    assert caught.value.code == "decode_error"
    assert "external_senders" in caught.value.message


#: A private-use GroupContext extension (RFC 9420 §17.3, 0xF000-0xFFFF): Hearth's room
#: roles, ``struct { opaque facilitator_ids<V><V>; }`` as in ../shared/mls-interop/.
ROLES_EXTENSION = 0xF0A0
ROLES_ALICE = bytes([6, 5]) + b"alice"


@pytest.mark.parametrize(("creator_impl", "joiner_impl"), PAIRS)
def test_private_group_context_extension(creator_impl: str, joiner_impl: str, spawn: Spawn) -> None:
    """A room carrying a private-use GroupContext extension admits only members whose
    leaf lists it in its capabilities (§7.2, §12.1.1): the committer rejects the other
    KeyPackage without changing its state, and accepts one that lists it.
    """
    alice = spawn(creator_impl, "alice")
    bob = spawn(joiner_impl, "bob")
    alice.create_group(GROUP_ID, {ROLES_EXTENSION: ROLES_ALICE})

    with pytest.raises(DriverError) as caught:
        alice.add_members([bob.create_key_package()])
    assert caught.value.code == "rejected"
    assert alice.epoch() == 0

    added = alice.add_members([bob.create_key_package([ROLES_EXTENSION])])
    assert bob.join(added.welcome, added.ratchet_tree) == 1
    assert_agree([alice, bob], 1)
    all_talk([alice, bob], "room with roles")
    commit, epoch = bob.update()
    deliver(commit, [alice], epoch)
    assert_agree([alice, bob], 2)


@pytest.mark.parametrize(("creator_impl", "joiner_impl"), PAIRS)
def test_tampered_messages_rejected_state_unchanged(
    creator_impl: str, joiner_impl: str, spawn: Spawn
) -> None:
    """A tampered commit or application message is refused (§6.2 membership tag, §6.3
    AEAD) and the receiver's state is unchanged: the genuine message works afterwards.
    """
    alice = spawn(creator_impl, "alice")
    bob = spawn(joiner_impl, "bob")
    alice.create_group(GROUP_ID)
    added = alice.add_members([bob.create_key_package()])
    bob.join(added.welcome, added.ratchet_tree)

    commit, _ = alice.update()
    before = bob.export_state()
    # Flip one bit of the last byte: inside the membership_tag of the PublicMessage (§6.2).
    tampered = commit[:-1] + bytes([commit[-1] ^ 0x01])
    with pytest.raises(DriverError) as caught:
        bob.process(tampered)
    assert caught.value.code == "rejected"
    assert bob.export_state() == before
    deliver(commit, [bob], 2)
    assert_agree([alice, bob], 2)

    plaintext = b"genuine application data"
    message = alice.protect(plaintext)
    tampered = message[:-1] + bytes([message[-1] ^ 0x80])  # inside the AEAD tag
    cannot_decrypt(bob, tampered)
    assert bob.unprotect(message).plaintext == plaintext


@pytest.mark.parametrize("implementation", [TSMLS, HEARTH])
def test_driver_protocol_errors(implementation: str, spawn: Spawn) -> None:
    """Bad requests get an error answer with the documented code, and the driver lives on."""
    member = spawn(implementation, "dora")
    driver = member.driver

    driver.send_raw(b"this is not json")
    answer = driver.read_answer()
    assert answer.get("ok") is False
    assert answer["error"]["code"] == "bad_request"
    assert answer["error"]["message"]

    for op, params, code in [
        ("no_such_op", {}, "bad_request"),
        ("protect", {"group": "nowhere", "plaintext": "00"}, "unknown_group"),
        ("create_key_package", {}, "bad_request"),
        ("join", {"welcome": "zz"}, "bad_request"),
        ("join", {"welcome": "00"}, "decode_error"),
    ]:
        with pytest.raises(DriverError) as caught:
            driver.call(op, **params)
        assert caught.value.code == code, (op, params, caught.value)
        assert caught.value.message

    # A Welcome for somebody else's key package.
    owner = spawn(TSMLS, "owner")
    stranger = spawn(TSMLS, "stranger")
    owner.create_group(GROUP_ID)
    added = owner.add_members([stranger.create_key_package()])
    with pytest.raises(DriverError) as caught:
        member.join(added.welcome, added.ratchet_tree)
    assert caught.value.code == "no_key_package"

    member.create_group(GROUP_ID)
    with pytest.raises(DriverError) as caught:
        member.process(bytes.fromhex("0001") + b"garbage")
    assert caught.value.code == "decode_error"
    assert member.epoch() == 0
    # Still working after the errors.
    commit, epoch = member.update()
    assert (epoch, member.epoch()) == (1, 1)
    assert commit
    driver.send_raw(json.dumps({"id": "last", "op": "export_state"}).encode())
    answer = driver.read_answer()
    assert answer.get("id") == "last"
    assert answer.get("ok") is False  # no group given


def test_driver_failure_is_reported_with_stderr() -> None:
    """A driver that dies is reported with its exit status and stderr, never a hang."""
    with (
        LineDriver("broken", ["sh", "-c", "echo boom >&2; exit 3"]) as driver,
        pytest.raises(DriverFailure, match=r"(?s)exited with 3.*boom"),
    ):
        driver.call("export_state", group="g1")


def test_hearth_parses_tsmls_wire_messages_byte_exact(spawn: Spawn) -> None:
    """Wire-level interop, below the group state machine: every MLSMessage ts-mls sends
    (KeyPackage, PublicMessage commits with Add, UpdatePath and Remove, Welcome,
    PrivateMessage, GroupInfo) and its ratchet tree decode with Hearth's structs and
    encode back to the same bytes (RFC 9420 §6, §12.4.3.3). Hearth also accepts the
    KeyPackage, GREASE included (§10.1, §7.3, §13.5), and verifies the GroupInfo
    signature (§12.4.3).
    """
    from hearth_mls.framing import PrivateMessage, PublicMessage
    from hearth_mls.group_info import GroupInfo
    from hearth_mls.key_package import KeyPackage
    from hearth_mls.mls_message import MLSMessage
    from hearth_mls.proposal_rules import validate_key_package
    from hearth_mls.suite import verify_with_label
    from hearth_mls.tree_nodes import ratchet_tree_from_bytes, ratchet_tree_to_bytes
    from hearth_mls.welcome_structs import Welcome

    alice = spawn(TSMLS, "alice")
    bob = spawn(TSMLS, "bob")

    def roundtrip(data: bytes, body: type) -> object:
        message = MLSMessage.from_bytes(data)
        assert isinstance(message.body, body)
        assert message.to_bytes() == data
        return message.body

    key_package = roundtrip(bob.create_key_package(), KeyPackage)
    assert isinstance(key_package, KeyPackage)
    validate_key_package(key_package, tree=[], group_extensions=[])
    assert key_package.leaf_node.credential.identity == b"bob"

    alice.create_group(GROUP_ID)
    added = alice.add_members([MLSMessage(key_package).to_bytes()])
    roundtrip(added.commit, PublicMessage)
    roundtrip(added.welcome, Welcome)
    tree = ratchet_tree_from_bytes(added.ratchet_tree)
    assert ratchet_tree_to_bytes(tree) == added.ratchet_tree
    bob.join(added.welcome, added.ratchet_tree)

    roundtrip(alice.protect(b"hello"), PrivateMessage)
    commit, _ = bob.update()
    roundtrip(commit, PublicMessage)
    alice.process(commit)

    group_info_bytes, tree_bytes = alice.group_info()
    group_info = roundtrip(group_info_bytes, GroupInfo)
    assert isinstance(group_info, GroupInfo)
    assert group_info.group_context.group_id == GROUP_ID
    tree = ratchet_tree_from_bytes(tree_bytes)
    assert ratchet_tree_to_bytes(tree) == tree_bytes
    signer = tree[2 * group_info.signer]
    assert signer is not None
    assert signer.leaf is not None
    verify_with_label(
        signer.leaf.signature_key, "GroupInfoTBS", group_info.to_be_signed(), group_info.signature
    )

    commit, _ = alice.remove(bob.leaf_index)
    roundtrip(commit, PublicMessage)
