"""Which checker judges which vector file (one line per file)."""

from __future__ import annotations

from hearth_mls.vectors import Checker

CHECKERS: dict[str, Checker] = {}

from hearth_mls.vectors import deserialization, tree_math  # noqa: E402

CHECKERS["tree-math.json"] = tree_math.check
CHECKERS["deserialization.json"] = deserialization.check

from hearth_mls.vectors import hpke_base  # noqa: E402

CHECKERS["rfc9180-hpke-base-x25519-sha256-aes128gcm.json"] = hpke_base.check

from hearth_mls.vectors import crypto_basics  # noqa: E402

CHECKERS["crypto-basics.json"] = crypto_basics.check

from hearth_mls.vectors import treekem as treekem_vectors  # noqa: E402

CHECKERS["treekem.json"] = treekem_vectors.check
from hearth_mls.vectors import messages  # noqa: E402

CHECKERS["messages.json"] = messages.check
from hearth_mls.vectors import secret_tree  # noqa: E402

CHECKERS["secret-tree.json"] = secret_tree.check

from hearth_mls.vectors import messages  # noqa: E402

CHECKERS["messages.json"] = messages.check

from hearth_mls.vectors import key_schedule, psk_secret, transcript_hashes  # noqa: E402

CHECKERS["key-schedule.json"] = key_schedule.check
CHECKERS["psk_secret.json"] = psk_secret.check
CHECKERS["transcript-hashes.json"] = transcript_hashes.check

from hearth_mls.vectors import passive_client  # noqa: E402

CHECKERS["passive-client-welcome.json"] = passive_client.check
CHECKERS["passive-client-handling-commit.json"] = passive_client.check
CHECKERS["passive-client-random.json"] = passive_client.check
from hearth_mls.vectors import message_protection  # noqa: E402

CHECKERS["message-protection.json"] = message_protection.check

from hearth_mls.vectors import welcome  # noqa: E402

CHECKERS["welcome.json"] = welcome.check

from hearth_mls.vectors import tree_operations, tree_validation  # noqa: E402

CHECKERS["tree-validation.json"] = tree_validation.check
CHECKERS["tree-operations.json"] = tree_operations.check
