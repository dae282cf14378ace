"""Secret tree and hash ratchets (RFC 9420 §9): windows, reuse and deletion."""

from __future__ import annotations

import pytest

from hearth_mls.errors import GenerationReusedError, GenerationTooFarError, UsageError
from hearth_mls.secret_tree import HashRatchet, RatchetType, SecretTree

SECRET = bytes(range(32))


def _pair() -> tuple[HashRatchet, HashRatchet]:
    return HashRatchet(SECRET), HashRatchet(SECRET)


def test_sender_and_receiver_agree_in_order() -> None:
    sender, receiver = _pair()
    for expected in range(5):
        generation, key, nonce = sender.next()
        assert generation == expected
        assert receiver.take(generation) == (key, nonce)


def test_out_of_order_within_window() -> None:
    sender, receiver = _pair()
    sent = [sender.next() for _ in range(6)]
    for generation, key, nonce in [sent[4], sent[1], sent[5], sent[0], sent[3], sent[2]]:
        assert receiver.take(generation) == (key, nonce)
    assert receiver.skipped_generations == []


def test_reused_generation_is_rejected() -> None:
    receiver = HashRatchet(SECRET)
    receiver.take(3)
    with pytest.raises(GenerationReusedError):
        receiver.take(3)
    receiver.take(1)  # skipped, still kept once
    with pytest.raises(GenerationReusedError):
        receiver.take(1)


def test_generation_too_far_ahead_is_rejected_and_state_unchanged() -> None:
    receiver = HashRatchet(SECRET, max_forward=10)
    with pytest.raises(GenerationTooFarError):
        receiver.take(11)
    assert receiver.next_generation == 0
    receiver.take(10)  # exactly at the edge of the window is fine
    with pytest.raises(GenerationTooFarError):
        receiver.take(1 << 32)


def test_skipped_keys_are_bounded_oldest_dropped() -> None:
    receiver = HashRatchet(SECRET, max_forward=100, max_skipped=3)
    receiver.take(10)
    assert receiver.skipped_generations == [7, 8, 9]
    with pytest.raises(GenerationReusedError):
        receiver.take(2)  # dropped: counts as deleted
    receiver.take(12)
    assert receiver.skipped_generations == [8, 9, 11]


def test_prepare_does_not_change_the_ratchet() -> None:
    receiver = HashRatchet(SECRET)
    step = receiver.prepare(4)
    assert receiver.next_generation == 0
    assert receiver.skipped_generations == []
    receiver.commit(step)
    assert receiver.next_generation == 5
    assert receiver.skipped_generations == [0, 1, 2, 3]
    with pytest.raises(UsageError):
        receiver.commit(step)  # a stale step cannot rewind the ratchet


def test_tree_derives_distinct_ratchets_and_deletes_node_secrets() -> None:
    tree = SecretTree(SECRET, 4)
    keys = {
        (leaf, kind): tree.ratchet(leaf, kind).next()[1]
        for leaf in range(4)
        for kind in RatchetType
    }
    assert len(set(keys.values())) == 8
    assert tree._nodes == {}  # every node and leaf secret consumed (§9.2)
    # The same leaf asked again returns the same ratchet object, not a fresh one.
    assert tree.ratchet(2, RatchetType.APPLICATION).next_generation == 1


def test_two_members_build_the_same_tree() -> None:
    a, b = SecretTree(SECRET, 8), SecretTree(SECRET, 8)
    gen, key, nonce = a.ratchet(5, RatchetType.HANDSHAKE).next()
    assert b.ratchet(5, RatchetType.HANDSHAKE).take(gen) == (key, nonce)


def test_bad_tree_shapes_and_leaves() -> None:
    with pytest.raises(UsageError):
        SecretTree(SECRET, 3)
    with pytest.raises(UsageError):
        SecretTree(SECRET, 4).ratchet(4, RatchetType.APPLICATION)


def test_persisted_tree_continues_where_it_stopped() -> None:
    sender, receiver = SecretTree(SECRET, 8), SecretTree(SECRET, 8)
    sent = [sender.ratchet(3, RatchetType.APPLICATION).next() for _ in range(4)]
    receiver.ratchet(3, RatchetType.APPLICATION).take(sent[2][0])  # skip 0 and 1
    restored = SecretTree.from_bytes(receiver.to_bytes())
    assert restored.to_bytes() == receiver.to_bytes()
    ratchet = restored.ratchet(3, RatchetType.APPLICATION)
    assert ratchet.skipped_generations == [0, 1]
    assert ratchet.take(sent[0][0]) == sent[0][1:]
    with pytest.raises(GenerationReusedError):
        ratchet.take(sent[2][0])
    # Untouched leaves still derive the same keys after a restore.
    gen, key, nonce = sender.ratchet(6, RatchetType.HANDSHAKE).next()
    assert restored.ratchet(6, RatchetType.HANDSHAKE).take(gen) == (key, nonce)


def test_persisted_tree_rejects_bad_bytes() -> None:
    from hearth_mls.errors import DecodeError

    good = SecretTree(SECRET, 2)
    good.ratchet(0, RatchetType.HANDSHAKE).next()
    data = good.to_bytes()
    with pytest.raises(DecodeError):
        SecretTree.from_bytes(data + b"\0")
    with pytest.raises(DecodeError):
        SecretTree.from_bytes(b"\0\0\0\x03" + data[4:])  # 3 leaves
