"""The passphrase-protected key store (hearth_client.keystore): real files in tmp_path,
real Argon2id (small parameters passed explicitly), real MLS groups, real kill -9."""

from __future__ import annotations

import os
import signal
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hearth_client import keystore as ks
from hearth_client.keystore import (
    GROUPS_DIR,
    KEYSTORE_FILE,
    KdfParams,
    Keystore,
    KeystoreFormatError,
    KeystoreTamperedError,
    KeystoreUsageError,
    KeystoreVersionError,
    WrongPassphraseError,
    migrate,
)
from hearth_core.room_roles import room_capabilities, room_extensions
from hearth_mls.group import Group
from hearth_mls.join import create_key_package
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add
from hearth_mls.welcome_structs import Welcome

#: Small but real Argon2id cost for tests (the default is t=3, m=64 MiB, p=4).
FAST = KdfParams(iterations=1, memory_kib=256, lanes=2)
PASS = "correct horse battery staple"
SERVER = "wss://hearth.example/ws"

# Byte offsets in keystore.hks (module doc): magic 0, format 8, kdf 10, t 11, m 15, p 19,
# salt 23, verifier 39, aead 55, wrap_nonce 56, wrapped_dek 68, file_salt 116, nonce 132.
OFFSETS = {
    "format": 9,  # low byte: format 1 -> 0
    "salt": 23,
    "verifier": 39,
    "wrap_nonce": 56,
    "wrapped_dek": 68,
    "file_salt": 116,
    "nonce": 132,
    "body": 150,
}


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_default_kdf_parameters_are_the_recommended_ones() -> None:
    assert KdfParams() == KdfParams(iterations=3, memory_kib=64 * 1024, lanes=4)


@pytest.mark.parametrize(
    "params",
    [
        {"iterations": 0},
        {"iterations": 17},
        {"lanes": 0},
        {"lanes": 17},
        {"memory_kib": 7, "lanes": 1},
        {"memory_kib": 2**20 + 1},
    ],
)
def test_kdf_parameters_are_bounded(params: dict[str, int]) -> None:
    with pytest.raises(KeystoreUsageError):
        KdfParams(**params)


def test_create_reopen_and_layout(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    with Keystore.create(profile, PASS, kdf=FAST) as store:
        member = store.new_membership(SERVER, "river")
        member = store.bind_room(member.membership_id, "room-1")
        store.save_group(member.membership_id, b"group state v1")
    assert stat.S_IMODE(profile.stat().st_mode) == 0o700
    assert stat.S_IMODE((profile / GROUPS_DIR).stat().st_mode) == 0o700
    assert stat.S_IMODE((profile / KEYSTORE_FILE).stat().st_mode) == 0o600
    group_file = profile / GROUPS_DIR / f"{member.membership_id}.hgs"
    assert stat.S_IMODE(group_file.stat().st_mode) == 0o600
    # the KDF parameters are read back from the header
    header = (profile / KEYSTORE_FILE).read_bytes()
    assert struct.unpack_from(">III", header, 11) == (1, 256, 2)
    with Keystore.open(profile, PASS) as store:
        (again,) = store.memberships()
        assert again == member
        assert again.room_id == "room-1"
        assert store.membership_for_room(SERVER, "room-1") == again
        assert store.load_group(member.membership_id) == b"group state v1"


def test_each_membership_has_its_own_keys(tmp_path: Path) -> None:
    with Keystore.create(tmp_path, PASS, kdf=FAST) as store:
        one = store.new_membership(SERVER, "river")
        two = store.new_membership(SERVER, "river")
    assert len({one.auth_key, two.auth_key, one.signature_key, two.signature_key}) == 4
    assert one.membership_id != two.membership_id
    assert one.credential_identity == one.auth_identity
    assert len(one.auth_identity) == 32
    signature = one.auth_private_key.sign(b"challenge")
    one.auth_private_key.public_key().verify(signature, b"challenge")
    assert one.signature_public_key != two.signature_public_key


def test_wrong_passphrase(tmp_path: Path) -> None:
    Keystore.create(tmp_path, PASS, kdf=FAST).close()
    with pytest.raises(WrongPassphraseError):
        Keystore.open(tmp_path, "correct horse battery stapler")
    with pytest.raises(WrongPassphraseError):
        Keystore.open(tmp_path, "")
    Keystore.open(tmp_path, PASS).close()  # the lock was released by the failures


@pytest.mark.parametrize(
    ("field", "error"),
    [
        ("salt", WrongPassphraseError),
        ("verifier", WrongPassphraseError),
        ("wrap_nonce", KeystoreTamperedError),
        ("wrapped_dek", KeystoreTamperedError),
        ("file_salt", KeystoreTamperedError),
        ("nonce", KeystoreTamperedError),
        ("body", KeystoreTamperedError),
        ("format", KeystoreTamperedError),  # format 1 -> 0: covered by the AAD
    ],
)
def test_tampered_keystore_file(tmp_path: Path, field: str, error: type[Exception]) -> None:
    with Keystore.create(tmp_path, PASS, kdf=FAST) as store:
        store.new_membership(SERVER, "river")
    flip(tmp_path / KEYSTORE_FILE, OFFSETS[field])
    with pytest.raises(error):
        Keystore.open(tmp_path, PASS)


def test_last_byte_and_truncation(tmp_path: Path) -> None:
    Keystore.create(tmp_path, PASS, kdf=FAST).close()
    path = tmp_path / KEYSTORE_FILE
    good = path.read_bytes()
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 0x80]))
    with pytest.raises(KeystoreTamperedError):
        Keystore.open(tmp_path, PASS)
    path.write_bytes(good[:100])
    with pytest.raises(KeystoreFormatError, match="truncated"):
        Keystore.open(tmp_path, PASS)
    path.write_bytes(b"NOTHEART" + good[8:])
    with pytest.raises(KeystoreFormatError, match="not a Hearth"):
        Keystore.open(tmp_path, PASS)
    path.write_bytes(good[:10] + b"\x07" + good[11:])
    with pytest.raises(KeystoreFormatError, match="unknown KDF"):
        Keystore.open(tmp_path, PASS)
    path.write_bytes(good[:15] + struct.pack(">I", 2**30) + good[19:])
    with pytest.raises(KeystoreFormatError, match="out of range"):
        Keystore.open(tmp_path, PASS)
    path.write_bytes(good[:8] + struct.pack(">H", ks.FORMAT_VERSION + 1) + good[10:])
    with pytest.raises(KeystoreVersionError):
        Keystore.open(tmp_path, PASS)
    path.write_bytes(good)
    Keystore.open(tmp_path, PASS).close()


def test_group_file_tampering(tmp_path: Path) -> None:
    with Keystore.create(tmp_path / "a", PASS, kdf=FAST) as store:
        one = store.new_membership(SERVER, "river").membership_id
        two = store.new_membership(SERVER, "stone").membership_id
        store.save_group(one, b"state of room one")
        store.save_group(two, b"state of room two")
        groups = tmp_path / "a" / GROUPS_DIR
        path_one, path_two = groups / f"{one}.hgs", groups / f"{two}.hgs"
        good_one = path_one.read_bytes()
        flip(path_one, len(good_one) - 20)
        with pytest.raises(KeystoreTamperedError):
            store.load_group(one)
        flip(path_one, 30)  # dek_id
        with pytest.raises(KeystoreTamperedError):
            store.load_group(one)
        # one room's state swapped in for another's
        path_one.write_bytes(path_two.read_bytes())
        with pytest.raises(KeystoreTamperedError):
            store.load_group(one)
        path_one.write_bytes(good_one[:40])
        with pytest.raises(KeystoreFormatError, match="truncated"):
            store.load_group(one)
        path_one.write_bytes(b"X" + good_one[1:])
        with pytest.raises(KeystoreFormatError):
            store.load_group(one)
        path_one.write_bytes(good_one[:8] + b"\x00\x09" + good_one[10:])
        with pytest.raises(KeystoreVersionError):
            store.load_group(one)
        path_one.write_bytes(good_one)
        assert store.load_group(one) == b"state of room one"
    # a group file from another keystore, even for a same-named membership
    with Keystore.create(tmp_path / "b", PASS, kdf=FAST) as other:
        mid = other.new_membership(SERVER, "river").membership_id
        (tmp_path / "b" / GROUPS_DIR / f"{mid}.hgs").write_bytes(good_one)
        with pytest.raises(KeystoreTamperedError):
            other.load_group(mid)


def test_no_plaintext_secret_ever_reaches_the_disk(tmp_path: Path) -> None:
    with Keystore.create(tmp_path, PASS, kdf=FAST) as store:
        member = store.new_membership(SERVER, "Wandering Heron")
        store.bind_room(member.membership_id, "room-7f3a9c")
        kp = create_key_package(
            member.credential_identity,
            signature_priv=member.signature_key,
            capabilities=room_capabilities(),
        )
        store.add_key_package(member.membership_id, kp)
        state = Group.create(member.credential_identity, signature_priv=member.signature_key)
        store.save_group(member.membership_id, state.to_bytes())
    secrets = [
        member.auth_key,
        member.signature_key,
        kp.init_priv,
        kp.encryption_priv,
        state.state.secrets.epoch_authenticator,
        state.state.secrets.init_secret,
        b"Wandering Heron",
        b"room-7f3a9c",
        PASS.encode(),
    ]
    shown = repr(store.memberships()) + str(member)
    assert "Heron" not in shown
    assert member.auth_key.hex() not in shown
    assert repr(member.auth_key)[2:20] not in shown
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 2
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, (path.name, secret[:4])


def test_key_packages_survive_a_restart_and_join_a_real_group(tmp_path: Path) -> None:
    with Keystore.create(tmp_path, PASS, kdf=FAST) as store:
        member = store.new_membership(SERVER, "river")
        mid = member.membership_id
        kp = create_key_package(
            member.credential_identity,
            signature_priv=member.signature_key,
            capabilities=room_capabilities(),
        )
        ref = store.add_key_package(mid, kp)
        assert store.key_package_refs(mid) == (ref,)
        with pytest.raises(KeystoreUsageError, match="already"):
            store.add_key_package(mid, kp)
        stranger = create_key_package(member.credential_identity, capabilities=room_capabilities())
        with pytest.raises(KeystoreUsageError, match="signed"):
            store.add_key_package(mid, stranger)
        other = create_key_package(b"someone else", signature_priv=member.signature_key)
        with pytest.raises(KeystoreUsageError, match="credential"):
            store.add_key_package(mid, other)
    alice = Group.create(b"alice", extensions=room_extensions(b"alice"))
    _, welcome, _ = alice.commit([Add(kp.key_package)])
    alice.merge_pending_commit()
    assert welcome is not None
    assert isinstance(welcome.body, Welcome)
    with Keystore.open(tmp_path, PASS) as store:
        owner, secrets_ = store.key_package(ref)
        assert owner == mid
        group = Group.join(
            welcome.body, secrets_, on_change=lambda blob: store.save_group(mid, blob)
        )
        store.discard_key_package(ref)  # one-time use
        assert store.key_package_refs(mid) == ()
        with pytest.raises(KeystoreUsageError):
            store.key_package(ref)
        received = group.process(MLSMessage.from_bytes(alice.protect(b"welcome!").to_bytes()))
        assert received.plaintext == b"welcome!"
    # the state saved by on_change after every change is what a restarted client loads
    with Keystore.open(tmp_path, PASS) as store:
        blob = store.load_group(mid)
        assert blob is not None
        restored = Group.from_bytes(blob)
    assert restored.epoch_authenticator == alice.epoch_authenticator
    message = restored.protect(b"hello after restart")
    assert alice.process(MLSMessage.from_bytes(message.to_bytes())).plaintext == (
        b"hello after restart"
    )


def test_group_state_is_saved_after_every_epoch(tmp_path: Path) -> None:
    with Keystore.create(tmp_path, PASS, kdf=FAST) as store:
        member = store.new_membership(SERVER, "river")
        mid = member.membership_id
        group = Group.create(
            member.credential_identity,
            signature_priv=member.signature_key,
            on_change=lambda blob: store.save_group(mid, blob),
        )
        for epoch in range(1, 4):
            group.commit(force_path=True)
            group.merge_pending_commit()
            blob = store.load_group(mid)
            assert blob is not None
            assert Group.from_bytes(blob).epoch == epoch


def test_passphrase_change_keeps_group_files(tmp_path: Path) -> None:
    with Keystore.create(tmp_path, PASS, kdf=FAST) as store:
        mid = store.new_membership(SERVER, "river").membership_id
        store.save_group(mid, b"state")
        before = (tmp_path / GROUPS_DIR / f"{mid}.hgs").read_bytes()
        store.change_passphrase("new words", kdf=KdfParams(iterations=2, memory_kib=128, lanes=1))
        store.new_membership(SERVER, "stone")  # later writes use the new header
    assert (tmp_path / GROUPS_DIR / f"{mid}.hgs").read_bytes() == before
    with pytest.raises(WrongPassphraseError):
        Keystore.open(tmp_path, PASS)
    with Keystore.open(tmp_path, "new words") as store:
        assert store.load_group(mid) == b"state"
        assert len(store.memberships()) == 2
    assert struct.unpack_from(">III", (tmp_path / KEYSTORE_FILE).read_bytes(), 11) == (2, 128, 1)


def test_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(KeystoreUsageError, match="no keystore"):
        Keystore.open(tmp_path, PASS)
    Keystore.create(tmp_path / "other", PASS, kdf=FAST).close()
    with pytest.raises(KeystoreUsageError, match="already exists"):
        Keystore.create(tmp_path / "other", PASS, kdf=FAST)
    Keystore.open(tmp_path / "other", PASS).close()  # the refused create released the lock
    store = Keystore.create(tmp_path, PASS, kdf=FAST)
    with pytest.raises(KeystoreUsageError, match="another Hearth process"):
        Keystore.open(tmp_path, PASS)
    with pytest.raises(KeystoreUsageError, match="another Hearth process"):
        Keystore.create(tmp_path, PASS, kdf=FAST)
    for bad in ("", "   ", "x" * 65, "two\nlines", "tab\there", "esc\x1b[1m", "rlo\u202e"):
        with pytest.raises(KeystoreUsageError, match="pseudonym"):
            store.new_membership(SERVER, bad)
    with pytest.raises(KeystoreUsageError, match="no membership"):
        store.membership("0" * 32)
    with pytest.raises(KeystoreUsageError, match="no membership"):
        store.save_group("0" * 32, b"x")
    with pytest.raises(KeystoreUsageError):
        store.membership_for_room(SERVER, "nowhere")
    one = store.new_membership(SERVER, "river").membership_id
    two = store.new_membership(SERVER, "stone").membership_id
    store.bind_room(one, "room-1")
    store.bind_room(one, "room-1")  # idempotent
    with pytest.raises(KeystoreUsageError, match="another room"):
        store.bind_room(one, "room-2")
    with pytest.raises(KeystoreUsageError, match="another membership"):
        store.bind_room(two, "room-1")
    assert store.load_group(two) is None
    store.save_group(two, b"s")
    store.forget_membership(two)
    assert [m.membership_id for m in store.memberships()] == [one]
    assert not (tmp_path / GROUPS_DIR / f"{two}.hgs").exists()
    store.close()
    with pytest.raises(KeystoreUsageError, match="closed"):
        store.new_membership(SERVER, "late")
    with pytest.raises(KeystoreUsageError, match="closed"):
        store.load_group(one)


def test_migrations_run_step_by_step() -> None:
    table = {
        1: lambda raw: {**raw, "added_in_2": True},
        2: lambda raw: {**raw, "renamed": raw["added_in_2"]},
    }
    assert migrate({"x": 1}, 1, target=3, table=table) == {
        "x": 1,
        "added_in_2": True,
        "renamed": True,
    }
    assert migrate({"x": 1}, 3, target=3, table=table) == {"x": 1}
    with pytest.raises(KeystoreVersionError, match="newer"):
        migrate({}, 4, target=3, table=table)
    with pytest.raises(KeystoreVersionError, match="no migration from format 0"):
        migrate({}, 0, target=3, table=table)
    assert ks.MIGRATIONS == {}  # format 1 is the first


def test_leftover_temp_files_are_ignored_and_removed(tmp_path: Path) -> None:
    with Keystore.create(tmp_path, PASS, kdf=FAST) as store:
        mid = store.new_membership(SERVER, "river").membership_id
        store.save_group(mid, b"committed state")
    # a crash after writing a temporary file, before the rename
    torn = tmp_path / GROUPS_DIR / f".{mid}.hgs.0123456789abcdef.tmp"
    torn.write_bytes(b"half a file")
    torn_store = tmp_path / f".{KEYSTORE_FILE}.fedcba9876543210.tmp"
    torn_store.write_bytes(b"half")
    with Keystore.open(tmp_path, PASS) as store:
        assert store.load_group(mid) == b"committed state"
    assert not torn.exists()
    assert not torn_store.exists()


def test_atomic_write_leaves_no_temp_file_when_it_fails(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "file"
    with pytest.raises(FileNotFoundError):
        ks.atomic_write(target, b"data")
    (tmp_path / "dir").mkdir()
    ks.atomic_write(tmp_path / "dir" / "file", b"one")
    ks.atomic_write(tmp_path / "dir" / "file", b"two")
    assert [p.name for p in (tmp_path / "dir").iterdir()] == ["file"]
    assert (tmp_path / "dir" / "file").read_bytes() == b"two"


WRITER = """
import sys
from pathlib import Path
from hearth_client.keystore import Keystore

store = Keystore.open(Path(sys.argv[1]), sys.argv[2])
mid = sys.argv[3]
for i in range(1, 10_000):
    print("writing", i, flush=True)
    store.save_group(mid, i.to_bytes(8, "big") * 262144)
    store.new_membership("wss://hearth.example/ws", f"p{i}")
    print("saved", i, flush=True)
"""


def wait_for_temp_file(directory: Path) -> bool:
    """Poll (bounded) until a write's temporary file shows up in ``directory``."""
    for _ in range(20_000):
        if any(directory.glob(".*.tmp")):
            return True
        time.sleep(0.0001)
    return False


@pytest.mark.parametrize(("kill_at", "mid_write"), [(1, False), (2, True), (5, True), (9, True)])
def test_kill_9_mid_write_leaves_old_or_new_never_torn(
    tmp_path: Path, kill_at: int, mid_write: bool
) -> None:
    """A real process writing 2 MiB states is SIGKILLed as it starts write number
    ``kill_at`` (or, ``mid_write``, once that write's temporary file exists); every file
    still opens and holds a complete state, the old or the new, never a torn one."""
    with Keystore.create(tmp_path, PASS, kdf=FAST) as store:
        mid = store.new_membership(SERVER, "river").membership_id
        store.save_group(mid, (0).to_bytes(8, "big") * 262144)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), PASS, mid],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert writer.stdout is not None
    for line in writer.stdout:
        if line == f"writing {kill_at}\n":
            break
    if mid_write:
        wait_for_temp_file(tmp_path / GROUPS_DIR)
    writer.send_signal(signal.SIGKILL)
    writer.stdout.close()
    assert writer.wait(timeout=60) == -signal.SIGKILL
    with Keystore.open(tmp_path, PASS) as store:
        blob = store.load_group(mid)
        assert blob is not None
        version = int.from_bytes(blob[:8], "big")
        assert blob == version.to_bytes(8, "big") * 262144
        assert version in (kill_at - 1, kill_at)
        later = [m.pseudonym for m in store.memberships()[1:]]
        assert later == [f"p{i}" for i in range(1, len(later) + 1)]
        assert len(later) in (kill_at - 1, kill_at)
