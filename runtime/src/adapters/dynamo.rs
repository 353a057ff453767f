//! The policies and audit tables (item layout in docs/architecture.md).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bucketdrive_core::audit::AuditRecord;
use bucketdrive_core::audit_query::{Filter, plan};
use bucketdrive_core::policy::GroupPolicy;
use serde::{Deserialize, Serialize};

use crate::ports::{AuditPage, AuditQuery, AuditStore, PolicyStore, Unavailable};

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// An SDK error as the port's error, with the SDK's whole error chain in the detail (for logs;
/// callers only ever see a generic 503).
fn policies_table(e: impl std::error::Error + 'static) -> Unavailable {
    Unavailable::new(
        "policies table",
        aws_sdk_dynamodb::error::DisplayErrorContext(e),
    )
}

fn audit_table(e: impl std::error::Error + 'static) -> Unavailable {
    Unavailable::new(
        "audit table",
        aws_sdk_dynamodb::error::DisplayErrorContext(e),
    )
}

fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub struct DynamoPolicyStore {
    pub client: Client,
    pub table: String,
}

impl DynamoPolicyStore {
    /// One item, read consistently: a revocation or an admin change counts from the moment it
    /// is written.
    async fn get(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, Unavailable> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(policies_table)?;
        Ok(resp.item)
    }
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
                    .map_err(policies_table)?;
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
        let groups = self
            .get("settings".into(), "admins")
            .await?
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
        Ok(self
            .get(format!("user#{sub}"), "revocation")
            .await?
            .and_then(|i| {
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

/// Where a query page left off: the plan step, and DynamoDB's key within it.
#[derive(Serialize, Deserialize)]
struct Cursor {
    step: usize,
    #[serde(default)]
    key: HashMap<String, String>,
}

fn encode_cursor(step: usize, key: HashMap<String, String>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Cursor { step, key }).unwrap_or_default())
}

fn filter_expression(
    filters: &[Filter],
) -> (
    Option<String>,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
) {
    let mut exprs = Vec::new();
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    for (i, f) in filters.iter().enumerate() {
        let v = format!(":f{i}");
        let (expr, name, value) = match f {
            Filter::ObjectEquals(o) => (format!("#object = {v}"), ("#object", "object"), o.clone()),
            Filter::ObjectPrefix(p) => (
                format!("begins_with(#object, {v})"),
                ("#object", "object"),
                p.clone(),
            ),
            Filter::UserEquals(u) => (
                format!("#user_sub = {v}"),
                ("#user_sub", "user_sub"),
                u.clone(),
            ),
            Filter::Action(a) => (
                format!("#action = {v}"),
                ("#action", "action"),
                a.as_str().to_owned(),
            ),
            Filter::Outcome(o) => (
                format!("#outcome = {v}"),
                ("#outcome", "outcome"),
                match o {
                    bucketdrive_core::audit::Outcome::Allow => "allow".to_owned(),
                    bucketdrive_core::audit::Outcome::Deny => "deny".to_owned(),
                },
            ),
        };
        exprs.push(expr);
        names.insert(name.0.to_owned(), name.1.to_owned());
        values.insert(v, s(value));
    }
    (
        (!exprs.is_empty()).then(|| exprs.join(" AND ")),
        names,
        values,
    )
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
            .map_err(audit_table)?;
        Ok(())
    }

    async fn query(&self, q: &AuditQuery) -> Result<AuditPage, Unavailable> {
        let steps = plan(&q.filter).map_err(|e| Unavailable::new("query", e))?;
        let (first_step, mut start_key) = match &q.cursor {
            Some(c) => {
                let c: Cursor = URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .ok_or_else(|| Unavailable::new("cursor", "invalid"))?;
                let key = (!c.key.is_empty()).then(|| {
                    c.key
                        .into_iter()
                        .map(|(k, v)| (k, s(v)))
                        .collect::<HashMap<_, _>>()
                });
                (c.step, key)
            }
            None => (0, None),
        };
        let mut records = Vec::new();
        for (i, step) in steps.iter().enumerate().skip(first_step) {
            // A filtered query may return fewer items than asked: keep reading the partition
            // until the page is full or it is exhausted.
            loop {
                let (filter, mut names, values) = filter_expression(&step.filters);
                names.insert("#pk".into(), step.index.partition_attribute().into());
                let resp = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(step.index.name())
                    .key_condition_expression("#pk = :pk AND time_id BETWEEN :lo AND :hi")
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(
                        values
                            .into_iter()
                            .chain([
                                (":pk".to_owned(), s(step.partition.clone())),
                                (":lo".to_owned(), s(step.from.clone())),
                                (":hi".to_owned(), s(step.to.clone())),
                            ])
                            .collect(),
                    ))
                    .set_filter_expression(filter)
                    .scan_index_forward(false)
                    .limit((q.limit - records.len()).max(1) as i32)
                    .set_exclusive_start_key(start_key.take())
                    .send()
                    .await
                    .map_err(audit_table)?;
                for item in resp.items.unwrap_or_default() {
                    let r: AuditRecord = serde_dynamo::from_item(item)
                        .map_err(|e| Unavailable::new("audit table", e))?;
                    records.push(r);
                }
                let last = resp.last_evaluated_key.map(|last| {
                    last.into_iter()
                        .filter_map(|(k, v)| v.as_s().ok().map(|x| (k, x.clone())))
                        .collect::<HashMap<_, _>>()
                });
                match last {
                    Some(key) if records.len() >= q.limit => {
                        return Ok(AuditPage {
                            records,
                            cursor: Some(encode_cursor(i, key)),
                        });
                    }
                    Some(key) => {
                        start_key = Some(key.into_iter().map(|(k, v)| (k, s(v))).collect())
                    }
                    None => break,
                }
            }
            if records.len() >= q.limit {
                let cursor = (i + 1 < steps.len()).then(|| encode_cursor(i + 1, HashMap::new()));
                return Ok(AuditPage { records, cursor });
            }
        }
        Ok(AuditPage {
            records,
            cursor: None,
        })
    }
}
