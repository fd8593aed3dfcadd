#!/usr/bin/env python3
"""Independent check of the test vectors with pycose and cbor2.

Another COSE implementation must be able to read what we sign. For every
EdDSA vector this script:
- decodes the QR text (prefix, base45, optional zlib) on its own;
- checks that the bytes match the vector's `cose_hex`;
- verifies the COSE_Sign1 signature with pycose, using the vector's public key;
- decodes the claims with cbor2 and checks the fields every verifier needs;
- for presentations, verifies the holder device's signature too.
Vectors whose expected reason is `bad_signature` must fail to verify; every
vector whose province signature is intact must verify.

Exit status 0 only when every checked vector behaves as expected; prints
'N passed, M failed'.
"""

import json
import sys
import zlib
from pathlib import Path

import base45
import cbor2
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import CoseMessage

# Reasons whose province signature is intact (the certificate is genuine but
# refused for another cause) and must therefore verify with pycose.
SIGNATURE_INTACT = {
    "ok", "expired", "not_yet_valid", "revoked", "suspended", "superseded",
    "presentation_outside_window", "holder_signature_invalid",
    "presentation_required", "no_status_data", "status_data_too_old",
    "not_covered_by_status_list", "key_compromised", "key_not_valid_at_issue",
}


def qr_envelope(text):
    for prefix in ("LC1:", "LP1:"):
        if text.startswith(prefix):
            raw = base45.b45decode(text[len(prefix):])
            if raw[:1] == b"\x78":
                raw = zlib.decompress(raw)
            return prefix, raw
    raise ValueError("unknown prefix")


def verify_sign1(cose_bytes, public_key):
    msg = CoseMessage.decode(cose_bytes)
    msg.key = OKPKey(crv=Ed25519, x=public_key)
    return msg, msg.verify_signature()


def zh_text(value):
    """Chinese text: GB 18030 bytes when shorter, else UTF-8 text."""
    return value.decode("gb18030") if isinstance(value, bytes) else value


def check_claims(payload):
    claims = cbor2.loads(payload)
    assert isinstance(claims, dict), "claims are a map"
    assert 1 <= claims[1] <= 9, "type code"
    face = claims[9]
    number = claims.get(2, face.get(3))  # absent: the holder's ID number
    assert isinstance(number, (str, int)) and str(number), "number"
    assert 210000 <= claims[3] <= 211499, "Liaoning division"
    assert claims[5] <= claims.get(6, claims[5]), "valid from <= valid until"
    assert isinstance(face, dict) and zh_text(face[1]), "face name"
    if 11 in claims:  # a delegated copy: [driver's name, ID last four]
        name, last4 = claims[11]
        assert zh_text(name), "driver's name"
        assert len(last4) == 4 and last4[:3].isdigit() and last4[3] in "0123456789X", \
            "ID last four"
        assert claims[1] in (4, 5) and 10 in claims, "a holder-bound vehicle certificate"
    return claims


def main(path):
    vectors = json.loads(Path(path).read_text(encoding="utf-8"))
    passed = failed = 0
    for v in vectors:
        if v["issuer_key"]["alg"] != "EdDSA":
            continue
        reason = v["expect"]["reason"]
        name = v["name"]
        if reason != "bad_signature" and reason not in SIGNATURE_INTACT:
            # malformed, non-canonical, duplicate keys, unknown keys: our own
            # strictness, not a property another implementation must share
            continue
        try:
            prefix, envelope = qr_envelope(v["qr_text"])
            cose = bytes.fromhex(v["cose_hex"])
            if prefix == "LC1:":
                assert envelope == cose, "QR bytes differ from cose_hex"
            pub = bytes.fromhex(v["issuer_key"]["public_key_hex"])
            try:
                msg, ok = verify_sign1(cose, pub)
            except Exception as e:  # pycose refuses malformed input by raising
                msg, ok = None, False
                err = e
            if reason == "bad_signature":
                assert not ok, "forged vector verified"
            else:
                assert ok, "genuine signature did not verify"
                claims = check_claims(msg.payload)
                if prefix == "LP1:":
                    outer = CoseMessage.decode(envelope)
                    holder = claims[10]
                    assert holder[0] == -8, "holder key is EdDSA"
                    outer.key = OKPKey(crv=Ed25519, x=holder[1])
                    slot, inner = cbor2.loads(outer.payload)
                    assert inner == cose, "presentation embeds the certificate"
                    holder_ok = outer.verify_signature()
                    assert holder_ok == (reason != "holder_signature_invalid"), \
                        "holder signature outcome"
            passed += 1
            print(f"ok   {name} ({reason})")
        except Exception as e:  # report and go on
            failed += 1
            print(f"FAIL {name} ({reason}): {e!r}")
    print(f"interop: {passed} passed, {failed} failed")
    if passed == 0:
        print("no vector was checked")
        return 1
    return 1 if failed else 0


def national(path):
    """The national issuer list vectors (shared/testdata/national.json),
    EdDSA roots: pycose verifies every list whose signature is intact
    (accepted, newer, rolled back, malformed payload) and refuses the forged
    ones; cbor2 reads the payload's kind, sequence and provinces."""
    if not Path(path).exists():
        return 0, 0
    passed = failed = 0
    for v in json.loads(Path(path).read_text(encoding="utf-8")):
        if v["root_alg"] != "EdDSA" or v["expect"] == "envelope":
            continue  # SM2 is not in pycose; a trailing byte is our strictness
        name, expect = v["name"], v["expect"]
        try:
            try:
                msg, ok = verify_sign1(bytes.fromhex(v["signed_hex"]),
                                       bytes.fromhex(v["root_public_key_hex"]))
            except Exception:
                msg, ok = None, False
            if expect == "forged":
                assert not ok, "forged national list verified"
            else:
                assert ok, "genuine national list did not verify"
                payload = cbor2.loads(msg.payload)
                assert payload[0] == 4, "kind 4"
                assert payload[2] < payload[3], "issued before next update"
                if expect == "ok":
                    got = [p[1] for p in payload[5]]
                    assert got == v["provinces"], f"provinces {got}"
                    for p in payload[5]:
                        assert p[3][1] in (-8, -70000), "root alg (EdDSA or SM2-SM3)"
                        assert p[7].startswith("http"), "trust list URL"
            passed += 1
            print(f"ok   {name} ({expect})")
        except Exception as e:
            failed += 1
            print(f"FAIL {name} ({expect}): {e!r}")
    print(f"interop (national list): {passed} passed, {failed} failed")
    return passed, failed


if __name__ == "__main__":
    vectors = sys.argv[1] if len(sys.argv) > 1 else "shared/testdata/vectors.json"
    code = main(vectors)
    n_passed, n_failed = national(str(Path(vectors).with_name("national.json")))
    sys.exit(1 if code or n_failed else 0)
