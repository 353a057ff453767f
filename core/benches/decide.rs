//! `decide` and the listing plan as the number of grants grows. Decisions look up only the
//! ancestors of the key, so the time should stay flat from 10 to 10 000 grants.
//!
//! cargo bench -p bucketdrive-core --bench decide

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use bucketdrive_core::path::S3Path;
use bucketdrive_core::policy::{Action, Deny, Grant, GroupPolicy, PolicySet, Principal, Rights};
use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const GRANTS_PER_GROUP: usize = 10;

/// `n` grants over `n / 10` groups, each on its own department/team prefix, plus one deny per
/// group. The caller is in three of the groups.
fn policy_set(n: usize) -> PolicySet {
    let groups = (n / GRANTS_PER_GROUP).max(1);
    PolicySet::new((0..groups).map(|g| {
        GroupPolicy {
            group: format!("group-{g}"),
            grants: (0..GRANTS_PER_GROUP.min(n))
                .map(|i| Grant {
                    path: S3Path::new("company-reports", &format!("dept-{g}/team-{i}/")).unwrap(),
                    access: if i % 2 == 0 {
                        Rights::READ
                    } else {
                        Rights::READ_WRITE
                    },
                    until: None,
                })
                .collect(),
            deny: vec![Deny {
                path: S3Path::new("company-reports", &format!("dept-{g}/team-0/secret/")).unwrap(),
                access: Rights::ALL,
            }],
        }
    }))
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-04T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for n in [10usize, 1_000, 10_000] {
        let set = policy_set(n);
        let last = (n / GRANTS_PER_GROUP).max(1) - 1;
        let principal = Principal::new([
            format!("group-{last}"),
            "group-0".to_owned(),
            "not-a-group".to_owned(),
        ]);
        let allowed = S3Path::parse(&format!(
            "s3://company-reports/dept-{last}/team-3/2026/q3/report.pdf"
        ))
        .unwrap();
        let denied = S3Path::parse("s3://company-reports/dept-0/team-0/secret/plan.pdf").unwrap();
        let unknown = S3Path::parse("s3://company-reports/elsewhere/a/b/c.pdf").unwrap();
        assert!(
            set.decide(&principal, Action::Read, &allowed, now())
                .is_allowed()
        );
        assert!(
            !set.decide(&principal, Action::Read, &denied, now())
                .is_allowed()
        );
        group.bench_with_input(BenchmarkId::new("allowed", n), &n, |b, _| {
            b.iter(|| {
                set.decide(
                    black_box(&principal),
                    Action::Read,
                    black_box(&allowed),
                    now(),
                )
                .is_allowed()
            })
        });
        group.bench_with_input(BenchmarkId::new("explicit-deny", n), &n, |b, _| {
            b.iter(|| {
                set.decide(
                    black_box(&principal),
                    Action::Read,
                    black_box(&denied),
                    now(),
                )
                .is_allowed()
            })
        });
        group.bench_with_input(BenchmarkId::new("no-grant", n), &n, |b, _| {
            b.iter(|| {
                set.decide(
                    black_box(&principal),
                    Action::Read,
                    black_box(&unknown),
                    now(),
                )
                .is_allowed()
            })
        });
        let root = S3Path::parse("s3://company-reports/").unwrap();
        group.bench_with_input(BenchmarkId::new("plan-root-listing", n), &n, |b, _| {
            b.iter(|| {
                set.plan_listing(black_box(&principal), black_box(&root), now())
                    .map(|p| p.folders.len())
            })
        });
        group.bench_with_input(BenchmarkId::new("build-policy-set", n), &n, |b, &n| {
            b.iter(|| policy_set(black_box(n)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
