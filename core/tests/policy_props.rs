//! Property tests: the engine against a naive oracle that reads design.md literally, and the
//! listing plan against "what may this person read?".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use bucketdrive_core::path::S3Path;
use bucketdrive_core::policy::{
    Action, Decision, Deny, Grant, GroupPolicy, PolicySet, Principal, Reason, Rights, Rule, Until,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;

const BUCKETS: [&str; 2] = ["bkt-a", "bkt-b"];
// Segments chosen to collide: `annual` vs `annual-private`, `a` vs `a.pdf`.
const SEGMENTS: [&str; 7] = [
    "annual",
    "annual-private",
    "a",
    "a.pdf",
    "x",
    "audited",
    "é",
];
const GROUPS: [&str; 4] = ["g0", "g1", "g2", "g3"];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-04T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn segments() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(prop::sample::select(SEGMENTS.to_vec()), 0..4)
}

/// A rule path: a prefix (`a/b/`, or the bucket root) or one object (`a/b`).
fn rule_path() -> impl Strategy<Value = S3Path> {
    (
        prop::sample::select(BUCKETS.to_vec()),
        segments(),
        any::<bool>(),
    )
        .prop_map(|(b, segs, folder)| {
            let mut key = segs.join("/");
            if folder && !key.is_empty() {
                key.push('/');
            }
            S3Path::new(b, &key).unwrap()
        })
}

/// An object key: at least one segment, no trailing slash.
fn object_path() -> impl Strategy<Value = S3Path> {
    (
        prop::sample::select(BUCKETS.to_vec()),
        prop::collection::vec(prop::sample::select(SEGMENTS.to_vec()), 1..5),
    )
        .prop_map(|(b, segs)| S3Path::new(b, &segs.join("/")).unwrap())
}

fn rights() -> impl Strategy<Value = Rights> {
    (1u8..8).prop_map(|bits| {
        let mut r = Rights::NONE;
        if bits & 1 != 0 {
            r = r.union(Rights::READ);
        }
        if bits & 2 != 0 {
            r = r.union(Rights::WRITE);
        }
        if bits & 4 != 0 {
            r = r.union(Rights::DELETE);
        }
        r
    })
}

fn until() -> impl Strategy<Value = Option<Until>> {
    prop::option::of(-3i64..3).prop_map(|days| {
        days.map(|d| {
            let date: NaiveDate = (now() + Duration::days(d)).date_naive();
            Until::parse(&date.format("%Y-%m-%d").to_string()).unwrap()
        })
    })
}

fn group_policy(name: &'static str) -> impl Strategy<Value = GroupPolicy> {
    (
        prop::collection::vec((rule_path(), rights(), until()), 0..6),
        prop::collection::vec((rule_path(), rights()), 0..3),
    )
        .prop_map(move |(grants, denies)| GroupPolicy {
            group: name.to_owned(),
            grants: grants
                .into_iter()
                .map(|(path, access, until)| Grant {
                    path,
                    access,
                    until,
                })
                .collect(),
            deny: denies
                .into_iter()
                .map(|(path, access)| Deny { path, access })
                .collect(),
        })
}

fn policies() -> impl Strategy<Value = Vec<GroupPolicy>> {
    (
        group_policy(GROUPS[0]),
        group_policy(GROUPS[1]),
        group_policy(GROUPS[2]),
        group_policy(GROUPS[3]),
    )
        .prop_map(|(a, b, c, d)| vec![a, b, c, d])
}

fn principal() -> impl Strategy<Value = Principal> {
    prop::sample::subsequence(GROUPS.to_vec(), 0..=4).prop_map(Principal::new)
}

fn action() -> impl Strategy<Value = Action> {
    prop::sample::select(Action::ALL.to_vec())
}

/// design.md, read literally: allowed iff some unexpired grant of a caller's group covers the
/// path for the action and no deny of a caller's group covers it for the action.
fn oracle(policies: &[GroupPolicy], p: &Principal, action: Action, path: &S3Path) -> bool {
    let mine = || policies.iter().filter(|g| p.groups.contains(&g.group));
    let granted = mine()
        .flat_map(|g| &g.grants)
        .any(|gr| gr.path.covers(path) && gr.access.allows(action) && !gr.is_expired(now()));
    let denied = mine()
        .flat_map(|g| &g.deny)
        .any(|d| d.path.covers(path) && d.access.allows(action));
    granted && !denied
}

fn check_reason(d: &Decision<'_>, p: &Principal, path: &S3Path) -> Result<(), TestCaseError> {
    match d.reason {
        Reason::Granted(r) => {
            let Rule::Grant(g) = r.rule else {
                return Err(TestCaseError::fail("allowed by a deny"));
            };
            prop_assert!(
                g.path.covers(path),
                "grant {} does not cover {}",
                g.path,
                path
            );
            prop_assert!(g.access.allows(d.action));
            prop_assert!(!g.is_expired(now()));
            prop_assert!(p.groups.iter().any(|x| x == r.group));
        }
        Reason::Denied(r) => {
            let Rule::Deny(x) = r.rule else {
                return Err(TestCaseError::fail("denied by a grant"));
            };
            prop_assert!(x.path.covers(path));
            prop_assert!(x.access.allows(d.action));
            prop_assert!(p.groups.iter().any(|g| g == r.group));
        }
        Reason::NoGrant { expired } => {
            if let Some(r) = expired {
                let Rule::Grant(g) = r.rule else {
                    return Err(TestCaseError::fail("expired deny"));
                };
                prop_assert!(g.is_expired(now()) && g.path.covers(path));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decide_agrees_with_the_oracle_and_names_a_covering_rule(
        policies in policies(), p in principal(), action in action(), path in object_path(),
    ) {
        let set = PolicySet::new(policies.clone());
        let d = set.decide(&p, action, &path, now());
        prop_assert_eq!(d.is_allowed(), oracle(&policies, &p, action, &path), "{}", d);
        check_reason(&d, &p, &path)?;
    }

    #[test]
    fn a_prefix_never_covers_its_dash_sibling(seg in prop::sample::select(SEGMENTS.to_vec()), rest in segments()) {
        let set = PolicySet::new([GroupPolicy {
            group: "g0".into(),
            grants: vec![Grant { path: S3Path::new("bkt-a", &format!("{seg}/")).unwrap(), access: Rights::ALL, until: None }],
            deny: vec![],
        }]);
        let p = Principal::new(["g0"]);
        let mut key = format!("{seg}-private");
        for r in rest { key.push('/'); key.push_str(r); }
        let sibling = S3Path::new("bkt-a", &key).unwrap();
        for a in Action::ALL {
            prop_assert!(!set.decide(&p, a, &sibling, now()).is_allowed());
        }
        // Nor the key that equals the prefix without its slash.
        let bare = S3Path::new("bkt-a", seg).unwrap();
        prop_assert!(!set.decide(&p, Action::Read, &bare, now()).is_allowed());
    }

    #[test]
    fn listing_shows_exactly_what_may_be_read(
        policies in policies(), p in principal(),
        content in prop::collection::btree_set(object_path(), 0..25),
    ) {
        let set = PolicySet::new(policies);
        for bucket in BUCKETS {
            let objects: BTreeSet<String> = content.iter().filter(|o| o.bucket() == bucket).map(|o| o.key().to_owned()).collect();
            let mut visible = BTreeSet::new();
            let mut listed_prefixes = Vec::new();
            walk(&set, &p, bucket, "", &objects, &mut visible, &mut listed_prefixes, 0)?;
            let readable: BTreeSet<String> = objects
                .iter()
                .filter(|k| set.decide(&p, Action::Read, &S3Path::new(bucket, k).unwrap(), now()).is_allowed())
                .cloned()
                .collect();
            prop_assert_eq!(&visible, &readable);
            // Cost: S3 is only ever asked to list prefixes the caller may read.
            for prefix in listed_prefixes {
                let folder = S3Path::new(bucket, &prefix).unwrap();
                prop_assert!(set.decide(&p, Action::Read, &folder, now()).is_allowed());
            }
        }
    }
}

/// Walks the folder tree the way a person clicking through the app would, using the listing
/// plan and, where the plan says "list", the bucket content (one level, delimiter `/`).
#[allow(clippy::too_many_arguments)]
fn walk(
    set: &PolicySet,
    p: &Principal,
    bucket: &str,
    folder: &str,
    objects: &BTreeSet<String>,
    visible: &mut BTreeSet<String>,
    listed: &mut Vec<String>,
    depth: usize,
) -> Result<(), TestCaseError> {
    prop_assert!(depth < 8, "listing does not terminate");
    let folder_path = S3Path::new(bucket, folder).unwrap();
    let Ok(plan) = set.plan_listing(p, &folder_path, now()) else {
        return Ok(());
    };
    let mut subfolders = BTreeSet::new();
    if let Some(prefix) = &plan.list_prefix {
        listed.push(prefix.clone());
        for key in objects.iter().filter(|k| k.starts_with(prefix.as_str())) {
            let rest = &key[prefix.len()..];
            match rest.split_once('/') {
                Some((child, _)) => {
                    let sub = format!("{prefix}{child}/");
                    if set
                        .decide(p, Action::Read, &S3Path::new(bucket, &sub).unwrap(), now())
                        .is_allowed()
                    {
                        subfolders.insert(sub);
                    }
                }
                None => {
                    if set
                        .decide(p, Action::Read, &S3Path::new(bucket, key).unwrap(), now())
                        .is_allowed()
                    {
                        visible.insert(key.clone());
                    }
                }
            }
        }
    } else {
        for f in &plan.folders {
            subfolders.insert(format!("{folder}{f}/"));
        }
        for key in &plan.objects {
            if objects.contains(key) {
                visible.insert(key.clone());
            }
        }
    }
    for sub in subfolders {
        walk(set, p, bucket, &sub, objects, visible, listed, depth + 1)?;
    }
    Ok(())
}
