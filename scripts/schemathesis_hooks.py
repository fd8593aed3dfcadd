"""Schemathesis hooks (scripts/schemathesis loads them).

Check-log uploads are `application/cose` bodies, which schemathesis cannot
generate by itself: fuzz them with arbitrary bytes and with near-misses of a
real COSE_Sign1 (tag 18, a protected header, no signature), which the server
must refuse with a 4xx problem, never a 5xx.
"""
from hypothesis import strategies as st

import schemathesis

COSE_SHAPES = [
    b"",
    b"\xd2",
    b"\xd2\x84\x43\xa1\x01\x27\xa0\x40\x40",
    b"\xd2\x84\x4d\xa2\x01\x27\x04\x48\x00\x01\x02\x03\x04\x05\x06\x07\xa0\x41\x80\x40",
    b"\x84\x43\xa1\x01\x27\xa0\x40\x40",
]

schemathesis.openapi.media_type(
    "application/cose",
    st.one_of(st.sampled_from(COSE_SHAPES), st.binary(max_size=2048)),
)
