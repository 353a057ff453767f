//! The audit archive: DynamoDB Streams deliver every new audit record here, and each batch is
//! written as one JSON-lines object into the archive bucket, whose default Object Lock retention
//! (compliance mode) makes it the long-term record. The hot table may expire (TTL) or be
//! tampered with; `bucketdrive audit verify` compares it against this.
//!
//! Only inserts are archived: the Lambda role cannot update or delete audit items, so any
//! MODIFY/REMOVE in the stream is TTL or someone acting outside BucketDrive — logged loudly, and
//! exactly what `audit verify` reports.

use aws_lambda_events::dynamodb::Event;
use aws_sdk_s3::Client;
use bucketdrive_core::audit::AuditRecord;

pub struct Archiver {
    pub client: Client,
    pub bucket: String,
}

/// Where a batch goes: `audit/YYYY/MM/DD/<first time_id>-<count>.jsonl`.
pub fn object_key(records: &[AuditRecord]) -> Option<String> {
    let first = records.iter().min_by_key(|r| r.time_id())?;
    Some(format!(
        "audit/{}/{}-{}.jsonl",
        first.time.format("%Y/%m/%d"),
        first.time_id().replace([':', '#'], "_"),
        records.len()
    ))
}

impl Archiver {
    /// Archives one stream batch. An error makes Lambda retry the batch (the stream keeps it
    /// until it is archived), so nothing is dropped.
    pub async fn handle(&self, event: Event) -> Result<usize, String> {
        let mut records = Vec::new();
        for r in event.records {
            match r.event_name.as_str() {
                "INSERT" => {
                    let record: AuditRecord = serde_dynamo::from_item(r.change.new_image)
                        .map_err(|e| format!("an audit item in the stream is not a record: {e}"))?;
                    records.push(record);
                }
                other => {
                    tracing::warn!(event = other, id = %r.event_id, "an audit item changed or left the table (TTL, or outside BucketDrive)")
                }
            }
        }
        let Some(key) = object_key(&records) else {
            return Ok(0);
        };
        let mut body = String::new();
        for r in &records {
            body.push_str(&serde_json::to_string(r).map_err(|e| e.to_string())?);
            body.push('\n');
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/x-ndjson")
            .body(body.into_bytes().into())
            // Object Lock buckets need an integrity checksum on every PUT.
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot write s3://{}/{key}: {}",
                    self.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            })?;
        Ok(records.len())
    }
}
