//! The policy engine against a literal reading of docs/policy.md, on arbitrary rule sets.
//!
//! An allow must name a grant of one of the caller's groups that covers the path (on segment
//! boundaries) with the right asked for and has not expired, and no deny of any of the caller's
//! groups may cover the path for that right. Conversely, when such a grant exists and no such
//! deny does, the engine must allow. A refusal by deny must name a covering deny of a caller's
//! group. Rules come as separate policy documents of possibly the same group (merged by the
//! engine), over two buckets and segment names chosen to collide (`a`, `a-b`, `ab`, NFC/NFD é).
#![no_main]

use arbitrary::Arbitrary;
use bucketdrive_core::path::S3Path;
use bucketdrive_core::policy::{
    Action, Deny, Grant, GroupPolicy, PolicySet, Principal, Reason, Rights, Rule, Until,
};
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;

const SEGMENTS: [&str; 8] = ["a", "b", "a-b", "ab", "a.b", "\u{e9}", "e\u{301}", "annual"];
const BUCKETS: [&str; 2] = ["bkt-one", "bkt-two"];

#[derive(Arbitrary, Debug)]
struct RuleIn {
    group: u8,
    deny: bool,
    bucket: bool,
    segments: Vec<u8>,
    folder: bool,
    access: u8,
    until: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    rules: Vec<RuleIn>,
    groups: Vec<u8>,
    bucket: bool,
    segments: Vec<u8>,
    folder: bool,
    action: u8,
    hour: u8,
}

fn key(segments: &[u8], folder: bool) -> String {
    let k: Vec<&str> = segments
        .iter()
        .take(4)
        .map(|s| SEGMENTS[*s as usize % SEGMENTS.len()])
        .collect();
    if k.is_empty() {
        return String::new();
    }
    let mut s = k.join("/");
    if folder {
        s.push('/');
    }
    s
}

fn rights(bits: u8) -> Rights {
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
    if r.is_empty() { Rights::READ } else { r }
}

fn literal_covers(rule: &S3Path, path: &S3Path) -> bool {
    rule.bucket() == path.bucket()
        && if rule.key().is_empty() || rule.key().ends_with('/') {
            path.key().starts_with(rule.key())
        } else {
            rule.key() == path.key()
        }
}

struct Literal {
    group: String,
    deny: bool,
    path: S3Path,
    access: Rights,
    ends_at: Option<DateTime<Utc>>,
}

fuzz_target!(|input: Input| {
    let mut policies = Vec::new();
    let mut literal = Vec::new();
    for r in input.rules.iter().take(64) {
        let group = format!("g{}", r.group % 4);
        let Ok(path) = S3Path::new(BUCKETS[r.bucket as usize], &key(&r.segments, r.folder)) else {
            continue;
        };
        let access = rights(r.access);
        let until = r
            .until
            .and_then(|d| Until::parse(&format!("2026-12-{:02}", 1 + d % 8)).ok());
        literal.push(Literal {
            group: group.clone(),
            deny: r.deny,
            path: path.clone(),
            access,
            ends_at: if r.deny { None } else { until.as_ref().map(Until::ends_at) },
        });
        let (grants, deny) = if r.deny {
            (vec![], vec![Deny { path, access }])
        } else {
            (vec![Grant { path, access, until }], vec![])
        };
        policies.push(GroupPolicy { group, grants, deny });
    }
    let set = PolicySet::new(policies);
    let members: Vec<String> = input
        .groups
        .iter()
        .take(4)
        .map(|g| format!("g{}", g % 5)) // g4 holds nothing
        .collect();
    let principal = Principal::new(members.iter().cloned());
    let Ok(path) = S3Path::new(BUCKETS[input.bucket as usize], &key(&input.segments, input.folder))
    else {
        return;
    };
    let action = Action::ALL[input.action as usize % 3];
    let now = DateTime::parse_from_rfc3339("2026-12-04T00:00:00Z")
        .map(|t| t.with_timezone(&Utc) + chrono::Duration::hours(i64::from(input.hour % 96)))
        .unwrap_or_default();

    let applies = |l: &&Literal| {
        members.contains(&l.group) && l.access.allows(action) && literal_covers(&l.path, &path)
    };
    let any_deny = literal.iter().filter(applies).any(|l| l.deny);
    let live_grant = literal
        .iter()
        .filter(applies)
        .any(|l| !l.deny && l.ends_at.is_none_or(|e| now < e));

    let decision = set.decide(&principal, action, &path, now);
    assert_eq!(
        decision.is_allowed(),
        !any_deny && live_grant,
        "decide disagrees with the literal rules for {path} ({action:?}) as {members:?}: {decision:?}"
    );
    match decision.reason {
        Reason::Granted(r) => {
            let Rule::Grant(g) = r.rule else {
                panic!("an allow that names a deny: {decision:?}")
            };
            assert!(members.iter().any(|m| m == r.group), "granted by another group's rule");
            assert!(literal_covers(&g.path, &path), "granted by a rule that does not cover");
            assert!(g.access.allows(action), "granted without the right");
            assert!(!g.is_expired(now), "granted by an expired grant");
            assert!(!any_deny, "allowed despite a covering deny");
        }
        Reason::Denied(r) => {
            let Rule::Deny(d) = r.rule else {
                panic!("a deny that names a grant: {decision:?}")
            };
            assert!(members.iter().any(|m| m == r.group), "denied by another group's rule");
            assert!(literal_covers(&d.path, &path) && d.access.allows(action));
        }
        Reason::NoGrant { expired } => {
            if let Some(r) = expired {
                let Rule::Grant(g) = r.rule else {
                    panic!("an expired deny: {decision:?}")
                };
                assert!(g.is_expired(now) && literal_covers(&g.path, &path));
            }
        }
    }
});
