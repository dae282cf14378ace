"""Message protection (RFC 9420 §6.2, §6.3): round trips and every rejection.

Each bad message is rejected with its own error class and leaves the receiver's
state unchanged: the genuine message still unprotects afterwards.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hearth_mls import suite, transcript
from hearth_mls.commit import Commit
from hearth_mls.errors import (
    ContentDecryptionError,
    ContentTypeError,
    GenerationReusedError,
    GenerationTooFarError,
    MembershipTagError,
    PaddingError,
    SenderDataDecryptionError,
    SignatureError,
    UnknownSenderError,
    UsageError,
    WrongEpochError,
    WrongGroupError,
)
from hearth_mls.extensions import GroupContext
from hearth_mls.framing import (
    AuthenticatedContentTBM,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    FramedContentTBS,
    PrivateContentAAD,
    PrivateMessage,
    PublicMessage,
    Sender,
    SenderData,
    SenderDataAAD,
    WireFormat,
)
from hearth_mls.proposals import Remove
from hearth_mls.protection import Protector
from hearth_mls.secret_tree import RatchetType, SecretTree, sender_data_key_nonce

CONTEXT = GroupContext(b"room-1", 7, b"t" * 32, b"c" * 32)
ENCRYPTION_SECRET = b"e" * 32
SENDER_DATA_SECRET = b"s" * 32
MEMBERSHIP_KEY = b"m" * 32
ALICE, BOB = 0, 1
KEYS = {leaf: suite.generate_signature_key_pair() for leaf in (ALICE, BOB)}


def signer(sender: Sender) -> bytes:
    if sender.index not in KEYS:
        raise UnknownSenderError(f"no member at {sender.index}")
    return KEYS[sender.index][1]


def protector(**kwargs: int) -> Protector:
    tree = SecretTree(ENCRYPTION_SECRET, 2, **kwargs)
    return Protector(CONTEXT, tree, SENDER_DATA_SECRET, MEMBERSHIP_KEY)


def app(text: bytes = b"I had a hard week", sender: int = BOB) -> FramedContent:
    return FramedContent(CONTEXT.group_id, CONTEXT.epoch, Sender.member(sender), text)


def proposal() -> FramedContent:
    return FramedContent(CONTEXT.group_id, CONTEXT.epoch, Sender.member(BOB), Remove(0))


def seal(content: FramedContent | None = None) -> PrivateMessage:
    return protector().protect_private(content or app(), KEYS[BOB][0])


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# --- round trips ---------------------------------------------------------


def test_private_application_round_trip_with_padding() -> None:
    message = PrivateMessage.from_bytes(seal().to_bytes())
    got = protector().unprotect_private(message, signer)
    assert got.content == app()
    assert (len(message.ciphertext) - 16) % 32 == 0  # padded to 32, plus the AEAD tag


def test_public_proposal_and_commit_round_trip() -> None:
    sender = protector()
    message = PublicMessage.from_bytes(sender.protect_public(proposal(), KEYS[BOB][0]).to_bytes())
    assert protector().unprotect_public(message, signer).content == proposal()
    commit = replace(proposal(), content=Commit())
    tag = b"\x07" * 32
    for sealed in (
        sender.protect_public(commit, KEYS[BOB][0], tag),
        sender.protect_private(commit, KEYS[BOB][0], tag),
    ):
        if isinstance(sealed, PublicMessage):
            got = protector().unprotect_public(sealed, signer)
        else:
            got = protector().unprotect_private(sealed, signer)
        assert got.auth.confirmation_tag == tag
        assert got.content == commit


def test_sequence_of_messages_and_out_of_order() -> None:
    sender, receiver = protector(), protector()
    sealed = [sender.protect_private(app(b"m%d" % i), KEYS[BOB][0]) for i in range(5)]
    for i in (3, 0, 4, 1, 2):
        assert receiver.unprotect_private(sealed[i], signer).content.content == b"m%d" % i


def test_protect_refuses_application_in_public_and_non_members() -> None:
    with pytest.raises(UsageError):
        protector().protect_public(app(), KEYS[BOB][0])
    external = replace(app(), sender=Sender.external(0))
    with pytest.raises(UsageError):
        protector().protect_private(external, KEYS[BOB][0])
    with pytest.raises(UsageError):
        protector().protect_private(replace(app(), epoch=8), KEYS[BOB][0])


# --- rejections, each with its own error and no state change ------------


def _still_works(receiver: Protector, message: PrivateMessage) -> None:
    assert receiver.unprotect_private(message, signer).content == app()


def test_tampered_ciphertext() -> None:
    receiver, message = protector(), seal()
    # Past the first Nh bytes, so the sender data key (from the sample) is unchanged.
    bad = replace(message, ciphertext=_flip(message.ciphertext, 40))
    with pytest.raises(ContentDecryptionError):
        receiver.unprotect_private(bad, signer)
    _still_works(receiver, message)


def test_tampered_aead_tag() -> None:
    receiver, message = protector(), seal()
    bad = replace(message, ciphertext=_flip(message.ciphertext, len(message.ciphertext) - 1))
    with pytest.raises(ContentDecryptionError):
        receiver.unprotect_private(bad, signer)
    _still_works(receiver, message)


def test_tampered_authenticated_data() -> None:
    receiver, message = protector(), seal()
    with pytest.raises(ContentDecryptionError):
        receiver.unprotect_private(replace(message, authenticated_data=b"x"), signer)
    _still_works(receiver, message)


def test_tampered_sender_data() -> None:
    receiver, message = protector(), seal()
    bad = replace(message, encrypted_sender_data=_flip(message.encrypted_sender_data, 0))
    with pytest.raises(SenderDataDecryptionError):
        receiver.unprotect_private(bad, signer)
    # The content type is in the sender-data AAD too.
    with pytest.raises(SenderDataDecryptionError):
        receiver.unprotect_private(replace(message, content_type=ContentType.PROPOSAL), signer)
    _still_works(receiver, message)


def test_tampered_membership_tag() -> None:
    receiver = protector()
    message = protector().protect_public(proposal(), KEYS[BOB][0])
    assert message.membership_tag is not None
    bad = replace(message, membership_tag=_flip(message.membership_tag, 0))
    with pytest.raises(MembershipTagError):
        receiver.unprotect_public(bad, signer)
    # A non-member (no membership key) cannot make a valid tag.
    outsider = Protector(CONTEXT, SecretTree(ENCRYPTION_SECRET, 2), SENDER_DATA_SECRET, b"x" * 32)
    with pytest.raises(MembershipTagError):
        receiver.unprotect_public(outsider.protect_public(proposal(), KEYS[BOB][0]), signer)
    receiver.unprotect_public(message, signer)


def test_tampered_signature_public() -> None:
    message = protector().protect_public(proposal(), KEYS[BOB][0])
    auth = FramedContentAuthData(_flip(message.auth.signature, 0))
    # An insider holding the membership key re-tags the forged message.
    tbs = FramedContentTBS(WireFormat.PUBLIC_MESSAGE, message.content, CONTEXT)
    tag = transcript.membership_tag(MEMBERSHIP_KEY, AuthenticatedContentTBM(tbs, auth))
    with pytest.raises(SignatureError):
        protector().unprotect_public(PublicMessage(message.content, auth, tag), signer)


def test_signature_by_another_member_private() -> None:
    receiver = protector()
    forged = protector().protect_private(app(), KEYS[ALICE][0])  # Alice signs as Bob
    with pytest.raises(SignatureError):
        receiver.unprotect_private(forged, signer)
    # The generation was not consumed by the rejected message.
    assert receiver.secret_tree.ratchet(BOB, RatchetType.APPLICATION).next_generation == 0
    _still_works(receiver, seal())


def test_wrong_epoch() -> None:
    receiver, message = protector(), seal()
    with pytest.raises(WrongEpochError):
        receiver.unprotect_private(replace(message, epoch=CONTEXT.epoch + 1), signer)
    public = protector().protect_public(proposal(), KEYS[BOB][0])
    with pytest.raises(WrongEpochError):
        receiver.unprotect_public(
            replace(public, content=replace(public.content, epoch=CONTEXT.epoch - 1)), signer
        )
    _still_works(receiver, message)


def test_wrong_group_id() -> None:
    receiver, message = protector(), seal()
    with pytest.raises(WrongGroupError):
        receiver.unprotect_private(replace(message, group_id=b"room-2"), signer)
    public = protector().protect_public(proposal(), KEYS[BOB][0])
    with pytest.raises(WrongGroupError):
        receiver.unprotect_public(
            replace(public, content=replace(public.content, group_id=b"room-2")), signer
        )
    _still_works(receiver, message)


def test_reused_generation() -> None:
    receiver, message = protector(), seal()
    _still_works(receiver, message)
    with pytest.raises(GenerationReusedError):
        receiver.unprotect_private(message, signer)


def test_generation_too_far_ahead() -> None:
    sender, receiver = protector(), protector(max_forward=5)
    sealed = [sender.protect_private(app(), KEYS[BOB][0]) for _ in range(7)]
    with pytest.raises(GenerationTooFarError):
        receiver.unprotect_private(sealed[6], signer)
    assert receiver.secret_tree.ratchet(BOB, RatchetType.APPLICATION).next_generation == 0
    _still_works(receiver, sealed[5])  # exactly at the window's edge


def test_application_data_in_a_public_message() -> None:
    auth = FramedContentAuthData(b"\0" * 64)
    with pytest.raises(ContentTypeError):
        protector().unprotect_public(PublicMessage(app(), auth, b"\0" * 32), signer)


def _seal_raw(leaf: int, plaintext: bytes, content_type: ContentType) -> PrivateMessage:
    """Encrypt arbitrary plaintext as a PrivateMessage, bypassing protect_private."""
    tree = SecretTree(ENCRYPTION_SECRET, 2)
    _, key, nonce = tree.ratchet(leaf % 2, RatchetType.APPLICATION).next()
    gid, epoch = CONTEXT.group_id, CONTEXT.epoch
    aad = PrivateContentAAD(gid, epoch, content_type).to_bytes()
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, aad)
    sd_key, sd_nonce = sender_data_key_nonce(SENDER_DATA_SECRET, ciphertext)
    sender_data = SenderData(leaf, 0, b"\0\0\0\0").to_bytes()
    sd_aad = SenderDataAAD(gid, epoch, content_type).to_bytes()
    encrypted = AESGCM(sd_key).encrypt(sd_nonce, sender_data, sd_aad)
    return PrivateMessage(gid, epoch, content_type, b"", encrypted, ciphertext)


def _plaintext(padding: bytes) -> bytes:
    content = app()
    tbs = FramedContentTBS(WireFormat.PRIVATE_MESSAGE, content, CONTEXT)
    signature = suite.sign_with_label(KEYS[BOB][0], "FramedContentTBS", tbs.to_bytes())
    # PrivateMessageContent for application data: opaque data<V>, signature<V>, padding.
    return (
        bytes([len(content.content)])
        + content.content
        + bytes([0x40, len(signature)])
        + signature
        + padding
    )


def test_raw_sealing_helper_is_faithful() -> None:
    message = _seal_raw(BOB, _plaintext(b"\0" * 5), ContentType.APPLICATION)
    assert protector().unprotect_private(message, signer).content == app()


def test_non_zero_padding() -> None:
    message = _seal_raw(BOB, _plaintext(b"\0\0\x01"), ContentType.APPLICATION)
    with pytest.raises(PaddingError):
        protector().unprotect_private(message, signer)


def test_sender_outside_the_tree() -> None:
    message = _seal_raw(5, _plaintext(b""), ContentType.APPLICATION)
    with pytest.raises(UnknownSenderError):
        protector().unprotect_private(message, signer)
