//! Shared helpers for the integration tests: one way to reach the AWS-API emulator (MiniStack).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use bucketdrive_tests::{Emulator, unique_name};
//!
//! let emulator = Emulator::shared()?;
//! let s3 = emulator.s3().await;
//! s3.create_bucket().bucket(unique_name("demo")).send().await?;
//! # Ok(())
//! # }
//! ```
//!
//! * With `BUCKETDRIVE_TEST_ENDPOINT` set (as `scripts/test` does, for one emulator per run), that
//!   endpoint is used.
//! * Otherwise the first call starts a private emulator for this test process through
//!   `scripts/emulator start --owner-pid <this pid>`; its watchdog stops it when the process
//!   exits, so a plain `cargo test` works on its own and leaks nothing.
//!
//! The endpoint may be shared by many test processes at once and is never reset: every test names
//! its resources with [`unique_name`] and never assumes an empty account.

pub mod federation;
pub mod probe;
pub mod stack;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

/// Environment variable naming an emulator endpoint that is already running.
pub const ENDPOINT_ENV: &str = "BUCKETDRIVE_TEST_ENDPOINT";
/// Set to `1` to keep the state dir (log included) of an emulator started by the tests.
pub const KEEP_STATE_ENV: &str = "BUCKETDRIVE_TEST_KEEP_EMULATOR";
/// The region every test uses (emulated resources other than S3 are region-scoped).
pub const REGION: &str = "us-east-1";
/// The emulator's root credentials.
pub const ACCESS_KEY_ID: &str = "test";
/// The emulator's root credentials.
pub const SECRET_ACCESS_KEY: &str = "test";

/// A running emulator that the tests may use.
#[derive(Debug)]
pub struct Emulator {
    endpoint: String,
    log: Option<PathBuf>,
}

static SHARED: OnceLock<std::result::Result<Emulator, String>> = OnceLock::new();

impl Emulator {
    /// The emulator for this test process: `BUCKETDRIVE_TEST_ENDPOINT`, or one started on the
    /// first call (once per process, whatever the number of threads asking).
    pub fn shared() -> Result<&'static Emulator> {
        SHARED
            .get_or_init(|| Self::connect_or_start().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow!("the AWS emulator is not available: {e}"))
    }

    fn connect_or_start() -> Result<Emulator> {
        match std::env::var(ENDPOINT_ENV) {
            Ok(endpoint) if !endpoint.trim().is_empty() => {
                let endpoint = endpoint.trim().trim_end_matches('/').to_owned();
                check_health(&endpoint)
                    .with_context(|| format!("`{ENDPOINT_ENV}={endpoint}` does not answer"))?;
                Ok(Emulator {
                    endpoint,
                    log: None,
                })
            }
            _ => Self::start_private(),
        }
    }

    fn start_private() -> Result<Emulator> {
        let script = emulator_script();
        let pid = std::process::id();
        let state_dir = std::env::temp_dir().join(unique_name("bucketdrive-test-emulator"));
        let mut command = Command::new(&script);
        command
            .arg("start")
            .arg("--json")
            .arg("--owner-pid")
            .arg(pid.to_string())
            .arg("--state-dir")
            .arg(&state_dir)
            .stdin(Stdio::null());
        if std::env::var(KEEP_STATE_ENV).as_deref() != Ok("1") {
            command.arg("--remove-state-dir");
        }
        let output = command
            .output()
            .with_context(|| format!("could not run `{}`", script.display()))?;
        if !output.status.success() {
            bail!(
                "`{} start` failed ({}); set `{ENDPOINT_ENV}` to use a running emulator instead:\n{}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim_end()
            );
        }
        let info: serde_json::Value =
            serde_json::from_slice(&output.stdout).with_context(|| {
                format!(
                    "`scripts/emulator start --json` printed something else than JSON: {}",
                    String::from_utf8_lossy(&output.stdout)
                )
            })?;
        let endpoint = info
            .get("endpoint")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| {
                anyhow!("`scripts/emulator start --json` printed no `endpoint`: {info}")
            })?
            .to_owned();
        let log = info
            .get("log")
            .and_then(serde_json::Value::as_str)
            .map(PathBuf::from);
        Ok(Emulator { endpoint, log })
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The emulator's log, when the tests started it themselves.
    pub fn log(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// SDK configuration for the emulator: its endpoint, test/test credentials, `us-east-1`.
    ///
    /// A service-specific `AWS_ENDPOINT_URL_<SERVICE>` in the environment would still win over
    /// this endpoint in `Client::new(&config)`: prefer the client helpers below, which set the
    /// endpoint on the service config as well.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::from_static(REGION))
            .credentials_provider(Credentials::new(
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
                None,
                None,
                "bucketdrive-tests",
            ))
            .endpoint_url(&self.endpoint)
            .load()
            .await
    }

    /// An S3 client for the emulator (path-style addressing: `*.localhost` may not resolve).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(self.s3_config(&self.sdk_config().await).build())
    }

    /// The S3 client configuration, to adjust before building a client.
    pub fn s3_config(&self, config: &SdkConfig) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::from(config)
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
    }

    /// A Cognito user pools client for the emulator.
    pub async fn cognito(&self) -> aws_sdk_cognitoidentityprovider::Client {
        let config =
            aws_sdk_cognitoidentityprovider::config::Builder::from(&self.sdk_config().await)
                .endpoint_url(&self.endpoint)
                .build();
        aws_sdk_cognitoidentityprovider::Client::from_conf(config)
    }

    /// A DynamoDB client for the emulator.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(&self.sdk_config().await)
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// A CloudFormation client for the emulator.
    pub async fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        let config = aws_sdk_cloudformation::config::Builder::from(&self.sdk_config().await)
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_cloudformation::Client::from_conf(config)
    }
}

/// `scripts/emulator` in this checkout.
pub fn emulator_script() -> PathBuf {
    workspace_root().join("scripts").join("emulator")
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// A name no other test (in this or another process) uses: `<prefix>-<pid>-<time>-<counter>`,
/// lower-case letters, digits and `-` only, so it is also a valid S3 bucket name when `prefix` is
/// short (keep it under 30 characters).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{:x}-{:x}-{}",
        std::process::id(),
        // The low 48 bits: unique enough within one process id, and short.
        nanos & 0xffff_ffff_ffff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `GET <endpoint>/_ministack/health` must answer 200. Plain HTTP/1.0 over a socket: this runs
/// before any async runtime exists and needs no client library.
pub fn check_health(endpoint: &str) -> Result<()> {
    let authority = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("the endpoint must start with `http://`"))?
        .split('/')
        .next()
        .unwrap_or_default();
    let address = authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve `{authority}`"))?
        .next()
        .ok_or_else(|| anyhow!("`{authority}` resolves to no address"))?;
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("cannot connect to {address}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /_ministack/health HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    // Read up to the end of the status line (or 64 bytes, or the end of the stream).
    let mut head = Vec::with_capacity(64);
    let mut buf = [0_u8; 64];
    while head.len() < 64 && !head.contains(&b'\n') {
        let read = stream.read(&mut buf)?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buf[..read]);
    }
    let status_line = String::from_utf8_lossy(&head);
    let status_line = status_line.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) != Some("200") {
        bail!("`GET /_ministack/health` answered `{status_line}`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_are_valid_bucket_names() {
        let a = unique_name("bd-it");
        let b = unique_name("bd-it");
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
        }
    }

    #[test]
    fn the_emulator_script_is_in_this_checkout() {
        assert!(
            emulator_script().is_file(),
            "{}",
            emulator_script().display()
        );
    }
}
