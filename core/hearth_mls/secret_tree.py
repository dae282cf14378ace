"""The secret tree and its per-sender hash ratchets (RFC 9420 §9, §9.1, §9.2).

The epoch's ``encryption_secret`` sits at the root of a tree shaped like the
ratchet tree; each node's secret yields its children's
(``ExpandWithLabel(secret, "tree", "left"/"right", Nh)``) and each leaf's secret
starts a *handshake* and an *application* hash ratchet. Node secrets are
derived lazily and deleted as soon as their children exist (§9.2).

A ratchet hands out each generation's key and nonce once. Receiving may skip
ahead at most ``max_forward`` generations; the keys of skipped generations are
kept, at most ``max_skipped`` per ratchet (the oldest are dropped first), so
late messages still decrypt. A used or dropped generation raises
:class:`~hearth_mls.errors.GenerationReusedError`.

Lookups are two-phase so a failed decryption changes nothing:
:meth:`HashRatchet.prepare` computes a :class:`RatchetStep` without touching
the ratchet and :meth:`HashRatchet.commit` applies it once the AEAD has
authenticated the message.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from hearth_mls import suite, tree_math
from hearth_mls.codec import Reader, Writer, decode_exact
from hearth_mls.errors import GenerationReusedError, GenerationTooFarError, UsageError

#: Default window of generations a receiver may skip ahead (§9.2 leaves it to the application).
DEFAULT_MAX_FORWARD = 1000
#: Default number of skipped-generation keys kept per ratchet.
DEFAULT_MAX_SKIPPED = 1000
_GENERATION_LIMIT = 1 << 32  # generations are uint32 (§6.3.2)


class RatchetType(enum.Enum):
    """The two ratchets of a leaf (§9.1)."""

    HANDSHAKE = "handshake"
    APPLICATION = "application"


@dataclass(frozen=True, slots=True)
class RatchetStep:
    """The result of looking up one generation, applied later by :meth:`HashRatchet.commit`."""

    generation: int
    key: bytes
    nonce: bytes
    #: Ratchet secret and generation after the step (None if the key was a kept skipped one).
    next_secret: bytes | None
    next_generation: int
    #: Keys of generations skipped over by this step, to keep.
    skipped: tuple[tuple[int, bytes, bytes], ...]


def sender_data_key_nonce(sender_data_secret: bytes, ciphertext: bytes) -> tuple[bytes, bytes]:
    """sender_data_key and sender_data_nonce for a PrivateMessage (§6.3.2).

    The sample is the first ``KDF.Nh`` bytes of the content ciphertext (all of
    it when shorter).
    """
    sample = ciphertext[: suite.NH]
    return (
        suite.expand_with_label(sender_data_secret, "key", sample, suite.NK),
        suite.expand_with_label(sender_data_secret, "nonce", sample, suite.NN),
    )


class HashRatchet:
    """One sender's handshake or application ratchet (§9.1)."""

    __slots__ = ("_secret", "_skipped", "max_forward", "max_skipped", "next_generation")

    def __init__(
        self,
        secret: bytes,
        *,
        max_forward: int = DEFAULT_MAX_FORWARD,
        max_skipped: int = DEFAULT_MAX_SKIPPED,
    ) -> None:
        self._secret = secret
        self.next_generation = 0
        self.max_forward = max_forward
        self.max_skipped = max_skipped
        self._skipped: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()

    @staticmethod
    def _derive(secret: bytes, generation: int) -> tuple[bytes, bytes, bytes]:
        """(key, nonce, next ratchet secret) for ``generation`` (§9.1)."""
        return (
            suite.derive_tree_secret(secret, "key", generation, suite.NK),
            suite.derive_tree_secret(secret, "nonce", generation, suite.NN),
            suite.derive_tree_secret(secret, "secret", generation, suite.NH),
        )

    def prepare(self, generation: int) -> RatchetStep:
        """Look up ``generation`` for a received message without changing the ratchet."""
        if not 0 <= generation < _GENERATION_LIMIT:
            raise GenerationTooFarError(f"generation {generation} is not a uint32")
        if generation < self.next_generation:
            kept = self._skipped.get(generation)
            if kept is None:
                raise GenerationReusedError(
                    f"generation {generation} was already used or its key deleted"
                )
            return RatchetStep(generation, kept[0], kept[1], None, self.next_generation, ())
        if generation - self.next_generation > self.max_forward:
            raise GenerationTooFarError(
                f"generation {generation} is more than {self.max_forward} ahead of "
                f"{self.next_generation}"
            )
        secret = self._secret
        skipped: list[tuple[int, bytes, bytes]] = []
        keep_from = generation - self.max_skipped
        for g in range(self.next_generation, generation):
            key, nonce, secret = self._derive(secret, g)
            if g >= keep_from:
                skipped.append((g, key, nonce))
        key, nonce, next_secret = self._derive(secret, generation)
        return RatchetStep(generation, key, nonce, next_secret, generation + 1, tuple(skipped))

    def commit(self, step: RatchetStep) -> None:
        """Apply a prepared step: delete the used key, keep skipped ones (§9.2)."""
        if step.next_secret is None:
            del self._skipped[step.generation]
            return
        if step.generation < self.next_generation:
            raise UsageError(f"step for generation {step.generation} is stale")
        for g, key, nonce in step.skipped:
            self._skipped[g] = (key, nonce)
        while len(self._skipped) > self.max_skipped:
            self._skipped.popitem(last=False)
        self._secret = step.next_secret
        self.next_generation = step.next_generation

    def take(self, generation: int) -> tuple[bytes, bytes]:
        """prepare + commit: consume ``generation``'s key and nonce."""
        step = self.prepare(generation)
        self.commit(step)
        return step.key, step.nonce

    def next(self) -> tuple[int, bytes, bytes]:
        """For sending: ``(generation, key, nonce)`` of the next generation, consumed."""
        generation = self.next_generation
        if generation >= _GENERATION_LIMIT:
            raise UsageError("ratchet exhausted its uint32 generations")
        key, nonce, self._secret = self._derive(self._secret, generation)
        self.next_generation = generation + 1
        return generation, key, nonce

    @property
    def skipped_generations(self) -> list[int]:
        """Generations below ``next_generation`` whose keys are still kept."""
        return list(self._skipped)


class SecretTree:
    """The secret tree of one epoch (§9), with lazily created ratchets."""

    __slots__ = ("_nodes", "_ratchets", "leaf_count", "max_forward", "max_skipped")

    def __init__(
        self,
        encryption_secret: bytes,
        leaf_count: int,
        *,
        max_forward: int = DEFAULT_MAX_FORWARD,
        max_skipped: int = DEFAULT_MAX_SKIPPED,
    ) -> None:
        if leaf_count <= 0 or leaf_count & (leaf_count - 1):
            raise UsageError(f"{leaf_count} leaves is not a perfect tree (RFC 9420 §4.1)")
        self.leaf_count = leaf_count
        self.max_forward = max_forward
        self.max_skipped = max_skipped
        self._nodes: dict[int, bytes] = {tree_math.root(leaf_count): encryption_secret}
        self._ratchets: dict[tuple[int, RatchetType], HashRatchet] = {}

    def _leaf_secret(self, leaf: int) -> bytes:
        """Derive leaf ``leaf``'s secret, deleting every consumed node secret (§9.2)."""
        target = tree_math.leaf_to_node(leaf)
        path = [target, *tree_math.direct_path(target, self.leaf_count)]
        start = next((i for i, node in enumerate(path) if node in self._nodes), None)
        if start is None:
            raise UsageError(f"leaf {leaf}'s secrets were already derived and deleted")
        for node in reversed(path[1 : start + 1]):
            secret = self._nodes.pop(node)
            self._nodes[tree_math.left(node)] = suite.expand_with_label(
                secret, "tree", b"left", suite.NH
            )
            self._nodes[tree_math.right(node)] = suite.expand_with_label(
                secret, "tree", b"right", suite.NH
            )
        return self._nodes.pop(target)

    def ratchet(self, leaf: int, kind: RatchetType) -> HashRatchet:
        """Leaf ``leaf``'s ``kind`` ratchet, starting both of the leaf's ratchets on first use."""
        if not 0 <= leaf < self.leaf_count:
            raise UsageError(f"leaf {leaf} is outside a tree of {self.leaf_count} leaves")
        found = self._ratchets.get((leaf, kind))
        if found is not None:
            return found
        leaf_secret = self._leaf_secret(leaf)
        for k in RatchetType:
            self._ratchets[(leaf, k)] = HashRatchet(
                suite.expand_with_label(leaf_secret, k.value, b"", suite.NH),
                max_forward=self.max_forward,
                max_skipped=self.max_skipped,
            )
        return self._ratchets[(leaf, kind)]

    # --- persistence ---------------------------------------------------------

    def encode(self, w: Writer) -> None:
        """Write the tree's remaining secrets (deleted keys stay deleted).

        Layout (presentation language): ``uint32 leaf_count; {uint32 node;
        opaque secret<V>;} nodes<V>; {uint32 leaf; uint8 kind (0 handshake,
        1 application); opaque secret<V>; uint32 next_generation; {uint32
        generation; opaque key<V>; opaque nonce<V>;} skipped<V>;} ratchets<V>``.
        The window sizes are configuration, not state: pass them to
        :meth:`decode`. :mod:`hearth_mls.group_state` embeds this layout.
        """
        w.uint32(self.leaf_count)
        w.vector(sorted(self._nodes.items()), _put_node)
        ratchets = sorted(self._ratchets.items(), key=lambda kv: (kv[0][0], _KIND_CODE[kv[0][1]]))
        w.vector(ratchets, _put_ratchet)

    @classmethod
    def decode(
        cls,
        r: Reader,
        *,
        max_forward: int = DEFAULT_MAX_FORWARD,
        max_skipped: int = DEFAULT_MAX_SKIPPED,
    ) -> SecretTree:
        """Read a tree written by :meth:`encode`; raises DecodeError on bad bytes."""
        leaf_count = r.uint32()
        if leaf_count == 0 or leaf_count & (leaf_count - 1):
            raise r.error(f"{leaf_count} leaves is not a perfect tree")
        tree = cls(bytes(suite.NH), leaf_count, max_forward=max_forward, max_skipped=max_skipped)
        tree._nodes = dict(r.vector(lambda r2: (r2.uint32(), r2.opaque())))
        width = tree_math.node_width(leaf_count)
        if any(node >= width for node in tree._nodes):
            raise r.error("a node index outside the tree")
        for (leaf, kind), ratchet in r.vector(lambda r2: _get_ratchet(r2, tree)):
            if leaf >= leaf_count:
                raise r.error(f"ratchet for leaf {leaf} outside the tree")
            tree._ratchets[(leaf, kind)] = ratchet
        return tree

    def to_bytes(self) -> bytes:
        """:meth:`encode` alone, for a client to persist one tree."""
        w = Writer()
        self.encode(w)
        return w.getvalue()

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        max_forward: int = DEFAULT_MAX_FORWARD,
        max_skipped: int = DEFAULT_MAX_SKIPPED,
    ) -> SecretTree:
        """Restore a tree saved by :meth:`to_bytes`; raises DecodeError on bad bytes."""
        return decode_exact(
            data,
            "SecretTree",
            lambda r: cls.decode(r, max_forward=max_forward, max_skipped=max_skipped),
        )


_KIND_CODE = {RatchetType.HANDSHAKE: 0, RatchetType.APPLICATION: 1}
_KIND_OF = {code: kind for kind, code in _KIND_CODE.items()}


def _put_node(w: Writer, item: tuple[int, bytes]) -> None:
    w.uint32(item[0]).opaque(item[1])


def _put_ratchet(w: Writer, item: tuple[tuple[int, RatchetType], HashRatchet]) -> None:
    (leaf, kind), ratchet = item
    w.uint32(leaf).uint8(_KIND_CODE[kind]).opaque(ratchet._secret).uint32(ratchet.next_generation)
    w.vector(
        list(ratchet._skipped.items()),
        lambda w2, g: w2.uint32(g[0]).opaque(g[1][0]).opaque(g[1][1]),
    )


def _get_ratchet(r: Reader, tree: SecretTree) -> tuple[tuple[int, RatchetType], HashRatchet]:
    leaf = r.uint32()
    code = r.uint8()
    kind = _KIND_OF.get(code)
    if kind is None:
        raise r.error(f"unknown ratchet kind {code}")
    ratchet = HashRatchet(r.opaque(), max_forward=tree.max_forward, max_skipped=tree.max_skipped)
    ratchet.next_generation = r.uint32()
    skipped: list[Any] = r.vector(lambda r2: (r2.uint32(), r2.opaque(), r2.opaque()))
    for generation, key, nonce in skipped:
        if generation >= ratchet.next_generation:
            raise r.error(f"skipped generation {generation} is not below the ratchet")
        ratchet._skipped[generation] = (key, nonce)
    return (leaf, kind), ratchet
