"""device.ed25519 (pure Python, run in micropython) agrees with `cryptography` and RFC 8032."""

import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

pytestmark = pytest.mark.micropython

L = 2**252 + 27742317777372353535851937790883648493

# RFC 8032 section 7.1, TEST 1-3: (secret key, public key, message, signature), hex.
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]

VERIFY_ALL = """
import json, binascii
from device import ed25519
u = binascii.unhexlify
cases = json.load(open('cases.json'))
print('RESULTS', json.dumps([ed25519.verify(u(pk), u(m), u(s)) for pk, m, s in cases]))
"""


def raw_public(key):
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def flip(hexstr, byte):
    raw = bytearray(bytes.fromhex(hexstr))
    raw[byte] ^= 0x01
    return raw.hex()


def test_rfc8032_vectors_match_cryptography():
    for secret, public, message, signature in RFC8032:
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
        assert raw_public(key).hex() == public
        assert key.sign(bytes.fromhex(message)).hex() == signature


def test_verify_agrees_with_cryptography(hub):
    cases, expected = [], []
    for _, public, message, signature in RFC8032:
        cases.append((public, message, signature))
        expected.append(True)
    for n in range(12):
        key = Ed25519PrivateKey.generate()
        pk = raw_public(key).hex()
        msg = os.urandom(n * 13)
        sig = key.sign(msg).hex()
        cases.append((pk, msg.hex(), sig))
        expected.append(True)
        cases.append((pk, (msg + b"!").hex(), sig))  # message changed
        cases.append((pk, msg.hex(), flip(sig, 3)))  # R changed
        cases.append((pk, msg.hex(), flip(sig, 40)))  # S changed
        cases.append((flip(pk, 5), msg.hex(), sig))  # other key
        expected += [False] * 4
    # S + L is the same scalar mod L but must be refused (malleability).
    pk, msg, sig = cases[1]
    s = int.from_bytes(bytes.fromhex(sig[64:]), "little") + L
    cases.append((pk, msg, sig[:64] + s.to_bytes(32, "little").hex()))
    # Non-canonical y (>= p) for the public key, and wrong lengths.
    cases.append(("ff" * 31 + "7f", msg, sig))
    cases.append((pk[:-2], msg, sig))
    cases.append((pk, msg, sig[:-2]))
    expected += [False] * 4
    (hub.dir / "cases.json").write_text(json.dumps(cases))
    proc = hub.run(VERIFY_ALL, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(proc.stdout.split("RESULTS ", 1)[1])
    assert results == expected
    # cryptography agrees on every case it can load.
    for (pk, msg, sig), want in zip(cases, expected, strict=True):
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(pk)).verify(
                bytes.fromhex(sig), bytes.fromhex(msg)
            )
            ok = True
        except (InvalidSignature, ValueError):
            ok = False
        assert ok == want, (pk, msg, sig)


def test_sha512_matches_hashlib(hub):
    import hashlib

    msgs = [b"", b"abc", b"a" * 111, b"a" * 112, b"a" * 239, os.urandom(300)]
    (hub.dir / "msgs.json").write_text(json.dumps([m.hex() for m in msgs]))
    code = (
        "import json, binascii, device.sha512 as s\n"
        "s._native = None\n"
        "print('OUT', json.dumps([binascii.hexlify(s.sha512(binascii.unhexlify(m))).decode()"
        " for m in json.load(open('msgs.json'))]))"
    )
    proc = hub.run(code)
    assert json.loads(proc.stdout.split("OUT ", 1)[1]) == [
        hashlib.sha512(m).hexdigest() for m in msgs
    ]
