//! Loading AWS configuration once, with the global flags applied, and handing out clients.
//! Every command talks to AWS through this, so `--endpoint-url` (the local emulator) reaches
//! every call the same way.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The AWS side of one CLI invocation.
#[derive(Debug, Clone)]
pub struct Aws {
    pub sdk: SdkConfig,
    pub region: String,
    /// Set when talking to something other than AWS (MiniStack).
    pub endpoint: Option<String>,
}

impl Aws {
    /// `region`: the `--region` flag, else the config's region, else the SDK's chain.
    pub async fn load(
        profile: Option<&str>,
        region: Option<&str>,
        endpoint: Option<&str>,
    ) -> anyhow::Result<Aws> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = region {
            loader = loader.region(Region::new(r.to_owned()));
        }
        if let Some(e) = endpoint {
            loader = loader.endpoint_url(e);
        }
        let sdk = loader.load().await;
        let region = sdk.region().map(ToString::to_string).ok_or_else(|| {
            anyhow::anyhow!("no AWS region: pass `--region` or set `region:` in bucketdrive.yaml")
        })?;
        Ok(Aws {
            sdk,
            region,
            endpoint: endpoint.map(str::to_owned),
        })
    }

    /// A local emulator: fixed test credentials, so no real AWS credentials are ever sent to it.
    pub async fn load_local(endpoint: &str, region: &str) -> Aws {
        let creds =
            aws_credential_types::Credentials::new("test", "test", None, None, "bucketdrive-local");
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .load()
            .await;
        Aws {
            sdk,
            region: region.to_owned(),
            endpoint: Some(endpoint.to_owned()),
        }
    }

    pub fn is_emulator(&self) -> bool {
        self.endpoint.is_some()
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
            // Emulators answer path-style; `*.localhost` does not resolve everywhere.
            .force_path_style(self.is_emulator())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn cognito(&self) -> aws_sdk_cognitoidentityprovider::Client {
        aws_sdk_cognitoidentityprovider::Client::new(&self.sdk)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }

    /// The caller's account id and ARN (the actor of admin audit records).
    pub async fn caller(&self) -> anyhow::Result<(String, String)> {
        let id = self.sts().get_caller_identity().send().await.map_err(|e| {
            anyhow::anyhow!(
                "cannot tell who you are to AWS (sts:GetCallerIdentity): {}",
                aws_sdk_sts::error::DisplayErrorContext(e)
            )
        })?;
        Ok((
            id.account().unwrap_or("000000000000").to_owned(),
            id.arn().unwrap_or("unknown").to_owned(),
        ))
    }
}

/// An AWS SDK error as one readable line: the service's code and message when it sent them,
/// otherwise the chain of causes (timeouts, connection errors) — never the debug dump.
pub fn describe<E>(e: E) -> String
where
    E: std::error::Error + aws_sdk_cloudformation::error::ProvideErrorMetadata,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => {
            let mut text = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}
