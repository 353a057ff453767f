//! `bucketdrive.yaml` as users write it: every example validates, and malformed files get errors
//! that name file:line:column and say what to write instead (snapshots under snapshots/).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use bucketdrive_core::config::{Severity, load};
use chrono::NaiveDate;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
}

fn examples_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn every_example_validates_without_warnings() {
    let mut seen = 0;
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        match load(&name, &source, today()) {
            Ok(valid) => assert!(
                valid.warnings.is_empty(),
                "{name} has warnings: {:#?}",
                valid.warnings
            ),
            Err(e) => panic!("{name} does not validate:\n{}", e.render(false)),
        }
        seen += 1;
    }
    assert!(
        seen >= 2,
        "expected the quickstart and enterprise examples, found {seen}"
    );
}

#[test]
fn malformed_configs_are_refused_with_positions() {
    insta::glob!("data/bad/*.yaml", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let name = format!("bad/{}", path.file_name().unwrap().to_string_lossy());
        let err = match load(&name, &source, today()) {
            Ok(_) => panic!("{name} was accepted"),
            Err(e) => e,
        };
        assert!(!err.diagnostics.is_empty());
        for d in &err.diagnostics {
            assert_eq!(d.severity, Severity::Error);
            assert!(
                d.line.is_some() && d.column.is_some(),
                "{name}: no position in {d}"
            );
            assert!(d.help.is_some(), "{name}: no help in {d}");
        }
        insta::assert_snapshot!(err.render(false));
    });
}

#[test]
fn redundant_and_ineffective_rules_are_warnings() {
    let source = r#"stack: acme-files
region: eu-west-1
buckets:
  - name: company-reports
groups:
  finance:
    grants:
      - s3://company-reports/annual/
      - s3://company-reports/annual/2025/
      - s3://company-reports/board-minutes
      - { path: "s3://company-reports/old/", until: 2020-01-01 }
    deny:
      - s3://company-reports/hr/
  idle: {}
"#;
    let valid = load("warn.yaml", source, today()).unwrap();
    let lines: Vec<String> = valid.warnings.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(lines.join("\n"));
    assert_eq!(valid.warnings.len(), 5, "{lines:#?}");
}

#[test]
fn the_policy_documents_follow_the_file() {
    let source = std::fs::read_to_string(examples_dir().join("enterprise.yaml")).unwrap();
    let valid = load("enterprise.yaml", &source, today()).unwrap();
    let names: Vec<&str> = valid.policies.iter().map(|p| p.group.as_str()).collect();
    assert_eq!(names, ["finance", "external-auditors", "it-admins"]);
    let auditors = &valid.policies[1];
    assert_eq!(
        auditors.grants[0].path.to_string(),
        "s3://company-reports/annual/audited/"
    );
    assert_eq!(
        auditors.grants[0].until.as_ref().unwrap().as_str(),
        "2027-06-30"
    );
    assert_eq!(valid.url_ttl.as_secs(), 600);
    assert_eq!(valid.archive_retention_days, 2557);
}

#[test]
fn defaults_are_secure() {
    let source = "stack: s\nregion: eu-west-1\nbuckets: [{name: files-bucket}]\n";
    let valid = load("min.yaml", source, today()).unwrap();
    let c = &valid.config;
    assert_eq!(c.identity.mfa, bucketdrive_core::config::Mfa::Required);
    assert!(!c.identity.password_auth);
    assert!(!c.identity.self_signup);
    assert_eq!(valid.url_ttl.as_secs(), 600);
    assert!(valid.policies.is_empty());
}
