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
    "unknown_key",
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


def check_claims(payload):
    claims = cbor2.loads(payload)
    assert isinstance(claims, dict), "claims are a map"
    assert 1 <= claims[1] <= 9, "type code"
    assert isinstance(claims[2], str) and claims[2], "number"
    assert len(claims[3]) == 18, "issuer credit code"
    assert 210000 <= claims[4] <= 211499, "Liaoning division"
    assert isinstance(claims[11], dict) and isinstance(claims[11][1], str), "face name"
    return claims


def main(path):
    vectors = json.loads(Path(path).read_text(encoding="utf-8"))
    passed = failed = 0
    for v in vectors:
        if v["issuer_key"]["alg"] != "EdDSA":
            continue
        reason = v["expect"]["reason"]
        name = v["name"]
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
            elif reason in SIGNATURE_INTACT:
                assert ok, "genuine signature did not verify"
                claims = check_claims(msg.payload)
                if prefix == "LP1:":
                    outer = CoseMessage.decode(envelope)
                    holder = claims[12]
                    assert holder[0] == -8, "holder key is EdDSA"
                    outer.key = OKPKey(crv=Ed25519, x=holder[1])
                    slot, inner = cbor2.loads(outer.payload)
                    assert inner == cose, "presentation embeds the certificate"
                    holder_ok = outer.verify_signature()
                    assert holder_ok == (reason != "holder_signature_invalid"), \
                        "holder signature outcome"
            else:
                # malformed, non-canonical, duplicate keys...: not checked here
                continue
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "shared/testdata/vectors.json"))
