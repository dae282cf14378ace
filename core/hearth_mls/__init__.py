"""RFC 9420 Messaging Layer Security, ciphersuite 1, on ``cryptography``.

``MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`` only. This package does no I/O
and imports nothing but the standard library and ``cryptography``: group state is
data the caller persists.
"""
