//! verifier-server: the provincial collection, issuing and list service.
//!
//! `verifier-server --help` lists the commands; each command's logic lives
//! in the library so tests can drive it; this file only parses arguments.
#![forbid(unsafe_code)]

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand, ValueEnum};
use importer::{Format, ImportOptions};
use sha2::Digest as _;
use shared::crypto::Alg;
use shared::domain::{DivisionCode, Jurisdiction};
use verifier_server::auth::{self, Role};
use verifier_server::http::tls;
use verifier_server::lists::ListConfig;
use verifier_server::store::{Store, StoreError};
use verifier_server::{admin, system_clock, AppState, Config};

/// The provincial road-transport e-certificate service.
#[derive(Debug, Parser)]
#[command(name = "verifier-server", version, about)]
struct Cli {
    /// Log lines as text, or one JSON object a line (for log collectors).
    #[arg(long, value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Cmd,
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serves the API; creates the database and keys on first start.
    Serve(ServeArgs),
    /// Administration on the data directory (the server may be running).
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Serves like `serve` after seeding DIR once with demo data for the 14
    /// cities; writes tokens, sample QR codes and `index.json` to DIR/demo.
    Demo(ServeArgs),
    /// Pushes the records of a CSV or JSON-lines file to a server in
    /// batches (first full collection); resumes after an interruption.
    Import(ImportArgs),
    /// The simulated 运证通 (and any registered application's side):
    /// make a key, register it, sign a holder in, get an access token.
    #[command(subcommand)]
    Yzt(YztCmd),
}

#[derive(Debug, Subcommand)]
enum YztCmd {
    /// Makes a new Ed25519 key file (PKCS#8 PEM, 0600); prints its JWK.
    Keygen(YztKey),
    /// Registers the key's application (an identity provider) with an
    /// administrator token; prints the registration.
    Register(YztRegister),
    /// Signs "the holder with ID number (or credit code) X signed in" and
    /// exchanges it for a holder token; prints it.
    SignIn(YztSignIn),
    /// Prints a signed identity assertion only.
    Assertion(YztAssertion),
    /// Gets an application access token (RFC 7523 private_key_jwt).
    Token(YztServer),
    /// Serves 运证通's simulated sign-in page for the wallet
    /// (`/authorize`, OAuth 2.0 style: back to the wallet with the signed
    /// assertion in the URL fragment).
    Serve(YztServe),
}

#[derive(Debug, Args)]
struct YztAssertion {
    #[command(flatten)]
    sign_in: YztSignIn,
    /// Sign as if SECONDS ago (e.g. 600: an assertion that has expired).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    issued_ago: i64,
}

#[derive(Debug, Args)]
struct YztServe {
    #[command(flatten)]
    server: YztServer,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The one redirect_uri served (the wallet's address); default
    /// SERVER/wallet/.
    #[arg(long, value_name = "URL")]
    wallet: Option<String>,
}

#[derive(Debug, Args)]
struct YztKey {
    /// The key file.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The client id the key signs as.
    #[arg(long, default_value = "yzt")]
    client_id: String,
    /// The key's kid.
    #[arg(long, default_value = "yzt-1")]
    kid: String,
}

#[derive(Debug, Args)]
struct YztServer {
    #[command(flatten)]
    key: YztKey,
    /// Base URL of the server.
    #[arg(long, value_name = "URL")]
    server: String,
    /// The audience the server expects (`serve --audience`).
    #[arg(long, default_value = "lnec-verifier-server")]
    audience: String,
}

#[derive(Debug, Args)]
struct YztRegister {
    #[command(flatten)]
    server: YztServer,
    /// The administrator's bearer token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "VERIFIER_TOKEN",
        hide_env_values = true
    )]
    admin_token: String,
    /// Register an ordinary application, not an identity provider.
    #[arg(long)]
    not_identity_provider: bool,
    /// The application's name (shown to holders granting access).
    #[arg(long, default_value = "辽宁运证通（模拟）")]
    name: String,
    /// What it uses certificates for.
    #[arg(long, default_value = "持证人实名登录与电子证照送达")]
    purpose: String,
}

#[derive(Debug, Args)]
struct YztSignIn {
    #[command(flatten)]
    server: YztServer,
    /// The holder's ID number or unified social credit code.
    #[arg(long, value_name = "ID")]
    holder: String,
}

fn yzt(cmd: &YztCmd) -> anyhow::Result<()> {
    use verifier_server::demo::yzt::{self, Signer};
    let load = |k: &YztKey| Signer::load(&k.key, &k.client_id, &k.kid);
    let out = match cmd {
        YztCmd::Keygen(k) => yzt::keygen(&k.key, &k.client_id, &k.kid)?,
        YztCmd::Register(a) => yzt::register(
            &a.server.server,
            &a.admin_token,
            &load(&a.server.key)?,
            !a.not_identity_provider,
            &a.name,
            &a.purpose,
        )?,
        YztCmd::SignIn(a) => {
            let mut v = yzt::sign_in(
                &a.server.server,
                &load(&a.server.key)?,
                &a.holder,
                &a.server.audience,
            )?;
            v["wallet"] = format!("{}/wallet/", a.server.server.trim_end_matches('/')).into();
            v
        }
        YztCmd::Assertion(a) => {
            let s = &a.sign_in;
            println!(
                "{}",
                yzt::assertion(
                    &load(&s.server.key)?,
                    &s.holder,
                    &s.server.audience,
                    a.issued_ago
                )?
            );
            return Ok(());
        }
        YztCmd::Serve(a) => {
            use verifier_server::demo::yzt_page::{self, PageConfig};
            let config = PageConfig {
                redirect_uri: a.wallet.clone().unwrap_or_else(|| {
                    format!("{}/wallet/", a.server.server.trim_end_matches('/'))
                }),
                audience: a.server.audience.clone(),
            };
            let signer = load(&a.server.key)?;
            runtime()?.block_on(yzt_page::serve(a.listen, signer, config))?;
            return Ok(());
        }
        YztCmd::Token(a) => yzt::app_token(&a.server, &load(&a.key)?, &a.audience)?,
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

#[derive(Debug, Subcommand)]
enum AdminCmd {
    /// Creates a bearer token and prints it (shown only once).
    CreateToken(CreateTokenArgs),
    /// Lists the tokens (id, role, division, state, expiry, last use,
    /// subject); never the tokens themselves.
    ListTokens(ListTokensArgs),
    /// Gives a token a new secret (printed once) under the same id; the
    /// old secret keeps working through the overlap, then expires.
    RotateToken(RotateTokenArgs),
    /// Revokes a token: requests with it are refused at once.
    RevokeToken(RevokeTokenArgs),
    /// Lists the officer devices (per token with --token).
    ListDevices(ListDevicesArgs),
    /// Revokes an officer device: its batches are refused and none of its
    /// checks counts in the evaluation.
    RevokeDevice(RevokeDeviceArgs),
    /// Makes a new issuer key the signing key; the old one stays in the
    /// trust list, verify-only, through the overlap window.
    RotateKey(RotateKeyArgs),
    /// Marks an issuer key compromised; the next trust list says so.
    CompromiseKey(CompromiseKeyArgs),
    /// Prints the annual evaluation (R11, R12) of the 14 cities and the
    /// province: a table, or CSV / JSON.
    Evaluate(EvaluateArgs),
    /// Copies the SQLite database online (the server may be serving) to a
    /// new FILE, and the key files to FILE.keys/. PostgreSQL: use pg_dump
    /// (docs/operations.md).
    Backup(BackupArgs),
    /// Makes DIR a data directory from a backup, after checking it
    /// (integrity, schema version, signatures, status-list and check-log
    /// chains); refuses a DIR that holds a database.
    Restore(RestoreArgs),
    /// Runs the restore checks on a live database (e.g. after pg_restore).
    Verify(VerifyArgs),
    /// Purges check logs and batch evidence past the retention period,
    /// keeping each year's evaluation and the chain anchors.
    Purge(PurgeArgs),
    /// Mutual recognition: the national root key and the national issuer
    /// list (see docs/operations.md).
    #[command(subcommand)]
    National(NationalCmd),
}

#[derive(Debug, Subcommand)]
enum NationalCmd {
    /// Creates the national root key in DIR (national-root.key, 0600, and
    /// national-root.pub.json); refuses to replace one.
    Keygen {
        /// Directory for the key (created 0700).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Algorithm.
        #[arg(long, value_enum, default_value = "ed25519")]
        alg: AlgArg,
    },
    /// Signs the national issuer list from a provinces file (JSON) with the
    /// root key in DIR and writes it to --out (sequence: --seq, else one
    /// above the list already at --out).
    Sign {
        /// Directory of the national root key.
        #[arg(long, value_name = "DIR")]
        key_dir: PathBuf,
        /// The provinces file (JSON).
        #[arg(long, value_name = "FILE")]
        provinces: PathBuf,
        /// The sequence number (must exceed the list at --out).
        #[arg(long, value_name = "N")]
        seq: Option<u64>,
        /// Where to write the signed list.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Prints this province's root key as the provinces file wants it
    /// (JSON: alg, public_key, kid).
    ShowRoot(DataArg),
}

#[derive(Debug, Args)]
struct BackupArgs {
    #[command(flatten)]
    data: DataArg,
    /// The new backup file.
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    /// Do not copy the key files (they are backed up elsewhere).
    #[arg(long)]
    no_keys: bool,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// The backup file.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// The key files (default: FILE.keys).
    #[arg(long, value_name = "DIR")]
    keys: Option<PathBuf>,
    /// The new data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    data: DataArg,
}

#[derive(Debug, Args)]
struct PurgeArgs {
    #[command(flatten)]
    data: DataArg,
    /// Full years kept before the current one.
    #[arg(long, value_name = "N", default_value_t = verifier_server::maintenance::RETENTION_YEARS)]
    retention_years: u32,
}

#[derive(Debug, Args)]
struct EvaluateArgs {
    #[command(flatten)]
    data: DataArg,
    /// The year, e.g. 2026.
    #[arg(long, value_name = "YYYY")]
    year: i32,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: EvalFormat,
}

/// How `admin evaluate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EvalFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
struct ListTokensArgs {
    #[command(flatten)]
    data: DataArg,
    /// JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RotateTokenArgs {
    #[command(flatten)]
    data: DataArg,
    /// The token's id (from list-tokens).
    #[arg(long, value_name = "N")]
    id: i64,
    /// How long the old secret keeps working, e.g. 7d, 12h, 30m, 0s.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
    overlap: i64,
    /// Lifetime of the new secret (default: the role's: admin 8h, holder
    /// 30d, officer 365d, agency and auditor 90d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    expires_in: Option<i64>,
}

#[derive(Debug, Args)]
struct RevokeTokenArgs {
    #[command(flatten)]
    data: DataArg,
    /// The token's id (from list-tokens).
    #[arg(long, value_name = "N")]
    id: i64,
}

#[derive(Debug, Args)]
struct ListDevicesArgs {
    #[command(flatten)]
    data: DataArg,
    /// Only this officer token's devices (its id, from list-tokens).
    #[arg(long, value_name = "N")]
    token: Option<i64>,
}

#[derive(Debug, Args)]
struct RevokeDeviceArgs {
    #[command(flatten)]
    data: DataArg,
    /// The device's id (from list-devices).
    #[arg(long, value_name = "N")]
    id: i64,
}

#[derive(Debug, Args)]
struct RotateKeyArgs {
    #[command(flatten)]
    data: DataArg,
    /// Days the old key stays in the trust list (verify-only).
    #[arg(long, value_name = "N", default_value_t = 30)]
    overlap_days: u32,
    /// Algorithm of the new key (default: the current key's).
    #[arg(long, value_enum)]
    alg: Option<AlgArg>,
}

#[derive(Debug, Args)]
struct CompromiseKeyArgs {
    #[command(flatten)]
    data: DataArg,
    /// The key id, 16 hex digits.
    #[arg(long, value_name = "KID")]
    kid: String,
    /// When the compromise happened, Unix seconds (default: now).
    #[arg(long, value_name = "UNIX")]
    since: Option<i64>,
}

/// The signature algorithm of newly created keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AlgArg {
    /// Ed25519 (EdDSA).
    #[value(alias = "eddsa")]
    Ed25519,
    /// SM2 with SM3.
    Sm2,
}

impl From<AlgArg> for Alg {
    fn from(a: AlgArg) -> Alg {
        match a {
            AlgArg::Ed25519 => Alg::EdDSA,
            AlgArg::Sm2 => Alg::Sm2Sm3,
        }
    }
}

#[derive(Debug, Args)]
struct DataArg {
    /// The data directory (signing keys; the SQLite database unless
    /// --database names another).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The database: postgres://USER:PASSWORD@HOST:PORT/DB for PostgreSQL
    /// (several instances may share it), or sqlite:PATH. Default: the SQLite
    /// file in --data.
    #[arg(
        long,
        value_name = "URL",
        env = "LNEC_DATABASE",
        hide_env_values = true
    )]
    database: Option<String>,
    /// The province this server runs as (GB/T 2260 province code whose
    /// table ships: 210000 辽宁, 220000 吉林): its divisions, plates and
    /// authorities. A data directory belongs to one province.
    #[arg(
        long,
        value_name = "CODE",
        env = "LNEC_PROVINCE",
        default_value = "210000",
        value_parser = parse_province
    )]
    province: &'static Jurisdiction,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    data: DataArg,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// Algorithm of the keys created on first start.
    #[arg(long, value_enum, default_value = "ed25519")]
    alg: AlgArg,
    /// Seconds after which verifiers warn that lists are old.
    #[arg(long, value_name = "SECONDS")]
    list_ttl: Option<u64>,
    /// Seconds after which verifiers cannot confirm with old lists.
    #[arg(long, value_name = "SECONDS")]
    list_max_age: Option<u64>,
    /// Sustained requests a second per caller (0: no rate limit).
    #[arg(long, value_name = "N")]
    rate_per_second: Option<u32>,
    /// Requests a caller may send at once above the sustained rate.
    #[arg(long, value_name = "N")]
    rate_burst: Option<u32>,
    /// Full years of check logs kept before the current one; older ones
    /// are purged daily (see `admin purge`).
    #[arg(long, value_name = "N", default_value_t = verifier_server::maintenance::RETENTION_YEARS)]
    retention_years: u32,
    /// Do not purge on a schedule (run `admin purge` from cron instead).
    #[arg(long)]
    no_purge: bool,
    /// Most active devices one officer token may enroll.
    #[arg(long, value_name = "N")]
    max_devices_per_token: Option<u32>,
    /// Seconds a client may take to send a request's headers (then the
    /// connection is closed).
    #[arg(long, value_name = "SECONDS")]
    header_timeout: Option<u64>,
    /// Seconds a client may take to send a request's body after its
    /// headers (then 408 and the connection is closed).
    #[arg(long, value_name = "SECONDS")]
    body_timeout: Option<u64>,
    /// Requests in flight per caller (valid token, or address); 0: no
    /// limit.
    #[arg(long, value_name = "N")]
    max_in_flight_per_caller: Option<usize>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); reloaded
    /// on SIGHUP and when the file changes.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A reverse proxy (address or CIDR range) whose X-Forwarded-For names
    /// the client; repeatable. Without one the peer address is the client.
    #[arg(long, value_name = "CIDR", value_parser = parse_net)]
    trusted_proxy: Vec<ipnet::IpNet>,
    /// Client addresses (address or CIDR range) that may read /metrics;
    /// repeatable. Default: loopback only.
    #[arg(long, value_name = "CIDR", value_parser = parse_net)]
    metrics_allow: Vec<ipnet::IpNet>,
    /// A bearer token that may read /metrics from any address.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "LNEC_METRICS_TOKEN",
        hide_env_values = true
    )]
    metrics_token: Option<String>,
    /// The working-day calendar (public holidays and adjusted working days)
    /// for push and re-push deadlines, a JSON file in the format of
    /// `shared/data/calendar-cn.json`; the shipped one (2026–2027) by default.
    #[arg(long, value_name = "FILE")]
    calendar: Option<PathBuf>,
    /// The other provinces' servers this one forwards check records of
    /// their certificates to and accepts theirs from (JSON: this province's
    /// code, and per peer its division code, name, base URL and root keys;
    /// format in docs/operations.md "Cross-province forwarding"). Without
    /// it the server is Liaoning's, with no peers: checks of other
    /// provinces' certificates wait in the outbox.
    #[arg(long, value_name = "FILE")]
    peers: Option<PathBuf>,
    /// Mutual recognition: the national root's public key (JSON, as
    /// `admin national keygen` writes it); with --national-list.
    #[arg(long, value_name = "FILE", requires = "national_list")]
    national_root: Option<PathBuf>,
    /// Where the signed national issuer list is: a file or an http(s) URL;
    /// it and the other provinces' lists it names are fetched, verified and
    /// served to this server's devices.
    #[arg(long, value_name = "FILE|URL", requires = "national_root")]
    national_list: Option<String>,
    /// Seconds between fetches of the national list and the other
    /// provinces' lists.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    national_refresh: u64,
    /// The audience (`aud`) registered applications' assertions must name:
    /// by convention this server's public base URL; a client assertion may
    /// also name AUDIENCE/api/v1/oauth/token.
    #[arg(long, value_name = "AUDIENCE", default_value = "lnec-verifier-server")]
    audience: String,
    /// 运证通's sign-in page, where the wallet's "通过运证通登录" sends
    /// holders (the simulated one: `yzt serve`, http://127.0.0.1:8090/authorize).
    #[arg(long, value_name = "URL", value_parser = parse_web_url)]
    yzt_url: Option<String>,
}

/// An `http://` or `https://` URL without spaces.
fn parse_web_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    let ok = (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() <= 500
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not an http:// or https:// URL"))
    }
}

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or one address.
fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not an address or CIDR range (e.g. 10.0.0.0/8)"))
}

impl ServeArgs {
    /// The `--peers` file, read and checked.
    fn peers(&self) -> anyhow::Result<Option<verifier_server::service::peers::PeerProvinces>> {
        let Some(path) = &self.peers else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --peers {}", path.display()))?;
        verifier_server::service::peers::PeerProvinces::from_json(&text)
            .with_context(|| format!("--peers {}", path.display()))
            .map(Some)
    }

    fn config(&self) -> anyhow::Result<Config> {
        let mut lists = ListConfig::default();
        if let Some(t) = self.list_ttl {
            lists.ttl = t;
        }
        if let Some(m) = self.list_max_age {
            lists.max_age = m;
        }
        if lists.ttl == 0 || lists.ttl > lists.max_age {
            bail!(
                "--list-ttl {} must be positive and at most --list-max-age {}",
                lists.ttl,
                lists.max_age
            );
        }
        let mut limits = verifier_server::Limits::default();
        if let Some(r) = self.rate_per_second {
            limits.rate_per_second = r;
        }
        if let Some(b) = self.rate_burst {
            limits.rate_burst = b;
        }
        if let Some(n) = self.max_devices_per_token {
            limits.max_devices_per_token = n;
        }
        for (value, name, field) in [
            (
                self.header_timeout,
                "--header-timeout",
                &mut limits.header_timeout,
            ),
            (
                self.body_timeout,
                "--body-timeout",
                &mut limits.body_timeout,
            ),
        ] {
            match value {
                Some(0) => bail!("{name} must be at least 1 second"),
                Some(s) => *field = std::time::Duration::from_secs(s),
                None => {}
            }
        }
        if let Some(n) = self.max_in_flight_per_caller {
            limits.max_in_flight_per_caller = n;
        }
        let mut network = verifier_server::Network {
            trusted_proxies: self.trusted_proxy.clone(),
            ..verifier_server::Network::default()
        };
        if !self.metrics_allow.is_empty() {
            network.metrics_allow = self.metrics_allow.clone();
        }
        if let Some(token) = &self.metrics_token {
            if token.trim().len() < 16 {
                bail!("--metrics-token must be at least 16 characters");
            }
            network.metrics_token_sha256 =
                Some(sha2::Sha256::digest(token.trim().as_bytes()).into());
        }
        let calendar = match &self.calendar {
            None => shared::calendar::WorkingCalendar::shipped()
                .context("the shipped working-day calendar")?,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading --calendar {}", path.display()))?;
                shared::calendar::WorkingCalendar::from_json(&text)
                    .with_context(|| format!("--calendar {}", path.display()))?
            }
        };
        let national = match (&self.national_root, &self.national_list) {
            (Some(root), Some(source)) => Some(verifier_server::national::NationalConfig {
                root: verifier_server::national::read_public_key(root)?,
                source: source.clone(),
                own_province: self.data.province.code,
                refresh: std::time::Duration::from_secs(self.national_refresh.max(1)),
            }),
            _ => None,
        };
        Ok(Config {
            lists,
            limits,
            network,
            calendar: std::sync::Arc::new(calendar),
            national,
            audience: verifier_server::apps::Audience(self.audience.trim().to_string()),
            province: self.data.province,
            yzt_url: self.yzt_url.clone(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RoleArg {
    Admin,
    Agency,
    Officer,
    Holder,
    Auditor,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Agency => Role::Agency,
            RoleArg::Officer => Role::Officer,
            RoleArg::Holder => Role::Holder,
            RoleArg::Auditor => Role::Auditor,
        }
    }
}

#[derive(Debug, Args)]
struct CreateTokenArgs {
    #[command(flatten)]
    data: DataArg,
    /// The token's role.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// The division an agency or officer token is bound to.
    #[arg(long, value_name = "CODE", value_parser = parse_division)]
    division: Option<DivisionCode>,
    /// Who holds the token: a name for people, the holder's ID number or
    /// credit code for holder tokens.
    #[arg(long, value_name = "TEXT")]
    subject: Option<String>,
    /// Lifetime, e.g. 8h, 30d, 365d (default: the role's: admin 8h,
    /// holder 30d, officer 365d, agency and auditor 90d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    expires_in: Option<i64>,
}

/// A duration as whole seconds: a number with a unit `s`, `m`, `h` or `d`
/// (`90d`, `8h`); a bare number is seconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 90d, 8h, 30m or 3600s"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        other => return Err(format!("unknown unit {other:?} in {s:?}: use s, m, h or d")),
    };
    n.checked_mul(unit)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// Base URL of the server, e.g. https://lnzz.example.cn.
    #[arg(long, value_name = "URL")]
    server: String,
    /// The agency's bearer token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "VERIFIER_TOKEN",
        hide_env_values = true
    )]
    token: String,
    /// File format; by default from the extension (.csv, .jsonl).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Records per push (at most 5000).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    batch: usize,
    /// Retries of a push after a transient failure (connection refused,
    /// timeout, 5xx) before stopping.
    #[arg(long, default_value_t = 5, value_name = "N")]
    retries: u32,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// PEM file of the CA that signed the server's TLS certificate (only
    /// it is trusted; default: the web's roots).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The records: CSV with a header row, or one JSON object per line.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Csv,
    Jsonl,
}

/// Exit status of an import that finished with malformed lines or
/// refused records (listed in the report).
const EXIT_INCOMPLETE: u8 = 2;

/// Exit code when the database cannot be reached (start again later).
const EXIT_DATABASE_UNAVAILABLE: u8 = 2;

fn import(a: &ImportArgs) -> anyhow::Result<ExitCode> {
    let format = match a.format {
        Some(FormatArg::Csv) => Format::Csv,
        Some(FormatArg::Jsonl) => Format::Jsonl,
        None => Format::from_path(&a.file).with_context(|| {
            format!(
                "{}: cannot tell the format from the extension; give --format csv or jsonl",
                a.file.display()
            )
        })?,
    };
    let mut options = ImportOptions::new(&a.server, &a.token, &a.file, format);
    options.batch = a.batch;
    options.retries = a.retries;
    options.ca_file = a.ca_file.clone();
    let outcome = importer::run(&options)?;
    let s = outcome.summary;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        if outcome.already_complete {
            println!(
                "{} was already imported; delete {} to push it again",
                a.file.display(),
                options.state_path().display()
            );
        } else if let Some(at) = outcome.resumed_at_record {
            println!("resumed at record {at}");
        }
        println!(
            "{} records in {} batches: issued {}, updated {}, unchanged {}, non-conforming {}, \
             refused {}, malformed {}",
            outcome.records,
            outcome.batches,
            s.issued,
            s.updated,
            s.unchanged,
            s.non_conforming,
            s.refused,
            s.malformed
        );
        if s.non_conforming + s.refused + s.malformed > 0 {
            println!(
                "records not signed, with reasons: {}",
                outcome.report.display()
            );
        }
    }
    Ok(if s.refused + s.malformed > 0 {
        ExitCode::from(EXIT_INCOMPLETE)
    } else {
        ExitCode::SUCCESS
    })
}

fn parse_division(s: &str) -> Result<DivisionCode, String> {
    DivisionCode::parse(s).map_err(|e| e.to_string())
}

fn parse_province(s: &str) -> Result<&'static Jurisdiction, String> {
    let code: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a 6-digit province code"))?;
    shared::domain::JURISDICTIONS
        .iter()
        .copied()
        .find(|j| j.code == code)
        .ok_or_else(|| {
            let known: Vec<String> = shared::domain::JURISDICTIONS
                .iter()
                .map(|j| format!("{} {}", j.code, j.name_zh))
                .collect();
            format!(
                "{code} is no province whose data ships ({})",
                known.join(", ")
            )
        })
}

fn open_store(d: &DataArg) -> anyhow::Result<Arc<dyn Store>> {
    verifier_server::open_store(&d.data, d.database.as_deref())
}

fn create_token(a: &CreateTokenArgs) -> anyhow::Result<String> {
    let role = Role::from(a.role);
    match (role, a.division) {
        (Role::Agency | Role::Officer, None) => {
            bail!("an {} token needs --division CODE", role.as_str())
        }
        (Role::Admin | Role::Auditor | Role::Holder, Some(_)) => {
            bail!("--division is only for agency and officer tokens")
        }
        _ => {}
    }
    if let Some(d) = a.division {
        a.data.province.check(d).map_err(|e| {
            anyhow::anyhow!(
                "--division: {} (this server runs as --province {})",
                e.message_zh(),
                a.data.province.code
            )
        })?;
    }
    let subject = a
        .subject
        .clone()
        .unwrap_or_else(|| role.as_str().to_string());
    if role == Role::Holder && verifier_server::auth::holder_id(&subject).is_none() {
        bail!("a holder token needs --subject with the holder's ID number or credit code");
    }
    let lifetime = a.expires_in.unwrap_or_else(|| role.default_lifetime());
    if lifetime <= 0 {
        bail!("--expires-in must be positive");
    }
    let store = open_store(&a.data)?;
    let (token, _) = auth::create_token_for(
        store.as_ref(),
        role,
        a.division,
        &subject,
        system_clock()(),
        lifetime,
    )
    .context("storing the token")?;
    Ok(token)
}

fn list_tokens(a: &ListTokensArgs) -> anyhow::Result<()> {
    let store = open_store(&a.data)?;
    let tokens = admin::list_tokens(store.as_ref(), system_clock()())?;
    if a.json {
        for t in &tokens {
            println!("{}", serde_json::to_string(t)?);
        }
        return Ok(());
    }
    println!(
        "{:>5}  {:<8}  {:>8}  {:<7}  {:<16}  {:<16}  {:<16}  subject",
        "id", "role", "division", "state", "expires (CST)", "last use (CST)", "old secret until"
    );
    for t in &tokens {
        let at = |v: Option<i64>| v.map_or_else(|| "-".to_string(), cst_minute);
        println!(
            "{:>5}  {:<8}  {:>8}  {:<7}  {:<16}  {:<16}  {:<16}  {}",
            t.id,
            t.role,
            t.division
                .map_or_else(|| "-".to_string(), |d| d.to_string()),
            t.state,
            cst_minute(t.expires_at),
            at(t.last_used_at),
            at(t.previous_until),
            t.subject
        );
    }
    Ok(())
}

/// Unix seconds as `YYYY-MM-DD HH:MM`, China Standard Time.
fn cst_minute(t: i64) -> String {
    let mut text = shared::cst::datetime_text(t);
    if text.len() == "YYYY-MM-DD HH:MM:SS".len() {
        text.truncate("YYYY-MM-DD HH:MM".len());
    }
    text
}

fn rotate_token(a: &RotateTokenArgs) -> anyhow::Result<()> {
    let store = open_store(&a.data)?;
    let r = admin::rotate_token(
        store.as_ref(),
        a.id,
        a.overlap,
        a.expires_in,
        system_clock()(),
    )?;
    println!("{}", r.token);
    eprintln!(
        "token {} ({} {}) has a new secret, shown only once, valid until {} CST; the old one \
         works until {} CST",
        r.info.id,
        r.info.role,
        r.info.subject,
        cst_minute(r.info.expires_at),
        r.info
            .previous_until
            .map_or_else(|| "now".to_string(), cst_minute)
    );
    Ok(())
}

fn print_key_change(c: &admin::KeyChange) {
    println!("signing key: {}", c.issuer_kid);
    match c.listed_until {
        Some(until) => println!(
            "retired key: {} (in the trust list until {until})",
            c.old_kid
        ),
        None => println!("compromised key: {}", c.old_kid),
    }
    println!(
        "re-signed {} certificates; trust list sequence {}, status list sequence {}",
        c.resigned, c.trust_seq, c.status_seq
    );
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

/// Purges once a day (first an hour after start) on the blocking pool;
/// a failure is logged and retried the next day.
fn schedule_purge(state: &AppState, retention_years: u32) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval_at(
            tokio::time::Instant::now() + std::time::Duration::from_secs(3_600),
            std::time::Duration::from_secs(86_400),
        );
        loop {
            every.tick().await;
            let s = state.clone();
            let result = tokio::task::spawn_blocking(move || {
                verifier_server::maintenance::purge(s.store(), retention_years, s.now(), |_| {})
            })
            .await;
            match result {
                Ok(Ok(r)) => tracing::info!(
                    records = r.records,
                    peer_checks = r.peer_checks,
                    app_checks = r.app_checks,
                    forwarded = r.forwarded,
                    cutoff = r.cutoff,
                    "purged"
                ),
                Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "purge failed"),
                Err(e) => tracing::error!(error = %e, "purge task failed"),
            }
        }
    });
}

/// Store housekeeping once a day on the blocking pool (PostgreSQL: the
/// check-log partitions of the coming months, see `Store::prepare`); the
/// store did it once when it opened. A failure is logged and retried the
/// next day: until then an upload of a month without its partition is
/// stored in the default partition, never refused.
fn schedule_prepare(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let day = std::time::Duration::from_secs(86_400);
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + day, day);
        loop {
            every.tick().await;
            let s = state.clone();
            let result = tokio::task::spawn_blocking(move || s.store().prepare(s.now())).await;
            match result {
                Ok(Ok(())) => tracing::info!("store prepared for the coming months"),
                Ok(Err(e)) => tracing::error!(error = %e, "store preparation failed"),
                Err(e) => tracing::error!(error = %e, "store preparation task failed"),
            }
        }
    });
}

/// Exit code of a certificate or key that cannot be used at start.
const EXIT_BAD_TLS: u8 = 2;

/// The certificate and key of `--tls-cert`/`--tls-key`, loaded and
/// checked before anything else starts.
fn load_tls(a: &ServeArgs) -> Result<Option<Arc<tls::Reloadable>>, tls::TlsError> {
    match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => tls::Reloadable::open(cert, key).map(Some),
        _ => Ok(None),
    }
}

async fn serve(a: ServeArgs, tls: Option<Arc<tls::Reloadable>>) -> anyhow::Result<()> {
    let config = a.config()?;
    let peers = a.peers()?;
    let (purge, retention_years) = (!a.no_purge, a.retention_years);
    let (data, database, listen, alg) = (a.data.data, a.data.database, a.listen, Alg::from(a.alg));
    let state = tokio::task::spawn_blocking(move || {
        AppState::open_database(&data, database.as_deref(), alg, config, system_clock())
    })
    .await
    .context("opening the data directory")??;
    if let Some(peers) = peers {
        if peers.own().code() != state.province().code {
            bail!(
                "--peers names province {} as this server's, but it runs as --province {}",
                peers.own().code(),
                state.province().code
            );
        }
        state.set_configured_peers(peers);
    }
    if purge {
        schedule_purge(&state, retention_years);
    }
    schedule_prepare(&state);
    verifier_server::forwarder::spawn(&state);
    verifier_server::notifier::spawn(&state, verifier_server::notifier::INTERVAL);
    schedule_national(&state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    match tls {
        Some(tls) => verifier_server::http::run_tls(listener, tls, state, shutdown_signal())
            .await
            .context("serving"),
        None => verifier_server::run(listener, state, shutdown_signal())
            .await
            .context("serving"),
    }
}

/// Fetches the national list and the other provinces' lists now, then
/// every `--national-refresh` seconds and on demand at SIGHUP (e.g. after
/// a province announced a cancellation), on the blocking pool.
fn schedule_national(state: &AppState) {
    let Some(every) = state.national().config().map(|c| c.refresh) else {
        return;
    };
    // Registered before serving, so a SIGHUP never finds the default
    // action (termination).
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP refresh of the national list");
            None
        }
    };
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            let s = state.clone();
            match tokio::task::spawn_blocking(move || s.refresh_national()).await {
                Ok(Ok(r)) => tracing::info!(
                    seq = r.seq,
                    provinces = ?r.provinces,
                    failed = r.failed.len(),
                    "national list mirrored"
                ),
                Ok(Err(e)) => {
                    tracing::warn!(error = %format!("{e:#}"), "national list not refreshed")
                }
                Err(e) => tracing::error!(error = %e, "national refresh task failed"),
            }
            match hangups.as_mut() {
                Some(h) => {
                    tokio::select! {
                        () = tokio::time::sleep(every) => {}
                        _ = h.recv() => tracing::info!("SIGHUP: refreshing the national list"),
                    }
                }
                None => tokio::time::sleep(every).await,
            }
        }
    });
}

fn national(cmd: NationalCmd) -> anyhow::Result<()> {
    use verifier_server::national as n;
    match cmd {
        NationalCmd::Keygen { dir, alg } => {
            let key = n::keygen(&dir, Alg::from(alg))?;
            println!("{}", serde_json::to_string_pretty(&n::key_view(&key))?);
            eprintln!(
                "national root key {} created in {}; keep {} offline",
                key.kid(),
                dir.display(),
                n::ROOT_KEY_FILE
            );
        }
        NationalCmd::Sign {
            key_dir,
            provinces,
            seq,
            out,
        } => {
            let text = std::fs::read_to_string(&provinces)
                .with_context(|| format!("reading {}", provinces.display()))?;
            let file: n::ProvincesFile = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a provinces file", provinces.display()))?;
            let list = n::sign(&key_dir, &file, seq, &out, system_clock()())?;
            println!(
                "national list seq {} signed: {} provinces ({}), written to {}",
                list.seq,
                list.provinces.len(),
                list.provinces
                    .iter()
                    .map(|p| p.division.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                out.display()
            );
        }
        NationalCmd::ShowRoot(data) => {
            let store = open_store(&data)?;
            let keys = verifier_server::service::keys::init_or_load(
                &data.data,
                store.as_ref(),
                Alg::EdDSA,
                data.province,
                system_clock()(),
            )?;
            println!(
                "{}",
                serde_json::to_string_pretty(&n::key_view(&keys.root.public_key()))?
            );
        }
    }
    Ok(())
}

fn backup(a: &BackupArgs) -> anyhow::Result<()> {
    if let Some(url) = &a.data.database {
        if let verifier_server::store::Engine::Postgres(_) =
            verifier_server::store::Engine::of(url)?
        {
            bail!(
                "the database is PostgreSQL: back it up with pg_dump -Fc (or pg_basebackup) and \
                 copy {}/keys; see docs/operations.md",
                a.data.data.display()
            );
        }
    }
    let r = verifier_server::maintenance::backup(&a.data.data, &a.to, !a.no_keys)?;
    println!("backed up {} bytes to {}", r.bytes, r.database.display());
    match &r.keys {
        Some(k) => println!(
            "key files (private keys: keep them safe) in {}",
            k.display()
        ),
        None => println!(
            "key files not copied: back up {}/keys yourself",
            a.data.data.display()
        ),
    }
    Ok(())
}

fn restore(a: &RestoreArgs) -> anyhow::Result<()> {
    let r = verifier_server::maintenance::restore(&a.from, a.keys.as_deref(), &a.data)?;
    let v = &r.verified;
    println!(
        "restored into {} (schema {}): {} certificates verified, status list at sequence {} \
         with no gap, {} audit rows, {} devices with {} check-log records chained",
        a.data.display(),
        r.schema_version,
        v.certificates,
        v.status_seq,
        v.audit_rows,
        v.devices,
        v.log_records
    );
    Ok(())
}

fn verify(a: &VerifyArgs) -> anyhow::Result<()> {
    let store = open_store(&a.data)?;
    let v = verifier_server::maintenance::verify(store.as_ref(), &a.data.data)?;
    println!("{}", serde_json::to_string(&v)?);
    Ok(())
}

fn purge(a: &PurgeArgs) -> anyhow::Result<()> {
    let store = open_store(&a.data)?;
    let r = verifier_server::maintenance::purge(
        store.as_ref(),
        a.retention_years,
        system_clock()(),
        |n| eprintln!("purged {n} records so far"),
    )?;
    println!(
        "purged {} check-log records, {} received from other provinces, {} online \
         verifications and {} forwarded records before {} CST in {} transactions; \
         evaluations kept for {:?}",
        r.records,
        r.peer_checks,
        r.app_checks,
        r.forwarded,
        shared::cst::datetime_text(r.cutoff),
        r.transactions,
        r.years_kept
    );
    Ok(())
}

async fn demo(a: ServeArgs, tls: Option<Arc<tls::Reloadable>>) -> anyhow::Result<()> {
    if a.data.province != &shared::domain::LIAONING {
        bail!(
            "the demo data set is Liaoning's; run {} with `serve --province {}` beside it (scripts/demo does)",
            a.data.province.name_zh,
            a.data.province.code
        );
    }
    let config = a.config()?;
    let peers = a.peers()?;
    let (data, database, listen, alg) = (a.data.data, a.data.database, a.listen, Alg::from(a.alg));
    let (state, report) = tokio::task::spawn_blocking(move || {
        let state =
            AppState::open_database(&data, database.as_deref(), alg, config, system_clock())?;
        let report = verifier_server::demo::prepare(&data, &state).context("preparing the demo")?;
        anyhow::Ok((state, report))
    })
    .await
    .context("opening the data directory")??;
    eprintln!("{report}");
    if let Some(peers) = peers {
        if peers.own().code() != state.province().code {
            bail!(
                "--peers names province {} as this server's, but it runs as --province {}",
                peers.own().code(),
                state.province().code
            );
        }
        state.set_configured_peers(peers);
    }
    verifier_server::forwarder::spawn(&state);
    verifier_server::notifier::spawn(&state, verifier_server::notifier::INTERVAL);
    schedule_national(&state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    match tls {
        Some(tls) => verifier_server::http::run_tls(listener, tls, state, shutdown_signal())
            .await
            .context("serving"),
        None => verifier_server::run(listener, state, shutdown_signal())
            .await
            .context("serving"),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    let result = match cli.command {
        Cmd::Admin(AdminCmd::CreateToken(a)) => create_token(&a).map(|token| {
            println!("{token}");
            eprintln!("store this token now: it is shown only once");
        }),
        Cmd::Admin(AdminCmd::ListTokens(a)) => list_tokens(&a),
        Cmd::Admin(AdminCmd::National(cmd)) => national(cmd),
        Cmd::Admin(AdminCmd::RotateToken(a)) => rotate_token(&a),
        Cmd::Admin(AdminCmd::ListDevices(a)) => open_store(&a.data).and_then(|store| {
            let list = admin::list_devices(store.as_ref(), a.token, system_clock()())?;
            println!(
                "{:>5}  {:>5}  {:>8}  {:<16}  {:>11}  {:>11}  label",
                "id", "token", "division", "kid", "enrolled", "revoked"
            );
            for d in &list {
                println!(
                    "{:>5}  {:>5}  {:>8}  {:<16}  {:>11}  {:>11}  {}",
                    d.device_id,
                    d.token_id,
                    d.division,
                    d.kid,
                    d.enrolled_at,
                    d.revoked_at
                        .map_or_else(|| "-".to_string(), |v| v.to_string()),
                    d.label
                );
            }
            Ok(())
        }),
        Cmd::Admin(AdminCmd::RevokeDevice(a)) => open_store(&a.data).and_then(|store| {
            let d = verifier_server::service::devices::revoke(
                store.as_ref(),
                None,
                a.id,
                system_clock()(),
            )?;
            println!(
                "revoked device {} (kid {}, token {})",
                d.device_id, d.kid, d.token_id
            );
            Ok(())
        }),
        Cmd::Admin(AdminCmd::RevokeToken(a)) => open_store(&a.data).and_then(|store| {
            let t = admin::revoke_token(store.as_ref(), a.id, system_clock()())?;
            println!("revoked token {} ({} {})", t.id, t.role, t.subject);
            Ok(())
        }),
        Cmd::Admin(AdminCmd::RotateKey(a)) => open_store(&a.data).and_then(|store| {
            let c = admin::rotate_key(
                &a.data.data,
                store.as_ref(),
                a.alg.map(Alg::from),
                a.overlap_days,
                system_clock()(),
            )?;
            print_key_change(&c);
            Ok(())
        }),
        Cmd::Admin(AdminCmd::CompromiseKey(a)) => open_store(&a.data).and_then(|store| {
            let c = admin::compromise_key(
                &a.data.data,
                store.as_ref(),
                &a.kid,
                a.since,
                system_clock()(),
            )?;
            print_key_change(&c);
            Ok(())
        }),
        Cmd::Admin(AdminCmd::Evaluate(a)) => open_store(&a.data).and_then(|store| {
            let e = verifier_server::admin::evaluate(store.as_ref(), a.year, system_clock()())?;
            match a.format {
                EvalFormat::Table => print!("{}", verifier_server::evaluation::to_table(&e)),
                EvalFormat::Csv => print!("{}", verifier_server::evaluation::to_csv(&e)?),
                EvalFormat::Json => println!("{}", serde_json::to_string_pretty(&e)?),
            }
            Ok(())
        }),
        Cmd::Admin(AdminCmd::Backup(a)) => backup(&a),
        Cmd::Admin(AdminCmd::Restore(a)) => restore(&a),
        Cmd::Admin(AdminCmd::Verify(a)) => verify(&a),
        Cmd::Admin(AdminCmd::Purge(a)) => purge(&a),
        Cmd::Serve(a) => match load_tls(&a) {
            Ok(tls) => runtime().and_then(|rt| rt.block_on(serve(a, tls))),
            Err(e) => {
                eprintln!("verifier-server: TLS: {e}");
                return ExitCode::from(EXIT_BAD_TLS);
            }
        },
        Cmd::Demo(a) => match load_tls(&a) {
            Ok(tls) => runtime().and_then(|rt| rt.block_on(demo(a, tls))),
            Err(e) => {
                eprintln!("verifier-server: TLS: {e}");
                return ExitCode::from(EXIT_BAD_TLS);
            }
        },
        Cmd::Yzt(c) => yzt(&c),
        Cmd::Import(a) => match import(&a) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verifier-server: {e:#}");
            let unavailable = e.chain().any(|c| {
                c.downcast_ref::<StoreError>()
                    .is_some_and(StoreError::is_unavailable)
            });
            if unavailable {
                ExitCode::from(EXIT_DATABASE_UNAVAILABLE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Threads for store work (tokio's default is 512). Requests beyond them
/// wait in the runtime's queue, in order, rather than each on a thread of
/// its own: the store serialises writers anyway (one SQLite connection,
/// PostgreSQL's pool), and every extra thread keeps its own allocator
/// pages. In the sync storm (1,000 uploads at once, 256 admitted) the
/// default grew the server to 320 threads and 270 MB.
const BLOCKING_THREADS: usize = 64;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .context("starting the runtime")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("verifier-server").chain(s.split_whitespace()))
    }

    #[test]
    fn parses_commands() {
        let c = parse("serve --data /tmp/x --listen 0.0.0.0:9000 --alg sm2").unwrap();
        assert!(matches!(
            c.command,
            Cmd::Serve(ServeArgs {
                alg: AlgArg::Sm2,
                ..
            })
        ));
        let Cmd::Serve(s) = parse(
            "serve --data d --tls-cert c.pem --tls-key k.pem --trusted-proxy 10.0.0.0/8 \
             --trusted-proxy 192.0.2.1 --metrics-allow ::1 --log-format json",
        )
        .unwrap()
        .command
        else {
            panic!("not serve")
        };
        let network = s.config().unwrap().network;
        assert_eq!(network.trusted_proxies.len(), 2);
        assert_eq!(network.metrics_allow, vec!["::1/128".parse().unwrap()]);
        let c = parse("demo --data ./demo-data --listen 127.0.0.1:8080").unwrap();
        assert!(matches!(
            c.command,
            Cmd::Demo(ServeArgs {
                alg: AlgArg::Ed25519,
                ..
            })
        ));
        let c = parse("admin create-token --data d --role agency --division 210100").unwrap();
        assert!(matches!(
            c.command,
            Cmd::Admin(AdminCmd::CreateToken(CreateTokenArgs {
                role: RoleArg::Agency,
                division: Some(_),
                ..
            }))
        ));
        assert!(matches!(
            parse("admin rotate-key --data d --overlap-days 7 --alg sm2")
                .unwrap()
                .command,
            Cmd::Admin(AdminCmd::RotateKey(RotateKeyArgs {
                overlap_days: 7,
                alg: Some(AlgArg::Sm2),
                ..
            }))
        ));
        assert!(matches!(
            parse("admin rotate-token --data d --id 3 --overlap 12h --expires-in 30d")
                .unwrap()
                .command,
            Cmd::Admin(AdminCmd::RotateToken(RotateTokenArgs {
                id: 3,
                overlap: 43_200,
                expires_in: Some(2_592_000),
                ..
            }))
        ));
        assert!(matches!(
            parse("admin rotate-token --data d --id 3").unwrap().command,
            Cmd::Admin(AdminCmd::RotateToken(RotateTokenArgs {
                overlap: 604_800,
                expires_in: None,
                ..
            }))
        ));
        for (text, seconds) in [
            ("90", 90),
            ("90s", 90),
            ("5m", 300),
            ("8h", 28_800),
            ("1d", 86_400),
        ] {
            assert_eq!(parse_duration(text), Ok(seconds), "{text}");
        }
        for bad in ["", "d", "8w", "-1d", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse("admin backup --data d --to /tmp/b.db --no-keys")
                .unwrap()
                .command,
            Cmd::Admin(AdminCmd::Backup(BackupArgs { no_keys: true, .. }))
        ));
        assert!(matches!(
            parse("admin purge --data d").unwrap().command,
            Cmd::Admin(AdminCmd::Purge(PurgeArgs {
                retention_years: 3,
                ..
            }))
        ));
        assert!(
            parse("admin restore --from f").is_err(),
            "restore needs --data"
        );
        assert!(matches!(
            parse("admin revoke-device --data d --id 4")
                .unwrap()
                .command,
            Cmd::Admin(AdminCmd::RevokeDevice(RevokeDeviceArgs { id: 4, .. }))
        ));
        assert!(matches!(
            parse("admin revoke-token --data d --id 3").unwrap().command,
            Cmd::Admin(AdminCmd::RevokeToken(RevokeTokenArgs { id: 3, .. }))
        ));
        for bad in [
            "admin revoke-token --data d",
            "admin compromise-key --data d",
            "admin rotate-key --data d --overlap-days -1",
            "serve",
            "serve --data d --alg rsa",
            "admin create-token --data d --role agency --division 110100",
            "serve --data d --role admin",
            "serve --data d --tls-cert c.pem",
            "serve --data d --tls-key k.pem",
            "serve --data d --trusted-proxy nonsense",
            "serve --data d --metrics-allow 10.0.0.0/33",
            "serve --data d --log-format xml",
            "frobnicate",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let Cmd::Serve(s) = parse("serve --data d --list-ttl 10 --list-max-age 5")
            .unwrap()
            .command
        else {
            panic!("not serve")
        };
        assert!(s.config().is_err());
        let c = parse("import --server http://127.0.0.1:8080 --token t --batch 500 r.csv").unwrap();
        let Cmd::Import(a) = c.command else {
            panic!("not import")
        };
        assert_eq!((a.batch, a.retries, a.format), (500, 5, None));
        for bad in [
            "import --token t r.csv",
            "import --server u --token t --format xml r",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let unknown = ImportArgs {
            file: PathBuf::from("records.txt"),
            ..a
        };
        assert!(import(&unknown).is_err(), "no format from the extension");
        for bad in [
            "admin create-token --data d --role agency",
            "admin create-token --data d --role admin --division 210100",
            "admin create-token --data d --role holder --subject 12345",
        ] {
            let Cmd::Admin(AdminCmd::CreateToken(a)) = parse(bad).unwrap().command else {
                panic!("not create-token")
            };
            assert!(create_token(&a).is_err(), "{bad}");
        }
    }
}
