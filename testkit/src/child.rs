//! The real binaries as child processes over 127.0.0.1: `verifier-server`
//! (`serve` or `demo`), ready once `/healthz` answers, killed on drop; and
//! helpers to run `verifier-server admin` and `field-client`.
//!
//! The binaries are found next to the test executable's `deps/` directory
//! (`target/<profile>/`); `cargo test --workspace` builds every member's
//! binaries before it runs any test. A test of the server's own package
//! can name its binary with `env!("CARGO_BIN_EXE_verifier-server")` and
//! [`ChildServer::start`].

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// The path of a workspace binary built for this test run.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the test executable")?;
    // target/<profile>/deps/<test>-<hash>  →  target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test executable has no target directory")?;
    let path = dir.join(name);
    if !path.is_file() {
        bail!(
            "{} is missing: run the tests with `cargo test --workspace` so the binaries are built",
            path.display()
        );
    }
    Ok(path)
}

/// A free port on 127.0.0.1 (bound and released; a tiny race is accepted).
pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a probe port")?;
    Ok(l.local_addr()?.port())
}

/// A running `verifier-server`, killed when dropped.
#[derive(Debug)]
pub struct ChildServer {
    child: Option<Child>,
    bin: PathBuf,
    /// Its data directory.
    pub data: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    port: u16,
    command: &'static str,
    extra: Vec<String>,
    log: PathBuf,
    /// The agent `/healthz` is polled with (trusting the test CA over TLS).
    health: ureq::Agent,
}

impl ChildServer {
    /// Starts `verifier-server demo` on `data` and waits until it answers.
    pub fn demo(data: &Path) -> anyhow::Result<ChildServer> {
        ChildServer::start(&binary("verifier-server")?, "demo", data, &[])
    }

    /// Starts `verifier-server serve` on `data`.
    pub fn serve(data: &Path) -> anyhow::Result<ChildServer> {
        ChildServer::start(&binary("verifier-server")?, "serve", data, &[])
    }

    /// Starts `verifier-server serve` on `data` with more arguments.
    pub fn serve_with(data: &Path, extra: &[&str]) -> anyhow::Result<ChildServer> {
        ChildServer::start(&binary("verifier-server")?, "serve", data, extra)
    }

    /// Starts `bin COMMAND --data DATA --listen 127.0.0.1:PORT EXTRA...`
    /// (plus the engine's arguments) on a free port and waits until
    /// `/healthz` answers 200; its output goes to `DATA.PORT.log`.
    pub fn start(
        bin: &Path,
        command: &'static str,
        data: &Path,
        extra: &[&str],
    ) -> anyhow::Result<ChildServer> {
        let engine_args = crate::engine().server_args(data)?;
        ChildServer::start_with(bin, command, data, extra, engine_args)
    }

    /// Starts `verifier-server COMMAND` on `data` with the database
    /// `database` (`--database URL`) instead of the engine's own choice:
    /// several instances, each with its own data directory (a copy of the
    /// same key files), on one database.
    pub fn start_on_database(
        command: &'static str,
        data: &Path,
        database: &str,
    ) -> anyhow::Result<ChildServer> {
        let args = vec!["--database".to_string(), database.to_string()];
        ChildServer::start_with(&binary("verifier-server")?, command, data, &[], args)
    }

    fn start_with(
        bin: &Path,
        command: &'static str,
        data: &Path,
        extra: &[&str],
        engine_args: Vec<String>,
    ) -> anyhow::Result<ChildServer> {
        let port = free_port()?;
        let log = data.with_extension(format!("{port}.log"));
        let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        extra.extend(engine_args);
        let mut server = ChildServer {
            child: None,
            bin: bin.to_path_buf(),
            data: data.to_path_buf(),
            url: format!("http://127.0.0.1:{port}"),
            port,
            command,
            extra,
            log,
            health: agent(),
        };
        server.spawn()?;
        Ok(server)
    }

    /// Starts `verifier-server serve --tls-cert CERT --tls-key KEY EXTRA...`
    /// on `data`; `url` is `https://localhost:PORT` and readiness is checked
    /// with an agent trusting only the CA certificate `ca_pem`.
    pub fn serve_tls(
        data: &Path,
        cert: &Path,
        key: &Path,
        ca_pem: &str,
        extra: &[&str],
    ) -> anyhow::Result<ChildServer> {
        let port = free_port()?;
        let mut args: Vec<String> = vec![
            "--tls-cert".into(),
            cert.display().to_string(),
            "--tls-key".into(),
            key.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(crate::engine().server_args(data)?);
        let mut server = ChildServer {
            child: None,
            bin: binary("verifier-server")?,
            data: data.to_path_buf(),
            url: format!("https://localhost:{port}"),
            port,
            command: "serve",
            extra: args,
            log: data.with_extension(format!("{port}.log")),
            health: agent_trusting(ca_pem)?,
        };
        server.spawn()?;
        Ok(server)
    }

    /// The process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Sends SIGHUP (reload the TLS certificate).
    pub fn hangup(&self) -> anyhow::Result<()> {
        let pid = self.pid().context("the server is not running")?;
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .context("running kill -HUP")?;
        if !status.success() {
            bail!("kill -HUP {pid}: {status}");
        }
        Ok(())
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(&self.bin)
            .arg(self.command)
            .arg("--data")
            .arg(&self.data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(&self.extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting verifier-server")?;
        self.child = Some(child);
        self.wait_healthy(Duration::from_secs(120))
    }

    fn wait_healthy(&mut self, limit: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if let Ok(r) = self.health.get(format!("{}/healthz", self.url)).call() {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "verifier-server exited with {status} before answering; log:\n{}",
                        self.log_text()
                    );
                }
            }
            if start.elapsed() > limit {
                bail!(
                    "verifier-server did not answer within {limit:?}; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The port it listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL and waits for it.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing verifier-server")?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts it again on the same data directory and port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill()?;
        self.spawn()
    }

    /// A file the demo wrote under `DIR/demo/`, trimmed.
    pub fn demo_file(&self, name: &str) -> anyhow::Result<String> {
        let path = self.data.join("demo").join(name);
        Ok(std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim()
            .to_string())
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP agent that reports every status as a response, not an error.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// An agent like [`agent`] that trusts only the CA certificates of
/// `ca_pem` for HTTPS.
pub fn agent_trusting(ca_pem: &str) -> anyhow::Result<ureq::Agent> {
    let certs = ureq::tls::parse_pem(ca_pem.as_bytes())
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<Vec<_>, _>>()
        .context("the CA is not PEM")?;
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into())
}

/// Runs `verifier-server admin ARGS... --data DIR` and returns what it
/// printed (e.g. a new token), failing with its output if it failed.
pub fn server_admin(data: &Path, args: &[&str]) -> anyhow::Result<String> {
    server_admin_with(&binary("verifier-server")?, data, args)
}

/// [`server_admin`] with the server binary `bin`.
pub fn server_admin_with(bin: &Path, data: &Path, args: &[&str]) -> anyhow::Result<String> {
    admin_command(bin, data, args, crate::engine().server_args(data)?)
}

/// [`server_admin`] on the database `database` (`--database URL`) instead
/// of the engine's own choice for `data`: an `admin` command made through
/// one of several instances that share a database.
pub fn server_admin_on_database(
    data: &Path,
    database: &str,
    args: &[&str],
) -> anyhow::Result<String> {
    admin_command(
        &binary("verifier-server")?,
        data,
        args,
        vec!["--database".into(), database.into()],
    )
}

fn admin_command(
    bin: &Path,
    data: &Path,
    args: &[&str],
    engine_args: Vec<String>,
) -> anyhow::Result<String> {
    let out = Command::new(bin)
        .arg("admin")
        .args(args)
        .arg("--data")
        .arg(data)
        .args(engine_args)
        .stdin(Stdio::null())
        .output()
        .context("running verifier-server admin")?;
    if !out.status.success() {
        bail!("verifier-server admin {args:?}: {}", describe(&out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `field-client --data DIR ARGS...` and returns its output.
pub fn field_client(data: &Path, args: &[&str]) -> anyhow::Result<Output> {
    Command::new(binary("field-client")?)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running field-client")
}

/// The JSON objects `field-client ... --json` printed, one per line.
pub fn json_lines(output: &Output) -> anyhow::Result<Vec<serde_json::Value>> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l}")))
        .collect()
}

/// A readable account of a finished command, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
