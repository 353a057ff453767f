//! The key and path parser. Oracle, written out literally here: a key is accepted exactly when
//! it is at most 1024 bytes, has no control character (C0, DEL, C1), no backslash, does not
//! start with `/`, and (one trailing `/` aside) has no empty, `.` or `..` segment. An accepted
//! path prints back to itself and parses to the same value.
#![no_main]

use bucketdrive_core::path::{S3Path, validate_key, validate_object_key};
use libfuzzer_sys::fuzz_target;

fn literal_ok(key: &str) -> bool {
    if key.len() > 1024 || key.starts_with('/') {
        return false;
    }
    if key.chars().any(|c| {
        let c = c as u32;
        c < 0x20 || (0x7f..=0x9f).contains(&c) || c == u32::from(b'\\')
    }) {
        return false;
    }
    let body = key.strip_suffix('/').unwrap_or(key);
    if body.is_empty() {
        return key.is_empty();
    }
    body.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
}

fuzz_target!(|text: &str| {
    // The text as a key.
    let ok = literal_ok(text);
    assert_eq!(validate_key(text).is_ok(), ok, "validate_key disagrees on {text:?}");
    let object_ok = ok && !text.is_empty() && !text.ends_with('/');
    assert_eq!(
        validate_object_key(text).is_ok(),
        object_ok,
        "validate_object_key disagrees on {text:?}"
    );

    // The text as an `s3://` path, and as the key of a fixed bucket.
    for candidate in [text.to_owned(), format!("s3://bkt-one/{text}")] {
        if let Ok(p) = S3Path::parse(&candidate) {
            assert!(literal_ok(p.key()), "accepted a bad key: {candidate:?}");
            assert!(p.key().len() <= 1024);
            let printed = p.to_string();
            assert_eq!(S3Path::parse(&printed).as_ref(), Ok(&p), "no round trip: {candidate:?}");
            assert!(printed == candidate || format!("{candidate}/") == printed);
            assert!(p.covers(&p), "a path must cover itself: {candidate:?}");
            if !p.is_prefix() {
                // Segment boundaries: the folder `k/` never covers the object `k`.
                assert!(!p.to_folder().covers(&p), "folder covers its namesake: {candidate:?}");
            }
        } else if let Some(key) = candidate.strip_prefix("s3://bkt-one/") {
            assert!(!literal_ok(key), "refused a good key: {candidate:?}");
        }
    }
});
