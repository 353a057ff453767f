//! `bucketdrive audit query|export|verify`: the audit log read from the table's indexes with the
//! plan the API runs (`core::audit_query::plan`), page by page. Every read is itself recorded
//! (`audit-read`, the AWS caller as the actor, the filter as the detail) before any record is
//! printed.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bucketdrive_core::audit::{AuditAction, AuditRecord, Basis, Outcome};
use bucketdrive_core::audit_query::{AuditFilter, plan};
use bucketdrive_core::config::ValidConfig;
use bucketdrive_core::path::S3Path;
use chrono::{DateTime, SubsecRound, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::audit::{
    self, ExportFormat, Findings, Item, Pager, RecordWriter, Stored, Window, record_of, time_text,
};
use crate::aws::{Aws, describe};
use crate::cli::{
    AuditCommand, AuditExportArgs, AuditFilterArgs, AuditQueryArgs, AuditVerifyArgs, ConfigArg,
    DecisionArg, GlobalArgs, QueryFormat,
};
use crate::config_file;
use crate::exit::Exit;
use crate::live::{self, Deployment};
use crate::output::{Format, Ui};
use crate::state::Targets;

pub async fn run(cmd: &AuditCommand, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    match cmd {
        AuditCommand::Query(a) => query(a, global, ui).await,
        AuditCommand::Export(a) => export(a, global, ui).await,
        AuditCommand::Verify(a) => verify(a, global, ui).await,
    }
}

/// The deployment an audit command reads.
struct Ctx {
    valid: ValidConfig,
    aws: Aws,
    dep: Deployment,
    table: String,
    actor: String,
}

async fn connect(config: &ConfigArg, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Ctx> {
    let valid = config_file::load(&config.config, ui)?;
    let aws = super::deploy::connect(global, &valid).await?;
    let dep = Deployment::require(&aws, &valid).await?;
    let table = dep.output("AuditTableName")?.to_owned();
    let actor = live::actor(&aws).await;
    Ok(Ctx {
        valid,
        aws,
        dep,
        table,
        actor,
    })
}

/// `--since`/`--until` as a period; `--until` before `--since` is an error naming both.
fn period(
    since: Option<&str>,
    until: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let since = match since {
        Some(s) => audit::parse_time(s, false, now).map_err(|e| anyhow::anyhow!("--since: {e}"))?,
        None => now - chrono::Duration::hours(24),
    };
    let until = match until {
        Some(u) => audit::parse_time(u, true, now).map_err(|e| anyhow::anyhow!("--until: {e}"))?,
        None => now,
    };
    // Records are stored to the millisecond: so are the bounds (and the filter a read records).
    let (since, until) = (since.trunc_subsecs(3), until.trunc_subsecs(3));
    if until < since {
        bail!(
            "--until ({}) is before --since ({}); swap them",
            time_text(until),
            time_text(since)
        );
    }
    Ok((since, until))
}

/// A `--user` as the `sub` the records carry: an ARN as it is (CLI changes), else the user
/// pool's `sub` of that username, email or sub.
async fn resolve_user(aws: &Aws, t: &Targets, user: &str, ui: &Ui) -> anyhow::Result<String> {
    let user = user.trim();
    if user.starts_with("arn:") {
        return Ok(user.to_owned());
    }
    if let Ok(u) = crate::users::get(aws, t, user).await {
        return Ok(u.sub);
    }
    if user.contains(['"', '\\']) {
        bail!("--user `{user}` is not a username, email, sub or ARN");
    }
    for attribute in ["email", "sub"] {
        let found = aws
            .cognito()
            .list_users()
            .user_pool_id(&t.user_pool_id)
            .filter(format!("{attribute} = \"{user}\""))
            .limit(2)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot look `{user}` up in user pool `{}`: {}",
                    t.user_pool_id,
                    describe(e)
                )
            })?;
        if let Some(u) = found.users().first() {
            let sub = u
                .attributes()
                .iter()
                .find(|a| a.name() == "sub")
                .and_then(|a| a.value());
            if let Some(sub) = sub {
                return Ok(sub.to_owned());
            }
        }
    }
    let looks_like_sub =
        user.len() == 36 && user.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if looks_like_sub {
        ui.warn(format!(
            "no user with sub `{user}` in the pool (removed?); showing the records of that sub"
        ));
        return Ok(user.to_owned());
    }
    bail!(
        "no user `{user}` in user pool `{}`; pass an email or username of the pool, a user's sub (records of removed users keep it), or an AWS ARN for changes made with the CLI",
        t.user_pool_id
    )
}

/// The filter the flags describe, checked against the plan (so a range too long for `by-day`
/// fails before anything is read or recorded).
async fn filter_of(
    ctx: &Ctx,
    f: &AuditFilterArgs,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    ui: &Ui,
) -> anyhow::Result<AuditFilter> {
    let user = match &f.user {
        Some(u) => Some(resolve_user(&ctx.aws, &ctx.dep.targets()?, u, ui).await?),
        None => None,
    };
    let path = match &f.path {
        Some(p) => Some(
            S3Path::parse(p)
                .map_err(|e| {
                    anyhow::anyhow!("--path: {e}; write `s3://bucket/key` or `s3://bucket/prefix/`")
                })?
                .to_string(),
        ),
        None => None,
    };
    let filter = AuditFilter {
        user,
        path,
        action: f.action,
        outcome: f.decision.map(|d| match d {
            DecisionArg::Allow => Outcome::Allow,
            DecisionArg::Deny => Outcome::Deny,
        }),
        since,
        until,
    };
    plan(&filter).map_err(|e| {
        anyhow::anyhow!("{e}: pass a shorter --since/--until, or --user or an object --path")
    })?;
    Ok(filter)
}

/// Records this read of the audit log. The detail is the filter as JSON (as the API records
/// it), with the command that read.
/// Returns the record's id (a read does not list itself).
async fn record_read(ctx: &Ctx, command: &str, filter: &AuditFilter) -> anyhow::Result<String> {
    let mut detail = serde_json::to_value(filter)?;
    if let Value::Object(m) = &mut detail {
        m.insert("command".into(), Value::String(format!("audit {command}")));
    }
    crate::deploy::write_cli_record(
        &ctx.aws,
        &ctx.table,
        AuditAction::AuditRead,
        &ctx.actor,
        &detail.to_string(),
        Basis::Admin,
        "read the audit log with the bucketdrive CLI (AWS credentials)",
    )
    .await
    .context("nothing was read: every read of the audit log is recorded first")
}

/// Reads pages until `want` records (all with `None`), handing each record to `sink`. Items that
/// are not records are warned about and counted. Returns (records, unreadable ids).
async fn read_records(
    pager: &mut Pager,
    skip: &str,
    want: Option<usize>,
    ui: &Ui,
    what: &str,
    mut sink: impl FnMut(AuditRecord) -> anyhow::Result<()>,
) -> anyhow::Result<(usize, Vec<String>)> {
    let spinner = ui.spinner(what);
    let mut count = 0;
    let mut unreadable = Vec::new();
    'pages: while let Some(page) = pager.next_page().await? {
        for item in &page {
            match record_of(item) {
                Ok(r) if r.id == skip => {}
                Ok(r) => {
                    sink(r)?;
                    count += 1;
                    if want.is_some_and(|w| count >= w) {
                        break 'pages;
                    }
                }
                Err(e) => {
                    if let Some(s) = &spinner {
                        s.suspend(|| ui.warn(&e));
                    } else {
                        ui.warn(&e);
                    }
                    unreadable.push(
                        item.get("id")
                            .and_then(|v| v.as_s().ok())
                            .cloned()
                            .unwrap_or_default(),
                    );
                }
            }
        }
        if let Some(s) = &spinner {
            s.set_message(format!(
                "{what}: {count} record(s){}",
                pager
                    .partition()
                    .map(|p| format!(", reading {p}"))
                    .unwrap_or_default()
            ));
        }
    }
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    Ok((count, unreadable))
}

fn broken_pipe_ok(r: std::io::Result<()>) -> anyhow::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

// ------------------------------------------------------------------------------------ query

/// What `audit query` found.
#[derive(Debug, Serialize)]
pub struct QueryResult {
    pub stack: String,
    pub filter: AuditFilter,
    pub count: usize,
    /// More records match than `--limit` allowed.
    pub truncated: bool,
    pub records: Vec<AuditRecord>,
    /// Items of the table that are not audit records (changed outside BucketDrive?).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
    /// Emails found in the user pool for the records' subs (for people; records keep theirs).
    #[serde(skip)]
    pub emails: BTreeMap<String, String>,
}

impl QueryResult {
    fn who(&self, r: &AuditRecord) -> String {
        let u = &r.user;
        if let Some(e) = &u.email {
            return e.clone();
        }
        if let Some(e) = u.sub.as_ref().and_then(|s| self.emails.get(s)) {
            return e.clone();
        }
        match (&u.username, &u.sub) {
            (Some(name), sub) if Some(name) != sub.as_ref() => name.clone(),
            (_, Some(sub)) => sub.clone(),
            _ => "-".to_owned(),
        }
    }
}

impl fmt::Display for QueryResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let range = format!(
            "{} .. {}",
            time_text(self.filter.since),
            time_text(self.filter.until)
        );
        if self.records.is_empty() {
            return write!(f, "no records match in {range}");
        }
        let rows: Vec<[String; 5]> = self
            .records
            .iter()
            .map(|r| {
                let decision = format!(
                    "{} ({})",
                    match r.outcome {
                        Outcome::Allow => "allow",
                        Outcome::Deny => "deny",
                    },
                    serde_json::to_value(r.basis)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                );
                [
                    r.time_text(),
                    r.action.as_str().to_owned(),
                    decision,
                    self.who(r),
                    r.object().or_else(|| r.detail.clone()).unwrap_or_default(),
                ]
            })
            .collect();
        let headers = ["TIME", "ACTION", "DECISION", "USER", "OBJECT / DETAIL"];
        let mut widths = headers.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 5]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i == 4 {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:w$}  ", w = widths[i]));
                }
            }
            s.trim_end().to_owned()
        };
        write!(f, "{}", line(headers))?;
        for row in &rows {
            write!(
                f,
                "\n{}",
                line([&row[0], &row[1], &row[2], &row[3], &row[4]])
            )?;
        }
        write!(
            f,
            "\n{} record(s) in {range}, newest first",
            self.records.len()
        )?;
        if self.truncated {
            write!(
                f,
                "; more match: raise --limit, narrow the filter, or `bucketdrive audit export`"
            )?;
        }
        Ok(())
    }
}

/// Emails of the records' users, from the user pool (at most 100 look-ups; best effort).
async fn emails_of(aws: &Aws, t: &Targets, records: &[AuditRecord]) -> BTreeMap<String, String> {
    let mut subs: Vec<&str> = records
        .iter()
        .filter(|r| r.user.email.is_none())
        .filter_map(|r| r.user.sub.as_deref())
        .filter(|s| !s.starts_with("arn:") && !s.contains(['"', '\\']))
        .collect();
    subs.sort_unstable();
    subs.dedup();
    let mut out = BTreeMap::new();
    for sub in subs.into_iter().take(100) {
        let Ok(found) = aws
            .cognito()
            .list_users()
            .user_pool_id(&t.user_pool_id)
            .filter(format!("sub = \"{sub}\""))
            .limit(1)
            .send()
            .await
        else {
            break;
        };
        let email = found
            .users()
            .first()
            .and_then(|u| u.attributes().iter().find(|a| a.name() == "email"))
            .and_then(|a| a.value());
        if let Some(e) = email {
            out.insert(sub.to_owned(), e.to_owned());
        }
    }
    out
}

async fn query(a: &AuditQueryArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let ctx = connect(&a.config, global, ui).await?;
    let now = Utc::now();
    let (since, until) = period(a.since.as_deref(), a.until.as_deref(), now)?;
    let filter = filter_of(&ctx, &a.filter, since, until, ui).await?;
    let own = record_read(&ctx, "query", &filter).await?;
    let limit = a.limit as usize;
    let mut pager = Pager::new(ctx.aws.dynamodb(), &ctx.table, &filter)?;
    pager.page_size = Some(i32::try_from(limit + 1).unwrap_or(1000).clamp(25, 1000));
    let mut records = Vec::new();
    let (_, unreadable) = read_records(
        &mut pager,
        &own,
        Some(limit + 1),
        ui,
        "reading the audit log",
        |r| {
            records.push(r);
            Ok(())
        },
    )
    .await?;
    let truncated = records.len() > limit;
    records.truncate(limit);
    match a.format {
        QueryFormat::Csv | QueryFormat::Jsonl => {
            let format = if a.format == QueryFormat::Csv {
                ExportFormat::Csv
            } else {
                ExportFormat::Jsonl
            };
            let mut w = RecordWriter::new(format, std::io::BufWriter::new(std::io::stdout()));
            let written = (|| {
                for r in &records {
                    w.write(r)?;
                }
                w.finish().map(|_| ())
            })();
            broken_pipe_ok(written)?;
            if truncated {
                ui.warn(format!(
                    "more than {limit} records match; raise --limit or use `bucketdrive audit export`"
                ));
            }
        }
        QueryFormat::Table => {
            let emails = if ui.format == Format::Text {
                emails_of(&ctx.aws, &ctx.dep.targets()?, &records).await
            } else {
                BTreeMap::new()
            };
            ui.result(&QueryResult {
                stack: ctx.valid.config.stack.clone(),
                filter,
                count: records.len(),
                truncated,
                records,
                unreadable,
                emails,
            })?;
        }
    }
    Ok(Exit::Ok)
}

// ----------------------------------------------------------------------------------- export

#[derive(Debug, Serialize)]
pub struct ExportResult {
    pub stack: String,
    pub file: String,
    pub format: &'static str,
    pub records: usize,
    pub since: String,
    pub until: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

impl fmt::Display for ExportResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exported {} record(s) from {} to {} as {} to {}",
            self.records, self.since, self.until, self.format, self.file
        )?;
        if !self.unreadable.is_empty() {
            write!(
                f,
                "\n{} item(s) of the table are not audit records and were left out: {} (`bucketdrive audit verify` compares them with the archive)",
                self.unreadable.len(),
                self.unreadable.join(", ")
            )?;
        }
        Ok(())
    }
}

fn temp_path(out: &Path) -> PathBuf {
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audit".to_owned());
    dir.join(format!(".{name}.bucketdrive-tmp"))
}

async fn export(a: &AuditExportArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let format = a.format.unwrap_or_else(|| {
        match a
            .out
            .as_ref()
            .and_then(|o| o.extension())
            .and_then(|e| e.to_str())
        {
            Some("jsonl" | "ndjson") => ExportFormat::Jsonl,
            _ => ExportFormat::Csv,
        }
    });
    let ctx = connect(&a.config, global, ui).await?;
    let now = Utc::now();
    let (since, until) = period(Some(&a.since), Some(&a.until), now)?;
    let filter = filter_of(&ctx, &a.filter, since, until, ui).await?;
    let tmp = a.out.as_deref().map(temp_path);
    let sink: Box<dyn Write> = match &tmp {
        Some(t) => Box::new(
            std::fs::File::create(t)
                .with_context(|| format!("cannot write `{}`; pass another --out", t.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let own = match record_read(&ctx, "export", &filter).await {
        Ok(id) => id,
        Err(e) => {
            if let Some(t) = &tmp {
                let _ = std::fs::remove_file(t);
            }
            return Err(e);
        }
    };
    let mut writer = RecordWriter::new(format, std::io::BufWriter::new(sink));
    let mut pager = Pager::new(ctx.aws.dynamodb(), &ctx.table, &filter)?;
    let mut io_error = None;
    let read = read_records(&mut pager, &own, None, ui, "exporting the audit log", |r| {
        if io_error.is_none()
            && let Err(e) = writer.write(&r)
        {
            io_error = Some(e);
        }
        Ok(())
    })
    .await;
    let finished = match io_error {
        Some(e) => Err(e),
        None => writer.finish().and_then(|mut w| w.flush()),
    };
    let (count, unreadable) = match (read, finished) {
        (Ok(r), Ok(())) => r,
        (read, finished) => {
            if let Some(t) = &tmp {
                let _ = std::fs::remove_file(t);
            }
            if let Err(e) = finished {
                if tmp.is_none() && e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(Exit::Ok);
                }
                return Err(anyhow::Error::new(e).context("cannot write the export"));
            }
            return Err(read
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("the export failed"))
                .context("the export is incomplete and was not written"));
        }
    };
    let format_name = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::Jsonl => "jsonl",
    };
    let result = ExportResult {
        stack: ctx.valid.config.stack.clone(),
        file: a
            .out
            .as_ref()
            .map_or_else(|| "stdout".to_owned(), |o| o.display().to_string()),
        format: format_name,
        records: count,
        since: time_text(since),
        until: time_text(until),
        unreadable,
    };
    match (&tmp, &a.out) {
        (Some(t), Some(out)) => {
            std::fs::rename(t, out)
                .with_context(|| format!("cannot replace `{}`", out.display()))?;
            ui.result(&result)?;
        }
        _ => ui.status(result.to_string()),
    }
    Ok(Exit::Ok)
}

// ----------------------------------------------------------------------------------- verify

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub stack: String,
    pub since: String,
    pub until: String,
    pub archive_bucket: String,
    pub settle_seconds: i64,
    /// Records the table's `by-day` index holds for the period.
    pub table_records: usize,
    /// Records the archive holds for the period.
    pub archived_records: usize,
    pub archive_objects: usize,
    /// True when nothing below was found.
    pub consistent: bool,
    #[serde(flatten)]
    pub findings: Findings,
    /// Archive lines that are not JSON records (`<object key>:<line>`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable_archive_lines: Vec<String>,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = &self.findings;
        write!(
            f,
            "audit of stack `{}` from {} to {}\n  table: {} record(s); archive s3://{}: {} record(s) in {} object(s)",
            self.stack,
            self.since,
            self.until,
            self.table_records,
            self.archive_bucket,
            self.archived_records,
            self.archive_objects
        )?;
        if x.expired > 0 {
            write!(
                f,
                "\n  {} archived record(s) have left the table by their TTL (expected)",
                x.expired
            )?;
        }
        if x.settling > 0 {
            write!(
                f,
                "\n  {} table record(s) younger than {} s are not expected in the archive yet",
                x.settling, self.settle_seconds
            )?;
        }
        if self.consistent {
            return write!(
                f,
                "\nconsistent: every archived record is in the table unchanged ({} compared), and every table record is archived",
                x.equal
            );
        }
        write!(
            f,
            "\nTAMPERING FOUND: {} changed, {} removed from the table, {} missing from the archive{}",
            x.changed.len(),
            x.missing_from_table.len(),
            x.missing_from_archive.len(),
            if self.unreadable_archive_lines.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} unreadable archive line(s)",
                    self.unreadable_archive_lines.len()
                )
            }
        )?;
        for c in &x.changed {
            write!(f, "\nchanged  {}", c.record)?;
            for d in &c.fields {
                let show = |v: &Option<Value>| {
                    v.as_ref()
                        .map_or_else(|| "(absent)".to_owned(), Value::to_string)
                };
                write!(
                    f,
                    "\n    {}: archive {} → table {}",
                    d.field,
                    show(&d.archive),
                    show(&d.table)
                )?;
            }
        }
        for r in &x.missing_from_table {
            write!(
                f,
                "\nremoved  {r}  (archived, not in the table, not expired)"
            )?;
        }
        for r in &x.missing_from_archive {
            write!(f, "\nunarchived  {r}  (in the table, never archived)")?;
        }
        for l in &self.unreadable_archive_lines {
            write!(f, "\nunreadable archive line  {l}")?;
        }
        Ok(())
    }
}

/// Every record of the archive objects under `prefixes`, by id, with the objects read and the
/// lines that are not records.
async fn read_archive(
    aws: &Aws,
    bucket: &str,
    prefixes: &[String],
    ui: &Ui,
) -> anyhow::Result<(
    BTreeMap<String, serde_json::Map<String, Value>>,
    usize,
    Vec<String>,
)> {
    let s3 = aws.s3();
    let mut keys = Vec::new();
    for prefix in prefixes {
        let mut pages = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                anyhow::anyhow!(
                    "cannot list the archive s3://{bucket}/{prefix}: {}",
                    describe(e)
                )
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
    }
    let spinner = ui.spinner("reading the archive");
    let total = keys.len();
    let mut bodies = futures_util::stream::iter(keys.into_iter().map(|key| {
        let s3 = s3.clone();
        async move {
            let got = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("cannot read s3://{bucket}/{key}: {}", describe(e)))?;
            let bytes = got
                .body
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("cannot read s3://{bucket}/{key}: {e}"))?
                .into_bytes();
            anyhow::Ok((key, bytes))
        }
    }))
    .buffer_unordered(16);
    let mut records = BTreeMap::new();
    let mut unreadable = Vec::new();
    let mut done = 0;
    while let Some(next) = bodies.next().await {
        let (key, bytes) = next?;
        done += 1;
        if let Some(s) = &spinner {
            s.set_message(format!("reading the archive: {done}/{total} object(s)"));
        }
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(m)) if m.get("id").and_then(Value::as_str).is_some() => {
                    let id = m.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
                    records.entry(id).or_insert(m);
                }
                _ => unreadable.push(format!("{key}:{}", n + 1)),
            }
        }
    }
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    Ok((records, total, unreadable))
}

/// Items by id (consistent reads), for archived records the index query did not return.
async fn get_items(aws: &Aws, table: &str, ids: Vec<String>) -> anyhow::Result<Vec<Item>> {
    let ddb = aws.dynamodb();
    let mut found = Vec::new();
    let mut gets = futures_util::stream::iter(ids.into_iter().map(|id| {
        let ddb = ddb.clone();
        async move {
            ddb.get_item()
                .table_name(table)
                .key("id", aws_sdk_dynamodb::types::AttributeValue::S(id.clone()))
                .consistent_read(true)
                .send()
                .await
                .map(|r| r.item)
                .map_err(|e| anyhow::anyhow!("cannot read audit item `{id}`: {}", describe(e)))
        }
    }))
    .buffer_unordered(16);
    while let Some(item) = gets.next().await {
        if let Some(item) = item? {
            found.push(item);
        }
    }
    Ok(found)
}

async fn verify(a: &AuditVerifyArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let valid = config_file::load(&a.config.config, ui)?;
    if !valid.config.audit.archive {
        bail!(
            "`audit verify` compares the audit table with its archive, and {} has none: set `audit: {{ archive: true }}` and run `bucketdrive apply -c {}`",
            valid.file,
            valid.file
        );
    }
    let settle = humantime::parse_duration(&a.settle)
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .with_context(|| {
            format!(
                "--settle `{}` is not a duration such as 60s or 5m",
                a.settle
            )
        })?;
    let ctx = connect(&a.config, global, ui).await?;
    let bucket = ctx
        .dep
        .outputs
        .get("ArchiveBucketName")
        .cloned()
        .with_context(|| {
            format!(
                "stack `{}` has no audit archive yet (output ArchiveBucketName); deploy the config's `audit.archive: true` with `bucketdrive apply -c {}`",
                ctx.dep.stack, ctx.valid.file
            )
        })?;
    let now = Utc::now();
    let (since, until) = period(a.since.as_deref(), a.until.as_deref(), now)?;
    let filter = AuditFilter {
        user: None,
        path: None,
        action: None,
        outcome: None,
        since,
        until,
    };
    plan(&filter).map_err(|e| anyhow::anyhow!("{e}: verify a shorter period (--since/--until)"))?;

    // The table, from the by-day index.
    let mut pager = Pager::new(ctx.aws.dynamodb(), &ctx.table, &filter)?;
    let spinner = ui.spinner("reading the audit table");
    let mut table: BTreeMap<String, Stored> = BTreeMap::new();
    while let Some(page) = pager.next_page().await? {
        for item in &page {
            let stored = Stored::from_item(item);
            table.insert(stored.id().to_owned(), stored);
        }
        if let Some(s) = &spinner {
            s.set_message(format!(
                "reading the audit table: {} record(s)",
                table.len()
            ));
        }
    }
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let table_records = table.len();

    // The archive, for the period's days and the day before.
    let (archive, objects, unreadable) = read_archive(
        &ctx.aws,
        &bucket,
        &audit::archive_prefixes(since, until),
        ui,
    )
    .await?;
    let window = Window {
        since,
        until,
        now,
        settle,
    };
    let in_period = |m: &serde_json::Map<String, Value>| {
        m.get("time")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t >= since && t <= until)
    };
    // Archived records the index did not return may still be in the table under changed index
    // attributes: fetch them by key, so they are reported as changed rather than removed.
    let absent: Vec<String> = archive
        .iter()
        .filter(|(id, m)| in_period(m) && !table.contains_key(*id))
        .map(|(id, _)| id.clone())
        .collect();
    for item in get_items(&ctx.aws, &ctx.table, absent).await? {
        let stored = Stored::from_item(&item);
        table.insert(stored.id().to_owned(), stored);
    }
    let archived_records = archive.values().filter(|m| in_period(m)).count();
    let findings = audit::compare(&table, &archive, &window);
    let consistent = !findings.tampered() && unreadable.is_empty();
    let report = VerifyReport {
        stack: ctx.dep.stack.clone(),
        since: time_text(since),
        until: time_text(until),
        archive_bucket: bucket,
        settle_seconds: settle.num_seconds(),
        table_records,
        archived_records,
        archive_objects: objects,
        consistent,
        findings,
        unreadable_archive_lines: unreadable,
    };
    // Recorded after the period was read (so it is not part of it), before anything is shown.
    record_read(&ctx, "verify", &filter).await?;
    ui.result(&report)?;
    Ok(if consistent { Exit::Ok } else { Exit::Tampered })
}
