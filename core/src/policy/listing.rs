//! The listing plan: what to ask S3 for, and what to make up, when a caller opens a folder.
//!
//! The cost of a listing must grow with what the caller may see, never with the bucket. So the
//! plan never lists a prefix the caller is not granted: inside a granted folder it lists that
//! folder (one level, delimiter `/`) and every returned entry is passed through [`PolicySet::decide`];
//! above granted folders it lists nothing and synthesises the folder names that lead down to the
//! grants, plus the objects granted by name directly in the folder.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::engine::{Decision, PolicySet, Principal, Reason};
use super::rule::Action;
use crate::path::S3Path;

/// What to do to list one folder for one principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPlan<'a> {
    /// The folder, always ending in `/` (or the bucket root).
    pub folder: S3Path,
    /// The decision on reading the folder itself.
    pub decision: Decision<'a>,
    /// When the folder itself is granted: the one S3 prefix to list, with delimiter `/`. Every
    /// entry S3 returns must still pass [`PolicySet::decide`] (a deny may cover part of it).
    pub list_prefix: Option<String>,
    /// Child folders that lead to granted prefixes below (names without `/`), sorted.
    pub folders: Vec<String>,
    /// Objects granted by name directly inside the folder (full keys), sorted. Whether each
    /// exists is for the caller to find out.
    pub objects: Vec<String>,
}

/// One entry point of a principal: a granted prefix or object not inside another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root<'a> {
    pub path: &'a S3Path,
    pub group: &'a str,
}

impl PolicySet {
    /// Plans the listing of `folder` (an object path is read as the folder of that name).
    /// Returns the refusing decision when the principal may see nothing in it.
    pub fn plan_listing(
        &self,
        principal: &Principal,
        folder: &S3Path,
        now: DateTime<Utc>,
    ) -> Result<ListingPlan<'_>, Decision<'_>> {
        let folder = folder.to_folder();
        let decision = self.decide(principal, Action::Read, &folder, now);
        match decision.reason {
            Reason::Granted(_) => {
                let list_prefix = Some(folder.key().to_owned());
                return Ok(ListingPlan {
                    folder,
                    decision,
                    list_prefix,
                    folders: Vec::new(),
                    objects: Vec::new(),
                });
            }
            // A deny on the folder covers everything below it.
            Reason::Denied(_) => return Err(decision),
            Reason::NoGrant { .. } => {}
        }

        // Only the caller's own grants can lead anywhere: walk those, not every rule below the
        // folder, so planning costs what the caller holds, not what the bucket's policy holds.
        let mut folders = BTreeSet::new();
        let mut objects = BTreeSet::new();
        for held in self.held_grants(principal, now) {
            let g = held.grant;
            if !g.access.allows(Action::Read) || g.path.bucket() != folder.bucket() {
                continue;
            }
            let Some(rest) = g.path.key().strip_prefix(folder.key()) else {
                continue;
            };
            if rest.is_empty() {
                continue;
            }
            match rest.split_once('/') {
                Some((child, _)) => {
                    folders.insert(child.to_owned());
                }
                None => {
                    objects.insert(g.path.key().to_owned());
                }
            }
        }
        // Hide what a deny takes away entirely.
        let readable = |p: Result<S3Path, _>| {
            p.map(|p| {
                !matches!(
                    self.decide(principal, Action::Read, &p, now).reason,
                    Reason::Denied(_)
                )
            })
            .unwrap_or(false)
        };
        let folders: Vec<String> = folders
            .into_iter()
            .filter(|name| readable(folder.child(&format!("{name}/"))))
            .collect();
        let objects: Vec<String> = objects
            .into_iter()
            .filter(|key| readable(S3Path::new(folder.bucket(), key)))
            .collect();
        if folders.is_empty() && objects.is_empty() {
            return Err(decision);
        }
        Ok(ListingPlan {
            folder,
            decision,
            list_prefix: None,
            folders,
            objects,
        })
    }

    /// The principal's entry points: every readable grant not covered by another of its
    /// readable grants and not taken away by a deny, sorted by path.
    pub fn roots(&self, principal: &Principal, now: DateTime<Utc>) -> Vec<Root<'_>> {
        let mut held: Vec<Root<'_>> = self
            .held_grants(principal, now)
            .into_iter()
            .filter(|h| h.grant.access.allows(Action::Read))
            .map(|h| Root {
                path: &h.grant.path,
                group: h.group,
            })
            .collect();
        held.sort_by(|a, b| a.path.cmp(b.path).then(a.group.cmp(b.group)));
        held.dedup_by(|later, earlier| later.path == earlier.path);
        let all = held.clone();
        held.retain(|r| {
            !all.iter()
                .any(|other| other.path != r.path && other.path.covers(r.path))
                && !matches!(
                    self.decide(principal, Action::Read, r.path, now).reason,
                    Reason::Denied(_)
                )
        });
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rule::{Deny, Grant, GroupPolicy, Rights, Until};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn path(s: &str) -> S3Path {
        S3Path::parse(s).unwrap()
    }

    fn grant(p: &str) -> Grant {
        Grant {
            path: path(p),
            access: Rights::READ,
            until: None,
        }
    }

    fn set() -> PolicySet {
        PolicySet::new([
            GroupPolicy {
                group: "finance".into(),
                grants: vec![
                    grant("s3://company-reports/finance/quarterly/"),
                    grant("s3://company-reports/finance/annual/"),
                    grant("s3://company-reports/board/minutes.pdf"),
                    grant("s3://company-reports/hr/payroll/2026/"),
                ],
                deny: vec![Deny {
                    path: path("s3://company-reports/hr/"),
                    access: Rights::ALL,
                }],
            },
            GroupPolicy {
                group: "auditors".into(),
                grants: vec![
                    grant("s3://company-reports/audit/"),
                    Grant {
                        path: path("s3://company-reports/old/"),
                        access: Rights::READ,
                        until: Some(Until::parse("2020-01-01").unwrap()),
                    },
                ],
                deny: vec![],
            },
        ])
    }

    #[test]
    fn above_grants_it_synthesises_the_way_down_and_lists_nothing() {
        let set = set();
        let p = Principal::new(["finance"]);
        let plan = set
            .plan_listing(&p, &path("s3://company-reports/"), now())
            .unwrap();
        assert_eq!(plan.list_prefix, None);
        // `hr/` leads only to a denied grant; `audit/` is another group's.
        assert_eq!(plan.folders, vec!["board".to_owned(), "finance".to_owned()]);
        assert_eq!(plan.objects, Vec::<String>::new());
        let board = set
            .plan_listing(&p, &path("s3://company-reports/board/"), now())
            .unwrap();
        assert_eq!(board.objects, vec!["board/minutes.pdf".to_owned()]);
        assert!(board.folders.is_empty());
    }

    #[test]
    fn inside_a_grant_it_lists_that_one_prefix() {
        let set = set();
        let p = Principal::new(["finance"]);
        let plan = set
            .plan_listing(
                &p,
                &path("s3://company-reports/finance/annual/2025/"),
                now(),
            )
            .unwrap();
        assert_eq!(plan.list_prefix.as_deref(), Some("finance/annual/2025/"));
        assert!(plan.decision.is_allowed());
    }

    #[test]
    fn nothing_visible_is_a_refusal() {
        let set = set();
        let p = Principal::new(["finance"]);
        assert!(
            set.plan_listing(&p, &path("s3://company-reports/hr/"), now())
                .is_err()
        );
        assert!(
            set.plan_listing(&p, &path("s3://company-reports/legal/"), now())
                .is_err()
        );
        let auditors = Principal::new(["auditors"]);
        // The only grant below `old/` expired.
        assert!(
            set.plan_listing(&auditors, &path("s3://company-reports/old/"), now())
                .is_err()
        );
    }

    #[test]
    fn prefix_confusion_does_not_leak_siblings() {
        let set = PolicySet::new([GroupPolicy {
            group: "g".into(),
            grants: vec![grant("s3://bkt/annual/")],
            deny: vec![],
        }]);
        let p = Principal::new(["g"]);
        assert!(
            set.plan_listing(&p, &path("s3://bkt/annual-private/"), now())
                .is_err()
        );
        let root = set.plan_listing(&p, &path("s3://bkt/"), now()).unwrap();
        assert_eq!(root.folders, vec!["annual".to_owned()]);
    }

    #[test]
    fn roots_are_minimal_and_exclude_denied_and_expired() {
        let mut groups = set().groups().to_vec();
        groups.push(GroupPolicy {
            group: "finance-leads".into(),
            grants: vec![grant("s3://company-reports/finance/")],
            deny: vec![],
        });
        let set = PolicySet::new(groups);
        let p = Principal::new(["finance", "finance-leads", "auditors"]);
        let roots: Vec<String> = set
            .roots(&p, now())
            .iter()
            .map(|r| r.path.to_string())
            .collect();
        assert_eq!(
            roots,
            vec![
                "s3://company-reports/audit/",
                "s3://company-reports/board/minutes.pdf",
                "s3://company-reports/finance/",
            ]
        );
    }
}
