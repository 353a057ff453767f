//! How a question about the audit log becomes index queries — never a table scan.
//!
//! The audit table has three indexes sorted by `time_id` (`<time>#<id>`): `by-user`, `by-object`
//! and `by-day` (docs/audit.md). [`plan`] picks the one that answers the most selective part of
//! the question and turns the rest into filters; a time range on `by-day` becomes one query per
//! UTC day, newest first. The runtime (`GET /api/audit`) and the CLI (`bucketdrive audit query`)
//! run the same plan.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use crate::audit::{AuditAction, Outcome};

/// Longest time range one question may cover (days of `by-day` partitions to read).
pub const MAX_RANGE_DAYS: i64 = 366;

/// A question about the audit log. Times are inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFilter {
    /// A user's `sub` (or, for CLI changes, the AWS caller ARN).
    pub user: Option<String>,
    /// `s3://bucket/key` (one object) or `s3://bucket/prefix/` (everything below).
    pub path: Option<String>,
    pub action: Option<AuditAction>,
    pub outcome: Option<Outcome>,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Index {
    ByUser,
    ByObject,
    ByDay,
}

impl Index {
    pub fn name(self) -> &'static str {
        match self {
            Index::ByUser => "by-user",
            Index::ByObject => "by-object",
            Index::ByDay => "by-day",
        }
    }

    /// The index's partition-key attribute.
    pub fn partition_attribute(self) -> &'static str {
        match self {
            Index::ByUser => "user_sub",
            Index::ByObject => "object",
            Index::ByDay => "day",
        }
    }
}

/// A condition checked on the items an index query returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Filter {
    ObjectEquals(String),
    ObjectPrefix(String),
    UserEquals(String),
    Action(AuditAction),
    Outcome(Outcome),
}

/// One index query: a partition, the sort-key range, the filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryStep {
    pub index: Index,
    pub partition: String,
    /// Inclusive bounds on `time_id`.
    pub from: String,
    pub to: String,
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("`until` is before `since`")]
    Reversed,
    #[error(
        "the time range is longer than {MAX_RANGE_DAYS} days; narrow it (or query by user or object)"
    )]
    TooLong,
}

fn time_key(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The queries that answer `f`, newest partition first.
pub fn plan(f: &AuditFilter) -> Result<Vec<QueryStep>, PlanError> {
    if f.until < f.since {
        return Err(PlanError::Reversed);
    }
    let from = format!("{}#", time_key(f.since));
    // `~` sorts after every character of a ULID: the whole last millisecond is included.
    let to = format!("{}#~", time_key(f.until));
    let object = f.path.as_ref().filter(|p| !p.ends_with('/'));
    let prefix = f.path.as_ref().filter(|p| p.ends_with('/'));
    let mut filters = Vec::new();
    if let Some(a) = f.action {
        filters.push(Filter::Action(a));
    }
    if let Some(o) = f.outcome {
        filters.push(Filter::Outcome(o));
    }
    let step = |index, partition: String, mut filters: Vec<Filter>| {
        if let Some(p) = prefix {
            filters.push(Filter::ObjectPrefix(p.clone()));
        }
        QueryStep {
            index,
            partition,
            from: from.clone(),
            to: to.clone(),
            filters,
        }
    };
    // The most selective index first: one object, then one user, then days.
    if let Some(o) = object {
        let mut fs = filters.clone();
        if let Some(u) = &f.user {
            fs.push(Filter::UserEquals(u.clone()));
        }
        return Ok(vec![step(Index::ByObject, o.clone(), fs)]);
    }
    if let Some(u) = &f.user {
        return Ok(vec![step(Index::ByUser, u.clone(), filters)]);
    }
    if f.until - f.since > Duration::days(MAX_RANGE_DAYS) {
        return Err(PlanError::TooLong);
    }
    let mut steps = Vec::new();
    let mut day = f.until.date_naive();
    let first = f.since.date_naive();
    while day >= first {
        steps.push(step(
            Index::ByDay,
            day.format("%Y-%m-%d").to_string(),
            filters.clone(),
        ));
        day -= Duration::days(1);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn filter() -> AuditFilter {
        AuditFilter {
            user: None,
            path: None,
            action: None,
            outcome: None,
            since: t("2026-12-02T23:00:00Z"),
            until: t("2026-12-04T01:00:00.5Z"),
        }
    }

    #[test]
    fn a_time_range_is_one_query_per_day_newest_first() {
        let steps = plan(&filter()).unwrap();
        let days: Vec<&str> = steps.iter().map(|s| s.partition.as_str()).collect();
        assert_eq!(days, ["2026-12-04", "2026-12-03", "2026-12-02"]);
        assert!(steps.iter().all(|s| s.index == Index::ByDay));
        assert_eq!(steps[0].from, "2026-12-02T23:00:00.000Z#");
        assert_eq!(steps[0].to, "2026-12-04T01:00:00.500Z#~");
    }

    #[test]
    fn an_object_or_a_user_is_one_query() {
        let steps = plan(&AuditFilter {
            path: Some("s3://b/a/x.pdf".into()),
            user: Some("u-1".into()),
            ..filter()
        })
        .unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(
            (steps[0].index, steps[0].partition.as_str()),
            (Index::ByObject, "s3://b/a/x.pdf")
        );
        assert_eq!(steps[0].filters, vec![Filter::UserEquals("u-1".into())]);
        let by_user = plan(&AuditFilter {
            user: Some("u-1".into()),
            ..filter()
        })
        .unwrap();
        assert_eq!((by_user[0].index, by_user.len()), (Index::ByUser, 1));
    }

    #[test]
    fn a_folder_is_a_prefix_filter_and_other_criteria_filter_too() {
        let steps = plan(&AuditFilter {
            path: Some("s3://b/annual/".into()),
            action: Some(AuditAction::Download),
            outcome: Some(Outcome::Deny),
            ..filter()
        })
        .unwrap();
        assert_eq!(steps[0].index, Index::ByDay);
        assert_eq!(
            steps[0].filters,
            vec![
                Filter::Action(AuditAction::Download),
                Filter::Outcome(Outcome::Deny),
                Filter::ObjectPrefix("s3://b/annual/".into())
            ]
        );
    }

    #[test]
    fn ranges_are_bounded() {
        let mut f = filter();
        f.since = t("2025-01-01T00:00:00Z");
        assert_eq!(plan(&f), Err(PlanError::TooLong));
        f.user = Some("u".into());
        assert!(
            plan(&f).is_ok(),
            "one user's history is one query, whatever the range"
        );
        let reversed = AuditFilter {
            since: f.until,
            until: f.since,
            ..f
        };
        assert_eq!(plan(&reversed), Err(PlanError::Reversed));
    }
}
