"""The exception tree of ``hearth_mls``.

Blame is in the type: a :class:`PeerError` means bytes that came from someone
else are wrong (reject the message, keep the state); a :class:`UsageError` means
the caller asked for something impossible (a bug or a wrong argument).

::

    MLSError
     +-- PeerError                  the input is invalid; state is unchanged
     |    +-- DecodeError           bytes do not parse (RFC 9420 §2.1)
     |    |    +-- NonZeroPaddingError       PrivateMessageContent padding not all zero (§6.3.1)
     |    +-- InvalidPublicKeyError     a peer's X25519 key is malformed or low-order
     |    +-- DecryptionError           an AEAD ciphertext does not authenticate
     |    |    +-- HPKEDecryptionError          HPKE Open failed (RFC 9180 §5.2)
     |    |    +-- ContentDecryptionError       PrivateMessage content (RFC 9420 §6.3.1)
     |    |    +-- SenderDataDecryptionError    PrivateMessage sender data (§6.3.2)
     |    |    +-- GroupInfoDecryptionError     Welcome's encrypted GroupInfo (§12.4.3.1)
     |    +-- SignatureError            a signature does not verify (§5.1.2)
     |    +-- MembershipTagError        a PublicMessage membership tag is wrong (§6.2)
     |    +-- ConfirmationTagError      a confirmation tag is wrong (§6.1, §8.2)
     |    +-- WrongGroupError           a message for another group (§6)
     |    +-- WrongEpochError           a message for another epoch (§6)
     |    +-- UnknownSenderError        a sender that is not a member leaf (§6.3.2)
     |    +-- ContentTypeError          content type not allowed in this framing (§6.2)
     |    +-- PaddingError              non-zero padding in a PrivateMessage (§6.3.1)
     |    +-- GenerationReusedError     a ratchet generation already used or deleted (§9.2)
     |    +-- GenerationTooFarError     a ratchet generation beyond the window (§9.2)
     |    +-- WelcomeNotForUsError      no EncryptedGroupSecrets for our KeyPackage (§12.4.3.1)
     |    +-- UnsupportedError          another version or ciphersuite (§17.1)
     |    +-- InvalidKeyPackageError    a KeyPackage breaks a rule of §10.1
     |    +-- TreeValidationError       a ratchet tree breaks an invariant (§7.9.2, §12.4.3.1)
     |    |    +-- MalformedTreeError            trailing blank or wrong node kind (§12.4.3.3)
     |    |    +-- TreeHashMismatchError         tree hash differs from the GroupContext (§12.4.3.1)
     |    |    +-- ParentHashError               a parent node is not parent-hash valid (§7.9.2)
     |    |    |    +-- CommitParentHashError    a committer's leaf parent_hash is wrong (§7.9.2)
     |    |    +-- UnmergedLeafError             a bad unmerged_leaves entry (§12.4.3.1)
     |    |    +-- DuplicateParentKeyError       a parent's encryption key appears twice (§12.4.3.1)
     |    +-- LeafNodeError             a LeafNode fails validation (§7.3)
     |    |    +-- LeafSignatureError            its signature does not verify (§7.3)
     |    |    +-- LeafSourceError               wrong leaf_node_source for its place (§7.3)
     |    |    +-- LeafExtensionUnsupportedError an extension not in its capabilities (§7.3)
     |    |    +-- RequiredCapabilityError       lacks a required capability (§7.3, §11.1)
     |    |    +-- GroupExtensionUnsupportedError  lacks a GroupContext extension (§13)
     |    |    +-- CredentialUnsupportedError    credential types not mutually supported (§7.3)
     |    |    +-- LeafLifetimeError             now is outside its lifetime (§7.3)
     |    |    +-- DuplicateLeafKeyError         signature or encryption key not unique (§7.3)
     |    |    +-- UpdateKeyUnchangedError       an Update keeps the old encryption key (§7.3)
     |    +-- ProposalApplicationError  a proposal cannot apply to the tree (§12.1)
     |    |    +-- RemoveBlankLeafError          Remove names a blank or absent leaf (§12.1.3)
     |    |    +-- UpdateBlankLeafError          Update from a blank or absent leaf (§12.1.2)
     |    +-- UpdatePathShapeError      UpdatePath nodes differ from the filtered direct path (§7.6)
     |    +-- GroupRuleError            a handshake message breaks a rule of §12 (group.py)
     |    |    +-- NonMemberSenderError          not a member or allowed sender (§6, §12.1.8)
     |    |    +-- UnknownProposalError          commit references an unknown proposal (§12.4)
     |    |    +-- InvalidProposalError          an individual proposal is invalid (§12.1)
     |    |    |    +-- PskProposalError         bad psk_nonce length or usage (§12.1.4)
     |    |    +-- UpdateByCommitterError        Update proposal from the committer (§12.2)
     |    |    +-- RemoveCommitterError          Remove of the committer (§12.2)
     |    |    +-- ConflictingLeafProposalsError two Updates/Removes for one leaf (§12.2)
     |    |    +-- DuplicateAddError             two Adds of the same client (§12.2)
     |    |    +-- AddExistingMemberError        Add of a client already in the group (§12.2)
     |    |    +-- DuplicatePskError             two PreSharedKeys with one PreSharedKeyID (§12.2)
     |    |    +-- MultipleGroupContextExtensionsError  more than one GCE proposal (§12.2)
     |    |    +-- ReInitNotAloneError           ReInit with other proposals (§12.2)
     |    |    +-- ExternalInitInMemberCommitError  ExternalInit in a member commit (§12.2)
     |    |    +-- InvalidExternalCommitError    external commit's list or sender (§12.2, §12.4.3.2)
     |    |    +-- MissingPskError               a PSK this member does not hold (§12.4.2)
     |    |    +-- MissingPathError              a required path is absent (§12.4.2)
     |    |    +-- PathLeafSourceError           path leaf source is not commit (§12.4.2)
     |    |    +-- UnchangedEncryptionKeyError   path leaf keeps its encryption key (§12.4.2)
     |    |    +-- DuplicatePathKeyError         a path key already in the tree (§12.4.2)
     |    |    +-- PathLengthError               path nodes/ciphertexts do not fit (§7.6)
     |    |    +-- PathSecretMismatchError       path secret does not derive the keys (§7.5)
     |    |    +-- PathParentHashError           path leaf parent_hash mismatch (§7.9.2)
     |    |    +-- PathDecryptError              our path secret does not decrypt (§7.6)
     |    |    +-- KeyPackageRuleError           an added KeyPackage breaks §10.1
     |    |         +-- KeyPackageSuiteError          wrong version or cipher suite
     |    |         +-- InitKeyReuseError             init_key equals encryption_key
     |    +-- WelcomeError              a Welcome cannot be joined (§12.4.3.1)
     +-- UsageError                 the caller's mistake
          +-- TreeIndexError        a node index outside the tree (RFC 9420 Appendix C)
          +-- StateTransitionError  an event illegal in the group's phase (group.py)
          +-- StateVersionError     serialized group state of an unknown version
"""

from __future__ import annotations


class MLSError(Exception):
    """Base of every error raised by ``hearth_mls``."""


class PeerError(MLSError):
    """Input from a peer (or the Delivery Service) is invalid and was rejected."""


class DecodeError(PeerError):
    """Bytes do not decode as the named struct (RFC 9420 §2.1 presentation language).

    ``struct`` names what was being decoded, so a caller can report it.
    """

    def __init__(self, struct: str, reason: str) -> None:
        super().__init__(f"{struct}: {reason}")
        self.struct = struct
        self.reason = reason


class NonZeroPaddingError(DecodeError):
    """A decoded PrivateMessageContent's padding holds a non-zero byte (RFC 9420 §6.3.1).

    A decoder-level signal: :mod:`hearth_mls.protection` turns it into
    :class:`PaddingError` for a received PrivateMessage.
    """


class UsageError(MLSError):
    """The caller asked for something impossible (wrong argument or state)."""


# --- Group state machine (RFC 9420 §7.3, §7.4-§7.9, §12.2, §12.4.2). -------------
# Each MUST a processing member enforces has its own class, so a caller (and a
# test) can tell exactly which rule a peer's message broke.


class GroupRuleError(PeerError):
    """A peer's handshake message breaks a rule of RFC 9420 §12; state unchanged."""


class NonMemberSenderError(GroupRuleError):
    """The sender is not a member (blank or unknown leaf, unknown external sender, §6)."""


class UnknownProposalError(GroupRuleError):
    """A commit references a proposal this member never received (RFC 9420 §12.4)."""


class InvalidProposalError(GroupRuleError):
    """An individual proposal is invalid as specified in RFC 9420 §12.1."""


class UpdateByCommitterError(GroupRuleError):
    """A commit contains an Update proposal generated by the committer (RFC 9420 §12.2)."""


class RemoveCommitterError(GroupRuleError):
    """A commit contains a Remove proposal that removes the committer (RFC 9420 §12.2)."""


class ConflictingLeafProposalsError(GroupRuleError):
    """Several Update and/or Remove proposals apply to the same leaf (RFC 9420 §12.2)."""


class DuplicateAddError(GroupRuleError):
    """Two Add proposals represent the same client (RFC 9420 §12.2)."""


class AddExistingMemberError(GroupRuleError):
    """An Add proposal adds a client that is already in the group (RFC 9420 §12.2)."""


class DuplicatePskError(GroupRuleError):
    """Several PreSharedKey proposals reference the same PreSharedKeyID (RFC 9420 §12.2)."""


class MultipleGroupContextExtensionsError(GroupRuleError):
    """More than one GroupContextExtensions proposal in a commit (RFC 9420 §12.2)."""


class ReInitNotAloneError(GroupRuleError):
    """A ReInit proposal is committed with another proposal (RFC 9420 §12.2)."""


class ExternalInitInMemberCommitError(GroupRuleError):
    """A member's (non-external) commit contains an ExternalInit (RFC 9420 §12.2)."""


class InvalidExternalCommitError(GroupRuleError):
    """An external commit's proposal list or sender is invalid (RFC 9420 §12.2, §12.4.3.2)."""


class MissingPskError(GroupRuleError):
    """A PreSharedKey proposal names a PSK this member does not have (RFC 9420 §12.4.2)."""


class MissingPathError(GroupRuleError):
    """The commit needs a path (Update, Remove, empty or external) and has none (§12.4.2)."""


class PathLeafSourceError(GroupRuleError):
    """The path's LeafNode does not have leaf_node_source = commit (RFC 9420 §12.4.2)."""


class UnchangedEncryptionKeyError(GroupRuleError):
    """The path's leaf encryption_key equals the committer's current one (RFC 9420 §12.4.2)."""


class DuplicatePathKeyError(GroupRuleError):
    """A public key of the UpdatePath already appears in the new tree (RFC 9420 §12.4.2)."""


class PathLengthError(GroupRuleError):
    """The UpdatePath's nodes or ciphertexts do not match the filtered direct path (§7.6)."""


class PathSecretMismatchError(GroupRuleError):
    """A decrypted path secret does not derive the UpdatePath's public keys (RFC 9420 §7.5)."""


class PathParentHashError(GroupRuleError):
    """The path's leaf parent_hash does not match the merged path (RFC 9420 §7.9.2)."""


class PathDecryptError(GroupRuleError):
    """The path secret addressed to this member does not decrypt (RFC 9420 §7.6)."""


class KeyPackageRuleError(GroupRuleError):
    """An added KeyPackage breaks a rule of RFC 9420 §10.1 (leaf checks: LeafNodeError)."""


class KeyPackageSuiteError(KeyPackageRuleError):
    """A KeyPackage's version or cipher suite is not the group's (RFC 9420 §10.1)."""


class InitKeyReuseError(KeyPackageRuleError):
    """A KeyPackage's init_key equals its leaf encryption_key (RFC 9420 §10.1)."""


class WelcomeError(PeerError):
    """A Welcome cannot be used to join (RFC 9420 §12.4.3.1)."""


class StateTransitionError(UsageError):
    """An operation is illegal in the group's current state; names both (STYLE.md habit 2)."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"event {event!r} is illegal in state {state!r}")
        self.state = state
        self.event = event


class StateVersionError(UsageError):
    """Serialized group state has an unknown format version (no migration applies)."""


class TreeIndexError(UsageError):
    """A node index outside the tree, or the children of a leaf (RFC 9420 Appendix C)."""


class InvalidPublicKeyError(PeerError):
    """A peer's X25519 public key is malformed or yields an all-zero secret (RFC 9180 §7.1.1)."""


class DecryptionError(PeerError):
    """An AEAD ciphertext does not authenticate: tampered, or the wrong key."""


class HPKEDecryptionError(DecryptionError):
    """HPKE Open failed (RFC 9180 §5.2), e.g. in DecryptWithLabel (RFC 9420 §5.1.3)."""


class ContentDecryptionError(DecryptionError):
    """A PrivateMessage's content does not decrypt (RFC 9420 §6.3.1)."""


class SenderDataDecryptionError(DecryptionError):
    """A PrivateMessage's sender data does not decrypt (RFC 9420 §6.3.2)."""


class GroupInfoDecryptionError(DecryptionError):
    """A Welcome's encrypted GroupInfo does not decrypt (RFC 9420 §12.4.3.1)."""


class SignatureError(PeerError):
    """A signature does not verify under the claimed key (RFC 9420 §5.1.2)."""


class MembershipTagError(PeerError):
    """A PublicMessage from a member carries a wrong membership tag (RFC 9420 §6.2)."""


class ConfirmationTagError(PeerError):
    """A confirmation tag does not match the new epoch (RFC 9420 §6.1, §8.2)."""


class WrongGroupError(PeerError):
    """A message names another group_id than ours (RFC 9420 §6)."""


class WrongEpochError(PeerError):
    """A message names an epoch we do not hold keys for (RFC 9420 §6)."""


class UnknownSenderError(PeerError):
    """The sender is not an occupied member leaf, or not a kind allowed here (RFC 9420 §6)."""


class ContentTypeError(PeerError):
    """A content type not allowed in this framing or by this sender (RFC 9420 §6.2)."""


class PaddingError(PeerError):
    """A PrivateMessage's padding holds a non-zero byte (RFC 9420 §6.3.1)."""


class GenerationReusedError(PeerError):
    """A ratchet generation whose key was already used and deleted (RFC 9420 §9.2)."""


class GenerationTooFarError(PeerError):
    """A ratchet generation further ahead than the configured window (RFC 9420 §9.2)."""


class WelcomeNotForUsError(PeerError):
    """A Welcome holds no EncryptedGroupSecrets for our KeyPackage (RFC 9420 §12.4.3.1)."""


class UnsupportedError(PeerError):
    """Another protocol version or ciphersuite than ours (RFC 9420 §6, §17.1)."""


class InvalidKeyPackageError(PeerError):
    """A KeyPackage breaks a rule of RFC 9420 §10.1 (other than its signatures)."""


class TreeValidationError(PeerError):
    """A ratchet tree from a peer breaks an invariant (RFC 9420 §7.9.2, §12.4.3.1)."""


class MalformedTreeError(TreeValidationError):
    """A ``ratchet_tree`` has a trailing blank, or a leaf/parent in the wrong slot (§12.4.3.3)."""


class TreeHashMismatchError(TreeValidationError):
    """The tree's root hash is not the GroupContext's ``tree_hash`` (RFC 9420 §12.4.3.1)."""


class ParentHashError(TreeValidationError):
    """A non-blank parent node is not parent-hash valid (RFC 9420 §7.9.2)."""


class UnmergedLeafError(TreeValidationError):
    """An unmerged leaf is blank, not a descendant, or missing below (RFC 9420 §12.4.3.1)."""


class DuplicateParentKeyError(TreeValidationError):
    """A parent node's encryption key appears in another node (RFC 9420 §12.4.3.1)."""


class LeafNodeError(PeerError):
    """A LeafNode fails the validation of RFC 9420 §7.3."""


class LeafSignatureError(LeafNodeError):
    """A LeafNode's signature does not verify under its ``signature_key`` (§7.3)."""


class LeafSourceError(LeafNodeError):
    """A LeafNode's ``leaf_node_source`` is wrong for where it appears (§7.3)."""


class LeafExtensionUnsupportedError(LeafNodeError):
    """A LeafNode carries an extension its capabilities do not list (§7.3)."""


class RequiredCapabilityError(LeafNodeError):
    """A LeafNode lacks a capability the group's ``required_capabilities`` demand (§7.3, §11.1)."""


class CredentialUnsupportedError(LeafNodeError):
    """A credential type some member does not support, or vice versa (§7.3)."""


class LeafLifetimeError(LeafNodeError):
    """The current time is outside a LeafNode's lifetime (§7.3)."""


class DuplicateLeafKeyError(LeafNodeError):
    """A LeafNode's signature or encryption key is already used in the group (§7.3)."""


class UpdateKeyUnchangedError(LeafNodeError):
    """An Update's leaf keeps the encryption key of the leaf it replaces (§7.3)."""


class ProposalApplicationError(PeerError):
    """A proposal cannot be applied to the ratchet tree (RFC 9420 §12.1)."""


class RemoveBlankLeafError(ProposalApplicationError):
    """A Remove names a blank leaf or one outside the tree (RFC 9420 §12.1.3)."""


class UpdateBlankLeafError(ProposalApplicationError):
    """An Update is applied for a blank leaf or one outside the tree (RFC 9420 §12.1.2)."""


class CommitParentHashError(ParentHashError):
    """A committer's new leaf carries a parent_hash its UpdatePath does not give (§7.9.2)."""


class UpdatePathShapeError(PeerError):
    """An UpdatePath's node count differs from the sender's filtered direct path (§7.6)."""


class GroupExtensionUnsupportedError(LeafNodeError):
    """A LeafNode's capabilities lack an extension the GroupContext uses (RFC 9420 §13)."""


class PskProposalError(InvalidProposalError):
    """A PreSharedKey proposal has a bad nonce length or a reinit/branch usage (§12.1.4)."""
