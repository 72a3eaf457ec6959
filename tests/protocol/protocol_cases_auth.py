"""HMAC-SHA256 and hub MAC cases shared by CPython and MicroPython (RFC 4231 section 4)."""

from binascii import hexlify, unhexlify

from protocol import auth

# (key hex, data hex, expected HMAC-SHA-256 hex, truncated to 128 bits for test case 5)
RFC4231 = (
    (
        "0b" * 20,
        hexlify(b"Hi There"),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        hexlify(b"Jefe"),
        hexlify(b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    ("aa" * 20, "dd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (
        "0102030405060708090a0b0c0d0e0f10111213141516171819",
        "cd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    ("0c" * 20, hexlify(b"Test With Truncation"), "a3b6167473100ee06e0c796c2955552b"),
    (
        "aa" * 131,
        hexlify(b"Test Using Larger Than Block-Size Key - Hash Key First"),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        "aa" * 131,
        hexlify(
            b"This is a test using a larger than block-size key and a larger than block-size"
            b" data. The key needs to be hashed before being used by the HMAC algorithm."
        ),
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
)

# hub_mac known answers, computed once with CPython's hmac (secret, nonce hex, hub_id, ts, mac).
HUB_MACS = (
    (
        b"factory-secret-0123456789abcdef",
        "000102030405060708090a0b0c0d0e0f",
        "hub-0001",
        1764424800000,
        "88cefe7d941c890db8e8dbc811324c6b26da864a11c9ff501fd16434e51b6880",
    ),
    (
        "sécret",
        "ff" * 16,
        "hüb-ä",
        0,
        "de1d873bfe1820f700cc42611d4afed16ddebb16ef200543627b4a1d386b57f3",
    ),
    (
        b"k" * 100,
        "00" * 16,
        "h",
        -5,
        "33fd15197f4f5a262d8740032adf7cb2d0c657aa904a80315c60eb4671cdb295",
    ),
)


def _check_rfc4231(fn):
    for i in range(len(RFC4231)):
        key, data, expected = RFC4231[i]
        mac = fn(unhexlify(key), unhexlify(data))
        assert len(mac) == 32, i + 1
        got = str(hexlify(mac), "ascii")[: len(expected)]
        assert got == expected, f"RFC 4231 test case {i + 1}: {got}"


def case_rfc4231_public_hmac():
    _check_rfc4231(auth.hmac_sha256)


def case_rfc4231_pure_hmac():
    # The implementation MicroPython uses, exercised on CPython too.
    _check_rfc4231(auth._pure_hmac_sha256)


def case_hmac_edge_keys():
    # Empty key and a key of exactly one block (64 bytes) must match between both paths.
    for key in (b"", b"\x01" * 63, b"\x01" * 64, b"\x01" * 65):
        for msg in (b"", b"m" * 200):
            assert auth._pure_hmac_sha256(key, msg) == auth.hmac_sha256(key, msg)


def case_hub_mac_known_answers():
    for secret, nonce, hub_id, ts, expected in HUB_MACS:
        mac = auth.hub_mac(secret, unhexlify(nonce), hub_id, ts)
        assert str(hexlify(mac), "ascii") == expected, hub_id
        assert auth.verify_hub_mac(secret, unhexlify(nonce), hub_id, ts, mac)


def case_hub_mac_input_layout():
    data = auth.hub_mac_input(b"\x01\x02", "hub-é", 1700000000123)
    assert data == b"\x01\x02\x00hub-\xc3\xa9\x001700000000123"


def case_hub_mac_rejects_changes():
    secret, nonce, hub_id, ts = b"secret", b"n" * 16, "hub-1", 1700000000000
    mac = auth.hub_mac(secret, nonce, hub_id, ts)
    assert not auth.verify_hub_mac(b"secreT", nonce, hub_id, ts, mac)
    assert not auth.verify_hub_mac(secret, b"m" * 16, hub_id, ts, mac)
    assert not auth.verify_hub_mac(secret, nonce, "hub-2", ts, mac)
    assert not auth.verify_hub_mac(secret, nonce, hub_id, ts + 1, mac)
    assert not auth.verify_hub_mac(secret, nonce, hub_id, ts, mac[:31])
    assert not auth.verify_hub_mac(secret, nonce, hub_id, ts, mac + b"\x00")
    assert not auth.verify_hub_mac(secret, nonce, hub_id, ts, b"")
    # The separators keep (nonce, id, ts) unambiguous.
    assert auth.hub_mac(secret, nonce, "hub-11", 1) != auth.hub_mac(secret, nonce, "hub-1", 11)
    try:
        auth.hub_mac(secret, nonce, hub_id, "1700000000000")
    except TypeError:
        pass
    else:
        raise AssertionError("ts as str accepted")


def case_compare_digest():
    _check_compare(auth._pure_compare_digest)
    assert auth.compare_digest(bytearray(b"xy"), b"xy")
    _check_compare(auth.compare_digest)


def _check_compare(compare):
    assert compare(b"abc", b"abc")
    assert compare(b"", b"")
    assert not compare(b"abc", b"abd")
    assert not compare(b"abc", b"ab")
    assert not compare(b"ab", b"abc")
