"""A member's view of one group in one epoch, as immutable data (RFC 9420 §8, §12).

:class:`GroupState` holds everything needed to process the next message: the
GroupContext, the ratchet tree, this member's private keys, the epoch secrets,
the interim transcript hash and the proposals received in this epoch. Every
transition builds a new object (``dataclasses.replace``), so a rejected message
leaves the old state untouched.

:func:`state_to_bytes` / :func:`state_from_bytes` give a versioned encoding
(``FORMAT_VERSION``) with a migration table, so a client can persist the state
after every change and load it after an upgrade. The receiver secrets of
each kept epoch are written in :meth:`SecretTree.encode`'s layout.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from hearth_mls.codec import Reader, Writer, decode_exact
from hearth_mls.errors import MalformedTreeError, StateVersionError
from hearth_mls.extensions import GroupContext
from hearth_mls.framing import FramedContent, Sender
from hearth_mls.key_schedule import EpochSecrets
from hearth_mls.proposals import Proposal, decode_proposal, encode_proposal
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.secret_tree import SecretTree
from hearth_mls.tree_nodes import Node, decode_ratchet_tree, encode_ratchet_tree

#: Version of the serialized state; bump and add a migration when the layout changes.
FORMAT_VERSION = 1


class Phase(enum.Enum):
    """Where the group's state machine is (STYLE.md habit 2)."""

    ACTIVE = "active"
    #: This member sent a commit that the Delivery Service has not confirmed yet.
    PENDING_COMMIT = "pending_commit"
    #: A commit removed this member; only late messages of old epochs decrypt.
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class CachedProposal:
    """A proposal received in this epoch, by its ProposalRef (RFC 9420 §5.2, §12.4)."""

    ref: bytes
    proposal: Proposal
    sender: Sender


@dataclass(frozen=True, slots=True)
class GroupState:
    """One member's state of one group in one epoch (RFC 9420 §8, §12)."""

    context: GroupContext
    #: The ratchet tree of this epoch as the ``ratchet_tree`` extension's node
    #: list (§12.4.3.3, no trailing blanks); :meth:`ratchet_tree` gives a
    #: working :class:`RatchetTree` of it.
    tree: tuple[Node | None, ...]
    own_leaf: int
    signature_priv: bytes
    #: HPKE private keys of this member's nodes, by node index (§7.4).
    private_keys: tuple[tuple[int, bytes], ...]
    secrets: EpochSecrets
    interim_transcript_hash: bytes
    proposals: tuple[CachedProposal, ...] = ()
    phase: Phase = Phase.ACTIVE
    #: External PSKs this member holds: (psk_id, psk).
    external_psks: tuple[tuple[bytes, bytes], ...] = field(default=())
    #: Resumption PSKs of recent epochs: (epoch, resumption_psk).
    resumption_psks: tuple[tuple[int, bytes], ...] = field(default=())
    #: Private keys of the leaf nodes in our own pending Update proposals:
    #: (encryption_key, private key), until a commit applies one (§12.1.2).
    pending_leaf_keys: tuple[tuple[bytes, bytes], ...] = field(default=())

    @property
    def epoch(self) -> int:
        return self.context.epoch

    @property
    def group_id(self) -> bytes:
        return self.context.group_id

    def private_key_map(self) -> dict[int, bytes]:
        return dict(self.private_keys)

    def ratchet_tree(self) -> RatchetTree:
        """A fresh :class:`RatchetTree` of :attr:`tree`; changing it leaves this state as is."""
        return RatchetTree.from_wire(self.tree)


# --- Serialization -----------------------------------------------------------------

_SECRET_FIELDS = (
    "joiner_secret",
    "welcome_secret",
    "sender_data_secret",
    "encryption_secret",
    "exporter_secret",
    "external_secret",
    "confirmation_key",
    "membership_key",
    "resumption_psk",
    "epoch_authenticator",
    "init_secret",
)


def _put_state(w: Writer, s: GroupState) -> None:
    s.context.encode(w)
    encode_ratchet_tree(w, s.tree)
    w.uint32(s.own_leaf).opaque(s.signature_priv)
    w.vector(s.private_keys, lambda w2, kv: w2.uint32(kv[0]).opaque(kv[1]))
    for name in _SECRET_FIELDS:
        w.opaque(getattr(s.secrets, name))
    w.opaque(s.interim_transcript_hash)

    def put_prop(w2: Writer, p: CachedProposal) -> None:
        w2.opaque(p.ref)
        encode_proposal(w2, p.proposal)
        p.sender.encode(w2)

    w.vector(s.proposals, put_prop)
    w.opaque(s.phase.value.encode())
    w.vector(s.external_psks, lambda w2, kv: w2.opaque(kv[0]).opaque(kv[1]))
    w.vector(s.resumption_psks, lambda w2, kv: w2.uint64(kv[0]).opaque(kv[1]))
    w.vector(s.pending_leaf_keys, lambda w2, kv: w2.opaque(kv[0]).opaque(kv[1]))


def _get_state(r: Reader) -> GroupState:
    context = GroupContext.decode(r)
    tree = tuple(decode_ratchet_tree(r))
    try:
        RatchetTree.from_wire(tree)  # what ratchet_tree() will build must be well formed
    except MalformedTreeError as exc:
        raise r.error(f"ratchet tree: {exc}") from None
    own_leaf = r.uint32()
    signature_priv = r.opaque()
    private_keys = tuple(r.vector(lambda r2: (r2.uint32(), r2.opaque())))
    secrets = EpochSecrets(**{name: r.opaque() for name in _SECRET_FIELDS})
    interim = r.opaque()

    def get_prop(r2: Reader) -> CachedProposal:
        ref = r2.opaque()
        proposal = decode_proposal(r2)
        return CachedProposal(ref, proposal, Sender.decode(r2))

    proposals = tuple(r.vector(get_prop))
    phase_name = r.opaque().decode("utf-8", "replace")
    try:
        phase = Phase(phase_name)
    except ValueError:
        raise r.error(f"unknown phase {phase_name!r}") from None
    external_psks = tuple(r.vector(lambda r2: (r2.opaque(), r2.opaque())))
    resumption_psks = tuple(r.vector(lambda r2: (r2.uint64(), r2.opaque())))
    pending_leaf_keys = tuple(r.vector(lambda r2: (r2.opaque(), r2.opaque())))
    return GroupState(
        context=context,
        tree=tree,
        own_leaf=own_leaf,
        signature_priv=signature_priv,
        private_keys=private_keys,
        secrets=secrets,
        interim_transcript_hash=interim,
        proposals=proposals,
        phase=phase,
        external_psks=external_psks,
        resumption_psks=resumption_psks,
        pending_leaf_keys=pending_leaf_keys,
    )


@dataclass(frozen=True, slots=True)
class EpochKeys:
    """What decrypts late messages of one (possibly past) epoch (RFC 9420 §14)."""

    context: GroupContext
    sender_data_secret: bytes
    secret_tree: SecretTree
    #: Signature keys by leaf index in that epoch, to verify late senders.
    signature_keys: tuple[tuple[int, bytes], ...]

    @property
    def epoch(self) -> int:
        return self.context.epoch


def _put_epoch_keys(w: Writer, k: EpochKeys) -> None:
    k.context.encode(w)
    w.opaque(k.sender_data_secret)
    k.secret_tree.encode(w)
    w.vector(k.signature_keys, lambda w2, kv: w2.uint32(kv[0]).opaque(kv[1]))


def _get_epoch_keys(r: Reader) -> EpochKeys:
    context = GroupContext.decode(r)
    sds = r.opaque()
    tree = SecretTree.decode(r)
    keys = tuple(r.vector(lambda r2: (r2.uint32(), r2.opaque())))
    return EpochKeys(context, sds, tree, keys)


#: Migrations from an older FORMAT_VERSION: version -> function(body) -> newer body.
MIGRATIONS: dict[int, Callable[[bytes], tuple[int, bytes]]] = {}


@dataclass(frozen=True, slots=True)
class PendingCommit:
    """Our sent but unconfirmed commit: its content and the state it leads to (§12.4)."""

    content: FramedContent
    state: GroupState


def _put_pending(w: Writer, p: PendingCommit) -> None:
    p.content.encode(w)
    _put_state(w, p.state)


def _get_pending(r: Reader) -> PendingCommit:
    return PendingCommit(FramedContent.decode(r), _get_state(r))


def state_to_bytes(
    state: GroupState, epochs: list[EpochKeys], pending: PendingCommit | None = None
) -> bytes:
    """``uint16 version`` then the state, the kept epochs' receiver secrets and our
    pending commit, if any."""
    w = Writer().uint16(FORMAT_VERSION)
    body = Writer()
    _put_state(body, state)
    body.vector(epochs, _put_epoch_keys)
    body.optional(pending, _put_pending)
    w.opaque(body.getvalue())
    return w.getvalue()


def state_from_bytes(data: bytes) -> tuple[GroupState, list[EpochKeys], PendingCommit | None]:
    """Decode :func:`state_to_bytes`, migrating older versions through :data:`MIGRATIONS`."""

    def get(r: Reader) -> tuple[int, bytes]:
        return r.uint16(), r.opaque()

    version, body = decode_exact(data, "GroupStateBlob", get)
    while version != FORMAT_VERSION:
        migrate = MIGRATIONS.get(version)
        if migrate is None:
            raise StateVersionError(f"no migration from group state version {version}")
        version, body = migrate(body)

    def get_body(r: Reader) -> tuple[GroupState, list[EpochKeys], PendingCommit | None]:
        state = _get_state(r)
        epochs = r.vector(_get_epoch_keys)
        pending = r.optional(_get_pending)
        if (pending is not None) != (state.phase is Phase.PENDING_COMMIT):
            raise r.error("a pending commit is stored exactly in phase pending_commit")
        return state, epochs, pending

    return decode_exact(body, "GroupState", get_body)
