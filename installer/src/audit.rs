//! Reading the audit log from the CLI: the same index plan the API runs
//! (`bucketdrive_core::audit_query::plan`) executed page by page, CSV and JSON-lines writers, and
//! the comparison of the hot table with the S3 archive behind `bucketdrive audit verify`.
//!
//! The audit table is never scanned: every read is a `Query` on `by-user`, `by-object` or
//! `by-day` (one per UTC day), as the plan says.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

use aws_sdk_dynamodb::types::AttributeValue;
use bucketdrive_core::audit::{AuditRecord, FLAT_COLUMNS, Outcome};
use bucketdrive_core::audit_query::{AuditFilter, Filter, PlanError, QueryStep, plan};
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::aws::describe;

/// One item of the audit table as DynamoDB returns it.
pub type Item = HashMap<String, AttributeValue>;

/// The attributes stored beside each record for the indexes (not part of the record).
pub const INDEX_ATTRIBUTES: [&str; 4] = ["time_id", "day", "object", "user_sub"];

/// `2026-12-04T10:00:00Z`, `2026-12-04` (the start of that day, UTC, or its last millisecond
/// with `end_of_day`), a duration before `now` (`90m`, `24h`, `7d`), or `now`.
pub fn parse_time(
    text: &str,
    end_of_day: bool,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if text == "now" {
        return Ok(now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let t = if end_of_day {
            d.and_hms_milli_opt(23, 59, 59, 999)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        return t
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("`{text}` is out of range"));
    }
    if let Ok(ago) = humantime::parse_duration(text)
        && let Ok(ago) = Duration::from_std(ago)
        && let Some(t) = now.checked_sub_signed(ago)
    {
        return Ok(t);
    }
    Err(format!(
        "`{text}` is not a time; write an RFC 3339 time (`2026-12-04T10:00:00Z`), a day (`2026-12-04`, UTC) or a duration ago (`90m`, `24h`, `7d`)"
    ))
}

/// The filter expression of a step's filters, with its names and values (the same expression
/// the runtime's `DynamoAuditStore` sends).
fn filter_expression(filters: &[Filter]) -> (Option<String>, HashMap<String, String>, Item) {
    let mut exprs = Vec::new();
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    for (i, f) in filters.iter().enumerate() {
        let v = format!(":f{i}");
        let (expr, name, value) = match f {
            Filter::ObjectEquals(o) => (format!("#object = {v}"), "object", o.clone()),
            Filter::ObjectPrefix(p) => (format!("begins_with(#object, {v})"), "object", p.clone()),
            Filter::UserEquals(u) => (format!("#user_sub = {v}"), "user_sub", u.clone()),
            Filter::Action(a) => (format!("#action = {v}"), "action", a.as_str().to_owned()),
            Filter::Outcome(o) => (
                format!("#outcome = {v}"),
                "outcome",
                match o {
                    Outcome::Allow => "allow".to_owned(),
                    Outcome::Deny => "deny".to_owned(),
                },
            ),
        };
        exprs.push(expr);
        names.insert(format!("#{name}"), name.to_owned());
        values.insert(v, AttributeValue::S(value));
    }
    (
        (!exprs.is_empty()).then(|| exprs.join(" AND ")),
        names,
        values,
    )
}

/// The plan of a filter, executed one DynamoDB page at a time, newest first.
pub struct Pager {
    client: aws_sdk_dynamodb::Client,
    table: String,
    steps: Vec<QueryStep>,
    step: usize,
    start_key: Option<Item>,
    /// DynamoDB's `Limit` per request (items read before the filter), when few are wanted.
    pub page_size: Option<i32>,
    /// Query requests sent so far.
    pub requests: usize,
}

impl Pager {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: &str,
        filter: &AuditFilter,
    ) -> Result<Pager, PlanError> {
        Ok(Pager {
            client,
            table: table.to_owned(),
            steps: plan(filter)?,
            step: 0,
            start_key: None,
            page_size: None,
            requests: 0,
        })
    }

    /// The index partition being read (a day, a user, an object), for progress lines.
    pub fn partition(&self) -> Option<&str> {
        self.steps.get(self.step).map(|s| s.partition.as_str())
    }

    /// The next page of items (it may be empty when the filters dropped all it read), or `None`
    /// when every step is exhausted.
    pub async fn next_page(&mut self) -> anyhow::Result<Option<Vec<Item>>> {
        let Some(step) = self.steps.get(self.step) else {
            return Ok(None);
        };
        let (filter, mut names, mut values) = filter_expression(&step.filters);
        names.insert("#pk".into(), step.index.partition_attribute().into());
        values.insert(":pk".into(), AttributeValue::S(step.partition.clone()));
        values.insert(":lo".into(), AttributeValue::S(step.from.clone()));
        values.insert(":hi".into(), AttributeValue::S(step.to.clone()));
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(step.index.name())
            .key_condition_expression("#pk = :pk AND time_id BETWEEN :lo AND :hi")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .set_filter_expression(filter)
            .scan_index_forward(false)
            .set_limit(self.page_size)
            .set_exclusive_start_key(self.start_key.take())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot query the audit table `{}` (index {}, {}): {}",
                    self.table,
                    step.index.name(),
                    step.partition,
                    describe(e)
                )
            })?;
        self.requests += 1;
        match resp.last_evaluated_key.filter(|k| !k.is_empty()) {
            Some(key) => self.start_key = Some(key),
            None => self.step += 1,
        }
        Ok(Some(resp.items.unwrap_or_default()))
    }
}

/// An item as the record it stores, or why it is not one.
pub fn record_of(item: &Item) -> Result<AuditRecord, String> {
    let id = item
        .get("id")
        .and_then(|v| v.as_s().ok())
        .map_or("?", String::as_str);
    serde_dynamo::from_item(item.clone())
        .map_err(|e| format!("item `{id}` of the audit table is not an audit record: {e}"))
}

/// A DynamoDB attribute as JSON: numbers as numbers, sets as arrays, binary as base64 text.
pub fn json_of(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(l) => Value::Array(l.iter().map(json_of).collect()),
        AttributeValue::M(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), json_of(v))).collect())
        }
        AttributeValue::Ss(s) => Value::Array(s.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(s) => Value::Array(s.iter().map(|n| number(n)).collect()),
        AttributeValue::B(b) => Value::String(base64_of(b.as_ref())),
        AttributeValue::Bs(bs) => Value::Array(
            bs.iter()
                .map(|b| Value::String(base64_of(b.as_ref())))
                .collect(),
        ),
        _ => Value::String("<unknown attribute type>".into()),
    }
}

fn number(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::from(i);
    }
    n.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| Value::String(n.to_owned()), Value::Number)
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The JSON of a whole item (record and index attributes).
pub fn item_json(item: &Item) -> serde_json::Map<String, Value> {
    item.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()
}

// ------------------------------------------------------------------------------ export formats

/// How records are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header row (the columns of docs/audit.md)
    Csv,
    /// One JSON record per line, exactly as stored
    Jsonl,
}

/// A CSV cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a leading tab or
/// carriage return) gets a leading `'`: an exported audit log must not execute. The web app's
/// export does the same (runtime/web/audit.js).
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Writes records as CSV or JSON lines; the CSV header goes out before the first record (or at
/// `finish` when there was none).
pub struct RecordWriter<W: Write> {
    format: ExportFormat,
    csv: Option<csv::Writer<W>>,
    raw: Option<W>,
    header_written: bool,
    pub written: usize,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(format: ExportFormat, out: W) -> RecordWriter<W> {
        match format {
            ExportFormat::Csv => RecordWriter {
                format,
                csv: Some(
                    csv::WriterBuilder::new()
                        .terminator(csv::Terminator::CRLF)
                        .from_writer(out),
                ),
                raw: None,
                header_written: false,
                written: 0,
            },
            ExportFormat::Jsonl => RecordWriter {
                format,
                csv: None,
                raw: Some(out),
                header_written: true,
                written: 0,
            },
        }
    }

    fn header(&mut self) -> std::io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            if let Some(w) = self.csv.as_mut() {
                w.write_record(FLAT_COLUMNS)?;
            }
        }
        Ok(())
    }

    pub fn write(&mut self, r: &AuditRecord) -> std::io::Result<()> {
        self.header()?;
        match self.format {
            ExportFormat::Csv => {
                if let Some(w) = self.csv.as_mut() {
                    let values = r.flat_values();
                    w.write_record(values.iter().map(|v| neutralise(v).into_owned()))?;
                }
            }
            ExportFormat::Jsonl => {
                if let Some(w) = self.raw.as_mut() {
                    serde_json::to_writer(&mut *w, r).map_err(std::io::Error::other)?;
                    w.write_all(b"\n")?;
                }
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Writes the header if nothing was written, flushes, and hands the writer back.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.header()?;
        if let Some(w) = self.csv.take() {
            return w.into_inner().map_err(|e| e.into_error());
        }
        let mut w = self
            .raw
            .take()
            .ok_or_else(|| std::io::Error::other("the writer is gone"))?;
        w.flush()?;
        Ok(w)
    }
}

// ---------------------------------------------------------------------------------- verify

/// One record as stored: its JSON without the index attributes, and those apart.
#[derive(Debug, Clone)]
pub struct Stored {
    pub record: serde_json::Map<String, Value>,
    pub index: BTreeMap<String, Value>,
}

impl Stored {
    pub fn from_item(item: &Item) -> Stored {
        let mut record = item_json(item);
        let mut index = BTreeMap::new();
        for name in INDEX_ATTRIBUTES {
            if let Some(v) = record.remove(name) {
                index.insert(name.to_owned(), v);
            }
        }
        Stored { record, index }
    }

    pub fn id(&self) -> &str {
        text(&self.record, "id")
    }
}

fn text<'a>(m: &'a serde_json::Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A record of a finding, in brief.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RecordRef {
    pub id: String,
    pub time: String,
    pub action: String,
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

impl RecordRef {
    fn of(m: &serde_json::Map<String, Value>) -> RecordRef {
        let user = m.get("user").and_then(Value::as_object);
        let who = user
            .and_then(|u| {
                ["email", "username", "sub"]
                    .iter()
                    .find_map(|k| u.get(*k).and_then(Value::as_str))
            })
            .unwrap_or("")
            .to_owned();
        let object = m
            .get("bucket")
            .and_then(Value::as_str)
            .map(|b| format!("s3://{b}/{}", text(m, "key")));
        RecordRef {
            id: text(m, "id").to_owned(),
            time: text(m, "time").to_owned(),
            action: text(m, "action").to_owned(),
            user: who,
            object,
        }
    }
}

impl std::fmt::Display for RecordRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}  {}  {}", self.id, self.time, self.action)?;
        if !self.user.is_empty() {
            write!(f, " by {}", self.user)?;
        }
        if let Some(o) = &self.object {
            write!(f, " on {o}")?;
        }
        Ok(())
    }
}

/// One field that differs between the archive and the table (`None`: absent there).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldDiff {
    /// A dotted path (`user.email`, `rule.path`); index attributes as `index.<name>`.
    pub field: String,
    pub archive: Option<Value>,
    pub table: Option<Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Changed {
    #[serde(flatten)]
    pub record: RecordRef,
    pub fields: Vec<FieldDiff>,
}

/// What `audit verify` found.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Findings {
    /// Records in the table that differ from their archived copy.
    pub changed: Vec<Changed>,
    /// Archived records missing from the table before their `expires_at` (removed).
    pub missing_from_table: Vec<RecordRef>,
    /// Table records older than the settle time that the archive does not have.
    pub missing_from_archive: Vec<RecordRef>,
    /// Archived records gone from the table because their `expires_at` passed (TTL): fine.
    pub expired: usize,
    /// Records compared and found equal.
    pub equal: usize,
    /// Table records too recent to be archived yet (younger than the settle time).
    pub settling: usize,
}

impl Findings {
    pub fn tampered(&self) -> bool {
        !(self.changed.is_empty()
            && self.missing_from_table.is_empty()
            && self.missing_from_archive.is_empty())
    }
}

fn diff_values(path: &str, a: Option<&Value>, t: Option<&Value>, out: &mut Vec<FieldDiff>) {
    match (a, t) {
        (Some(Value::Object(a)), Some(Value::Object(t))) => {
            let keys: BTreeSet<&String> = a.keys().chain(t.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_values(&p, a.get(k), t.get(k), out);
            }
        }
        (a, t) if a != t => out.push(FieldDiff {
            field: path.to_owned(),
            archive: a.cloned(),
            table: t.cloned(),
        }),
        _ => {}
    }
}

/// The index attributes a record must carry, derived from the record itself.
fn expected_index(record: &serde_json::Map<String, Value>) -> Option<BTreeMap<String, Value>> {
    let r: AuditRecord = serde_json::from_value(Value::Object(record.clone())).ok()?;
    Some(
        r.index_attributes()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect(),
    )
}

/// The period being verified and the clock.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// Table records younger than this may not be archived yet.
    pub settle: Duration,
}

fn time_of(m: &serde_json::Map<String, Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text(m, "time"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Compares the table with the archive for `w`.
///
/// `table`: the table's records by id (those its indexes return for the period, plus any
/// archived record of the period fetched by its key). `archive`: every archived record read
/// (the period's days and the day before, as batches may cross midnight), by id.
pub fn compare(
    table: &BTreeMap<String, Stored>,
    archive: &BTreeMap<String, serde_json::Map<String, Value>>,
    w: &Window,
) -> Findings {
    let mut f = Findings::default();
    let in_period = |m: &serde_json::Map<String, Value>| {
        time_of(m).is_some_and(|t| t >= w.since && t <= w.until)
    };
    for (id, archived) in archive {
        if !in_period(archived) {
            continue;
        }
        match table.get(id) {
            Some(stored) => {
                let mut fields = Vec::new();
                diff_values(
                    "",
                    Some(&Value::Object(archived.clone())),
                    Some(&Value::Object(stored.record.clone())),
                    &mut fields,
                );
                let want = expected_index(archived).unwrap_or_default();
                let names: BTreeSet<&String> = want.keys().chain(stored.index.keys()).collect();
                for name in names {
                    let (a, t) = (want.get(name), stored.index.get(name));
                    if a != t {
                        fields.push(FieldDiff {
                            field: format!("index.{name}"),
                            archive: a.cloned(),
                            table: t.cloned(),
                        });
                    }
                }
                if fields.is_empty() {
                    f.equal += 1;
                } else {
                    f.changed.push(Changed {
                        record: RecordRef::of(archived),
                        fields,
                    });
                }
            }
            None => {
                let expired = archived
                    .get("expires_at")
                    .and_then(Value::as_i64)
                    .is_some_and(|e| e <= w.now.timestamp());
                if expired {
                    f.expired += 1;
                } else {
                    f.missing_from_table.push(RecordRef::of(archived));
                }
            }
        }
    }
    for (id, stored) in table {
        if archive.contains_key(id) {
            continue;
        }
        // A record whose time was changed counts by the time its index attributes claim.
        let time = time_of(&stored.record).or_else(|| {
            stored
                .index
                .get("time_id")
                .and_then(Value::as_str)
                .and_then(|t| t.split('#').next())
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        });
        match time {
            Some(t) if t > w.now - w.settle => f.settling += 1,
            _ => f.missing_from_archive.push(RecordRef::of(&stored.record)),
        }
    }
    f.changed.sort_by(|a, b| a.record.time.cmp(&b.record.time));
    f.missing_from_table.sort_by(|a, b| a.time.cmp(&b.time));
    f.missing_from_archive.sort_by(|a, b| a.time.cmp(&b.time));
    f
}

/// `audit/YYYY/MM/DD/`: where the archiver puts the batches that start on `day`.
pub fn archive_prefix(day: NaiveDate) -> String {
    format!("audit/{}/", day.format("%Y/%m/%d"))
}

/// The archive prefixes to read for a period: each day of it, and the day before (a batch
/// is filed under the day of its first record, which may be before midnight).
pub fn archive_prefixes(since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    let mut out = Vec::new();
    let mut day = since.date_naive() - Duration::days(1);
    while day <= until.date_naive() {
        out.push(archive_prefix(day));
        day += Duration::days(1);
    }
    out
}

/// `2026-12-04T16:05:50.123Z`
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use bucketdrive_core::audit::{AuditAction, AuditUser, Basis, RequestContext};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn record(id: &str, time: &str, retention_days: u32) -> AuditRecord {
        AuditRecord::builder(
            id.into(),
            t(time),
            AuditAction::Download,
            &RequestContext {
                request_id: "r".into(),
                source_ip: Some("198.51.100.1".into()),
                user_agent: None,
            },
            retention_days,
        )
        .user(
            AuditUser {
                sub: Some("u-1".into()),
                username: Some("ana".into()),
                email: None,
            },
            vec!["staff".into()],
        )
        .path("b", "reports/x.pdf")
        .outcome(Outcome::Deny, Basis::NoGrant, "no grant", 403)
    }

    fn item(r: &AuditRecord) -> Item {
        let mut item: Item = serde_dynamo::to_item(r).unwrap();
        for (k, v) in r.index_attributes() {
            item.insert(k.to_owned(), AttributeValue::S(v));
        }
        item
    }

    fn archived(r: &AuditRecord) -> serde_json::Map<String, Value> {
        // As the archiver writes it: one JSON line, read back.
        let line = serde_json::to_string(r).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    fn window() -> Window {
        Window {
            since: t("2026-12-04T00:00:00Z"),
            until: t("2026-12-04T23:59:59.999Z"),
            now: t("2026-12-04T12:00:00Z"),
            settle: Duration::seconds(60),
        }
    }

    #[test]
    fn times_parse_as_instants_days_or_durations_ago() {
        let now = t("2026-12-04T12:00:00Z");
        assert_eq!(
            parse_time("2026-12-03T10:00:00+01:00", false, now).unwrap(),
            t("2026-12-03T09:00:00Z")
        );
        assert_eq!(
            parse_time("2026-12-03", false, now).unwrap(),
            t("2026-12-03T00:00:00Z")
        );
        assert_eq!(
            parse_time("2026-12-03", true, now).unwrap(),
            t("2026-12-03T23:59:59.999Z")
        );
        assert_eq!(
            parse_time("7d", false, now).unwrap(),
            t("2026-11-27T12:00:00Z")
        );
        assert_eq!(
            parse_time("90m", false, now).unwrap(),
            t("2026-12-04T10:30:00Z")
        );
        assert!(
            parse_time("yesterday", false, now)
                .unwrap_err()
                .contains("RFC 3339")
        );
    }

    #[test]
    fn an_unchanged_table_matches_its_archive() {
        let a = record("01A", "2026-12-04T10:00:00Z", 400);
        let table = BTreeMap::from([("01A".to_owned(), Stored::from_item(&item(&a)))]);
        let archive = BTreeMap::from([("01A".to_owned(), archived(&a))]);
        let f = compare(&table, &archive, &window());
        assert!(!f.tampered(), "{f:#?}");
        assert_eq!(f.equal, 1);
    }

    #[test]
    fn a_changed_field_a_removed_record_and_an_unarchived_one_are_found() {
        let a = record("01A", "2026-12-04T10:00:00Z", 400);
        let b = record("01B", "2026-12-04T10:01:00Z", 400);
        let c = record("01C", "2026-12-04T10:02:00Z", 400);
        let mut tampered = item(&a);
        tampered.insert("outcome".into(), AttributeValue::S("allow".into()));
        tampered.insert("note".into(), AttributeValue::S("added".into()));
        let table = BTreeMap::from([
            ("01A".to_owned(), Stored::from_item(&tampered)),
            ("01C".to_owned(), Stored::from_item(&item(&c))),
        ]);
        let archive = BTreeMap::from([
            ("01A".to_owned(), archived(&a)),
            ("01B".to_owned(), archived(&b)),
        ]);
        let f = compare(&table, &archive, &window());
        assert!(f.tampered());
        assert_eq!(f.changed.len(), 1);
        let fields: Vec<&str> = f.changed[0]
            .fields
            .iter()
            .map(|d| d.field.as_str())
            .collect();
        assert_eq!(fields, ["note", "outcome"]);
        assert_eq!(f.changed[0].fields[1].archive, Some(Value::from("deny")));
        assert_eq!(f.changed[0].fields[1].table, Some(Value::from("allow")));
        assert_eq!(f.missing_from_table[0].id, "01B");
        assert_eq!(f.missing_from_archive[0].id, "01C");
    }

    #[test]
    fn ttl_expiry_and_recent_records_are_not_tampering() {
        // Written 2 days before with 1 day of retention: its TTL has passed.
        let old = record("01O", "2026-12-03T09:00:00Z", 1);
        let recent = record("01R", "2026-12-04T11:59:30Z", 400);
        let table = BTreeMap::from([("01R".to_owned(), Stored::from_item(&item(&recent)))]);
        let archive = BTreeMap::from([("01O".to_owned(), archived(&old))]);
        let w = Window {
            since: t("2026-12-03T00:00:00Z"),
            ..window()
        };
        let f = compare(&table, &archive, &w);
        assert!(!f.tampered(), "{f:#?}");
        assert_eq!((f.expired, f.settling), (1, 1));
    }

    #[test]
    fn a_changed_index_attribute_is_a_change() {
        let a = record("01A", "2026-12-04T10:00:00Z", 400);
        let mut moved = item(&a);
        moved.insert("user_sub".into(), AttributeValue::S("someone-else".into()));
        let table = BTreeMap::from([("01A".to_owned(), Stored::from_item(&moved))]);
        let archive = BTreeMap::from([("01A".to_owned(), archived(&a))]);
        let f = compare(&table, &archive, &window());
        assert_eq!(f.changed[0].fields[0].field, "index.user_sub");
    }

    #[test]
    fn records_outside_the_period_are_not_compared() {
        let before = record("01P", "2026-12-03T23:59:59Z", 400);
        let archive = BTreeMap::from([("01P".to_owned(), archived(&before))]);
        let f = compare(&BTreeMap::new(), &archive, &window());
        assert!(!f.tampered());
        assert_eq!(f.equal + f.expired, 0);
    }

    #[test]
    fn csv_has_the_header_quotes_per_rfc_4180_and_neutralises_formulas() {
        let mut r = record("01A", "2026-12-04T10:00:00Z", 400);
        r.key = Some("=HYPERLINK(\"http://x\"),\n2.pdf".into());
        r.reason = "-1+2".into();
        let mut w = RecordWriter::new(ExportFormat::Csv, Vec::new());
        w.write(&r).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let mut lines = text.split("\r\n");
        assert_eq!(
            lines.next().unwrap(),
            "id,time,user_sub,username,email,groups,action,bucket,key,outcome,basis,rule_group,rule_kind,rule_path,rule_access,reason,status,source_ip,user_agent,request_id,detail,expires_at"
        );
        assert!(
            text.contains(",\"'=HYPERLINK(\"\"http://x\"\"),\n2.pdf\","),
            "{text}"
        );
        assert!(text.contains(",'-1+2,"), "{text}");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][8], "'=HYPERLINK(\"http://x\"),\n2.pdf");
    }

    #[test]
    fn an_empty_export_still_has_its_header() {
        let w = RecordWriter::new(ExportFormat::Csv, Vec::new());
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(text.starts_with("id,time,") && text.ends_with("expires_at\r\n"));
        let j = RecordWriter::new(ExportFormat::Jsonl, Vec::new());
        assert!(j.finish().unwrap().is_empty());
    }

    #[test]
    fn archive_prefixes_cover_the_day_before() {
        let p = archive_prefixes(t("2026-12-01T10:00:00Z"), t("2026-12-02T01:00:00Z"));
        assert_eq!(
            p,
            [
                "audit/2026/11/30/",
                "audit/2026/12/01/",
                "audit/2026/12/02/"
            ]
        );
    }

    #[test]
    fn stored_numbers_are_json_numbers() {
        let a = record("01A", "2026-12-04T10:00:00Z", 400);
        let s = Stored::from_item(&item(&a));
        assert_eq!(s.record.get("status"), Some(&Value::from(403)));
        assert_eq!(s.record.get("expires_at"), Some(&Value::from(a.expires_at)));
        assert_eq!(s.index.len(), 4);
    }
}
