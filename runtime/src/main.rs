//! `bootstrap`: BucketDrive's Lambda. One binary, three jobs chosen by `BD_MODE`: the HTTP API
//! (`api`), Cognito's pre-token-generation trigger (`pretoken`) and the audit archiver
//! (`archive`).

use std::sync::Arc;

use bucketdrive_runtime::adapters::{dynamo, jwks, s3};
use bucketdrive_runtime::api::{App, Ports};
use bucketdrive_runtime::presign::SigV4Presigner;
use bucketdrive_runtime::settings::Settings;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use serde_json::value::RawValue;

/// musl's allocator (the Lambda is a static musl binary) serialises on one lock and returns
/// memory eagerly; a request allocates often (event, claims, audit item, response), and mimalloc
/// keeps that off the critical path. docs/benchmarks.md has the before/after.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();
    let mode = std::env::var("BD_MODE").unwrap_or_else(|_| "api".to_owned());
    match mode.as_str() {
        "api" => run_api().await,
        "pretoken" => run_pretoken().await,
        "archive" => run_archive().await,
        other => {
            Err(format!("BD_MODE `{other}` is not one of `api`, `pretoken`, `archive`").into())
        }
    }
}

fn env(name: &'static str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is not set").into())
}

async fn run_pretoken() -> Result<(), Error> {
    let sdk = aws_config::load_from_env().await;
    let trigger = Arc::new(bucketdrive_runtime::pretoken::PreToken {
        client: aws_sdk_dynamodb::Client::new(&sdk),
        table: env("BD_POLICIES_TABLE")?,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let trigger = Arc::clone(&trigger);
        async move { trigger.handle(event.payload).await.map_err(Error::from) }
    }))
    .await
}

async fn run_archive() -> Result<(), Error> {
    let sdk = aws_config::load_from_env().await;
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(std::env::var_os("AWS_ENDPOINT_URL").is_some())
        .build();
    let archiver = Arc::new(bucketdrive_runtime::archive::Archiver {
        client: aws_sdk_s3::Client::from_conf(conf),
        bucket: env("BD_ARCHIVE_BUCKET")?,
    });
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::dynamodb::Event>| {
            let archiver = Arc::clone(&archiver);
            async move { archiver.handle(event.payload).await.map_err(Error::from) }
        },
    ))
    .await
}

async fn run_api() -> Result<(), Error> {
    let settings = Settings::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let credentials = sdk
        .credentials_provider()
        .ok_or("no AWS credentials provider is configured")?;
    let ports = Ports {
        keys: Arc::new(jwks::HttpKeySource::new(settings.jwks_url.clone())?),
        policies: Arc::new(dynamo::DynamoPolicyStore {
            client: dynamo.clone(),
            table: settings.policies_table.clone(),
        }),
        audit: Arc::new(dynamo::DynamoAuditStore {
            client: dynamo,
            table: settings.audit_table.clone(),
        }),
        objects: Arc::new(s3::S3ObjectStore::new(&sdk, &settings)),
        presigner: Arc::new(SigV4Presigner::new(
            credentials,
            settings.endpoint_url.clone(),
        )),
    };
    let app = Arc::new(App::new(settings, ports, Arc::new(chrono::Utc::now)));
    // The event arrives as raw JSON text and is parsed once, straight into its type.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let app = Arc::clone(&app);
        async move {
            Ok::<_, Error>(
                app.handle_json(event.payload.get(), &event.context.request_id)
                    .await,
            )
        }
    }))
    .await
}
