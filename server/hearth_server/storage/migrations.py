"""Numbered schema migrations for the SQLite store (DESIGN.md "Layout": storage).

Each migration runs once, in order, in its own transaction; ``PRAGMA user_version``
holds the number of the last one applied. Never edit a released migration: add one.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE rooms (
            id TEXT PRIMARY KEY,
            created_ms INTEGER NOT NULL,
            metadata BLOB NOT NULL,
            waiting_room INTEGER NOT NULL,
            retention_s INTEGER,
            head_seq INTEGER NOT NULL DEFAULT 0,
            purged_through INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE members (
            room TEXT NOT NULL REFERENCES rooms(id),
            identity BLOB NOT NULL,
            pseudonym TEXT NOT NULL,
            role TEXT NOT NULL,
            status TEXT NOT NULL,
            joined_ms INTEGER NOT NULL,
            PRIMARY KEY (room, identity)
        );
        CREATE TABLE invites (
            id TEXT PRIMARY KEY,
            room TEXT NOT NULL REFERENCES rooms(id),
            secret_hash BLOB NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL,
            expires_ms INTEGER NOT NULL,
            max_uses INTEGER NOT NULL,
            uses INTEGER NOT NULL DEFAULT 0,
            revoked INTEGER NOT NULL DEFAULT 0,
            waiting_room INTEGER NOT NULL
        );
        CREATE TABLE messages (
            room TEXT NOT NULL,
            seq INTEGER NOT NULL,
            sender BLOB NOT NULL,
            client_id TEXT NOT NULL,
            ts_ms INTEGER NOT NULL,
            payload BLOB NOT NULL,
            meta TEXT,
            PRIMARY KEY (room, seq)
        );
        CREATE UNIQUE INDEX messages_idempotency ON messages (room, sender, client_id);
        """,
    ),
    (
        2,
        """
        ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'application';
        ALTER TABLE messages ADD COLUMN epoch INTEGER;
        CREATE TABLE mls_groups (
            room TEXT PRIMARY KEY REFERENCES rooms(id),
            group_id BLOB NOT NULL UNIQUE,
            epoch INTEGER NOT NULL,
            epoch_seq INTEGER NOT NULL,
            epoch_ms INTEGER NOT NULL,
            group_info BLOB NOT NULL,
            ratchet_tree BLOB NOT NULL
        );
        CREATE TABLE key_packages (
            ref BLOB PRIMARY KEY,
            identity BLOB NOT NULL,
            data BLOB,
            expires_ms INTEGER NOT NULL,
            uploaded_ms INTEGER NOT NULL,
            claimed_room TEXT,
            claimed_ms INTEGER
        );
        CREATE INDEX key_packages_stock ON key_packages (identity, claimed_room, uploaded_ms);
        CREATE TABLE welcomes (
            room TEXT NOT NULL,
            seq INTEGER NOT NULL,
            identity BLOB NOT NULL,
            epoch INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (room, seq, identity)
        );
        CREATE TABLE removals (
            room TEXT NOT NULL,
            identity BLOB NOT NULL,
            PRIMARY KEY (room, identity)
        );
        CREATE TABLE bans (
            room TEXT NOT NULL,
            identity BLOB NOT NULL,
            PRIMARY KEY (room, identity)
        );
        CREATE TABLE server_keys (
            name TEXT PRIMARY KEY,
            private BLOB NOT NULL
        );
        """,
    ),
    (
        3,
        """
        CREATE TRIGGER messages_advance_head AFTER INSERT ON messages
        BEGIN
            UPDATE rooms SET head_seq = NEW.seq WHERE id = NEW.room AND head_seq < NEW.seq;
        END;
        """,
    ),
)
