//! `bucketdrive_core::config::load` must never panic, whatever the bytes: every problem is a
//! diagnostic. When it accepts a file, the result's diagnostics must render, too.
#![no_main]

use bucketdrive_core::config::load;
use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default();
    match load("bucketdrive.yaml", source, today) {
        Ok(valid) => {
            let _ = bucketdrive_core::config::render_all(&valid.warnings, source, false);
            // Every path that made it into a policy is a valid path, and prints back to itself.
            for policy in &valid.policies {
                let paths = policy
                    .grants
                    .iter()
                    .map(|g| &g.path)
                    .chain(policy.deny.iter().map(|d| &d.path));
                for path in paths {
                    let again = bucketdrive_core::path::S3Path::parse(&path.to_string());
                    assert_eq!(again.as_ref(), Ok(path), "a policy path does not round-trip");
                }
            }
        }
        Err(e) => {
            // Rendering points into the source (line/column): it must not panic either.
            let _ = e.render(false);
        }
    }
});
