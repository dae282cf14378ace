"""The epoch key schedule (RFC 9420 §8), the exporter (§8.5), external_pub (§8.3)
and the Welcome key and nonce (§12.4.3.1).

::

    init_secret_[n-1] --(salt) KDF.Extract (ikm)-- commit_secret
      -> ExpandWithLabel(., "joiner", GroupContext_[n], Nh) = joiner_secret
    joiner_secret --(salt) KDF.Extract (ikm)-- psk_secret
      -> DeriveSecret(., "welcome") = welcome_secret
      -> ExpandWithLabel(., "epoch", GroupContext_[n], Nh) = epoch_secret
    epoch_secret -> DeriveSecret(., label) for each secret of :class:`EpochSecrets`
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth_mls import hpke, suite
from hearth_mls.extensions import GroupContext

#: The all-zero secret used when there is no commit secret or no PSK (§8).
ZERO = bytes(suite.NH)


def joiner_secret(init_secret: bytes, commit_secret: bytes, group_context: GroupContext) -> bytes:
    """joiner_secret from the previous init_secret and the commit_secret (§8)."""
    prk = suite.extract(init_secret, commit_secret)
    return suite.expand_with_label(prk, "joiner", group_context.to_bytes(), suite.NH)


def welcome_secret(joiner: bytes, psk_secret: bytes = ZERO) -> bytes:
    """welcome_secret = DeriveSecret(Extract(joiner_secret, psk_secret), "welcome") (§8)."""
    return suite.derive_secret(suite.extract(joiner, psk_secret), "welcome")


def welcome_key_nonce(welcome: bytes) -> tuple[bytes, bytes]:
    """welcome_key and welcome_nonce that encrypt the GroupInfo (§12.4.3.1)."""
    return (
        suite.expand_with_label(welcome, "key", b"", suite.NK),
        suite.expand_with_label(welcome, "nonce", b"", suite.NN),
    )


def exporter(exporter_secret: bytes, label: bytes | str, context: bytes, length: int) -> bytes:
    """MLS-Exporter (§8.5)."""
    secret = suite.derive_secret(exporter_secret, label)
    return suite.expand_with_label(secret, "exported", suite.digest(context), length)


@dataclass(frozen=True, slots=True)
class EpochSecrets:
    """Every secret one epoch derives (§8, Table 4), plus the next init_secret.

    ``epoch_secret`` itself is not kept: nothing needs it once these exist.
    """

    joiner_secret: bytes
    welcome_secret: bytes
    sender_data_secret: bytes
    encryption_secret: bytes
    exporter_secret: bytes
    external_secret: bytes
    confirmation_key: bytes
    membership_key: bytes
    resumption_psk: bytes
    epoch_authenticator: bytes
    init_secret: bytes

    @classmethod
    def from_joiner(
        cls, joiner: bytes, group_context: GroupContext, psk_secret: bytes = ZERO
    ) -> EpochSecrets:
        """The epoch's secrets from joiner_secret, as a new member from a Welcome does (§8)."""
        member = suite.extract(joiner, psk_secret)
        epoch = suite.expand_with_label(member, "epoch", group_context.to_bytes(), suite.NH)
        return cls(
            joiner_secret=joiner,
            welcome_secret=suite.derive_secret(member, "welcome"),
            sender_data_secret=suite.derive_secret(epoch, "sender data"),
            encryption_secret=suite.derive_secret(epoch, "encryption"),
            exporter_secret=suite.derive_secret(epoch, "exporter"),
            external_secret=suite.derive_secret(epoch, "external"),
            confirmation_key=suite.derive_secret(epoch, "confirm"),
            membership_key=suite.derive_secret(epoch, "membership"),
            resumption_psk=suite.derive_secret(epoch, "resumption"),
            epoch_authenticator=suite.derive_secret(epoch, "authentication"),
            init_secret=suite.derive_secret(epoch, "init"),
        )

    @classmethod
    def advance(
        cls,
        init_secret: bytes,
        group_context: GroupContext,
        commit_secret: bytes = ZERO,
        psk_secret: bytes = ZERO,
    ) -> EpochSecrets:
        """The next epoch's secrets from the previous init_secret (§8)."""
        joiner = joiner_secret(init_secret, commit_secret, group_context)
        return cls.from_joiner(joiner, group_context, psk_secret)

    def export(self, label: bytes | str, context: bytes, length: int) -> bytes:
        """MLS-Exporter for this epoch (§8.5)."""
        return exporter(self.exporter_secret, label, context, length)

    def external_key_pair(self) -> tuple[bytes, bytes]:
        """The external HPKE key pair, ``DeriveKeyPair(external_secret)`` (§8.3)."""
        return suite.derive_hpke_key_pair(self.external_secret)

    @property
    def external_pub(self) -> bytes:
        """The ``external_pub`` a GroupInfo may advertise (§12.4.3.2)."""
        return self.external_key_pair()[1]

    def welcome_key_nonce(self) -> tuple[bytes, bytes]:
        return welcome_key_nonce(self.welcome_secret)

    def __repr__(self) -> str:  # never print secrets
        return "EpochSecrets(<redacted>)"


_EXTERNAL_INIT_LABEL = b"MLS 1.0 external init secret"


def external_init_sender(external_pub: bytes) -> tuple[bytes, bytes]:
    """A joiner's ``(kem_output, init_secret)`` for an ExternalInit proposal (§8.3).

    ``kem_output, context = SetupBaseS(external_pub, "")``;
    ``init_secret = context.export("MLS 1.0 external init secret", Nh)``.
    """
    kem_output, context = hpke.setup_base_s(external_pub, b"")
    return kem_output, context.export(_EXTERNAL_INIT_LABEL, suite.NH)


def external_init_receiver(external_priv: bytes, kem_output: bytes) -> bytes:
    """The members' side of §8.3: the init_secret from an ExternalInit's kem_output."""
    context = hpke.setup_base_r(kem_output, external_priv, b"")
    return context.export(_EXTERNAL_INIT_LABEL, suite.NH)
