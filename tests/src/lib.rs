//! End-to-end tests of the real binaries; the tests live in `tests/`.
#![forbid(unsafe_code)]
