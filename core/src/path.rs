//! S3 paths (`s3://bucket/key`) and the rules a key must follow before BucketDrive will
//! authorise or sign it.
//!
//! S3 keys are literal byte strings: `..`, `//`, `%2e` or a leading `/` mean nothing special to
//! S3, but they mean something to the people reading an audit log and to every tool that later
//! copies the object to a file system. BucketDrive therefore refuses keys that *look* like path
//! syntax instead of trying to interpret them, and compares keys byte for byte (no Unicode
//! normalisation: NFC and NFD "é" are different objects, as they are in S3).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// S3's own limit on a key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// A bucket plus a key. An empty key or one ending in `/` names a prefix (a "folder"); any other
/// key names exactly one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct S3Path {
    bucket: String,
    key: String,
}

/// Why a path or key was refused. Messages are lower-case and name the offending part so they
/// can be shown to the user as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path `{0}` does not start with `s3://`; write it as `s3://bucket/key`")]
    MissingScheme(String),
    #[error("path `{0}` has no bucket name after `s3://`")]
    MissingBucket(String),
    #[error("invalid bucket name `{name}`: {reason}")]
    Bucket {
        name: String,
        reason: BucketNameError,
    },
    #[error("invalid key: {0}")]
    Key(#[from] KeyError),
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is {0} bytes long; S3 keys are at most {MAX_KEY_BYTES} bytes")]
    TooLong(usize),
    #[error("the key contains a control character (U+{0:04X}) at byte {1}")]
    ControlCharacter(u32, usize),
    #[error("the key contains a backslash at byte {0}; use `/` to separate folders")]
    Backslash(usize),
    #[error(
        "the key starts with `/`; keys are relative to the bucket (write `s3://bucket/a/b`, not `s3://bucket//a/b`)"
    )]
    LeadingSlash,
    #[error("the key contains an empty segment (`//`) at byte {0}")]
    EmptySegment(usize),
    #[error(
        "the key contains a `{segment}` segment at byte {at}; `.` and `..` are not allowed in keys"
    )]
    DotSegment { segment: &'static str, at: usize },
    #[error("the key names a folder (it ends with `/`); name one object")]
    NotAnObject,
    #[error("the key is empty; name one object")]
    Empty,
}

/// Why a bucket name breaks the S3 naming rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketNameError {
    #[error("bucket names are 3 to 63 characters long")]
    Length,
    #[error("bucket names use only lower-case letters, digits, `.` and `-` (found `{0}`)")]
    Character(char),
    #[error("bucket names start and end with a lower-case letter or a digit")]
    Edge,
    #[error("bucket names may not contain `..`, `.-` or `-.`")]
    AdjacentPunctuation,
    #[error("bucket names may not look like an IP address")]
    IpAddress,
    #[error("bucket names may not start with `{0}` (reserved by AWS)")]
    ReservedPrefix(&'static str),
    #[error("bucket names may not end with `{0}` (reserved by AWS)")]
    ReservedSuffix(&'static str),
}

const RESERVED_PREFIXES: [&str; 4] = ["xn--", "sthree-", "amzn-s3-demo-", "sthree-configurator"];
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// Checks a bucket name against the S3 general-purpose bucket naming rules.
pub fn validate_bucket_name(name: &str) -> Result<(), BucketNameError> {
    if !(3..=63).contains(&name.len()) {
        return Err(BucketNameError::Length);
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(BucketNameError::Character(c));
    }
    let bytes = name.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
        return Err(BucketNameError::Edge);
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(BucketNameError::AdjacentPunctuation);
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err(BucketNameError::IpAddress);
    }
    if let Some(p) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return Err(BucketNameError::ReservedPrefix(p));
    }
    if let Some(s) = RESERVED_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        return Err(BucketNameError::ReservedSuffix(s));
    }
    Ok(())
}

/// Checks a key (or a prefix ending in `/`) for the syntax BucketDrive refuses. The empty key
/// (the bucket root) is valid here; [`validate_object_key`] is the stricter check for one object.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong(key.len()));
    }
    if key.starts_with('/') {
        return Err(KeyError::LeadingSlash);
    }
    for (at, c) in key.char_indices() {
        if c.is_control() {
            return Err(KeyError::ControlCharacter(c as u32, at));
        }
        if c == '\\' {
            return Err(KeyError::Backslash(at));
        }
    }
    // A trailing `/` marks a prefix; every segment before it must be a real name.
    let body = key.strip_suffix('/').unwrap_or(key);
    if body.is_empty() {
        return if key.is_empty() {
            Ok(())
        } else {
            Err(KeyError::LeadingSlash)
        };
    }
    let mut at = 0;
    for segment in body.split('/') {
        match segment {
            "" => return Err(KeyError::EmptySegment(at)),
            "." => return Err(KeyError::DotSegment { segment: ".", at }),
            ".." => return Err(KeyError::DotSegment { segment: "..", at }),
            _ => {}
        }
        at += segment.len() + 1;
    }
    Ok(())
}

/// [`validate_key`], and the key must name one object (not empty, no trailing `/`).
pub fn validate_object_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.ends_with('/') {
        return Err(KeyError::NotAnObject);
    }
    validate_key(key)
}

impl S3Path {
    /// Parses `s3://bucket`, `s3://bucket/`, `s3://bucket/prefix/` or `s3://bucket/key`.
    /// `s3://bucket` is read as the whole bucket (`s3://bucket/`).
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| PathError::MissingScheme(text.to_owned()))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(PathError::MissingBucket(text.to_owned()));
        }
        validate_bucket_name(bucket).map_err(|reason| PathError::Bucket {
            name: bucket.to_owned(),
            reason,
        })?;
        validate_key(key)?;
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    /// Builds a path from parts that were already validated elsewhere (e.g. keys S3 returned in
    /// a listing of a validated prefix). Still refuses what [`S3Path::parse`] refuses.
    pub fn new(bucket: &str, key: &str) -> Result<Self, PathError> {
        validate_bucket_name(bucket).map_err(|reason| PathError::Bucket {
            name: bucket.to_owned(),
            reason,
        })?;
        validate_key(key)?;
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// True for the bucket root and for keys ending in `/`.
    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    /// True when `self` (a prefix) contains `other`, on segment boundaries: `s3://bkt/annual/`
    /// contains `s3://bkt/annual/x.pdf` and `s3://bkt/annual/`, never `s3://bkt/annual-private/x`.
    /// An object path contains only itself.
    pub fn covers(&self, other: &S3Path) -> bool {
        if self.bucket != other.bucket {
            return false;
        }
        if self.is_prefix() {
            other.key.starts_with(&self.key)
        } else {
            self.key == other.key
        }
    }

    /// This path as a folder: unchanged when it is already a prefix, otherwise with `/` appended.
    pub fn to_folder(&self) -> S3Path {
        if self.is_prefix() {
            return self.clone();
        }
        S3Path {
            bucket: self.bucket.clone(),
            key: format!("{}/", self.key),
        }
    }

    /// The path of a child of this folder: `child` is one segment, or one segment plus `/`.
    /// The result is validated like any other path.
    pub fn child(&self, child: &str) -> Result<S3Path, PathError> {
        S3Path::new(&self.bucket, &format!("{}{child}", self.to_folder().key))
    }

    /// The last segment: `report.pdf` for `s3://bkt/a/report.pdf`, `a` for `s3://bkt/a/`, the
    /// bucket name for the bucket root.
    pub fn name(&self) -> &str {
        let body = self.key.strip_suffix('/').unwrap_or(&self.key);
        if body.is_empty() {
            return &self.bucket;
        }
        body.rsplit('/').next().unwrap_or(body)
    }
}

impl fmt::Display for S3Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl std::str::FromStr for S3Path {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        S3Path::parse(s)
    }
}

impl Serialize for S3Path {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for S3Path {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        S3Path::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> S3Path {
        S3Path::parse(s).unwrap()
    }

    #[test]
    fn parses_bucket_root_prefix_and_object() {
        assert_eq!(p("s3://reports").key(), "");
        assert_eq!(p("s3://reports/").key(), "");
        assert!(p("s3://reports/annual/").is_prefix());
        assert!(!p("s3://reports/annual/x.pdf").is_prefix());
        assert_eq!(
            p("s3://reports/annual/x.pdf").to_string(),
            "s3://reports/annual/x.pdf"
        );
        assert_eq!(p("s3://reports").to_string(), "s3://reports/");
    }

    #[test]
    fn covers_only_on_segment_boundaries() {
        assert!(p("s3://bkt/annual/").covers(&p("s3://bkt/annual/x.pdf")));
        assert!(p("s3://bkt/annual/").covers(&p("s3://bkt/annual/")));
        assert!(p("s3://bkt/annual/").covers(&p("s3://bkt/annual/deep/er/x")));
        assert!(!p("s3://bkt/annual/").covers(&p("s3://bkt/annual-private/x.pdf")));
        assert!(!p("s3://bkt/annual/").covers(&p("s3://bkt/annual")));
        assert!(!p("s3://bkt/annual/").covers(&p("s3://other/annual/x")));
        assert!(p("s3://bkt/").covers(&p("s3://bkt/anything")));
        assert!(p("s3://bkt/a.pdf").covers(&p("s3://bkt/a.pdf")));
        assert!(!p("s3://bkt/a.pdf").covers(&p("s3://bkt/a.pdf.bak")));
    }

    #[test]
    fn refuses_path_syntax_in_keys() {
        for (key, expected) in [
            ("/a", KeyError::LeadingSlash),
            ("a//b", KeyError::EmptySegment(2)),
            (
                "a/./b",
                KeyError::DotSegment {
                    segment: ".",
                    at: 2,
                },
            ),
            (
                "a/../b",
                KeyError::DotSegment {
                    segment: "..",
                    at: 2,
                },
            ),
            (
                "..",
                KeyError::DotSegment {
                    segment: "..",
                    at: 0,
                },
            ),
            (
                "a/..",
                KeyError::DotSegment {
                    segment: "..",
                    at: 2,
                },
            ),
            (
                "a/../",
                KeyError::DotSegment {
                    segment: "..",
                    at: 2,
                },
            ),
            ("a\\b", KeyError::Backslash(1)),
            ("a\nb", KeyError::ControlCharacter(0x0a, 1)),
            ("a\u{7f}", KeyError::ControlCharacter(0x7f, 1)),
            ("a\u{85}", KeyError::ControlCharacter(0x85, 1)),
            ("/", KeyError::LeadingSlash),
        ] {
            assert_eq!(validate_key(key), Err(expected), "{key:?}");
        }
    }

    #[test]
    fn keeps_literal_characters_that_only_look_special() {
        // Percent escapes are literal: the HTTP layer decodes exactly once, before this check.
        for key in [
            "a/%2e%2e/b",
            "a/...",
            "a/.hidden",
            "é/naïve",
            "a b/c+d",
            "a/b/",
        ] {
            assert_eq!(validate_key(key), Ok(()), "{key:?}");
        }
    }

    #[test]
    fn key_length_is_counted_in_bytes() {
        let ok = "é".repeat(512); // 1024 bytes
        assert_eq!(validate_key(&ok), Ok(()));
        let long = format!("{ok}a");
        assert_eq!(validate_key(&long), Err(KeyError::TooLong(1025)));
    }

    #[test]
    fn object_keys_name_one_object() {
        assert_eq!(validate_object_key(""), Err(KeyError::Empty));
        assert_eq!(validate_object_key("a/"), Err(KeyError::NotAnObject));
        assert_eq!(validate_object_key("a/b.pdf"), Ok(()));
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(validate_bucket_name("company-reports").is_ok());
        assert!(validate_bucket_name("a.b-c").is_ok());
        for (name, err) in [
            ("ab", BucketNameError::Length),
            ("Company", BucketNameError::Character('C')),
            ("a_b", BucketNameError::Character('_')),
            ("-abc", BucketNameError::Edge),
            ("abc.", BucketNameError::Edge),
            ("a..b", BucketNameError::AdjacentPunctuation),
            ("192.168.1.1", BucketNameError::IpAddress),
            ("xn--abc", BucketNameError::ReservedPrefix("xn--")),
            ("abc-s3alias", BucketNameError::ReservedSuffix("-s3alias")),
        ] {
            assert_eq!(validate_bucket_name(name), Err(err), "{name}");
        }
        assert!(validate_bucket_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn parse_errors_are_specific() {
        assert!(matches!(
            S3Path::parse("reports/x"),
            Err(PathError::MissingScheme(_))
        ));
        assert!(matches!(
            S3Path::parse("s3:///x"),
            Err(PathError::MissingBucket(_))
        ));
        assert!(matches!(
            S3Path::parse("s3://Reports/x"),
            Err(PathError::Bucket { .. })
        ));
        assert!(matches!(
            S3Path::parse("s3://reports//x"),
            Err(PathError::Key(KeyError::LeadingSlash))
        ));
    }

    #[test]
    fn names() {
        assert_eq!(p("s3://bkt/a/report.pdf").name(), "report.pdf");
        assert_eq!(p("s3://bkt/a/").name(), "a");
        assert_eq!(p("s3://bkt/").name(), "bkt");
    }
}
