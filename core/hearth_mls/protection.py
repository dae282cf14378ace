"""Message protection: PublicMessage and PrivateMessage framing (RFC 9420 §6).

A :class:`Protector` holds what one epoch needs to protect and unprotect
messages: the GroupContext, the secret tree, the sender_data_secret and the
membership_key. Unprotecting checks, in order, the group, the epoch, the
content type, the keys (membership tag, or sender data then content
decryption), the sender and the signature; only when everything has passed is
the used ratchet generation deleted, so a rejected message changes nothing.

Each failure is its own :class:`~hearth_mls.errors.PeerError`: WrongGroupError,
WrongEpochError, ContentTypeError, MembershipTagError,
SenderDataDecryptionError, ContentDecryptionError, PaddingError,
UnknownSenderError, GenerationReusedError, GenerationTooFarError,
SignatureError, DecodeError.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hearth_mls import suite, transcript
from hearth_mls.errors import (
    ContentDecryptionError,
    ContentTypeError,
    NonZeroPaddingError,
    PaddingError,
    SenderDataDecryptionError,
    UnknownSenderError,
    UsageError,
    WrongEpochError,
    WrongGroupError,
)
from hearth_mls.extensions import GroupContext
from hearth_mls.framing import (
    AuthenticatedContent,
    AuthenticatedContentTBM,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    FramedContentTBS,
    PrivateContentAAD,
    PrivateMessage,
    PrivateMessageContent,
    PublicMessage,
    Sender,
    SenderData,
    SenderDataAAD,
    SenderType,
    WireFormat,
)
from hearth_mls.secret_tree import RatchetType, SecretTree, sender_data_key_nonce

#: Looks up the signature public key of a message's sender. It raises
#: :class:`~hearth_mls.errors.UnknownSenderError` for a sender that is not a
#: member (or not an allowed external sender).
SignerLookup = Callable[[Sender], bytes]

_TBS_LABEL = "FramedContentTBS"
_REUSE_GUARD_LEN = 4


def sign_content(
    wire_format: WireFormat,
    content: FramedContent,
    signature_private: suite.SignaturePrivateKey,
    context: GroupContext | None,
    confirmation_tag: bytes | None = None,
) -> AuthenticatedContent:
    """Sign ``content`` for ``wire_format`` (§6.1): FramedContentTBS under SignWithLabel.

    ``context`` is required for member and new-member-commit senders and must
    be None otherwise; ``confirmation_tag`` is required exactly for commits.
    """
    tbs = FramedContentTBS(wire_format, content, context)
    signature = suite.sign_with_label(signature_private, _TBS_LABEL, tbs.to_bytes())
    auth = FramedContentAuthData(signature, confirmation_tag)
    return AuthenticatedContent(wire_format, content, auth)


def verify_content(
    authenticated: AuthenticatedContent, signature_public: bytes, context: GroupContext | None
) -> None:
    """Verify an AuthenticatedContent's signature (§6.1); raises SignatureError."""
    tbs = FramedContentTBS(authenticated.wire_format, authenticated.content, context)
    suite.verify_with_label(
        signature_public, _TBS_LABEL, tbs.to_bytes(), authenticated.auth.signature
    )


def _context_for(sender: Sender, context: GroupContext) -> GroupContext | None:
    if sender.sender_type in (SenderType.MEMBER, SenderType.NEW_MEMBER_COMMIT):
        return context
    return None


def _ratchet_type(content_type: ContentType) -> RatchetType:
    if content_type is ContentType.APPLICATION:
        return RatchetType.APPLICATION
    return RatchetType.HANDSHAKE


def _xor_guard(nonce: bytes, reuse_guard: bytes) -> bytes:
    """The first four nonce bytes XOR the reuse guard (§6.3.1)."""
    head = bytes(a ^ b for a, b in zip(nonce[:_REUSE_GUARD_LEN], reuse_guard, strict=True))
    return head + nonce[_REUSE_GUARD_LEN:]


@dataclass(slots=True)
class Protector:
    """Protects and unprotects the messages of one epoch (§6.2, §6.3).

    ``pad_to``: PrivateMessage plaintexts are zero-padded to a multiple of this
    many bytes (§6.3.1 leaves the policy to the application; 1 disables it).
    """

    group_context: GroupContext
    secret_tree: SecretTree
    sender_data_secret: bytes
    membership_key: bytes
    pad_to: int = 32

    # --- checks shared by both framings -----------------------------------

    def _check_group_epoch(self, group_id: bytes, epoch: int) -> None:
        if group_id != self.group_context.group_id:
            raise WrongGroupError("message is for another group")
        if epoch != self.group_context.epoch:
            raise WrongEpochError(
                f"message is for epoch {epoch}, this epoch is {self.group_context.epoch}"
            )

    # --- PublicMessage (§6.2) ---------------------------------------------

    def protect_public(
        self,
        content: FramedContent,
        signature_private: suite.SignaturePrivateKey,
        confirmation_tag: bytes | None = None,
    ) -> PublicMessage:
        """Sign ``content`` and add the membership tag for a member sender (§6.2).

        Application data must never travel as a PublicMessage.
        """
        if content.content_type is ContentType.APPLICATION:
            raise UsageError("application data is only sent as a PrivateMessage (§6.2)")
        self._check_own(content)
        context = _context_for(content.sender, self.group_context)
        authenticated = sign_content(
            WireFormat.PUBLIC_MESSAGE, content, signature_private, context, confirmation_tag
        )
        tag = None
        if content.sender.sender_type is SenderType.MEMBER:
            tbm = self._tbm(authenticated, context)
            tag = transcript.membership_tag(self.membership_key, tbm)
        return PublicMessage(content, authenticated.auth, tag)

    def _tbm(
        self, authenticated: AuthenticatedContent, context: GroupContext | None
    ) -> AuthenticatedContentTBM:
        tbs = FramedContentTBS(authenticated.wire_format, authenticated.content, context)
        return AuthenticatedContentTBM(tbs, authenticated.auth)

    def _check_own(self, content: FramedContent) -> None:
        if (content.group_id, content.epoch) != (
            self.group_context.group_id,
            self.group_context.epoch,
        ):
            raise UsageError("content names another group or epoch than this protector's")

    def unprotect_public(
        self, message: PublicMessage, signer: SignerLookup
    ) -> AuthenticatedContent:
        """Verify a PublicMessage (§6.2) and return its AuthenticatedContent."""
        content = message.content
        self._check_group_epoch(content.group_id, content.epoch)
        if content.content_type is ContentType.APPLICATION:
            raise ContentTypeError("application data in a PublicMessage (§6.2)")
        context = _context_for(content.sender, self.group_context)
        authenticated = AuthenticatedContent(WireFormat.PUBLIC_MESSAGE, content, message.auth)
        if content.sender.sender_type is SenderType.MEMBER:
            assert message.membership_tag is not None  # PublicMessage enforces it
            transcript.verify_membership_tag(
                self.membership_key, self._tbm(authenticated, context), message.membership_tag
            )
        verify_content(authenticated, signer(content.sender), context)
        return authenticated

    # --- PrivateMessage (§6.3) --------------------------------------------

    def protect_private(
        self,
        content: FramedContent,
        signature_private: suite.SignaturePrivateKey,
        confirmation_tag: bytes | None = None,
        *,
        reuse_guard: bytes | None = None,
    ) -> PrivateMessage:
        """Sign, encrypt with the sender's ratchet, and hide the sender (§6.3).

        ``reuse_guard`` is random unless given (tests only).
        """
        sender = content.sender
        if sender.sender_type is not SenderType.MEMBER or sender.index is None:
            raise UsageError("only members send PrivateMessages (§6.3)")
        self._check_own(content)
        if not 0 <= sender.index < self.secret_tree.leaf_count:
            raise UsageError(f"leaf {sender.index} is outside the tree")
        authenticated = sign_content(
            WireFormat.PRIVATE_MESSAGE,
            content,
            signature_private,
            self.group_context,
            confirmation_tag,
        )
        body = PrivateMessageContent(content.content, authenticated.auth).to_bytes()
        padding = (-len(body)) % self.pad_to if self.pad_to > 1 else 0
        plaintext = body + bytes(padding)

        guard = os.urandom(_REUSE_GUARD_LEN) if reuse_guard is None else reuse_guard
        ratchet = self.secret_tree.ratchet(sender.index, _ratchet_type(content.content_type))
        generation, key, nonce = ratchet.next()
        aad = PrivateContentAAD(
            content.group_id, content.epoch, content.content_type, content.authenticated_data
        ).to_bytes()
        ciphertext = AESGCM(key).encrypt(_xor_guard(nonce, guard), plaintext, aad)

        sd_key, sd_nonce = sender_data_key_nonce(self.sender_data_secret, ciphertext)
        sender_data = SenderData(sender.index, generation, guard).to_bytes()
        sd_aad = SenderDataAAD(content.group_id, content.epoch, content.content_type).to_bytes()
        encrypted_sender_data = AESGCM(sd_key).encrypt(sd_nonce, sender_data, sd_aad)
        return PrivateMessage(
            content.group_id,
            content.epoch,
            content.content_type,
            content.authenticated_data,
            encrypted_sender_data,
            ciphertext,
        )

    def unprotect_private(
        self, message: PrivateMessage, signer: SignerLookup
    ) -> AuthenticatedContent:
        """Decrypt and verify a PrivateMessage (§6.3); deletes the used key only on success."""
        self._check_group_epoch(message.group_id, message.epoch)
        content_type = message.content_type

        sd_key, sd_nonce = sender_data_key_nonce(self.sender_data_secret, message.ciphertext)
        sd_aad = SenderDataAAD(message.group_id, message.epoch, content_type).to_bytes()
        try:
            raw_sender = AESGCM(sd_key).decrypt(sd_nonce, message.encrypted_sender_data, sd_aad)
        except InvalidTag:
            raise SenderDataDecryptionError("sender data does not decrypt") from None
        sender_data = SenderData.from_bytes(raw_sender)
        leaf = sender_data.leaf_index
        if leaf >= self.secret_tree.leaf_count:
            raise UnknownSenderError(f"sender leaf {leaf} is outside the tree")

        ratchet = self.secret_tree.ratchet(leaf, _ratchet_type(content_type))
        step = ratchet.prepare(sender_data.generation)
        aad = PrivateContentAAD(
            message.group_id, message.epoch, content_type, message.authenticated_data
        ).to_bytes()
        try:
            plaintext = AESGCM(step.key).decrypt(
                _xor_guard(step.nonce, sender_data.reuse_guard), message.ciphertext, aad
            )
        except InvalidTag:
            raise ContentDecryptionError("content does not decrypt") from None
        try:
            private_content = PrivateMessageContent.from_bytes_for(plaintext, content_type)
        except NonZeroPaddingError as exc:
            raise PaddingError(exc.reason) from None

        sender = Sender.member(leaf)
        content = FramedContent(
            message.group_id,
            message.epoch,
            sender,
            private_content.content,
            message.authenticated_data,
        )
        authenticated = AuthenticatedContent(
            WireFormat.PRIVATE_MESSAGE, content, private_content.auth
        )
        verify_content(authenticated, signer(sender), self.group_context)
        ratchet.commit(step)
        return authenticated
