"""Interop with ts-mls 1.6.4 (issue 4, "Must show"), both ways.

Every test pairs two implementations as members of one RFC 9420 group, each behind a
JSON-lines driver (tests/mls/interop/README.md): Hearth's ``python -m hearth_mls.interop``
and ``tsmls_driver.mjs`` on ts-mls. The creator's implementation adds members of the
other implementation; application messages must decrypt in every direction across the
epochs of an add (RFC 9420 §12.1.1), an update (§12.4, a commit with an UpdatePath) and
a remove (§12.1.3); the removed member must then fail to decrypt (§12.4.2: it is no
longer in the new epoch's secret tree). The ts-mls/ts-mls pair is the control: it checks
the driver and the scenario without Hearth.
"""

from __future__ import annotations

import json
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


def send(sender: Member, receivers: list[Member], label: str) -> None:
    """``sender`` protects one message; every receiver must decrypt exactly it (§6.3)."""
    plaintext = f"{label}: {sender.name} says hi ✓".encode() + bytes(range(7))
    message = sender.protect(plaintext)
    for receiver in receivers:
        assert receiver.unprotect(message) == plaintext, f"{label}: {sender} -> {receiver}"


def all_talk(members: list[Member], label: str) -> None:
    """Every member sends once and every other member decrypts it."""
    for sender in members:
        send(sender, [m for m in members if m is not sender], label)


def deliver(commit: bytes, receivers: list[Member]) -> None:
    """The Delivery Service fans a commit out; each receiver applies it (§12.4.2)."""
    for receiver in receivers:
        receiver.process(commit)


def assert_same_epoch(members: list[Member], epoch: int) -> None:
    """Every member is at ``epoch``, and members that report it share one epoch authenticator.

    The epoch authenticator (RFC 9420 §8.7) is derived from the whole key schedule, so
    equal values mean both implementations agree on every secret of the epoch.
    """
    states = {m.name: m.export_state() for m in members}
    assert {name: s.get("epoch") for name, s in states.items()} == {m.name: epoch for m in members}
    authenticators = {
        s["epoch_authenticator"] for s in states.values() if "epoch_authenticator" in s
    }
    for m in members:
        if m.implementation == TSMLS:
            assert "epoch_authenticator" in states[m.name]
    assert len(authenticators) <= 1, f"epoch {epoch}: members disagree: {states}"


def cannot_decrypt(member: Member, message: bytes) -> DriverError:
    with pytest.raises(DriverError) as caught:
        member.unprotect(message)
    return caught.value


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

    # Epoch 1: Alice adds Bob (§12.1.1); Bob joins from the Welcome and the ratchet tree.
    added = alice.add_members([bob.create_key_package()])
    assert added.epoch == 1
    assert bob.join(added.welcome, added.ratchet_tree) == 1
    assert bob.group_id == GROUP_ID
    assert_same_epoch([alice, bob], 1)
    all_talk([alice, bob], "epoch 1")

    # Epoch 2: Alice adds Carol; Bob processes the commit, Carol joins.
    added = alice.add_members([carol.create_key_package()])
    assert added.epoch == 2
    deliver(added.commit, [bob])
    assert carol.join(added.welcome, added.ratchet_tree) == 2
    assert_same_epoch([alice, bob, carol], 2)
    all_talk([alice, bob, carol], "epoch 2 (after add)")

    # Epoch 3: Bob (the joiner's implementation) commits a fresh UpdatePath (§12.4).
    commit, epoch = bob.update()
    assert epoch == 3
    deliver(commit, [alice, carol])
    assert_same_epoch([alice, bob, carol], 3)
    all_talk([alice, bob, carol], "epoch 3 (after update)")

    # Epoch 4: Alice removes Carol (leaf 2, §12.1.3). Carol receives the commit too.
    commit, epoch = alice.remove(2)
    assert epoch == 4
    deliver(commit, [bob])
    try:
        outcome = carol.process(commit)
    except DriverError:
        pass  # refusing to process one's own removal is acceptable
    else:
        # Applied: Carol must know she is out, or at least not be in the new epoch.
        assert outcome.get("active", False) is False or outcome.get("epoch") != 4
    assert_same_epoch([alice, bob], 4)
    for sender, receiver in [(alice, bob), (bob, alice)]:
        plaintext = f"epoch 4 (after remove): {sender.name} to {receiver.name}".encode()
        message = sender.protect(plaintext)
        cannot_decrypt(carol, message)
        assert receiver.unprotect(message) == plaintext

    # Epoch 5: Bob updates again in the tree with a blank leaf; Carol stays locked out.
    commit, epoch = bob.update()
    assert epoch == 5
    deliver(commit, [alice])
    with pytest.raises(DriverError):
        carol.process(commit)
    assert_same_epoch([alice, bob], 5)
    for sender, receiver in [(alice, bob), (bob, alice)]:
        plaintext = f"epoch 5: {sender.name} to {receiver.name}".encode()
        message = sender.protect(plaintext)
        cannot_decrypt(carol, message)
        assert receiver.unprotect(message) == plaintext


@pytest.mark.parametrize(("creator_impl", "joiner_impl"), PAIRS)
def test_tampered_messages_rejected_state_unchanged(
    creator_impl: str, joiner_impl: str, spawn: Spawn
) -> None:
    """A tampered commit or application message is refused (§6.1 signature, §6.3 AEAD)
    and the receiver's state is unchanged: the genuine message still works afterwards.
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
    with pytest.raises(DriverError):
        bob.process(tampered)
    assert bob.export_state().get("epoch") == before.get("epoch") == 1
    bob.process(commit)
    assert_same_epoch([alice, bob], 2)

    plaintext = b"genuine application data"
    message = alice.protect(plaintext)
    tampered = message[:-1] + bytes([message[-1] ^ 0x80])  # inside the AEAD tag
    cannot_decrypt(bob, tampered)
    assert bob.unprotect(message) == plaintext


@pytest.mark.parametrize("implementation", [TSMLS, HEARTH])
def test_driver_protocol_errors(implementation: str, spawn: Spawn) -> None:
    """Bad requests get an error answer with a code and a message, and the driver lives on."""
    member = spawn(implementation, "dora")
    driver = member.driver

    driver.send_raw(b"this is not json")
    answer = driver.read_answer()
    assert answer.get("id") is None
    assert isinstance(answer["error"]["code"], str)
    assert answer["error"]["message"]

    for op, params in [
        ("no_such_op", {}),
        ("protect", {"group_id": b"nowhere".hex(), "plaintext": "00"}),
        ("create_key_package", {"identity": "not hex"}),
        ("join", {"welcome": "00"}),
    ]:
        with pytest.raises(DriverError) as caught:
            driver.call(op, **params)
        assert caught.value.code
        assert caught.value.message

    member.create_group(GROUP_ID)
    with pytest.raises(DriverError):
        member.process(bytes.fromhex("0001") + b"garbage")
    assert member.epoch() == 0
    # Still working after the errors.
    commit, epoch = member.update()
    assert epoch == 1
    assert commit
    driver.send_raw(json.dumps({"id": "last", "op": "export_state"}).encode())
    answer = driver.read_answer()
    assert answer.get("id") == "last"
    assert "error" in answer  # no group_id given


def test_driver_failure_is_reported_with_stderr() -> None:
    """A driver that dies is reported with its exit status and stderr, never a hang."""
    with (
        LineDriver("broken", ["sh", "-c", "echo boom >&2; exit 3"]) as driver,
        pytest.raises(DriverFailure, match=r"(?s)exited with 3.*boom"),
    ):
        driver.call("export_state", group_id="00")
