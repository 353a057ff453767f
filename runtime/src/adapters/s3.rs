//! S3 as the Lambda uses it: delimiter listings inside granted prefixes, existence checks,
//! starting multipart uploads. Buckets in other regions get a client of their own.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use chrono::{DateTime, Utc};

use crate::ports::{ListPage, ObjectMeta, ObjectStore, Unavailable};
use crate::settings::Settings;

pub struct S3ObjectStore {
    clients: HashMap<String, Client>,
    fallback: Client,
}

impl S3ObjectStore {
    pub fn new(sdk: &aws_config::SdkConfig, settings: &Settings) -> Self {
        let make = |region: &str| {
            let mut b =
                aws_sdk_s3::config::Builder::from(sdk).region(Region::new(region.to_owned()));
            if settings.endpoint_url.is_some() {
                // Emulators answer path-style; `*.localhost` does not resolve everywhere.
                b = b.force_path_style(true);
            }
            Client::from_conf(b.build())
        };
        let mut clients = HashMap::new();
        for bucket in &settings.buckets {
            clients
                .entry(bucket.name.clone())
                .or_insert_with(|| make(&bucket.region));
        }
        S3ObjectStore {
            clients,
            fallback: make(&settings.region),
        }
    }

    fn client(&self, bucket: &str) -> &Client {
        self.clients.get(bucket).unwrap_or(&self.fallback)
    }
}

fn to_utc(t: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn unavailable(e: impl std::error::Error + 'static) -> Unavailable {
    Unavailable::new("s3", aws_sdk_s3::error::DisplayErrorContext(e))
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&str>,
        limit: i32,
    ) -> Result<ListPage, Unavailable> {
        let resp = self
            .client(bucket)
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .delimiter("/")
            .max_keys(limit)
            .set_continuation_token(token.map(str::to_owned))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(ListPage {
            folders: resp
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned))
                .collect(),
            objects: resp
                .contents()
                .iter()
                .filter_map(|o| {
                    Some(ObjectMeta {
                        key: o.key()?.to_owned(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        last_modified: to_utc(o.last_modified()),
                        content_type: None,
                    })
                })
                .collect(),
            next: resp.next_continuation_token().map(str::to_owned),
        })
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, Unavailable> {
        match self
            .client(bucket)
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Ok(Some(ObjectMeta {
                key: key.to_owned(),
                size: o.content_length().unwrap_or(0).max(0) as u64,
                last_modified: to_utc(o.last_modified()),
                content_type: o.content_type().map(str::to_owned),
            })),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<String, Unavailable> {
        let resp = self
            .client(bucket)
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(unavailable)?;
        resp.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| Unavailable::new("s3", "no upload id in CreateMultipartUpload's answer"))
    }
}
