//! The rules a group holds: grants and denies on S3 paths, and the rights they carry.
//!
//! These types are also the policy document the installer writes to the policies table and the
//! runtime reads back, so their serialised form is a stable contract (see docs/policy.md).

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::path::S3Path;

/// What a request wants to do with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// List a prefix or download an object.
    Read,
    /// Upload (single PUT or multipart).
    Write,
    /// Delete an object. Never implied by another right: it must be granted by name.
    Delete,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Read, Action::Write, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Action::Read => 1,
            Action::Write => 2,
            Action::Delete => 4,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Action::Read),
            "write" => Ok(Action::Write),
            "delete" => Ok(Action::Delete),
            other => Err(format!(
                "unknown action `{other}`; use `read`, `write` or `delete`"
            )),
        }
    }
}

/// A set of rights. Written in config as `read`, `write`, `read-write`, `delete`, or a list of
/// those (`[read, delete]`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    pub const NONE: Rights = Rights(0);
    pub const READ: Rights = Rights(1);
    pub const WRITE: Rights = Rights(2);
    pub const READ_WRITE: Rights = Rights(3);
    pub const DELETE: Rights = Rights(4);
    pub const ALL: Rights = Rights(7);

    pub fn allows(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }

    pub fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// True when every right in `other` is also in `self`.
    pub fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses one keyword: `read`, `write`, `read-write`, `delete`.
    pub fn parse_keyword(word: &str) -> Result<Rights, String> {
        match word {
            "read" => Ok(Rights::READ),
            "write" => Ok(Rights::WRITE),
            "read-write" => Ok(Rights::READ_WRITE),
            "delete" => Ok(Rights::DELETE),
            other => Err(format!(
                "unknown access `{other}`; use `read`, `write`, `read-write` or `delete` (or a list such as `[read, delete]`)"
            )),
        }
    }

    /// The keywords that spell this set, shortest first (`read-write` for read + write).
    pub fn keywords(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        match (self.allows(Action::Read), self.allows(Action::Write)) {
            (true, true) => out.push("read-write"),
            (true, false) => out.push("read"),
            (false, true) => out.push("write"),
            (false, false) => {}
        }
        if self.allows(Action::Delete) {
            out.push("delete");
        }
        out
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = self.keywords();
        if words.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&words.join("+"))
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rights({self})")
    }
}

impl Serialize for Rights {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rights {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.split('+').try_fold(Rights::NONE, |acc, word| {
            Rights::parse_keyword(word)
                .map(|r| acc.union(r))
                .map_err(serde::de::Error::custom)
        })
    }
}

/// The end of a time-bound grant. Written as a date (`2027-03-31`: the grant holds through that
/// whole day, UTC) or an RFC 3339 instant (`2027-03-31T17:00:00Z`: the grant ends at that
/// instant). The text is kept so reasons and diffs show what the user wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Until {
    text: String,
    ends_at: DateTime<Utc>,
}

impl Until {
    pub fn parse(text: &str) -> Result<Until, String> {
        let text = text.trim();
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            let next = date
                .succ_opt()
                .ok_or_else(|| format!("date `{text}` is out of range"))?;
            let ends_at = next
                .and_hms_opt(0, 0, 0)
                .ok_or_else(|| format!("date `{text}` is out of range"))?
                .and_utc();
            return Ok(Until {
                text: text.to_owned(),
                ends_at,
            });
        }
        match DateTime::parse_from_rfc3339(text) {
            Ok(t) => Ok(Until {
                text: text.to_owned(),
                ends_at: t.with_timezone(&Utc),
            }),
            Err(_) => Err(format!(
                "`{text}` is not a date; write `YYYY-MM-DD` (valid through that day, UTC) or an RFC 3339 time such as `2027-03-31T17:00:00Z`"
            )),
        }
    }

    /// The first instant at which the grant no longer holds.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.ends_at
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn has_passed(&self, now: DateTime<Utc>) -> bool {
        now >= self.ends_at
    }
}

impl fmt::Display for Until {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Until {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Until {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Until::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A grant: the group may do `access` on every object `path` covers, until `until`.
///
/// A path ending in `/` is a prefix (a folder and everything below it, on segment boundaries);
/// a path without a trailing `/` names exactly one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub path: S3Path,
    pub access: Rights,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Until>,
}

impl Grant {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.until.as_ref().is_some_and(|u| u.has_passed(now))
    }
}

/// A deny: nobody in the group may do `access` on anything `path` covers, whatever any group
/// grants. Written as a bare path in config, it denies every right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deny {
    pub path: S3Path,
    pub access: Rights,
}

/// Everything one group holds. This is the item the installer writes per group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupPolicy {
    pub group: String,
    #[serde(default)]
    pub grants: Vec<Grant>,
    #[serde(default)]
    pub deny: Vec<Deny>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_keep_delete_separate() {
        assert!(Rights::READ_WRITE.allows(Action::Read));
        assert!(Rights::READ_WRITE.allows(Action::Write));
        assert!(!Rights::READ_WRITE.allows(Action::Delete));
        assert!(Rights::ALL.allows(Action::Delete));
        assert_eq!(Rights::READ_WRITE.to_string(), "read-write");
        assert_eq!(
            Rights::READ.union(Rights::DELETE).to_string(),
            "read+delete"
        );
        assert_eq!(Rights::ALL.to_string(), "read-write+delete");
    }

    #[test]
    fn rights_round_trip_through_json() {
        for r in [
            Rights::READ,
            Rights::WRITE,
            Rights::READ_WRITE,
            Rights::DELETE,
            Rights::ALL,
        ] {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Rights>(&json).unwrap(), r);
        }
        assert!(serde_json::from_str::<Rights>("\"admin\"").is_err());
    }

    #[test]
    fn a_date_holds_through_that_whole_day_utc() {
        let u = Until::parse("2027-03-31").unwrap();
        let last = DateTime::parse_from_rfc3339("2027-03-31T23:59:59.999Z")
            .unwrap()
            .with_timezone(&Utc);
        let next = DateTime::parse_from_rfc3339("2027-04-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(!u.has_passed(last));
        assert!(u.has_passed(next));
    }

    #[test]
    fn an_instant_ends_exactly_then() {
        let u = Until::parse("2027-03-31T17:00:00+02:00").unwrap();
        assert_eq!(u.ends_at().to_rfc3339(), "2027-03-31T15:00:00+00:00");
        assert!(
            Until::parse("31/03/2027")
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );
        assert!(Until::parse("2027-02-30").is_err());
    }
}
