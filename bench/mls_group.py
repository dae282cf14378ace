"""``python -m bench mls_group [--quick] [--json]``: MLS group operations by group size (issue 4).

For groups of 10 and 50 members (RFC 9420 §12.4):

* creating a commit that adds one member (with its Welcome) and processing it
  as another member (unprotect + every check of §12.4.2);
* the same for a commit that removes one member (it carries an UpdatePath);
* joining the 50-member group from a Welcome (§12.4.3.1, tree in the GroupInfo).

The state functions are pure, so each repetition starts from the same state.
Operations are interleaved (each once per round, in turn) so slow phases of the
shared machine hit all of them alike. Every figure is the median over rounds,
in milliseconds, beside a
baseline measured in the same run (one EncryptWithLabel + DecryptWithLabel,
the unit of TreeKEM work) and the growth factor from 10 to 50 members.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from hearth_mls import suite
from hearth_mls.framing import AuthenticatedContent, WireFormat
from hearth_mls.group import Group
from hearth_mls.group_commit import create_commit, process_commit, signer_of
from hearth_mls.group_state import GroupState
from hearth_mls.join import KeyPackageSecrets, create_key_package, join_from_welcome
from hearth_mls.proposals import Add, Proposal, Remove
from hearth_mls.protection import Protector
from hearth_mls.secret_tree import SecretTree
from hearth_mls.welcome_structs import Welcome

SIZES = (10, 50)


def _group(size: int) -> tuple[Group, Group, KeyPackageSecrets, Welcome]:
    """A creator plus size-1 members added in one commit; returns creator, member 1."""
    creator = Group.create(b"member-0")
    kps = [create_key_package(f"member-{i}".encode()) for i in range(1, size)]
    _, welcome, _ = creator.commit([Add(kp.key_package) for kp in kps])
    creator.merge_pending_commit()
    assert welcome is not None
    assert isinstance(welcome.body, Welcome)
    member = Group.join(welcome.body, kps[0])
    # One path commit so the tree is full of keys, as in a lived-in group.
    commit, _, _ = member.commit(force_path=True)
    member.merge_pending_commit()
    creator.process(commit)
    return creator, member, kps[0], welcome.body


def _protector(state: GroupState) -> Protector:
    return Protector(
        state.context,
        SecretTree(state.secrets.encryption_secret, state.ratchet_tree().n_leaves),
        state.secrets.sender_data_secret,
        state.secrets.membership_key,
    )


def _commit_ops(
    sender: GroupState, receiver: GroupState, proposals: list[Proposal]
) -> tuple[Callable[[], object], Callable[[], object]]:
    def create() -> object:
        created = create_commit(sender, proposals)
        tag = created.authenticated.auth.confirmation_tag
        return _protector(sender).protect_public(
            created.authenticated.content, sender.signature_priv, tag
        )

    message = create()

    def process() -> object:
        authenticated = _protector(receiver).unprotect_public(
            message,  # type: ignore[arg-type]
            lambda s: signer_of(receiver, s),
        )
        assert isinstance(authenticated, AuthenticatedContent)
        assert authenticated.wire_format is WireFormat.PUBLIC_MESSAGE
        return process_commit(receiver, authenticated)

    return create, process


def run(quick: bool) -> dict[str, Any]:
    """Build every operation, then time them interleaved round by round (medians)."""
    reps = 5 if quick else 25
    priv, pub = suite.generate_hpke_key_pair()

    def baseline() -> object:
        kem, ct = suite.encrypt_with_label(pub, "UpdatePathNode", b"ctx", os.urandom(32))
        return suite.decrypt_with_label(priv, "UpdatePathNode", b"ctx", kem, ct)

    ops: dict[tuple[str, str], Callable[[], object]] = {("baseline", "encrypt_decrypt"): baseline}
    for size in SIZES:
        creator, member, _, _ = _group(size)
        newcomer = create_key_package(b"newcomer").key_package
        add_create, add_process = _commit_ops(creator.state, member.state, [Add(newcomer)])
        rm_create, rm_process = _commit_ops(creator.state, member.state, [Remove(size - 1)])
        ops[(str(size), "add_create_ms")] = add_create
        ops[(str(size), "add_process_ms")] = add_process
        ops[(str(size), "remove_create_ms")] = rm_create
        ops[(str(size), "remove_process_ms")] = rm_process
        if size == max(SIZES):
            joiner = create_key_package(b"joiner")
            created = create_commit(creator.state, [Add(joiner.key_package)])
            assert created.welcome is not None
            welcome = created.welcome
            ops[(str(size), "join_from_welcome_ms")] = (
                lambda w=welcome, j=joiner: join_from_welcome(w, j)  # type: ignore[misc]
            )
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in ops}
    for _ in range(reps):
        for key, fn in ops.items():
            start = time.perf_counter()
            fn()
            samples[key].append((time.perf_counter() - start) * 1000)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    base = medians.pop(("baseline", "encrypt_decrypt"))
    rows: dict[str, dict[str, float]] = {}
    for (label, name), value in medians.items():
        rows.setdefault(label, {})[name] = round(value, 3)
    small, large = rows[str(SIZES[0])], rows[str(SIZES[-1])]
    return {
        "baseline_encrypt_decrypt_ms": round(base, 4),
        "by_size": rows,
        "growth_10_to_50": {k: round(large[k] / small[k], 2) for k in small if small[k] > 0},
        "in_baseline_units": {
            size: {key: round(value / base, 1) for key, value in row.items()}
            for size, row in rows.items()
        },
        "repetitions": reps,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench mls_group", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repetitions (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    results = run(args.quick)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    base = results["baseline_encrypt_decrypt_ms"]
    print(f"baseline EncryptWithLabel+DecryptWithLabel: {base:.3f} ms")
    print(f"{'operation':<22}" + "".join(f"{s:>12}" for s in SIZES) + f"{'growth':>10}")
    for key in results["by_size"][str(SIZES[-1])]:
        values = [results["by_size"][str(s)].get(key) for s in SIZES]
        cells = "".join(f"{'-':>12}" if v is None else f"{v:>10.2f}ms" for v in values)
        growth = results["growth_10_to_50"].get(key)
        print(f"{key:<22}{cells}{'' if growth is None else f'{growth:>9.2f}x'}")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
