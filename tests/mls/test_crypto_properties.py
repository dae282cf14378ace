"""Property tests: hostile bytes never escape as anything but a PeerError (RFC 9420 §6, §12.4.3.1).

Each receiving entry point of the cryptographic layer is fed arbitrary input;
the only acceptable failures are :class:`~hearth_mls.errors.PeerError` subclasses
(DecodeError for bytes that do not parse).
"""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from hearth_mls import suite
from hearth_mls.commit import HPKECiphertext
from hearth_mls.credential import Credential
from hearth_mls.errors import DecodeError, PeerError
from hearth_mls.framing import ContentType, PrivateMessage, PublicMessage
from hearth_mls.mls_message import MLSMessage
from hearth_mls.secret_tree import SecretTree
from hearth_mls.welcome import create_key_package, decrypt_welcome, key_package_ref
from hearth_mls.welcome_structs import EncryptedGroupSecrets, Welcome
from tests.mls.test_protection import BOB, CONTEXT, _seal_raw, protector, signer
from tests.mls.test_welcome import LIFETIME

CONTENT_TYPES = st.sampled_from(list(ContentType))
BUNDLE = create_key_package(
    Credential.basic(b"fuzz"),
    suite.generate_signature_key_pair()[0],
    LIFETIME,
)


@settings(max_examples=200, deadline=None)
@given(plaintext=st.binary(max_size=300), content_type=CONTENT_TYPES)
def test_any_decrypted_plaintext_is_a_peer_error(
    plaintext: bytes, content_type: ContentType
) -> None:
    # Properly encrypted, so it reaches PrivateMessageContent decoding and the signature.
    message = _seal_raw(BOB, plaintext, content_type)
    with contextlib.suppress(PeerError):
        protector().unprotect_private(message, signer)


@settings(max_examples=200, deadline=None)
@given(
    epoch=st.sampled_from([CONTEXT.epoch, CONTEXT.epoch + 1]),
    content_type=CONTENT_TYPES,
    aad=st.binary(max_size=20),
    sender_data=st.binary(max_size=40),
    ciphertext=st.binary(max_size=120),
)
def test_arbitrary_private_message_fields(
    epoch: int, content_type: ContentType, aad: bytes, sender_data: bytes, ciphertext: bytes
) -> None:
    message = PrivateMessage(CONTEXT.group_id, epoch, content_type, aad, sender_data, ciphertext)
    with contextlib.suppress(PeerError):
        protector().unprotect_private(message, signer)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400))
def test_arbitrary_public_message_bytes(data: bytes) -> None:
    try:
        message = PublicMessage.from_bytes(data)
        protector().unprotect_public(message, signer)
    except PeerError:
        pass


@settings(max_examples=100, deadline=None)
@given(kem_output=st.binary(min_size=0, max_size=40), ciphertext=st.binary(max_size=60))
def test_arbitrary_hpke_ciphertexts(kem_output: bytes, ciphertext: bytes) -> None:
    with contextlib.suppress(PeerError):
        suite.decrypt_with_label(BUNDLE.init_private, "Welcome", b"", kem_output, ciphertext)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400))
def test_arbitrary_welcome_bytes(data: bytes) -> None:
    try:
        body = MLSMessage.from_bytes(data).body
        if isinstance(body, Welcome):
            decrypt_welcome(body, BUNDLE.key_package, BUNDLE.init_private)
    except PeerError:
        pass


@settings(max_examples=100, deadline=None)
@given(group_secrets=st.binary(max_size=120), group_info=st.binary(max_size=200))
def test_welcome_addressed_to_us_with_arbitrary_contents(
    group_secrets: bytes, group_info: bytes
) -> None:
    # Valid HPKE encryption to our init key, of arbitrary GroupSecrets bytes.
    kem_output, ciphertext = suite.encrypt_with_label(
        BUNDLE.key_package.init_key, "Welcome", group_info, group_secrets
    )
    entry = EncryptedGroupSecrets(
        key_package_ref(BUNDLE.key_package), HPKECiphertext(kem_output, ciphertext)
    )
    with contextlib.suppress(PeerError):
        decrypt_welcome(Welcome(1, (entry,), group_info), BUNDLE.key_package, BUNDLE.init_private)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_arbitrary_saved_secret_tree_bytes(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        SecretTree.from_bytes(data)
