//! The emulator harness itself: the Rust SDK reaches MiniStack, and Cognito and S3 behave.

use aws_sdk_s3::primitives::ByteStream;
use bucketdrive_tests::{Emulator, unique_name};

#[tokio::test]
async fn cognito_user_pool_round_trip() -> anyhow::Result<()> {
    let cognito = Emulator::shared()?.cognito().await;
    let name = unique_name("bd-pool");

    let created = cognito.create_user_pool().pool_name(&name).send().await?;
    let pool = created
        .user_pool()
        .expect("CreateUserPool returns the pool");
    let id = pool.id().expect("a new pool has an id").to_owned();
    assert_eq!(pool.name(), Some(name.as_str()));
    assert!(
        id.starts_with("us-east-1_"),
        "pool id `{id}` is not in us-east-1"
    );

    let described = cognito
        .describe_user_pool()
        .user_pool_id(&id)
        .send()
        .await?;
    let described = described
        .user_pool()
        .expect("DescribeUserPool returns the pool");
    assert_eq!(described.name(), Some(name.as_str()));
    assert_eq!(described.id(), Some(id.as_str()));

    cognito.delete_user_pool().user_pool_id(&id).send().await?;
    let gone = cognito.describe_user_pool().user_pool_id(&id).send().await;
    let err = gone.expect_err("a deleted pool is not found");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "expected ResourceNotFoundException, got {err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn s3_put_then_get_returns_the_same_bytes() -> anyhow::Result<()> {
    let s3 = Emulator::shared()?.s3().await;
    let bucket = unique_name("bd-it");
    let key = "reports/2026/q1 résumé.pdf";
    let body = b"%PDF-1.7 not really a pdf\n".to_vec();

    s3.create_bucket().bucket(&bucket).send().await?;
    s3.put_object()
        .bucket(&bucket)
        .key(key)
        .content_type("application/pdf")
        .body(ByteStream::from(body.clone()))
        .send()
        .await?;

    let got = s3.get_object().bucket(&bucket).key(key).send().await?;
    assert_eq!(got.content_type(), Some("application/pdf"));
    assert_eq!(got.content_length(), Some(i64::try_from(body.len())?));
    assert_eq!(
        got.body.collect().await?.into_bytes().as_ref(),
        body.as_slice()
    );

    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("reports/")
        .send()
        .await?;
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [key]);

    let missing = s3
        .get_object()
        .bucket(&bucket)
        .key("reports/2026/other.pdf")
        .send()
        .await;
    let err = missing.expect_err("an object never put is not there");
    assert!(
        err.as_service_error().is_some_and(|e| e.is_no_such_key()),
        "expected NoSuchKey, got {err:?}"
    );

    s3.delete_object().bucket(&bucket).key(key).send().await?;
    s3.delete_bucket().bucket(&bucket).send().await?;
    Ok(())
}
