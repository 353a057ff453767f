//! The audit record: who did what to which object, when (UTC), from where, and what decided.
//!
//! One record per audited action, allowed or denied. The runtime writes it before it answers;
//! the CLI writes one for every admin change; the archive keeps them. The field names here are
//! the stored attribute names (docs/audit.md), so renaming one is a schema change.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::policy::{Decision, DecisionSummary, RuleSummary};

/// What was attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// `GET /api/me`
    Me,
    /// Listing a folder or the caller's roots.
    List,
    /// Asking for a download URL.
    Download,
    /// Asking for an upload URL or multipart plan.
    Upload,
    /// Deleting an object.
    Delete,
    /// Reading the audit log.
    AuditRead,
    /// A request whose route is unknown or could not be read (still audited).
    Request,
    /// Admin changes made with the CLI.
    GroupChange,
    UserChange,
    Apply,
    Deploy,
    /// `bucketdrive destroy`: the stack was deleted (recorded as the deletion starts).
    Destroy,
}

impl AuditAction {
    /// Every action, in the order docs/audit.md lists them.
    pub const ALL: [AuditAction; 12] = [
        AuditAction::Me,
        AuditAction::List,
        AuditAction::Download,
        AuditAction::Upload,
        AuditAction::Delete,
        AuditAction::AuditRead,
        AuditAction::Request,
        AuditAction::GroupChange,
        AuditAction::UserChange,
        AuditAction::Apply,
        AuditAction::Deploy,
        AuditAction::Destroy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Me => "me",
            AuditAction::List => "list",
            AuditAction::Download => "download",
            AuditAction::Upload => "upload",
            AuditAction::Delete => "delete",
            AuditAction::AuditRead => "audit-read",
            AuditAction::Request => "request",
            AuditAction::GroupChange => "group-change",
            AuditAction::UserChange => "user-change",
            AuditAction::Apply => "apply",
            AuditAction::Deploy => "deploy",
            AuditAction::Destroy => "destroy",
        }
    }
}

impl std::str::FromStr for AuditAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
            let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
            format!("unknown action `{s}`; use one of: {}", names.join(", "))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Allow,
    Deny,
}

/// Why the outcome is what it is. Policy decisions carry their basis; the rest are refusals
/// that happen before or beside the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    Grant,
    ExplicitDeny,
    ExpiredGrant,
    NoGrant,
    /// A listing above granted prefixes: only the folders leading to them were shown.
    LeadsToGrant,
    /// No token, or one that failed verification.
    InvalidToken,
    /// The token predates the user's revocation time.
    Revoked,
    /// The request was malformed (bad path, bad JSON, …).
    BadRequest,
    /// Authorised, but the object does not exist.
    NotFound,
    /// Only admin groups may do this.
    NotAdmin,
    /// Allowed as a member of an admin group (reading the audit log).
    Admin,
    /// Authorised, but the request conflicts with the object's state (e.g. it exists).
    Conflict,
    /// Signed in, nothing more was needed (e.g. `GET /api/me`).
    Authenticated,
    /// An admin change made with the CLI by an AWS principal.
    AdminChange,
    /// A dependency failed; the request was refused (fail closed).
    Unavailable,
}

/// The person (or AWS principal, for CLI changes) behind the action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// A ULID: unique, and sorts by time.
    pub id: String,
    /// When, UTC, millisecond precision (`2026-12-04T16:05:50.123Z`).
    #[serde(with = "millis")]
    pub time: DateTime<Utc>,
    pub user: AuditUser,
    #[serde(default)]
    pub groups: Vec<String>,
    pub action: AuditAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The object key (downloads, uploads) or the listed prefix (listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub outcome: Outcome,
    pub basis: Basis,
    /// The grant or deny that decided, when a policy rule did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleSummary>,
    /// A sentence for people reading the log.
    pub reason: String,
    /// The HTTP status answered (0 for CLI changes).
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub request_id: String,
    /// Free-form detail: the change an admin made, the filter of an audit read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Epoch seconds after which the table may drop the record (DynamoDB TTL).
    pub expires_at: i64,
}

/// The columns of a flat export (CSV), in their fixed order: see [`AuditRecord::flat_values`].
pub const FLAT_COLUMNS: [&str; 22] = [
    "id",
    "time",
    "user_sub",
    "username",
    "email",
    "groups",
    "action",
    "bucket",
    "key",
    "outcome",
    "basis",
    "rule_group",
    "rule_kind",
    "rule_path",
    "rule_access",
    "reason",
    "status",
    "source_ip",
    "user_agent",
    "request_id",
    "detail",
    "expires_at",
];

/// Everything about a request that is known before it is decided.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Builds a record. `id` comes from the caller (a ULID) so this stays free of randomness.
#[derive(Debug, Clone)]
pub struct RecordBuilder {
    record: AuditRecord,
}

impl AuditRecord {
    pub fn builder(
        id: String,
        time: DateTime<Utc>,
        action: AuditAction,
        ctx: &RequestContext,
        retention_days: u32,
    ) -> RecordBuilder {
        RecordBuilder {
            record: AuditRecord {
                id,
                time,
                user: AuditUser::default(),
                groups: Vec::new(),
                action,
                bucket: None,
                key: None,
                outcome: Outcome::Deny,
                basis: Basis::BadRequest,
                rule: None,
                reason: String::new(),
                status: 0,
                source_ip: ctx.source_ip.clone(),
                user_agent: ctx.user_agent.clone(),
                request_id: ctx.request_id.clone(),
                detail: None,
                expires_at: (time + Duration::days(i64::from(retention_days))).timestamp(),
            },
        }
    }

    /// `2026-12-04T16:05:50.123Z`
    pub fn time_text(&self) -> String {
        self.time.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// The sort key of every index: time first, then id, so equal times stay distinct.
    pub fn time_id(&self) -> String {
        format!("{}#{}", self.time_text(), self.id)
    }

    /// The `by-day` partition: `YYYY-MM-DD` in UTC.
    pub fn day(&self) -> String {
        self.time.format("%Y-%m-%d").to_string()
    }

    /// The attributes stored beside the record for the table's indexes (docs/architecture.md):
    /// `time_id` always, `day` always, `object` and `user_sub` when known.
    pub fn index_attributes(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("time_id", self.time_id()), ("day", self.day())];
        if let Some(object) = self.object() {
            out.push(("object", object));
        }
        if let Some(sub) = &self.user.sub {
            out.push(("user_sub", sub.clone()));
        }
        out
    }

    /// The record as one flat row (`FLAT_COLUMNS`, in that order): what CSV exports write.
    /// Absent values are empty; `groups` are joined with spaces.
    pub fn flat_values(&self) -> [String; 22] {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let rule = |f: fn(&RuleSummary) -> &str| {
            self.rule
                .as_ref()
                .map(|r| f(r).to_owned())
                .unwrap_or_default()
        };
        [
            self.id.clone(),
            self.time_text(),
            opt(&self.user.sub),
            opt(&self.user.username),
            opt(&self.user.email),
            self.groups.join(" "),
            self.action.as_str().to_owned(),
            opt(&self.bucket),
            opt(&self.key),
            match self.outcome {
                Outcome::Allow => "allow".to_owned(),
                Outcome::Deny => "deny".to_owned(),
            },
            serde_json::to_value(self.basis)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            rule(|r| &r.group),
            rule(|r| &r.kind),
            rule(|r| &r.path),
            rule(|r| &r.access),
            self.reason.clone(),
            self.status.to_string(),
            opt(&self.source_ip),
            opt(&self.user_agent),
            self.request_id.clone(),
            opt(&self.detail),
            self.expires_at.to_string(),
        ]
    }

    /// The `by-object` partition: `s3://bucket/key`, when the record is about a path.
    pub fn object(&self) -> Option<String> {
        self.bucket
            .as_ref()
            .map(|b| format!("s3://{b}/{}", self.key.as_deref().unwrap_or("")))
    }
}

impl RecordBuilder {
    /// The same record under another id: for a follow-up record about the same request (each
    /// record is written once, under an id that must not exist yet).
    pub fn with_id(mut self, id: String) -> Self {
        self.record.id = id;
        self
    }

    pub fn user(mut self, user: AuditUser, groups: Vec<String>) -> Self {
        self.record.user = user;
        self.record.groups = groups;
        self
    }

    pub fn path(mut self, bucket: &str, key: &str) -> Self {
        self.record.bucket = Some(bucket.to_owned());
        self.record.key = Some(key.to_owned());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.record.detail = Some(detail.into());
        self
    }

    /// The outcome of a policy decision, with its rule.
    pub fn decision(self, decision: &Decision<'_>, status: u16) -> AuditRecord {
        self.summary(&decision.summary(), status)
    }

    pub fn summary(mut self, s: &DecisionSummary, status: u16) -> AuditRecord {
        use crate::policy::Basis as P;
        self.record.outcome = match s.effect {
            crate::policy::Effect::Allow => Outcome::Allow,
            crate::policy::Effect::Deny => Outcome::Deny,
        };
        self.record.basis = match s.basis {
            P::Grant => Basis::Grant,
            P::ExplicitDeny => Basis::ExplicitDeny,
            P::ExpiredGrant => Basis::ExpiredGrant,
            P::NoGrant => Basis::NoGrant,
        };
        self.record.rule = s.rule.clone();
        self.record.reason = s.explanation.clone();
        self.record.status = status;
        self.record
    }

    /// An outcome not decided by a policy rule (bad token, bad input, not found, …).
    pub fn outcome(
        mut self,
        outcome: Outcome,
        basis: Basis,
        reason: impl Into<String>,
        status: u16,
    ) -> AuditRecord {
        self.record.outcome = outcome;
        self.record.basis = basis;
        self.record.reason = reason.into();
        self.record.status = status;
        self.record
    }

    /// A policy-allowed request that ended otherwise (e.g. the object does not exist): keeps the
    /// granting rule, records the final basis and status.
    pub fn allowed_then(
        mut self,
        decision: &Decision<'_>,
        basis: Basis,
        reason: impl Into<String>,
        status: u16,
    ) -> AuditRecord {
        let s = decision.summary();
        self.record.rule = s.rule;
        self.record.outcome = Outcome::Deny;
        self.record.basis = basis;
        self.record.reason = reason.into();
        self.record.status = status;
        self.record
    }
}

mod millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::S3Path;
    use crate::policy::{Action, Grant, GroupPolicy, PolicySet, Principal, Rights};

    fn t() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T16:05:50.123456Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ctx() -> RequestContext {
        RequestContext {
            request_id: "req-1".into(),
            source_ip: Some("203.0.113.7".into()),
            user_agent: Some("curl/8".into()),
        }
    }

    #[test]
    fn a_policy_decision_becomes_a_record_with_its_rule() {
        let set = PolicySet::new([GroupPolicy {
            group: "finance".into(),
            grants: vec![Grant {
                path: S3Path::parse("s3://company-reports/annual/").unwrap(),
                access: Rights::READ,
                until: None,
            }],
            deny: vec![],
        }]);
        let path = S3Path::parse("s3://company-reports/annual/r.pdf").unwrap();
        let d = set.decide(&Principal::new(["finance"]), Action::Read, &path, t());
        let r = AuditRecord::builder("01JEXAMPLE".into(), t(), AuditAction::Download, &ctx(), 400)
            .user(
                AuditUser {
                    sub: Some("u-1".into()),
                    username: Some("ana".into()),
                    email: Some("ana@example.com".into()),
                },
                vec!["finance".into()],
            )
            .path(path.bucket(), path.key())
            .decision(&d, 200);
        assert_eq!(r.outcome, Outcome::Allow);
        assert_eq!(r.basis, Basis::Grant);
        assert_eq!(
            r.rule.as_ref().unwrap().path,
            "s3://company-reports/annual/"
        );
        assert_eq!(r.time_text(), "2026-12-04T16:05:50.123Z");
        assert_eq!(r.time_id(), "2026-12-04T16:05:50.123Z#01JEXAMPLE");
        assert_eq!(r.day(), "2026-12-04");
        assert_eq!(
            r.object().as_deref(),
            Some("s3://company-reports/annual/r.pdf")
        );
        assert_eq!(r.expires_at, t().timestamp() + 400 * 86400);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["time"], "2026-12-04T16:05:50.123Z");
        assert_eq!(json["action"], "download");
        assert_eq!(json["outcome"], "allow");
        assert_eq!(json["source_ip"], "203.0.113.7");
        let back: AuditRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back.time_text(), r.time_text());
    }

    #[test]
    fn refusals_outside_the_policy_are_recorded_too() {
        let r = AuditRecord::builder("id".into(), t(), AuditAction::Request, &ctx(), 1).outcome(
            Outcome::Deny,
            Basis::InvalidToken,
            "token expired",
            401,
        );
        assert_eq!(r.status, 401);
        assert_eq!(r.object(), None);
        assert_eq!(serde_json::to_value(&r).unwrap()["basis"], "invalid-token");
    }

    #[test]
    fn every_action_round_trips_through_its_kebab_case_name() {
        for a in AuditAction::ALL {
            let json = serde_json::to_value(a).unwrap();
            assert_eq!(json, a.as_str());
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), a);
        }
        assert_eq!(AuditAction::Destroy.as_str(), "destroy");
    }

    #[test]
    fn a_flat_row_has_every_column_in_order() {
        let r = AuditRecord::builder("01JX".into(), t(), AuditAction::Upload, &ctx(), 1)
            .user(
                AuditUser {
                    sub: Some("u-1".into()),
                    username: None,
                    email: Some("a@example.com".into()),
                },
                vec!["a".into(), "b".into()],
            )
            .path("b", "k.txt")
            .detail("3 bytes")
            .outcome(Outcome::Allow, Basis::Grant, "ok", 200);
        let row = r.flat_values();
        let get = |c: &str| row[FLAT_COLUMNS.iter().position(|x| *x == c).unwrap()].as_str();
        assert_eq!(FLAT_COLUMNS[0], "id");
        assert_eq!(FLAT_COLUMNS[21], "expires_at");
        assert_eq!(get("time"), "2026-12-04T16:05:50.123Z");
        assert_eq!(get("groups"), "a b");
        assert_eq!(get("username"), "");
        assert_eq!(get("basis"), "grant");
        assert_eq!(get("rule_path"), "");
        assert_eq!(get("status"), "200");
        assert_eq!(get("expires_at"), (t().timestamp() + 86400).to_string());
    }

    #[test]
    fn actions_parse_from_their_names() {
        assert_eq!(
            "audit-read".parse::<AuditAction>().unwrap(),
            AuditAction::AuditRead
        );
        assert!(
            "read"
                .parse::<AuditAction>()
                .unwrap_err()
                .contains("download")
        );
    }
}
