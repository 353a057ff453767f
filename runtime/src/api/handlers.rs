//! One function per route. Each decides with the core engine, writes its audit record (before
//! answering; concurrently with the one S3 call it needs, if any) and answers.

use std::time::Duration;

use bucketdrive_core::audit::{AuditAction, Basis, Outcome, RecordBuilder};
use bucketdrive_core::path::{S3Path, validate_object_key};
use bucketdrive_core::policy::{Action, Decision};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::http::{ApiError, Request, json_response};
use super::{Answer, App, Caller, cursor};
use crate::ports::{AuditQuery, ObjectMeta, PresignOp, PresignRequest};
use crate::settings::BucketInfo;
use bucketdrive_core::audit_query::{AuditFilter, plan};

/// Above this size an upload is multipart.
pub const MULTIPART_THRESHOLD: u64 = 100 * 1024 * 1024;
const MIN_PART_SIZE: u64 = 64 * 1024 * 1024;
const MAX_PARTS: u64 = 10_000;
/// Upload URLs live up to the clamp's maximum: large files take time to send.
const UPLOAD_URL_TTL: Duration = bucketdrive_core::config::URL_TTL_MAX;
const DEFAULT_PAGE: i32 = 200;
const MAX_PAGE: i32 = 1000;

fn ok<T: Serialize>(value: &T) -> Result<Answer, ApiError> {
    Ok(Answer {
        response: json_response(200, value),
    })
}

/// Parses a path from a request, as one object or as a folder.
fn parse_path(text: &str, object: bool) -> Result<S3Path, ApiError> {
    let path =
        S3Path::parse(text).map_err(|e| ApiError::BadRequest(format!("invalid path: {e}")))?;
    if object {
        validate_object_key(path.key())
            .map_err(|e| ApiError::BadRequest(format!("invalid path: {e}")))?;
    }
    Ok(path)
}

pub(crate) async fn me(
    app: &App,
    caller: &Caller,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let admins = match app.policies.admin_groups().await {
        Ok(a) => a,
        Err(_) => {
            return app
                .refuse(
                    caller,
                    AuditAction::Me,
                    req,
                    now,
                    Basis::Unavailable,
                    ApiError::unavailable(),
                )
                .await;
        }
    };
    let is_admin = caller.principal.groups.iter().any(|g| admins.contains(g));
    let grants: Vec<_> = caller
        .policy
        .held_grants(&caller.principal, now)
        .iter()
        .map(|h| {
            json!({
                "group": h.group,
                "path": h.grant.path.to_string(),
                "access": h.grant.access.to_string(),
                "until": h.grant.until.as_ref().map(ToString::to_string),
            })
        })
        .collect();
    let record = app
        .caller_record(caller, AuditAction::Me, req, now)
        .outcome(Outcome::Allow, Basis::Authenticated, "signed in", 200);
    app.write(&record).await?;
    ok(&json!({
        "sub": caller.identity.sub,
        "username": caller.identity.username,
        "groups": caller.principal.groups,
        "admin": is_admin,
        "grants": grants,
        "limits": {
            "url_ttl_seconds": app.settings.url_ttl.as_secs(),
            "max_upload_bytes": app.settings.max_upload_bytes,
            "multipart_threshold_bytes": MULTIPART_THRESHOLD,
        },
    }))
}

#[derive(Debug, Serialize)]
struct Entry {
    name: String,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified: Option<DateTime<Utc>>,
}

impl Entry {
    fn folder(path: &S3Path) -> Entry {
        Entry {
            name: path.name().to_owned(),
            path: path.to_string(),
            size: None,
            last_modified: None,
        }
    }

    fn file(path: &S3Path, meta: &ObjectMeta) -> Entry {
        Entry {
            name: path.name().to_owned(),
            path: path.to_string(),
            size: Some(meta.size),
            last_modified: meta.last_modified,
        }
    }
}

pub(crate) async fn list(
    app: &App,
    caller: &Caller,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let refuse =
        |err: ApiError| app.refuse(caller, AuditAction::List, req, now, Basis::BadRequest, err);
    let limit = match req.query.get("limit").map(|l| l.parse::<i32>()) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            return refuse(ApiError::BadRequest(format!(
                "`limit` is a number from 1 to {MAX_PAGE}"
            )))
            .await;
        }
    };
    let path_text = req.query.get("path").map(String::as_str).unwrap_or("");
    if path_text.is_empty() {
        return roots(app, caller, req, now).await;
    }
    let folder = match parse_path(path_text, false) {
        Ok(p) => p.to_folder(),
        Err(e) => return refuse(e).await,
    };
    let plan = match caller.policy.plan_listing(&caller.principal, &folder, now) {
        Ok(plan) => plan,
        Err(decision) => {
            let record = app
                .caller_record(caller, AuditAction::List, req, now)
                .path(folder.bucket(), folder.key())
                .decision(&decision, 403);
            app.write(&record).await?;
            return Err(ApiError::Forbidden(decision.to_string()));
        }
    };
    let builder = app
        .caller_record(caller, AuditAction::List, req, now)
        .path(folder.bucket(), folder.key());

    let Some(prefix) = plan.list_prefix.as_deref() else {
        // Above the grants: synthesise the way down; stat the objects granted by name.
        let record = builder.outcome(
            Outcome::Allow,
            Basis::LeadsToGrant,
            format!(
                "showing only the {} folder(s) and {} file(s) that lead to the caller's grants",
                plan.folders.len(),
                plan.objects.len()
            ),
            200,
        );
        let heads = join_all(
            plan.objects
                .iter()
                .map(|k| app.objects.head(folder.bucket(), k)),
        );
        let (written, heads) = futures_util::join!(app.write(&record), heads);
        written?;
        let mut files = Vec::new();
        for (key, head) in plan.objects.iter().zip(heads) {
            let meta = head.map_err(|_| ApiError::unavailable())?;
            if let (Some(meta), Ok(path)) = (meta, S3Path::new(folder.bucket(), key)) {
                files.push(Entry::file(&path, &meta));
            }
        }
        let folders: Vec<Entry> = plan
            .folders
            .iter()
            .filter_map(|name| folder.child(&format!("{name}/")).ok())
            .map(|p| Entry::folder(&p))
            .collect();
        return ok(
            &json!({ "path": folder.to_string(), "folders": folders, "files": files, "cursor": null }),
        );
    };

    let token = match req.query.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => match cursor::decode(c, &folder.to_string()) {
            Ok(t) => Some(t),
            Err(e) => return refuse(e).await,
        },
        None => None,
    };
    let record = builder.decision(&plan.decision, 200);
    let (written, page) = futures_util::join!(
        app.write(&record),
        app.objects
            .list(folder.bucket(), prefix, token.as_deref(), limit)
    );
    written?;
    let page = page.map_err(|_| ApiError::unavailable())?;
    let readable = |p: &S3Path| {
        caller
            .policy
            .decide(&caller.principal, Action::Read, p, now)
            .is_allowed()
    };
    // Keys S3 holds but BucketDrive refuses as path syntax (`a//b`, `..`) are left out: they
    // could not be downloaded through the API either.
    let folders: Vec<Entry> = page
        .folders
        .iter()
        .filter_map(|f| S3Path::new(folder.bucket(), f).ok())
        .filter(|p| readable(p))
        .map(|p| Entry::folder(&p))
        .collect();
    let files: Vec<Entry> = page
        .objects
        .iter()
        .filter_map(|o| S3Path::new(folder.bucket(), &o.key).ok().map(|p| (p, o)))
        .filter(|(p, _)| !p.is_prefix() && readable(p))
        .map(|(p, o)| Entry::file(&p, o))
        .collect();
    let next = page
        .next
        .as_deref()
        .map(|t| cursor::encode(&folder.to_string(), t));
    ok(&json!({ "path": folder.to_string(), "folders": folders, "files": files, "cursor": next }))
}

async fn roots(
    app: &App,
    caller: &Caller,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let roots = caller.policy.roots(&caller.principal, now);
    let record = app
        .caller_record(caller, AuditAction::List, req, now)
        .outcome(
            Outcome::Allow,
            Basis::LeadsToGrant,
            format!("listed the caller's {} entry point(s)", roots.len()),
            200,
        );
    app.write(&record).await?;
    let entries: Vec<_> = roots
        .iter()
        .map(|r| {
            json!({
                "name": if r.path.key().is_empty() { r.path.bucket().to_owned() } else { r.path.to_string() },
                "path": r.path.to_string(),
                "kind": if r.path.is_prefix() { "folder" } else { "file" },
                "group": r.group,
            })
        })
        .collect();
    ok(&json!({ "path": null, "roots": entries }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadBody {
    path: String,
    /// Ask for a shorter-lived URL than the deployment's maximum.
    #[serde(default)]
    ttl_seconds: Option<u64>,
}

/// One object, decided, audited and looked up: what download and upload share.
struct Authorized<'a> {
    path: S3Path,
    bucket: &'a BucketInfo,
    decision: Decision<'a>,
    /// For a follow-up record about the same request.
    builder: RecordBuilder,
    /// The object as S3 has it, if it exists.
    head: Option<ObjectMeta>,
}

/// Decides `right` on `path` for the caller. A refusal — or a bucket this deployment does not
/// serve — is audited and answered 403. An allow is audited concurrently with the existence
/// check: one network round trip on the critical path.
async fn authorize_object<'a>(
    app: &'a App,
    caller: &'a Caller,
    req: &Request,
    now: DateTime<Utc>,
    (action, right): (AuditAction, Action),
    path: S3Path,
    detail: Option<String>,
) -> Result<Authorized<'a>, ApiError> {
    let mut builder = app
        .caller_record(caller, action, req, now)
        .path(path.bucket(), path.key());
    if let Some(d) = detail {
        builder = builder.detail(d);
    }
    let decision = caller.policy.decide(&caller.principal, right, &path, now);
    let Some(bucket) = app
        .settings
        .bucket(path.bucket())
        .filter(|_| decision.is_allowed())
    else {
        app.write(&builder.decision(&decision, 403)).await?;
        return Err(ApiError::Forbidden(decision.to_string()));
    };
    let record = builder.clone().decision(&decision, 200);
    let (written, head) = futures_util::join!(
        app.write(&record),
        app.objects.head(path.bucket(), path.key())
    );
    written?;
    let head = head.map_err(|_| ApiError::unavailable())?;
    Ok(Authorized {
        path,
        bucket,
        decision,
        builder,
        head,
    })
}

impl Authorized<'_> {
    /// The allow record is already written; this one says why no URL was issued after all.
    async fn refuse_after(
        self,
        app: &App,
        now: DateTime<Utc>,
        basis: Basis,
        reason: &str,
        err: ApiError,
    ) -> Result<Answer, ApiError> {
        let record = self.builder.with_id(super::new_id(now)).allowed_then(
            &self.decision,
            basis,
            reason,
            err.status(),
        );
        app.write(&record).await?;
        Err(err)
    }

    fn presign_request(&self, op: PresignOp, ttl: Duration) -> PresignRequest {
        PresignRequest {
            bucket: self.bucket.name.clone(),
            region: self.bucket.region.clone(),
            key: self.path.key().to_owned(),
            op,
            ttl,
        }
    }
}

pub(crate) async fn download(
    app: &App,
    caller: &Caller,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let action = AuditAction::Download;
    let input = (|| {
        let body: DownloadBody = req.json()?;
        let path = parse_path(&body.path, true)?;
        let max = app.settings.url_ttl;
        let ttl = match body.ttl_seconds {
            None => max,
            Some(t) if (1..=max.as_secs()).contains(&t) => Duration::from_secs(t),
            Some(t) => {
                return Err(ApiError::BadRequest(format!(
                    "`ttl_seconds` {t} is outside 1..{}",
                    max.as_secs()
                )));
            }
        };
        Ok((path, ttl))
    })();
    let (path, ttl) = match input {
        Ok(x) => x,
        Err(e) => {
            return app
                .refuse(caller, action, req, now, Basis::BadRequest, e)
                .await;
        }
    };
    let object =
        authorize_object(app, caller, req, now, (action, Action::Read), path, None).await?;
    let Some(meta) = object.head.clone() else {
        let err = ApiError::NotFound(format!("`{}` does not exist", object.path));
        return object
            .refuse_after(
                app,
                now,
                Basis::NotFound,
                "the object does not exist; no URL was issued",
                err,
            )
            .await;
    };
    let op = PresignOp::Get {
        filename: object.path.name().to_owned(),
    };
    let signed = app
        .presigner
        .presign(&object.presign_request(op, ttl), now)
        .await
        .map_err(|_| ApiError::unavailable())?;
    ok(&json!({
        "url": signed.url,
        "method": signed.method,
        "expires_at": signed.expires_at,
        "ttl_seconds": (signed.expires_at - now).num_seconds(),
        "name": object.path.name(),
        "path": object.path.to_string(),
        "size": meta.size,
        "content_type": meta.content_type,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadBody {
    path: String,
    size: u64,
    #[serde(default)]
    content_type: Option<String>,
    /// Replace an existing object (the bucket's versioning keeps the old one).
    #[serde(default)]
    overwrite: bool,
}

fn valid_content_type(ct: &str) -> bool {
    !ct.is_empty()
        && ct.len() <= 255
        && ct.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        && ct.contains('/')
}

pub(crate) async fn upload(
    app: &App,
    caller: &Caller,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let action = AuditAction::Upload;
    let input = (|| {
        let body: UploadBody = req.json()?;
        let path = parse_path(&body.path, true)?;
        let content_type = body
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        if !valid_content_type(&content_type) {
            return Err(ApiError::BadRequest(
                "`content_type` must be a MIME type such as `application/pdf`".into(),
            ));
        }
        if body.size > app.settings.max_upload_bytes {
            return Err(ApiError::TooLarge(format!(
                "{} bytes is more than this deployment's upload limit of {} bytes",
                body.size, app.settings.max_upload_bytes
            )));
        }
        Ok((body, path, content_type))
    })();
    let (body, path, content_type) = match input {
        Ok(x) => x,
        Err(e) => {
            return app
                .refuse(caller, action, req, now, Basis::BadRequest, e)
                .await;
        }
    };
    let detail = format!("size={} content_type={content_type}", body.size);
    let object = authorize_object(
        app,
        caller,
        req,
        now,
        (action, Action::Write),
        path,
        Some(detail),
    )
    .await?;
    if object.head.is_some() && !body.overwrite {
        let err = ApiError::Conflict(format!(
            "`{}` already exists; send `\"overwrite\": true` to replace it",
            object.path
        ));
        let reason = "the object exists and overwrite was not requested; no URL was issued";
        return object
            .refuse_after(app, now, Basis::Conflict, reason, err)
            .await;
    }
    let sign = |op: PresignOp| {
        let r = object.presign_request(op, UPLOAD_URL_TTL);
        async move {
            app.presigner
                .presign(&r, now)
                .await
                .map_err(|_| ApiError::unavailable())
        }
    };
    let path = &object.path;
    if body.size <= MULTIPART_THRESHOLD {
        let put = sign(PresignOp::Put {
            length: body.size,
            content_type: content_type.clone(),
        })
        .await?;
        return ok(&json!({
            "path": path.to_string(),
            "method": put.method,
            "url": put.url,
            "headers": put.headers.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "expires_at": put.expires_at,
        }));
    }
    let part_size =
        MIN_PART_SIZE.max(body.size.div_ceil(MAX_PARTS).div_ceil(1024 * 1024) * 1024 * 1024);
    let parts = body.size.div_ceil(part_size);
    let upload_id = app
        .objects
        .create_multipart(path.bucket(), path.key(), &content_type)
        .await
        .map_err(|_| ApiError::unavailable())?;
    let mut part_urls = Vec::with_capacity(parts as usize);
    let mut expires_at = now;
    for n in 1..=parts {
        let p = sign(PresignOp::UploadPart {
            upload_id: upload_id.clone(),
            part_number: n as u32,
        })
        .await?;
        expires_at = p.expires_at;
        part_urls.push(json!({ "part_number": n, "url": p.url }));
    }
    let complete = sign(PresignOp::Complete {
        upload_id: upload_id.clone(),
    })
    .await?;
    let abort = sign(PresignOp::Abort {
        upload_id: upload_id.clone(),
    })
    .await?;
    ok(&json!({
        "path": path.to_string(),
        "multipart": {
            "upload_id": upload_id,
            "part_size": part_size,
            "parts": part_urls,
            "complete": { "method": complete.method, "url": complete.url },
            "abort": { "method": abort.method, "url": abort.url },
        },
        "expires_at": expires_at,
    }))
}

/// `2026-12-04T10:00:00Z` or `2026-12-04` (start of that day, UTC).
fn parse_time(text: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let t = if end_of_day {
        d.and_hms_milli_opt(23, 59, 59, 999)?
    } else {
        d.and_hms_opt(0, 0, 0)?
    };
    Some(t.and_utc())
}

pub(crate) async fn audit(
    app: &App,
    caller: &Caller,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let action = AuditAction::AuditRead;
    let admins = match app.policies.admin_groups().await {
        Ok(a) => a,
        Err(_) => {
            return app
                .refuse(
                    caller,
                    action,
                    req,
                    now,
                    Basis::Unavailable,
                    ApiError::unavailable(),
                )
                .await;
        }
    };
    if !caller.principal.groups.iter().any(|g| admins.contains(g)) {
        let err =
            ApiError::Forbidden("only members of an admin group may read the audit log".into());
        return app
            .refuse(caller, action, req, now, Basis::NotAdmin, err)
            .await;
    }
    let q = &req.query;
    let bad = |m: String| ApiError::BadRequest(m);
    let parsed =
        (|| {
            let since = match q.get("since") {
                Some(t) => parse_time(t, false)
                    .ok_or_else(|| bad(format!("`since` is not a time: `{t}`")))?,
                None => now - chrono::Duration::days(1),
            };
            let until = match q.get("until") {
                Some(t) => parse_time(t, true)
                    .ok_or_else(|| bad(format!("`until` is not a time: `{t}`")))?,
                None => now,
            };
            let limit = match q.get("limit") {
                Some(l) => l
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad("`limit` is 1..1000".into()))?,
                None => 100,
            };
            let path = match q.get("path").filter(|p| !p.is_empty()) {
                Some(p) => Some(parse_path(p, false)?.to_string()),
                None => None,
            };
            let action = match q.get("action").filter(|a| !a.is_empty()) {
                Some(a) => Some(a.parse::<AuditAction>().map_err(bad)?),
                None => None,
            };
            let outcome = match q.get("decision").map(String::as_str) {
                None | Some("") => None,
                Some("allow") => Some(Outcome::Allow),
                Some("deny") => Some(Outcome::Deny),
                Some(other) => {
                    return Err(bad(format!(
                        "`decision` is `allow` or `deny`, not `{other}`"
                    )));
                }
            };
            let filter = AuditFilter {
                user: q.get("user").filter(|u| !u.is_empty()).cloned(),
                path,
                action,
                outcome,
                since,
                until,
            };
            plan(&filter).map_err(|e| bad(e.to_string()))?;
            Ok(AuditQuery {
                filter,
                limit,
                cursor: q.get("cursor").filter(|c| !c.is_empty()).cloned(),
            })
        })();
    let query = match parsed {
        Ok(query) => query,
        Err(e) => {
            return app
                .refuse(caller, action, req, now, Basis::BadRequest, e)
                .await;
        }
    };
    let detail = serde_json::to_string(&query.filter).unwrap_or_default();
    let record = app
        .caller_record(caller, action, req, now)
        .detail(detail)
        .outcome(
            Outcome::Allow,
            Basis::Admin,
            "read the audit log as a member of an admin group",
            200,
        );
    let (written, page) = futures_util::join!(app.write(&record), app.audit.query(&query));
    written?;
    let page = page.map_err(|e| match e.service {
        "cursor" => ApiError::BadRequest("invalid cursor; query again without one".into()),
        _ => ApiError::unavailable(),
    })?;
    ok(&page)
}
