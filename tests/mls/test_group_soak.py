"""A seeded random run of adds, removes, updates and messages among Hearth members.

Every member must agree on the epoch authenticator after every commit, and every
application message must decrypt for every other member (RFC 9420 §12, §6.3).
"""

from __future__ import annotations

import random

from hearth_mls.group import Group
from hearth_mls.join import create_key_package
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add, Remove
from hearth_mls.welcome_structs import Welcome


def _wire(message: MLSMessage) -> MLSMessage:
    return MLSMessage.from_bytes(message.to_bytes())


def test_random_membership_changes_keep_everyone_in_agreement() -> None:
    rng = random.Random(9420)
    members: dict[int, Group] = {0: Group.create(b"m0")}
    names = 1
    for _ in range(30):
        committer = members[rng.choice(sorted(members))]
        action = rng.random()
        proposals: list[Add | Remove] = []
        joining = []
        if action < 0.45 or len(members) < 3:
            for _ in range(rng.randint(1, 3)):
                kp = create_key_package(f"m{names}".encode())
                names += 1
                joining.append(kp)
                proposals.append(Add(kp.key_package))
        elif action < 0.8:
            others = [leaf for leaf in members if leaf != committer.own_leaf]
            for leaf in rng.sample(others, k=min(len(others), rng.randint(1, 2))):
                proposals.append(Remove(leaf))
        commit, welcome, _ = committer.commit(proposals, force_path=action >= 0.8)
        committer.merge_pending_commit()
        for leaf, group in list(members.items()):
            if group is committer:
                continue
            received = group.process(_wire(commit))
            if received.removed:
                del members[leaf]
        if welcome is not None:
            assert isinstance(welcome.body, Welcome)
            for kp in joining:
                joined = Group.join(welcome.body, kp)
                members[joined.own_leaf] = joined
        assert {g.own_leaf for g in members.values()} == set(members)
        authenticators = {g.epoch_authenticator for g in members.values()}
        assert len(authenticators) == 1
        speaker = members[rng.choice(sorted(members))]
        text = f"epoch {speaker.epoch}".encode()
        message = speaker.protect(text)
        for group in members.values():
            if group is not speaker:
                assert group.process(_wire(message)).plaintext == text
