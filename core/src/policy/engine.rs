//! The one policy engine. The Lambda enforces it, `bucketdrive access check` explains it, and
//! the property tests hold it to design.md:
//!
//! - deny by default: allowed only when a grant of one of the caller's groups covers the path;
//! - an explicit deny of any of the caller's groups that covers the path always wins;
//! - "covers" is prefix containment on segment boundaries (see [`S3Path::covers`]);
//! - an expired grant is no grant;
//! - read, write and delete are separate rights.
//!
//! Rules are indexed by bucket and by the exact prefix or key they name, so a decision looks up
//! only the ancestors of the requested key (one lookup per `/` in it): its cost depends on the
//! depth of the key, not on how many rules exist.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::rule::{Action, Deny, Grant, GroupPolicy, Rights};
use crate::path::S3Path;

/// Who is asking: the groups the verified token says the caller belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    pub groups: Vec<String>,
}

impl Principal {
    pub fn new<I, S>(groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Principal {
            groups: groups.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Grant,
    Deny,
}

#[derive(Debug, Clone, Copy)]
struct RuleId {
    group: u32,
    kind: Kind,
    index: u32,
}

#[derive(Debug, Default)]
struct BucketRules {
    /// Rules whose path is a prefix (`""` is the whole bucket), by that prefix.
    prefixes: BTreeMap<String, Vec<RuleId>>,
    /// Rules whose path names one object, by key.
    objects: BTreeMap<String, Vec<RuleId>>,
}

/// All groups' rules, indexed for decisions and listings.
#[derive(Debug, Default)]
pub struct PolicySet {
    groups: Vec<GroupPolicy>,
    group_ids: HashMap<String, u32>,
    buckets: HashMap<String, BucketRules>,
}

/// The rule that decided, borrowed from the policy set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule<'a> {
    Grant(&'a Grant),
    Deny(&'a Deny),
}

/// A rule and the group that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleRef<'a> {
    pub group: &'a str,
    pub rule: Rule<'a>,
}

impl RuleRef<'_> {
    pub fn path(&self) -> &S3Path {
        match self.rule {
            Rule::Grant(g) => &g.path,
            Rule::Deny(d) => &d.path,
        }
    }

    pub fn access(&self) -> Rights {
        match self.rule {
            Rule::Grant(g) => g.access,
            Rule::Deny(d) => d.access,
        }
    }
}

impl fmt::Display for RuleRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rule {
            Rule::Grant(g) => {
                write!(
                    f,
                    "grant {} ({}) of group `{}`",
                    g.path, g.access, self.group
                )?;
                if let Some(until) = &g.until {
                    write!(f, " until {until}")?;
                }
                Ok(())
            }
            Rule::Deny(d) => write!(
                f,
                "deny {} ({}) of group `{}`",
                d.path, d.access, self.group
            ),
        }
    }
}

/// Why a decision came out the way it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason<'a> {
    /// Allowed by this grant (the most specific one that covers the path).
    Granted(RuleRef<'a>),
    /// Refused by this explicit deny.
    Denied(RuleRef<'a>),
    /// Refused because no grant covers the path. `expired` names a grant that would have
    /// covered it had it not expired, so the refusal can be explained.
    NoGrant { expired: Option<RuleRef<'a>> },
}

/// The answer to "may this principal do this action on this path now?", with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'a> {
    pub action: Action,
    pub reason: Reason<'a>,
}

impl Decision<'_> {
    pub fn is_allowed(&self) -> bool {
        matches!(self.reason, Reason::Granted(_))
    }

    /// The rule that decided, if any (none for "no grant").
    pub fn rule(&self) -> Option<&RuleRef<'_>> {
        match &self.reason {
            Reason::Granted(r) | Reason::Denied(r) => Some(r),
            Reason::NoGrant { .. } => None,
        }
    }

    /// An owned, serialisable summary for audit records and `--output json`.
    pub fn summary(&self) -> DecisionSummary {
        let (effect, basis, rule) = match &self.reason {
            Reason::Granted(r) => (Effect::Allow, Basis::Grant, Some(RuleSummary::from(r))),
            Reason::Denied(r) => (
                Effect::Deny,
                Basis::ExplicitDeny,
                Some(RuleSummary::from(r)),
            ),
            Reason::NoGrant { expired: Some(r) } => (
                Effect::Deny,
                Basis::ExpiredGrant,
                Some(RuleSummary::from(r)),
            ),
            Reason::NoGrant { expired: None } => (Effect::Deny, Basis::NoGrant, None),
        };
        DecisionSummary {
            effect,
            basis,
            action: self.action,
            rule,
            explanation: self.to_string(),
        }
    }
}

impl fmt::Display for Decision<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Reason::Granted(r) => write!(f, "allowed: {} by {r}", self.action),
            Reason::Denied(r) => write!(
                f,
                "denied: {} refused by {r} (an explicit deny always wins)",
                self.action
            ),
            Reason::NoGrant { expired: Some(r) } => write!(
                f,
                "denied: no grant covers this path for {}; {r} has expired",
                self.action
            ),
            Reason::NoGrant { expired: None } => write!(
                f,
                "denied: no grant of the caller's groups covers this path for {} (deny by default)",
                self.action
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    Grant,
    ExplicitDeny,
    ExpiredGrant,
    NoGrant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSummary {
    pub group: String,
    /// `grant` or `deny`
    pub kind: String,
    pub path: String,
    pub access: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl From<&RuleRef<'_>> for RuleSummary {
    fn from(r: &RuleRef<'_>) -> Self {
        let (kind, until) = match r.rule {
            Rule::Grant(g) => ("grant", g.until.as_ref().map(|u| u.to_string())),
            Rule::Deny(_) => ("deny", None),
        };
        RuleSummary {
            group: r.group.to_owned(),
            kind: kind.to_owned(),
            path: r.path().to_string(),
            access: r.access().to_string(),
            until,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionSummary {
    pub effect: Effect,
    pub basis: Basis,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleSummary>,
    pub explanation: String,
}

/// A grant a principal holds, with its group: what `GET /api/me` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldGrant<'a> {
    pub group: &'a str,
    pub grant: &'a Grant,
}

impl PolicySet {
    /// Indexes the groups' rules. Later groups with a name already seen are merged into the
    /// first, so a principal's rights never depend on the order policies were loaded.
    pub fn new(groups: impl IntoIterator<Item = GroupPolicy>) -> Self {
        let mut set = PolicySet::default();
        for policy in groups {
            match set.group_ids.get(&policy.group) {
                Some(&id) => {
                    let existing = &mut set.groups[id as usize];
                    existing.grants.extend(policy.grants);
                    existing.deny.extend(policy.deny);
                }
                None => {
                    let id = set.groups.len() as u32;
                    set.group_ids.insert(policy.group.clone(), id);
                    set.groups.push(policy);
                }
            }
        }
        for (gid, policy) in set.groups.iter().enumerate() {
            let rules = policy
                .grants
                .iter()
                .enumerate()
                .map(|(i, g)| (&g.path, Kind::Grant, i))
                .chain(
                    policy
                        .deny
                        .iter()
                        .enumerate()
                        .map(|(i, d)| (&d.path, Kind::Deny, i)),
                );
            for (path, kind, index) in rules {
                let bucket = set.buckets.entry(path.bucket().to_owned()).or_default();
                let map = if path.is_prefix() {
                    &mut bucket.prefixes
                } else {
                    &mut bucket.objects
                };
                map.entry(path.key().to_owned()).or_default().push(RuleId {
                    group: gid as u32,
                    kind,
                    index: index as u32,
                });
            }
        }
        set
    }

    pub fn groups(&self) -> &[GroupPolicy] {
        &self.groups
    }

    pub fn group(&self, name: &str) -> Option<&GroupPolicy> {
        self.group_ids
            .get(name)
            .map(|&id| &self.groups[id as usize])
    }

    fn member_ids(&self, principal: &Principal) -> Vec<u32> {
        principal
            .groups
            .iter()
            .filter_map(|g| self.group_ids.get(g).copied())
            .collect()
    }

    fn rule_ref(&self, id: RuleId) -> RuleRef<'_> {
        let policy = &self.groups[id.group as usize];
        let rule = match id.kind {
            Kind::Grant => Rule::Grant(&policy.grants[id.index as usize]),
            Kind::Deny => Rule::Deny(&policy.deny[id.index as usize]),
        };
        RuleRef {
            group: &policy.group,
            rule,
        }
    }

    /// The rule lists that could cover `key`, most specific first: the exact object, then each
    /// ancestor prefix from the deepest (`a/b/`) to the bucket root (`""`).
    fn candidates<'s>(
        &'s self,
        rules: &'s BucketRules,
        key: &'s str,
    ) -> impl Iterator<Item = &'s [RuleId]> + 's {
        let exact = if key.ends_with('/') || key.is_empty() {
            None
        } else {
            rules.objects.get(key)
        };
        let prefixes = key
            .rmatch_indices('/')
            .map(|(i, _)| i + 1)
            .chain(std::iter::once(0))
            .filter_map(move |end| rules.prefixes.get(&key[..end]));
        exact.into_iter().chain(prefixes).map(Vec::as_slice)
    }

    /// Decides whether `principal` may do `action` on `path` at `now`. `path` may be an object or a
    /// prefix (listing a prefix is `Action::Read` on it).
    pub fn decide(
        &self,
        principal: &Principal,
        action: Action,
        path: &S3Path,
        now: DateTime<Utc>,
    ) -> Decision<'_> {
        let no_grant = Decision {
            action,
            reason: Reason::NoGrant { expired: None },
        };
        let Some(rules) = self.buckets.get(path.bucket()) else {
            return no_grant;
        };
        let members = self.member_ids(principal);
        if members.is_empty() {
            return no_grant;
        }
        let applies = |id: &&RuleId| members.contains(&id.group);

        // Denies first: any covering deny wins over every grant.
        for list in self.candidates(rules, path.key()) {
            for id in list
                .iter()
                .filter(applies)
                .filter(|id| id.kind == Kind::Deny)
            {
                let r = self.rule_ref(*id);
                if r.access().allows(action) {
                    return Decision {
                        action,
                        reason: Reason::Denied(r),
                    };
                }
            }
        }
        let mut expired = None;
        for list in self.candidates(rules, path.key()) {
            for id in list
                .iter()
                .filter(applies)
                .filter(|id| id.kind == Kind::Grant)
            {
                let r = self.rule_ref(*id);
                let Rule::Grant(grant) = r.rule else { continue };
                if !grant.access.allows(action) {
                    continue;
                }
                if grant.is_expired(now) {
                    expired.get_or_insert(r);
                    continue;
                }
                return Decision {
                    action,
                    reason: Reason::Granted(r),
                };
            }
        }
        Decision {
            action,
            reason: Reason::NoGrant { expired },
        }
    }

    /// The grants `principal` holds now (expired ones left out), in group then rule order.
    pub fn held_grants(&self, principal: &Principal, now: DateTime<Utc>) -> Vec<HeldGrant<'_>> {
        let mut out = Vec::new();
        for id in self.member_ids(principal) {
            let policy = &self.groups[id as usize];
            for grant in policy.grants.iter().filter(|g| !g.is_expired(now)) {
                out.push(HeldGrant {
                    group: &policy.group,
                    grant,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rule::Until;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn path(s: &str) -> S3Path {
        S3Path::parse(s).unwrap()
    }

    fn grant(p: &str, access: Rights) -> Grant {
        Grant {
            path: path(p),
            access,
            until: None,
        }
    }

    fn deny(p: &str) -> Deny {
        Deny {
            path: path(p),
            access: Rights::ALL,
        }
    }

    fn enterprise() -> PolicySet {
        PolicySet::new([
            GroupPolicy {
                group: "finance".into(),
                grants: vec![
                    grant("s3://company-reports/quarterly/", Rights::READ),
                    grant("s3://company-reports/annual/", Rights::READ),
                ],
                deny: vec![],
            },
            GroupPolicy {
                group: "external-auditors".into(),
                grants: vec![Grant {
                    path: path("s3://company-reports/annual/audited/"),
                    access: Rights::READ,
                    until: Some(Until::parse("2027-03-31").unwrap()),
                }],
                deny: vec![],
            },
            GroupPolicy {
                group: "engineering".into(),
                grants: vec![grant("s3://drop/incoming/", Rights::READ_WRITE)],
                deny: vec![deny("s3://drop/incoming/secrets/")],
            },
        ])
    }

    #[test]
    fn deny_by_default() {
        let set = enterprise();
        let d = set.decide(
            &Principal::new(["finance"]),
            Action::Read,
            &path("s3://company-reports/hr/x.pdf"),
            now(),
        );
        assert_eq!(d.reason, Reason::NoGrant { expired: None });
        let nobody = set.decide(
            &Principal::default(),
            Action::Read,
            &path("s3://company-reports/annual/x"),
            now(),
        );
        assert!(!nobody.is_allowed());
        let unknown = set.decide(
            &Principal::new(["finance"]),
            Action::Read,
            &path("s3://other-bucket/annual/x"),
            now(),
        );
        assert!(!unknown.is_allowed());
    }

    #[test]
    fn grant_names_the_most_specific_rule() {
        let set = enterprise();
        let p = Principal::new(["finance", "external-auditors"]);
        let d = set.decide(
            &p,
            Action::Read,
            &path("s3://company-reports/annual/audited/r.pdf"),
            now(),
        );
        let rule = d.rule().unwrap();
        assert_eq!(rule.group, "external-auditors");
        assert_eq!(
            rule.path().to_string(),
            "s3://company-reports/annual/audited/"
        );
    }

    #[test]
    fn explicit_deny_wins_across_groups() {
        let mut groups = enterprise().groups().to_vec();
        groups.push(GroupPolicy {
            group: "contractors".into(),
            grants: vec![],
            deny: vec![deny("s3://company-reports/annual/")],
        });
        let set = PolicySet::new(groups);
        let d = set.decide(
            &Principal::new(["finance", "contractors"]),
            Action::Read,
            &path("s3://company-reports/annual/x.pdf"),
            now(),
        );
        assert!(matches!(d.reason, Reason::Denied(r) if r.group == "contractors"));
        let deeper = set.decide(
            &Principal::new(["engineering"]),
            Action::Write,
            &path("s3://drop/incoming/secrets/k"),
            now(),
        );
        assert!(matches!(deeper.reason, Reason::Denied(_)));
    }

    #[test]
    fn a_deny_limited_to_write_leaves_read() {
        let set = PolicySet::new([GroupPolicy {
            group: "g".into(),
            grants: vec![grant("s3://drop/", Rights::READ_WRITE)],
            deny: vec![Deny {
                path: path("s3://drop/frozen/"),
                access: Rights::WRITE,
            }],
        }]);
        let p = Principal::new(["g"]);
        assert!(
            set.decide(&p, Action::Read, &path("s3://drop/frozen/a"), now())
                .is_allowed()
        );
        assert!(
            !set.decide(&p, Action::Write, &path("s3://drop/frozen/a"), now())
                .is_allowed()
        );
    }

    #[test]
    fn prefixes_match_on_segment_boundaries_only() {
        let set = enterprise();
        let p = Principal::new(["finance"]);
        assert!(
            set.decide(
                &p,
                Action::Read,
                &path("s3://company-reports/annual/x.pdf"),
                now()
            )
            .is_allowed()
        );
        assert!(
            !set.decide(
                &p,
                Action::Read,
                &path("s3://company-reports/annual-private/x.pdf"),
                now()
            )
            .is_allowed()
        );
        assert!(
            !set.decide(
                &p,
                Action::Read,
                &path("s3://company-reports/annual"),
                now()
            )
            .is_allowed()
        );
    }

    #[test]
    fn expired_grants_are_no_grants_but_are_named() {
        let set = enterprise();
        let p = Principal::new(["external-auditors"]);
        let key = path("s3://company-reports/annual/audited/r.pdf");
        assert!(set.decide(&p, Action::Read, &key, now()).is_allowed());
        let later = DateTime::parse_from_rfc3339("2027-04-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let d = set.decide(&p, Action::Read, &key, later);
        assert!(!d.is_allowed());
        assert!(
            matches!(d.reason, Reason::NoGrant { expired: Some(r) } if r.group == "external-auditors")
        );
        assert_eq!(d.summary().basis, Basis::ExpiredGrant);
    }

    #[test]
    fn rights_are_separate() {
        let set = enterprise();
        let finance = Principal::new(["finance"]);
        assert!(
            !set.decide(
                &finance,
                Action::Write,
                &path("s3://company-reports/annual/x"),
                now()
            )
            .is_allowed()
        );
        let eng = Principal::new(["engineering"]);
        assert!(
            set.decide(&eng, Action::Write, &path("s3://drop/incoming/x"), now())
                .is_allowed()
        );
        assert!(
            !set.decide(&eng, Action::Delete, &path("s3://drop/incoming/x"), now())
                .is_allowed()
        );
    }

    #[test]
    fn an_object_grant_covers_that_object_only() {
        let set = PolicySet::new([GroupPolicy {
            group: "g".into(),
            grants: vec![grant("s3://bkt/reports/q3.pdf", Rights::READ)],
            deny: vec![],
        }]);
        let p = Principal::new(["g"]);
        assert!(
            set.decide(&p, Action::Read, &path("s3://bkt/reports/q3.pdf"), now())
                .is_allowed()
        );
        assert!(
            !set.decide(
                &p,
                Action::Read,
                &path("s3://bkt/reports/q3.pdf.bak"),
                now()
            )
            .is_allowed()
        );
        assert!(
            !set.decide(&p, Action::Read, &path("s3://bkt/reports/q3.pdf/x"), now())
                .is_allowed()
        );
        assert!(
            !set.decide(&p, Action::Read, &path("s3://bkt/reports/"), now())
                .is_allowed()
        );
    }

    #[test]
    fn same_group_loaded_twice_is_merged() {
        let set = PolicySet::new([
            GroupPolicy {
                group: "g".into(),
                grants: vec![grant("s3://bkt/a/", Rights::READ)],
                deny: vec![],
            },
            GroupPolicy {
                group: "g".into(),
                grants: vec![],
                deny: vec![deny("s3://bkt/a/x/")],
            },
        ]);
        assert_eq!(set.groups().len(), 1);
        let p = Principal::new(["g"]);
        assert!(
            !set.decide(&p, Action::Read, &path("s3://bkt/a/x/y"), now())
                .is_allowed()
        );
        assert!(
            set.decide(&p, Action::Read, &path("s3://bkt/a/y"), now())
                .is_allowed()
        );
    }

    #[test]
    fn summaries_explain() {
        let set = enterprise();
        let d = set.decide(
            &Principal::new(["external-auditors"]),
            Action::Read,
            &path("s3://company-reports/quarterly/q3.pdf"),
            now(),
        );
        let s = d.summary();
        assert_eq!(s.effect, Effect::Deny);
        assert_eq!(s.basis, Basis::NoGrant);
        assert!(
            s.explanation.contains("deny by default"),
            "{}",
            s.explanation
        );
    }
}
