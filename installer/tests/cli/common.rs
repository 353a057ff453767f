//! Running the CLI against the emulator, signing in, calling the HTTP API, polling with a bound.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, MessageActionType};
use bucketdrive_tests::{
    ACCESS_KEY_ID, Emulator, REGION, SECRET_ACCESS_KEY, unique_name, workspace_root,
};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_bucketdrive");

pub fn emulator() -> &'static Emulator {
    Emulator::shared().expect("the emulator")
}

/// The runtime zip deploys use: `BUCKETDRIVE_RUNTIME_ZIP` (scripts/test sets it), else the dev
/// build's when it exists (else the CLI builds one).
pub fn runtime_zip() -> Option<PathBuf> {
    std::env::var_os("BUCKETDRIVE_RUNTIME_ZIP")
        .map(PathBuf::from)
        .or_else(|| {
            Some(workspace_root().join("target/lambda/dev/bootstrap.zip")).filter(|p| p.is_file())
        })
}

/// The CLI with a clean AWS environment pointing at the emulator.
pub fn cli(endpoint: Option<&str>) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("AWS_") || k.starts_with("BUCKETDRIVE_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    if let Some(e) = endpoint {
        cmd.env("AWS_ENDPOINT_URL", e);
    }
    if let Some(zip) = runtime_zip() {
        cmd.env("BUCKETDRIVE_RUNTIME_ZIP", zip);
    }
    cmd
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

pub fn run_with(mut cmd: Command, args: &[&str]) -> Run {
    let out = cmd
        .args(args)
        .output()
        .expect("the bucketdrive binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `bucketdrive ARGS` against the shared emulator.
pub fn run(args: &[&str]) -> Run {
    run_with(cli(Some(emulator().endpoint())), args)
}

/// A config of the quickstart's shape with unique names, in its own directory.
#[derive(Debug)]
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub stack: String,
    pub bucket: String,
}

impl Fixture {
    pub fn new(prefix: &str) -> Fixture {
        let stack = unique_name(prefix);
        let bucket = unique_name(&format!("{prefix}-files"));
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = dir.path().join("bucketdrive.yaml");
        std::fs::write(&config, quickstart_yaml(&stack, &bucket)).expect("config written");
        Fixture {
            dir,
            config,
            stack,
            bucket,
        }
    }

    pub fn path(&self) -> &str {
        self.config.to_str().expect("a UTF-8 path")
    }

    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.config).expect("the config")
    }

    /// `bucketdrive deploy --yes` and its outputs.
    pub fn deploy(&self) -> Deployed {
        let r = run(&["deploy", "-c", self.path(), "--yes", "--output", "json"]);
        r.expect(0);
        Deployed::from_report(&r.json())
    }
}

pub fn quickstart_yaml(stack: &str, bucket: &str) -> String {
    format!(
        "# A test config: comments must survive `bucketdrive groups …`.\nstack: {stack}\nregion: {REGION}\n\nbuckets:\n  - name: {bucket}\n    create: true   # the stack makes it\n\nidentity:\n  mfa: off\n  password_auth: true\n\nadmins: [admins]\n\ngroups:\n  # people who read reports\n  staff:\n    grants:\n      - s3://{bucket}/reports/\n      - {{ path: \"s3://{bucket}/incoming/\", access: write }}\n  admins:\n    description: Reads the audit log\n"
    )
}

/// What a deploy reported.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub outputs: BTreeMap<String, String>,
}

impl Deployed {
    pub fn from_report(report: &Value) -> Deployed {
        let outputs = report["outputs"]
            .as_object()
            .unwrap_or_else(|| panic!("no outputs in {report:#}"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        Deployed { outputs }
    }

    pub fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("no output {key}: {:?}", self.outputs))
    }

    pub fn api(&self) -> Api {
        Api::new(emulator().endpoint(), self.output("ApiUrl"))
    }
}

/// Creates a confirmed user with a permanent password in `groups`; returns the password.
pub async fn make_user(pool: &str, email: &str, groups: &[&str]) -> String {
    let cognito = emulator().cognito().await;
    let password = password();
    cognito
        .admin_create_user()
        .user_pool_id(pool)
        .username(email)
        .temporary_password(&password)
        .user_attributes(
            AttributeType::builder()
                .name("email")
                .value(email)
                .build()
                .unwrap(),
        )
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .expect("AdminCreateUser");
    set_password(pool, email, &password).await;
    for g in groups {
        cognito
            .admin_add_user_to_group()
            .user_pool_id(pool)
            .username(email)
            .group_name(*g)
            .send()
            .await
            .expect("AdminAddUserToGroup");
    }
    password
}

pub fn password() -> String {
    format!("Aa1!{}", unique_name("pw")).replace('-', "x")
}

pub async fn set_password(pool: &str, user: &str, password: &str) {
    emulator()
        .cognito()
        .await
        .admin_set_user_password()
        .user_pool_id(pool)
        .username(user)
        .password(password)
        .permanent(true)
        .send()
        .await
        .expect("AdminSetUserPassword");
}

/// USER_PASSWORD_AUTH; the access token, or the error text.
pub async fn sign_in(client_id: &str, user: &str, password: &str) -> Result<String, String> {
    sign_in_at(emulator().endpoint(), client_id, user, password).await
}

/// [`sign_in`] on the emulator at `endpoint`.
pub async fn sign_in_at(
    endpoint: &str,
    client_id: &str,
    user: &str,
    password: &str,
) -> Result<String, String> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_credential_types::Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "cli-tests",
        ))
        .endpoint_url(endpoint)
        .load()
        .await;
    let auth = aws_sdk_cognitoidentityprovider::Client::new(&sdk)
        .initiate_auth()
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .client_id(client_id)
        .auth_parameters("USERNAME", user)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .map_err(|e| {
            format!(
                "{}",
                aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(e)
            )
        })?;
    auth.authentication_result()
        .and_then(|r| r.access_token())
        .map(str::to_owned)
        .ok_or_else(|| "no tokens: a challenge was returned".to_owned())
}

/// The HTTP API on the emulator, reached through its virtual host.
#[derive(Debug, Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(endpoint: &str, api_url: &str) -> Api {
        let addr: SocketAddr = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("endpoint is host:port");
        let authority = api_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let host = authority.split(':').next().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .resolve(&host, addr)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client");
        Api {
            client,
            base: format!("http://{authority}"),
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("the API answers");
        answer(resp).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("the API answers");
        answer(resp).await
    }

    /// `POST /api/download`: the status, and the URL when allowed.
    pub async fn download(&self, token: &str, path: &str) -> (u16, Option<String>) {
        let (status, body) = self
            .post(token, "/api/download", &serde_json::json!({ "path": path }))
            .await;
        (status, body["url"].as_str().map(str::to_owned))
    }
}

async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Fetches a pre-signed URL (it points at the emulator's S3).
pub async fn fetch(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.expect("S3 answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

pub async fn put_object(bucket: &str, key: &str, body: &str) {
    emulator()
        .s3()
        .await
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .expect("PutObject");
}

/// Calls `probe` every 250 ms until it returns true or `bound` passes; returns how long it took.
pub async fn within<F, Fut>(bound: Duration, mut probe: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if probe().await {
            return Some(started.elapsed());
        }
        if started.elapsed() > bound {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
