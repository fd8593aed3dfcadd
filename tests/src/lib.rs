//! End-to-end tests of the real `verifier-server` and `field-client`
//! binaries over 127.0.0.1; the tests live in `tests/tests/`. Their
//! harness (child processes, HTTP agent, command helpers) is the
//! workspace's `testkit` crate, shared with every other integration test.
#![forbid(unsafe_code)]
