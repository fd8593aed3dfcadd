//! field-client: the officer's offline verifier.
#![forbid(unsafe_code)]
use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("field-client: not yet built (see issue 4)");
    ExitCode::from(2)
}
