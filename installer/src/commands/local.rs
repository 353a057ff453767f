//! `bucketdrive local up | down | status`: the embedded default. MiniStack (pinned) on
//! 127.0.0.1, the very same deploy path as AWS, a demo user and sample files on both sides of
//! the quickstart's grants. Needs the source checkout (it builds the runtime and runs the
//! emulator script from it). State lives in `.bucketdrive/local/` (git-ignored); passwords are
//! never written there: each `up` sets fresh ones and prints them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, describe};
use crate::cli::{GlobalArgs, LocalDirArgs, LocalUpArgs};
use crate::config_file;
use crate::deploy::{self, DeployOptions, package::workspace};
use crate::exit::Exit;
use crate::output::Ui;
use crate::state::Targets;
use crate::template::RenderInputs;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalInfo {
    pub app_url: String,
    pub api_url: String,
    pub endpoint_url: String,
    /// `true` when the emulator was already running elsewhere (`--endpoint-url`): `local down`
    /// leaves it alone.
    #[serde(default)]
    pub external_emulator: bool,
    pub region: String,
    pub stack: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub username: String,
    pub password: String,
    pub admin_username: String,
    pub admin_password: String,
    /// Sample files the demo user may read.
    pub readable_files: Vec<String>,
    /// Sample files outside the demo user's grants (the listing hides them).
    pub hidden_files: Vec<String>,
    /// What the deploy did (`no changes …` on a second `up`).
    #[serde(default)]
    pub stack_result: String,
    pub outputs: BTreeMap<String, String>,
}

impl fmt::Display for LocalInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "BucketDrive is running locally (stack `{}` on {}).",
            self.stack, self.endpoint_url
        )?;
        writeln!(f)?;
        writeln!(f, "  App:       {}", self.app_url)?;
        writeln!(f, "  Sign in:   {}", self.username)?;
        writeln!(f, "  Password:  {}", self.password)?;
        writeln!(
            f,
            "  Admin:     {} / {}",
            self.admin_username, self.admin_password
        )?;
        writeln!(f)?;
        writeln!(f, "  Files the demo user may read:")?;
        for p in &self.readable_files {
            writeln!(f, "    {p}")?;
        }
        writeln!(f, "  Files it may not (hidden from its listing):")?;
        for p in &self.hidden_files {
            writeln!(f, "    {p}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  Open the app in Chromium or Chrome (they resolve *.localhost); other clients"
        )?;
        writeln!(
            f,
            "  reach the API at {} with that Host header.",
            self.endpoint_url
        )?;
        write!(f, "  Stop everything with `bucketdrive local down`.")
    }
}

fn root() -> anyhow::Result<PathBuf> {
    workspace().context("`bucketdrive local` runs from a BucketDrive source checkout (it builds the runtime and starts the emulator from it)")
}

fn state_dir(root: &Path, dir: &LocalDirArgs) -> PathBuf {
    dir.state_dir
        .clone()
        .unwrap_or_else(|| root.join(".bucketdrive/local"))
}

fn emulator(root: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<std::process::Output> {
    let mut cmd = Command::new(root.join("scripts/emulator"));
    cmd.args(args);
    if args.first() != Some(&"install") {
        cmd.arg("--state-dir").arg(dir.join("emulator"));
    }
    cmd.current_dir(root)
        .stdin(Stdio::null())
        .output()
        .context("cannot run scripts/emulator")
}

/// The running emulator's endpoint, starting it when needed.
fn ensure_emulator(root: &Path, dir: &Path, port: Option<u16>, ui: &Ui) -> anyhow::Result<String> {
    let status = emulator(root, dir, &["status", "--json"])?;
    if status.status.success()
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&status.stdout)
        && let Some(e) = v["endpoint"].as_str()
    {
        ui.status(format!("the local emulator is already running at {e}"));
        return Ok(e.to_owned());
    }
    ui.status("installing and starting the local AWS emulator (MiniStack, pinned)…");
    let install = emulator(root, dir, &["install"])?;
    if !install.status.success() {
        bail!(
            "installing the emulator failed:\n{}",
            String::from_utf8_lossy(&install.stderr)
        );
    }
    let port_text = port.map(|p| p.to_string());
    let mut start_args = vec!["start", "--json", "--persist"];
    if let Some(p) = &port_text {
        start_args.extend(["--port", p.as_str()]);
    }
    let started = emulator(root, dir, &start_args)?;
    if !started.status.success() {
        bail!(
            "the emulator did not start:\n{}",
            String::from_utf8_lossy(&started.stderr)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&started.stdout).context("scripts/emulator printed no JSON")?;
    v["endpoint"]
        .as_str()
        .map(str::to_owned)
        .context("scripts/emulator printed no endpoint")
}

/// Creates the user if needed, sets a fresh permanent password, puts it in `group`.
async fn demo_user(aws: &Aws, t: &Targets, email: &str, group: &str) -> anyhow::Result<String> {
    let cognito = aws.cognito();
    let exists = cognito
        .admin_get_user()
        .user_pool_id(&t.user_pool_id)
        .username(email)
        .send()
        .await
        .is_ok();
    let pw = crate::users::generate_password();
    if !exists {
        cognito
            .admin_create_user()
            .temporary_password(&pw)
            .user_pool_id(&t.user_pool_id)
            .username(email)
            .user_attributes(
                AttributeType::builder()
                    .name("email")
                    .value(email)
                    .build()?,
            )
            .user_attributes(
                AttributeType::builder()
                    .name("email_verified")
                    .value("true")
                    .build()?,
            )
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot create the demo user `{email}`: {}", describe(e))
            })?;
    }
    cognito
        .admin_set_user_password()
        .user_pool_id(&t.user_pool_id)
        .username(email)
        .password(&pw)
        .permanent(true)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot set the password of `{email}`: {}", describe(e)))?;
    cognito
        .admin_enable_user()
        .user_pool_id(&t.user_pool_id)
        .username(email)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot enable `{email}`: {}", describe(e)))?;
    crate::users::add_to_group(aws, t, email, group).await?;
    Ok(pw)
}

const SAMPLES: [(&str, &str, bool); 5] = [
    (
        "reports/welcome.txt",
        "Welcome to BucketDrive. You can read this because the `staff` group is granted reports/.\n",
        true,
    ),
    (
        "reports/2026/q3-summary.csv",
        "quarter,revenue\nQ3,1200000\n",
        true,
    ),
    (
        "reports/2026/q4-forecast.csv",
        "quarter,forecast\nQ4,1350000\n",
        true,
    ),
    (
        "reports-private/salaries.csv",
        "name,salary\n(hidden: `reports/` does not cover `reports-private/`)\n",
        false,
    ),
    (
        "board/minutes.txt",
        "Not granted to staff: the listing never shows this folder.\n",
        false,
    ),
];

pub async fn up(args: &LocalUpArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let root = root()?;
    let dir = state_dir(&root, &args.dir);
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| root.join("examples/quickstart.yaml"));
    let valid = config_file::load(&config_path, ui)?;
    let (endpoint, external) = match &global.endpoint_url {
        Some(e) => {
            let e = e.trim_end_matches('/').to_owned();
            ui.status(format!(
                "using the emulator at {e} (`--endpoint-url`/AWS_ENDPOINT_URL); none is started"
            ));
            (e, true)
        }
        None => (ensure_emulator(&root, &dir, args.port, ui)?, false),
    };
    let region = global.region.as_deref().unwrap_or(&valid.config.region);
    let aws = Aws::load_local(&endpoint, region).await;
    let inputs = RenderInputs::load(&valid, &config_path)?;
    let deploy_ui = Ui { yes: true, ..*ui };
    let opts = DeployOptions {
        runtime_zip: args.runtime_zip.clone(),
        ..DeployOptions::default()
    };
    let report = deploy::deploy(&aws, &valid, &inputs, &opts, &deploy_ui)
        .await
        .with_context(|| {
            format!(
                "deploying {} to the emulator at {endpoint}",
                config_path.display()
            )
        })?;
    if !report.succeeded() {
        ui.result(&report)?;
        return Ok(super::deploy::exit_of(&report));
    }
    let targets = deploy::targets(&report)?;

    let admin_group = valid
        .config
        .admins
        .first()
        .cloned()
        .context("the local config needs an admin group (`admins:`)")?;
    let user_group = valid
        .config
        .groups
        .keys()
        .find(|g| !valid.config.admins.contains(g))
        .cloned()
        .context("the local config needs a group that is not an admin group")?;
    let username = "demo@example.com".to_owned();
    let admin_username = "admin@example.com".to_owned();
    let pw = demo_user(&aws, &targets, &username, &user_group).await?;
    let admin_pw = demo_user(&aws, &targets, &admin_username, &admin_group).await?;

    let bucket = report
        .output("FileBuckets")?
        .split(',')
        .next()
        .map(str::to_owned)
        .context("the stack created no bucket to put sample files in")?;
    let s3 = aws.s3();
    let mut readable = Vec::new();
    let mut hidden = Vec::new();
    for (key, body, visible) in SAMPLES {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .content_type(if key.ends_with(".csv") {
                "text/csv"
            } else {
                "text/plain"
            })
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot upload the sample s3://{bucket}/{key}: {}",
                    describe(e)
                )
            })?;
        let path = format!("s3://{bucket}/{key}");
        if visible {
            readable.push(path)
        } else {
            hidden.push(path)
        }
    }
    let info = LocalInfo {
        app_url: report.output("AppUrl")?.to_owned(),
        api_url: report.output("ApiUrl")?.to_owned(),
        endpoint_url: endpoint,
        external_emulator: external,
        region: aws.region.clone(),
        stack: report.stack.clone(),
        user_pool_id: targets.user_pool_id.clone(),
        client_id: report.output("UserPoolClientId")?.to_owned(),
        username,
        password: pw,
        admin_username,
        admin_password: admin_pw,
        readable_files: readable,
        hidden_files: hidden,
        stack_result: report.stack_result.to_string(),
        outputs: report.outputs.clone(),
    };
    // Everything but the passwords, for `local status`.
    let mut saved = serde_json::to_value(&info)?;
    if let Some(o) = saved.as_object_mut() {
        o.remove("password");
        o.remove("admin_password");
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    std::fs::write(dir.join("stack.json"), serde_json::to_vec_pretty(&saved)?)
        .with_context(|| format!("cannot write `{}`", dir.join("stack.json").display()))?;
    ui.result(&info)?;
    Ok(Exit::Ok)
}

pub fn down(args: &LocalDirArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let root = root()?;
    let dir = state_dir(&root, args);
    let saved = read_saved(&dir);
    let external = saved
        .as_ref()
        .and_then(|v| v["external_emulator"].as_bool())
        .unwrap_or(false);
    if external {
        let _ = std::fs::remove_file(dir.join("stack.json"));
        ui.result(&Stopped {
            stopped: false,
            note: format!(
                "the emulator at {} was not started by `local up`: it is left running",
                saved
                    .as_ref()
                    .and_then(|v| v["endpoint_url"].as_str())
                    .unwrap_or("?")
            ),
        })?;
        return Ok(Exit::Ok);
    }
    let out = emulator(&root, &dir, &["stop"])?;
    if !out.status.success() {
        bail!(
            "stopping the emulator failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_file(dir.join("stack.json"));
    ui.result(&Stopped {
        stopped: true,
        note: format!(
            "the local emulator is stopped (its state stays in {} for the next `local up`)",
            dir.display()
        ),
    })?;
    Ok(Exit::Ok)
}

fn read_saved(dir: &Path) -> Option<serde_json::Value> {
    std::fs::read(dir.join("stack.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

#[derive(Serialize)]
struct Stopped {
    stopped: bool,
    note: String,
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.note)
    }
}

#[derive(Serialize)]
struct LocalStatus {
    running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    emulator: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: Option<serde_json::Value>,
}

impl fmt::Display for LocalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.running, &self.endpoint) {
            (true, Some(e)) => write!(
                f,
                "the local emulator runs at {e}; app: {}",
                self.app_url
                    .as_deref()
                    .unwrap_or("(not deployed: run `bucketdrive local up`)")
            ),
            _ => write!(
                f,
                "the local emulator is not running; start it with `bucketdrive local up`"
            ),
        }
    }
}

pub fn status(args: &LocalDirArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let root = root()?;
    let dir = state_dir(&root, args);
    let stack = read_saved(&dir);
    let external = stack
        .as_ref()
        .and_then(|v| v["external_emulator"].as_bool())
        .unwrap_or(false);
    let (running, emulator_info, endpoint) = if external {
        let e = stack
            .as_ref()
            .and_then(|v| v["endpoint_url"].as_str())
            .map(str::to_owned);
        let up = e.as_deref().is_some_and(|e| health(e).unwrap_or(false));
        (up, None, e)
    } else {
        let out = emulator(&root, &dir, &["status", "--json"])?;
        let info = serde_json::from_slice::<serde_json::Value>(&out.stdout).ok();
        let e = info
            .as_ref()
            .and_then(|v| v["endpoint"].as_str())
            .map(str::to_owned);
        (out.status.success(), info, e)
    };
    let app_url = stack
        .as_ref()
        .and_then(|v| v["app_url"].as_str())
        .map(str::to_owned);
    ui.result(&LocalStatus {
        running,
        endpoint,
        app_url,
        emulator: emulator_info,
        stack,
    })?;
    Ok(if running { Exit::Ok } else { Exit::Error })
}

/// `GET /_ministack/health` answers 200.
fn health(endpoint: &str) -> anyhow::Result<bool> {
    use std::io::{Read, Write};
    let authority = endpoint
        .strip_prefix("http://")
        .context("the endpoint must start with http://")?
        .split('/')
        .next()
        .unwrap_or_default();
    let mut stream = std::net::TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
    write!(
        stream,
        "GET /_ministack/health HTTP/1.0\r\nHost: {authority}\r\n\r\n"
    )?;
    let mut head = [0u8; 16];
    let n = stream.read(&mut head)?;
    Ok(String::from_utf8_lossy(&head[..n]).contains(" 200"))
}
