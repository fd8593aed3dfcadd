//! verifier-server: the provincial collection, issuing and list service.
#![forbid(unsafe_code)]
use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("verifier-server: not yet built (see issue 3)");
    ExitCode::from(2)
}
