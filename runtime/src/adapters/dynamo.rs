//! The policies and audit tables (item layout in docs/architecture.md).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bucketdrive_core::audit::AuditRecord;
use bucketdrive_core::policy::GroupPolicy;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{AuditPage, AuditQuery, AuditStore, PolicyStore, Unavailable};

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub struct DynamoPolicyStore {
    pub client: Client,
    pub table: String,
}

#[async_trait]
impl PolicyStore for DynamoPolicyStore {
    async fn group_policies(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Unavailable> {
        let mut out = Vec::new();
        for chunk in groups.chunks(100) {
            let mut keys = KeysAndAttributes::builder().consistent_read(true);
            for g in chunk {
                keys = keys.keys(key(format!("group#{g}"), "policy"));
            }
            let mut request = Some(HashMap::from([(
                self.table.clone(),
                keys.build()
                    .map_err(|e| Unavailable::new("policies table", e))?,
            )]));
            // UnprocessedKeys come back under throttling: retry them a few times, then give up
            // (fail closed) rather than decide with some groups missing.
            for _ in 0..5 {
                let Some(items) = request.take() else { break };
                let resp = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(items))
                    .send()
                    .await
                    .map_err(|e| {
                        Unavailable::new(
                            "policies table",
                            aws_sdk_dynamodb::error::DisplayErrorContext(e),
                        )
                    })?;
                for item in resp
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    let doc = item.get("doc").and_then(|v| v.as_s().ok()).ok_or_else(|| {
                        Unavailable::new("policies table", "a policy item has no `doc`")
                    })?;
                    let policy: GroupPolicy = serde_json::from_str(doc).map_err(|e| {
                        Unavailable::new(
                            "policies table",
                            format!("a policy document is invalid: {e}"),
                        )
                    })?;
                    out.push(policy);
                }
                request = resp.unprocessed_keys.filter(|u| !u.is_empty());
            }
            if request.is_some() {
                return Err(Unavailable::new(
                    "policies table",
                    "throttled: some policies could not be read",
                ));
            }
        }
        Ok(out)
    }

    async fn admin_groups(&self) -> Result<Vec<String>, Unavailable> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key("settings".into(), "admins")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                Unavailable::new(
                    "policies table",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e),
                )
            })?;
        let groups = resp
            .item
            .and_then(|i| i.get("groups").cloned())
            .map(|v| match v {
                AttributeValue::L(list) => {
                    list.iter().filter_map(|x| x.as_s().ok().cloned()).collect()
                }
                AttributeValue::Ss(set) => set,
                _ => Vec::new(),
            })
            .unwrap_or_default();
        Ok(groups)
    }

    async fn not_before(&self, sub: &str) -> Result<Option<i64>, Unavailable> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("user#{sub}"), "revocation")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                Unavailable::new(
                    "policies table",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e),
                )
            })?;
        Ok(resp.item.and_then(|i| {
            i.get("not_before")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
        }))
    }
}

pub struct DynamoAuditStore {
    pub client: Client,
    pub table: String,
}

/// The stored item: the record plus the index keys derived from it.
pub fn audit_item(record: &AuditRecord) -> Result<HashMap<String, AttributeValue>, Unavailable> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(record).map_err(|e| Unavailable::new("audit table", e))?;
    for (name, value) in record.index_attributes() {
        item.insert(name.to_owned(), s(value));
    }
    Ok(item)
}

/// Where a query page left off.
#[derive(Serialize, Deserialize)]
struct Cursor {
    /// For day-by-day queries, the day being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    day: Option<String>,
    #[serde(default)]
    key: HashMap<String, String>,
}

#[async_trait]
impl AuditStore for DynamoAuditStore {
    async fn append(&self, record: &AuditRecord) -> Result<(), Unavailable> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(record)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map_err(|e| {
                Unavailable::new(
                    "audit table",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e),
                )
            })?;
        Ok(())
    }

    async fn query(&self, q: &AuditQuery) -> Result<AuditPage, Unavailable> {
        let cursor: Option<Cursor> = match &q.cursor {
            Some(c) => Some(
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .ok_or_else(|| Unavailable::new("cursor", "invalid"))?,
            ),
            None => None,
        };
        let lo = format!(
            "{}#",
            q.since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        let hi = format!(
            "{}#~",
            q.until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        let object_exact = q.path.as_ref().filter(|p| !p.ends_with('/'));
        let prefix = q.path.as_ref().filter(|p| p.ends_with('/'));
        // One index per question, never a scan: by user, by object, or day by day.
        let (index, pk_name, mut days): (&str, &str, Vec<String>) = if let Some(user) = &q.user {
            ("by-user", "user_sub", vec![user.clone()])
        } else if let Some(object) = object_exact {
            ("by-object", "object", vec![object.clone()])
        } else {
            ("by-day", "day", days_desc(q.since, q.until))
        };
        let mut start_key = None;
        if let Some(c) = cursor {
            if let Some(day) = c.day {
                days.retain(|d| d <= &day);
            }
            if !c.key.is_empty() {
                start_key = Some(
                    c.key
                        .into_iter()
                        .map(|(k, v)| (k, s(v)))
                        .collect::<HashMap<_, _>>(),
                );
            }
        }
        let mut records = Vec::new();
        for (i, pk) in days.iter().enumerate() {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#pk = :pk AND time_id BETWEEN :lo AND :hi")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":lo", s(lo.clone()))
                .expression_attribute_values(":hi", s(hi.clone()))
                .scan_index_forward(false)
                .limit((q.limit - records.len()).max(1) as i32)
                .set_exclusive_start_key(if i == 0 { start_key.take() } else { None });
            let mut filters = Vec::new();
            if let Some(p) = prefix {
                req = req.expression_attribute_values(":prefix", s(p.clone()));
                filters.push("begins_with(#object, :prefix)");
                req = req.expression_attribute_names("#object", "object");
            }
            if q.user.is_some()
                && let Some(o) = object_exact
            {
                req = req.expression_attribute_values(":object", s(o.clone()));
                filters.push("#object = :object");
                req = req.expression_attribute_names("#object", "object");
            }
            if !filters.is_empty() {
                req = req.filter_expression(filters.join(" AND "));
            }
            let resp = req.send().await.map_err(|e| {
                Unavailable::new(
                    "audit table",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e),
                )
            })?;
            for item in resp.items.unwrap_or_default() {
                let r: AuditRecord = serde_dynamo::from_item(item)
                    .map_err(|e| Unavailable::new("audit table", e))?;
                records.push(r);
            }
            if let Some(last) = resp.last_evaluated_key {
                let key = last
                    .into_iter()
                    .filter_map(|(k, v)| v.as_s().ok().map(|x| (k, x.clone())))
                    .collect();
                let c = Cursor {
                    day: (index == "by-day").then(|| pk.clone()),
                    key,
                };
                return Ok(AuditPage {
                    records,
                    cursor: Some(
                        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap_or_default()),
                    ),
                });
            }
            if records.len() >= q.limit {
                // This day is exhausted; the next page starts with the next (older) day.
                let cursor = days.get(i + 1).map(|d| {
                    URL_SAFE_NO_PAD.encode(
                        serde_json::to_vec(&Cursor {
                            day: Some(d.clone()),
                            key: HashMap::new(),
                        })
                        .unwrap_or_default(),
                    )
                });
                return Ok(AuditPage { records, cursor });
            }
        }
        Ok(AuditPage {
            records,
            cursor: None,
        })
    }
}

/// Every UTC day from `until` back to `since`, newest first.
fn days_desc(since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = until.date_naive();
    let first = since.date_naive();
    while d >= first {
        out.push(d.format("%Y-%m-%d").to_string());
        d -= Duration::days(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_cover_the_range_newest_first() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            days_desc(t("2026-12-02T23:00:00Z"), t("2026-12-04T01:00:00Z")),
            vec!["2026-12-04", "2026-12-03", "2026-12-02"]
        );
    }
}
