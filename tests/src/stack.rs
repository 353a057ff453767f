//! A BucketDrive stack deployed into the emulator by the real CLI (`bucketdrive deploy`), with
//! real Cognito users and an HTTP client for its API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, MessageActionType};
use serde_json::Value;

use crate::{ACCESS_KEY_ID, Emulator, REGION, SECRET_ACCESS_KEY, unique_name, workspace_root};

/// The `bucketdrive` binary of this workspace (built by `cargo build` / the test run).
pub fn cli_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug").join("bucketdrive")
}

/// The runtime zip tests deploy: `BUCKETDRIVE_RUNTIME_ZIP`, else the dev build's.
pub fn runtime_zip() -> PathBuf {
    std::env::var_os("BUCKETDRIVE_RUNTIME_ZIP")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/lambda/dev/bootstrap.zip"))
}

/// Runs the CLI against the emulator; returns (exit code, stdout, stderr).
pub fn bucketdrive(emulator: &Emulator, args: &[&str]) -> Result<(i32, String, String)> {
    let bin = cli_binary();
    if !bin.is_file() {
        bail!(
            "{} is missing: run `cargo build -p bucketdrive` first",
            bin.display()
        );
    }
    let out = Command::new(&bin)
        .args(args)
        .env("AWS_ENDPOINT_URL", emulator.endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_REGION", REGION)
        .env("BUCKETDRIVE_RUNTIME_ZIP", runtime_zip())
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// A stack deployed for one test.
#[derive(Debug)]
pub struct Deployed {
    pub stack: String,
    pub bucket: String,
    pub config_path: PathBuf,
    pub outputs: BTreeMap<String, String>,
    /// The `Host` the HTTP API answers to (`<id>.execute-api.localhost:<port>`).
    pub api_host: String,
    pub endpoint: String,
    /// Everything the CLI printed on stderr while deploying.
    pub log: String,
    /// The deploy's JSON report (`--output json`): the change set, the stack's result.
    pub report: Value,
}

/// The quickstart shape with unique names: `staff` reads `reports/` and writes `incoming/`,
/// `admins` reads the audit log.
pub fn quickstart_yaml(stack: &str, bucket: &str) -> String {
    format!(
        "stack: {stack}\nregion: {REGION}\nbuckets:\n  - name: {bucket}\n    create: true\nidentity:\n  mfa: off\n  password_auth: true\nadmins: [admins]\ngroups:\n  staff:\n    grants:\n      - s3://{bucket}/reports/\n      - {{ path: \"s3://{bucket}/incoming/\", access: write }}\n  admins:\n    description: Reads the audit log\n"
    )
}

impl Deployed {
    /// Deploys `yaml` (which must name `stack`) with `bucketdrive deploy --yes`.
    pub fn deploy(emulator: &Emulator, stack: &str, bucket: &str, yaml: &str) -> Result<Deployed> {
        let dir = std::env::temp_dir().join(unique_name("bd-config"));
        std::fs::create_dir_all(&dir)?;
        let config_path = dir.join("bucketdrive.yaml");
        std::fs::write(&config_path, yaml)?;
        let config = config_path.to_string_lossy().into_owned();
        let (code, stdout, stderr) = bucketdrive(
            emulator,
            &["deploy", "-c", &config, "--yes", "--output", "json"],
        )?;
        if code != 0 {
            bail!("bucketdrive deploy exited {code}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        }
        let report: Value = serde_json::from_str(&stdout)
            .with_context(|| format!("deploy printed no JSON: {stdout}"))?;
        let outputs: BTreeMap<String, String> = serde_json::from_value(report["outputs"].clone())?;
        let api_url = outputs.get("ApiUrl").context("no ApiUrl output")?;
        let api_host = api_url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        Ok(Deployed {
            stack: stack.to_owned(),
            bucket: bucket.to_owned(),
            config_path,
            outputs,
            api_host,
            endpoint: emulator.endpoint().to_owned(),
            log: stderr,
            report,
        })
    }

    /// A fresh quickstart-shaped stack.
    pub fn quickstart(emulator: &Emulator) -> Result<Deployed> {
        let stack = unique_name("bd");
        let bucket = unique_name("bd-files");
        Self::deploy(emulator, &stack, &bucket, &quickstart_yaml(&stack, &bucket))
    }

    pub fn output(&self, key: &str) -> Result<&str> {
        self.outputs
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("no output {key}"))
    }

    /// Creates a confirmed user with a permanent password in `groups`; returns the password.
    pub async fn user(&self, emulator: &Emulator, email: &str, groups: &[&str]) -> Result<String> {
        let cognito = emulator.cognito().await;
        let pool = self.output("UserPoolId")?;
        let password = format!("Aa1!{}", unique_name("pw")).replace('-', "x");
        cognito
            .admin_create_user()
            .user_pool_id(pool)
            .username(email)
            .temporary_password(&password)
            .user_attributes(
                AttributeType::builder()
                    .name("email")
                    .value(email)
                    .build()?,
            )
            .message_action(MessageActionType::Suppress)
            .send()
            .await?;
        cognito
            .admin_set_user_password()
            .user_pool_id(pool)
            .username(email)
            .password(&password)
            .permanent(true)
            .send()
            .await?;
        for g in groups {
            cognito
                .admin_add_user_to_group()
                .user_pool_id(pool)
                .username(email)
                .group_name(*g)
                .send()
                .await?;
        }
        Ok(password)
    }

    /// Signs in with USER_PASSWORD_AUTH; returns (access token, id token).
    pub async fn sign_in(
        &self,
        emulator: &Emulator,
        email: &str,
        password: &str,
    ) -> Result<(String, String)> {
        let auth = emulator
            .cognito()
            .await
            .initiate_auth()
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .client_id(self.output("UserPoolClientId")?)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", password)
            .send()
            .await?;
        let result = auth
            .authentication_result()
            .context("no tokens: a challenge was returned")?;
        Ok((
            result.access_token().context("no access token")?.to_owned(),
            result.id_token().context("no id token")?.to_owned(),
        ))
    }

    /// An HTTP client that reaches the API's virtual host on the emulator.
    pub fn api(&self, token: &str) -> Result<Api> {
        let addr: SocketAddr = self
            .endpoint
            .trim_start_matches("http://")
            .parse()
            .with_context(|| format!("endpoint `{}` is not host:port", self.endpoint))?;
        let host = self
            .api_host
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let client = reqwest::Client::builder().resolve(&host, addr).build()?;
        Ok(Api {
            client,
            base: format!("http://{}", self.api_host),
            token: token.to_owned(),
        })
    }
}

/// The API as a signed-in caller sees it.
#[derive(Debug, Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
}

/// An answer: status and JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Api {
    pub async fn get(&self, path_and_query: &str) -> Result<Answer> {
        let resp = self
            .client
            .get(format!("{}{path_and_query}", self.base))
            .bearer_auth(&self.token)
            .header("user-agent", "bucketdrive-e2e/1.0")
            .send()
            .await?;
        answer(resp).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Answer> {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("user-agent", "bucketdrive-e2e/1.0")
            .json(body)
            .send()
            .await?;
        answer(resp).await
    }
}

async fn answer(resp: reqwest::Response) -> Result<Answer> {
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer { status, body })
}

/// `s3://bucket/a b/c` → `s3%3A%2F%2Fbucket%2Fa%20b%2Fc`, for query strings.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
