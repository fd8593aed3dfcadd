//! verifier-server: the provincial collection, issuing and list service.
//!
//! ```text
//! verifier-server serve --data DIR [--listen ADDR] [--alg ed25519|sm2]
//!                       [--list-ttl SECONDS] [--list-max-age SECONDS]
//! verifier-server admin create-token --data DIR --role admin|agency|auditor
//!                       [--division CODE] [--subject TEXT]
//! ```
#![forbid(unsafe_code)]

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use shared::crypto::Alg;
use shared::domain::DivisionCode;
use verifier_server::auth::{self, Role};
use verifier_server::lists::ListConfig;
use verifier_server::store::SqliteStore;
use verifier_server::{keys, system_clock, AppState, Config};

const USAGE: &str = "usage:
  verifier-server serve --data DIR [--listen ADDR] [--alg ed25519|sm2]
                        [--list-ttl SECONDS] [--list-max-age SECONDS]
  verifier-server admin create-token --data DIR --role admin|agency|auditor
                        [--division CODE] [--subject TEXT]";

/// What to do, from the command line, validated.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Serve {
        data: PathBuf,
        listen: SocketAddr,
        alg: Alg,
        config: Config,
    },
    CreateToken {
        data: PathBuf,
        role: Role,
        division: Option<DivisionCode>,
        subject: String,
    },
    Help,
}

fn value(args: &mut std::vec::IntoIter<String>, flag: &str) -> anyhow::Result<String> {
    args.next().with_context(|| format!("{flag} needs a value"))
}

fn parse_args(raw: Vec<String>) -> anyhow::Result<Command> {
    let mut args = raw.into_iter();
    let command = match args.next().as_deref() {
        None | Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some("serve") => "serve",
        Some("admin") => match args.next().as_deref() {
            Some("create-token") => "create-token",
            other => bail!("unknown admin command {other:?}; expected create-token"),
        },
        Some(other) => bail!("unknown command {other:?}"),
    };
    let mut data = None;
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut alg = Alg::EdDSA;
    let mut lists = ListConfig::default();
    let mut role = None;
    let mut division = None;
    let mut subject = None;
    while let Some(flag) = args.next() {
        match (command, flag.as_str()) {
            (_, "--data") => data = Some(PathBuf::from(value(&mut args, &flag)?)),
            ("serve", "--listen") => {
                let v = value(&mut args, &flag)?;
                listen = v.parse().with_context(|| {
                    format!("--listen {v:?}: expected an address like 0.0.0.0:8080")
                })?;
            }
            ("serve", "--alg") => {
                alg = match value(&mut args, &flag)?.to_ascii_lowercase().as_str() {
                    "ed25519" | "eddsa" => Alg::EdDSA,
                    "sm2" => Alg::Sm2Sm3,
                    other => bail!("--alg {other:?}: expected ed25519 or sm2"),
                }
            }
            ("serve", "--list-ttl") => {
                let v = value(&mut args, &flag)?;
                lists.ttl = v
                    .parse()
                    .with_context(|| format!("--list-ttl {v:?}: expected seconds"))?;
            }
            ("serve", "--list-max-age") => {
                let v = value(&mut args, &flag)?;
                lists.max_age = v
                    .parse()
                    .with_context(|| format!("--list-max-age {v:?}: expected seconds"))?;
            }
            ("create-token", "--role") => {
                let v = value(&mut args, &flag)?;
                role =
                    Some(Role::parse(&v).with_context(|| {
                        format!("--role {v:?}: expected admin, agency or auditor")
                    })?);
            }
            ("create-token", "--division") => {
                let v = value(&mut args, &flag)?;
                division = Some(
                    DivisionCode::parse(&v)
                        .map_err(|e| anyhow::anyhow!("--division {v:?}: {e}"))?,
                );
            }
            ("create-token", "--subject") => subject = Some(value(&mut args, &flag)?),
            (_, other) => bail!("unknown option {other:?} for {command}"),
        }
    }
    let data = data.context("--data DIR is required")?;
    match command {
        "serve" => {
            if lists.ttl == 0 || lists.ttl > lists.max_age {
                bail!(
                    "--list-ttl {} must be positive and at most --list-max-age {}",
                    lists.ttl,
                    lists.max_age
                );
            }
            Ok(Command::Serve {
                data,
                listen,
                alg,
                config: Config {
                    lists,
                    ..Config::default()
                },
            })
        }
        _ => {
            let role = role.context("--role is required")?;
            match (role, division) {
                (Role::Agency, None) => bail!("an agency token needs --division CODE"),
                (Role::Admin | Role::Auditor, Some(_)) => {
                    bail!("--division is only for agency tokens")
                }
                _ => {}
            }
            Ok(Command::CreateToken {
                data,
                role,
                division,
                subject: subject.unwrap_or_else(|| role.as_str().to_string()),
            })
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn serve(data: PathBuf, listen: SocketAddr, alg: Alg, config: Config) -> anyhow::Result<()> {
    let state =
        tokio::task::spawn_blocking(move || AppState::open(&data, alg, config, system_clock()))
            .await
            .context("opening the data directory")??;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    verifier_server::run(listener, state, shutdown_signal())
        .await
        .context("serving")
}

fn create_token(
    data: &std::path::Path,
    role: Role,
    division: Option<DivisionCode>,
    subject: &str,
) -> anyhow::Result<String> {
    verifier_server::create_data_dir(data)?;
    let db = data.join(keys::DB_FILE);
    let store =
        SqliteStore::open(&db).with_context(|| format!("opening database {}", db.display()))?;
    let (token, _) = auth::create_token(&store, role, division, subject, system_clock()())
        .context("storing the token")?;
    Ok(token)
}

fn main() -> ExitCode {
    let command = match parse_args(std::env::args().skip(1).collect()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("verifier-server: {e:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match command {
        Command::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Command::CreateToken {
            data,
            role,
            division,
            subject,
        } => create_token(&data, role, division, &subject).map(|token| {
            println!("{token}");
            eprintln!("store this token now: it is shown only once");
        }),
        Command::Serve {
            data,
            listen,
            alg,
            config,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")
            .and_then(|rt| rt.block_on(serve(data, listen, alg, config))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verifier-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_commands() {
        let c = parse_args(args("serve --data /tmp/x --listen 0.0.0.0:9000 --alg sm2")).unwrap();
        assert!(matches!(
            c,
            Command::Serve {
                alg: Alg::Sm2Sm3,
                ..
            }
        ));
        let c = parse_args(args(
            "admin create-token --data d --role agency --division 210100",
        ))
        .unwrap();
        assert!(matches!(
            c,
            Command::CreateToken {
                role: Role::Agency,
                division: Some(_),
                ..
            }
        ));
        for bad in [
            "serve",
            "serve --data d --alg rsa",
            "serve --data d --list-ttl 10 --list-max-age 5",
            "admin create-token --data d --role agency",
            "admin create-token --data d --role admin --division 210100",
            "admin create-token --data d --role agency --division 110100",
            "serve --data d --role admin",
            "frobnicate",
        ] {
            assert!(parse_args(args(bad)).is_err(), "{bad}");
        }
    }
}
