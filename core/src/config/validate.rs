//! Parsing and checking `bucketdrive.yaml`. Every finding names file:line:column and says what
//! to write instead; every check that fails is reported, not just the first.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{NaiveDate, Utc};

use super::diagnostic::{ConfigError, Diagnostic, Severity};
use super::locate::{Location, Seg, SourceMap};
use super::model::{AccessSpec, Config, ProviderConfig, ProviderType};
use crate::path::{PathError, S3Path};
use crate::policy::{Deny, Grant, GroupPolicy, Rights, Until};

/// Shortest and longest allowed lifetime of a pre-signed URL.
pub const URL_TTL_MIN: Duration = Duration::from_secs(60);
pub const URL_TTL_MAX: Duration = Duration::from_secs(3600);
/// Largest single object S3 accepts.
pub const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// Default Object Lock period of the audit archive: seven years, a common records-retention floor.
pub const DEFAULT_ARCHIVE_RETENTION_DAYS: u32 = 2557;
const MAX_STACK_NAME: usize = 48;
const MAX_GROUP_NAME: usize = 64;

/// A config that passed every check, with its values parsed.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    pub file: String,
    pub config: Config,
    pub url_ttl: Duration,
    pub max_upload_bytes: u64,
    pub archive_retention_days: u32,
    /// One policy document per group, in file order: what the policies table holds.
    pub policies: Vec<GroupPolicy>,
    pub warnings: Vec<Diagnostic>,
}

/// Parses and checks a config. `today` (UTC) decides which grants are already expired, so the
/// result does not depend on the clock of the machine running the tests.
pub fn load(file: &str, source: &str, today: NaiveDate) -> Result<ValidConfig, ConfigError> {
    let map = SourceMap::new(source);
    let mut check = Checker {
        file,
        source,
        map: &map,
        diagnostics: Vec::new(),
    };
    for (path, at, first) in map.duplicate_keys(source) {
        let name = match path.last() {
            Some(Seg::Key(k)) => k.clone(),
            _ => String::new(),
        };
        let first = first
            .map(|f| format!(" (first at line {})", f.line))
            .unwrap_or_default();
        check.push(
            Severity::Error,
            Some(at),
            format!("duplicate key `{name}`{first}"),
            Some("each key may appear once in a mapping; merge the two entries".to_owned()),
        );
    }
    if source.trim().is_empty() {
        check.push(
            Severity::Error,
            None,
            "the file is empty".to_owned(),
            Some("start from examples/quickstart.yaml; at least `stack`, `region` and `buckets` are needed".to_owned()),
        );
        return Err(check.into_error());
    }
    let config: Config = match serde_yaml_ng::from_str(source) {
        Ok(c) => c,
        Err(e) => {
            check.serde_error(&e);
            return Err(check.into_error());
        }
    };
    let valid = check.config(config, today);
    let errors = check
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error);
    match valid {
        Some(mut v) if !errors => {
            check.diagnostics.sort_by_key(|d| (d.line, d.column));
            v.warnings = check.diagnostics;
            Ok(v)
        }
        _ => Err(check.into_error()),
    }
}

struct Checker<'a> {
    file: &'a str,
    source: &'a str,
    map: &'a SourceMap,
    diagnostics: Vec<Diagnostic>,
}

fn path(segs: &[&dyn AsSeg]) -> Vec<Seg> {
    segs.iter().map(|s| s.seg()).collect()
}

trait AsSeg {
    fn seg(&self) -> Seg;
}

impl AsSeg for &str {
    fn seg(&self) -> Seg {
        Seg::Key((*self).to_owned())
    }
}

impl AsSeg for String {
    fn seg(&self) -> Seg {
        Seg::Key(self.clone())
    }
}

impl AsSeg for usize {
    fn seg(&self) -> Seg {
        Seg::Index(*self)
    }
}

impl Checker<'_> {
    fn push(
        &mut self,
        severity: Severity,
        at: Option<Location>,
        message: String,
        help: Option<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::new(severity, self.file, at, message, help));
    }

    fn error(&mut self, at: &[Seg], message: impl Into<String>, help: impl Into<String>) {
        let loc = self.map.value(self.source, at);
        self.push(Severity::Error, loc, message.into(), Some(help.into()));
    }

    fn error_at_key(&mut self, at: &[Seg], message: impl Into<String>, help: impl Into<String>) {
        let loc = self.map.key(self.source, at);
        self.push(Severity::Error, loc, message.into(), Some(help.into()));
    }

    fn warn(&mut self, at: &[Seg], message: impl Into<String>, help: impl Into<String>) {
        let loc = self.map.value(self.source, at);
        self.push(Severity::Warning, loc, message.into(), Some(help.into()));
    }

    fn warn_at_key(&mut self, at: &[Seg], message: impl Into<String>, help: impl Into<String>) {
        let loc = self.map.key(self.source, at);
        self.push(Severity::Warning, loc, message.into(), Some(help.into()));
    }

    fn into_error(mut self) -> ConfigError {
        self.diagnostics.retain(|d| d.severity == Severity::Error);
        self.diagnostics.sort_by_key(|d| (d.line, d.column));
        ConfigError {
            file: self.file.to_owned(),
            source_text: self.source.to_owned(),
            diagnostics: self.diagnostics,
        }
    }

    fn serde_error(&mut self, e: &serde_yaml_ng::Error) {
        // serde_yaml (and libyaml inside it) write " at line L column C" into the text; the
        // position is shown separately.
        let message = strip_positions(&e.to_string());
        // It also prefixes the YAML path ("groups.finance: "), which the snippet shows better.
        let message = match message.split_once(": ") {
            Some((p, rest)) if !p.contains(' ') && !p.is_empty() => rest.to_owned(),
            _ => message,
        };
        let loc = e.location().map(|l| {
            let start = l.index().min(self.source.len());
            let rest = &self.source[start..];
            let len = rest.find(['\n', ':', ',', '}', ']']).unwrap_or(rest.len());
            Location {
                line: l.line(),
                column: l.column(),
                start,
                end: start + len.max(1).min(rest.len()),
            }
        });
        let help = serde_help(&message);
        self.push(Severity::Error, loc, message, help);
    }

    fn config(&mut self, config: Config, today: NaiveDate) -> Option<ValidConfig> {
        self.stack(&config);
        self.region(&["region".into()], &config.region);
        let buckets = self.buckets(&config);
        self.identity(&config);
        let url_ttl = self.url_ttl(&config.downloads.url_ttl);
        let max_upload_bytes = self.max_size(&config.uploads.max_size);
        let archive_retention_days = self.audit(&config);
        self.lambda(&config);
        self.tags(&config);
        let policies = self.groups(&config, &buckets, today);
        self.admins(&config);
        Some(ValidConfig {
            file: self.file.to_owned(),
            url_ttl: url_ttl?,
            max_upload_bytes: max_upload_bytes?,
            archive_retention_days,
            policies,
            warnings: Vec::new(),
            config,
        })
    }

    fn stack(&mut self, config: &Config) {
        let name = &config.stack;
        let at = path(&[&"stack"]);
        let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if name.is_empty()
            || name.len() > MAX_STACK_NAME
            || !valid_chars
            || !name.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            self.error(
                &at,
                format!("invalid stack name `{name}`"),
                format!(
                    "a stack name starts with a letter and uses only letters, digits and `-`, at most {MAX_STACK_NAME} characters (e.g. `acme-files`)"
                ),
            );
            return;
        }
        if config.identity.domain_prefix.is_none() {
            let lower = name.to_ascii_lowercase();
            if let Some(word) = ["aws", "amazon", "cognito"]
                .iter()
                .find(|w| lower.contains(*w))
            {
                self.error(
                    &at,
                    format!("the stack name `{name}` contains `{word}`, which Cognito forbids in the sign-in domain derived from it"),
                    "rename the stack, or set `identity.domain_prefix` to a name without `aws`, `amazon` or `cognito`",
                );
            }
        }
    }

    fn region(&mut self, at: &[Seg], region: &str) -> bool {
        let parts: Vec<&str> = region.split('-').collect();
        let ok = parts.len() >= 3
            && parts[0].len() == 2
            && parts
                .iter()
                .take(parts.len() - 1)
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && parts
                .last()
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            self.error(
                at,
                format!("`{region}` is not an AWS region name"),
                "write a region code such as `eu-west-1` or `us-east-1`",
            );
        }
        ok
    }

    fn buckets(&mut self, config: &Config) -> Vec<String> {
        let mut names = Vec::new();
        if config.buckets.is_empty() {
            self.error(
                &path(&[&"buckets"]),
                "no buckets are declared",
                "list at least one bucket: `buckets: [{ name: company-files, create: true }]`",
            );
        }
        for (i, b) in config.buckets.iter().enumerate() {
            let at = path(&[&"buckets", &i, &"name"]);
            if let Err(reason) = crate::path::validate_bucket_name(&b.name) {
                self.error(
                    &at,
                    format!("invalid bucket name `{}`: {reason}", b.name),
                    "use the bucket's exact S3 name (e.g. `company-reports`)",
                );
                continue;
            }
            if names.contains(&b.name) {
                self.error(
                    &at,
                    format!("bucket `{}` is declared twice", b.name),
                    "declare each bucket once; remove this entry",
                );
                continue;
            }
            if b.name.contains('.') {
                self.warn(
                    &at,
                    format!("bucket `{}` has a `.` in its name", b.name),
                    "pre-signed URLs use path-style addressing for it; prefer names without dots",
                );
            }
            if let Some(region) = &b.region {
                let rat = path(&[&"buckets", &i, &"region"]);
                if self.region(&rat, region) && b.create && region != &config.region {
                    self.error(
                        &rat,
                        format!("bucket `{}` is created by the stack, which lives in `{}`", b.name, config.region),
                        "remove `region` (a created bucket is in the stack's region) or set `create: false` for an existing bucket",
                    );
                }
            }
            if let Some(arn) = &b.kms_key_arn
                && !is_kms_key_arn(arn)
            {
                self.error(
                    &path(&[&"buckets", &i, &"kms_key_arn"]),
                    format!("`{arn}` is not a KMS key ARN"),
                    "write the key's full ARN: `arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab`",
                );
            }
            names.push(b.name.clone());
        }
        names
    }

    fn identity(&mut self, config: &Config) {
        let id = &config.identity;
        if let Some(prefix) = &id.domain_prefix {
            let at = path(&[&"identity", &"domain_prefix"]);
            let ok = !prefix.is_empty()
                && prefix.len() <= 63
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !prefix.starts_with('-')
                && !prefix.ends_with('-');
            if !ok {
                self.error(
                    &at,
                    format!("invalid sign-in domain prefix `{prefix}`"),
                    "use 1 to 63 lower-case letters, digits and inner `-` (e.g. `acme-files`)",
                );
            } else if let Some(w) = ["aws", "amazon", "cognito"]
                .iter()
                .find(|w| prefix.contains(*w))
            {
                self.error(
                    &at,
                    format!("the sign-in domain prefix may not contain `{w}`"),
                    "choose a prefix without `aws`, `amazon` or `cognito`",
                );
            }
        }
        let mut seen: Vec<String> = Vec::new();
        for (i, p) in id.providers.iter().enumerate() {
            self.provider(config, i, p);
            let lower = p.name.to_ascii_lowercase();
            if seen.contains(&lower) {
                self.error(
                    &path(&[&"identity", &"providers", &i, &"name"]),
                    format!("identity provider `{}` is declared twice", p.name),
                    "give each provider its own name",
                );
            }
            seen.push(lower);
        }
    }

    fn provider(&mut self, config: &Config, i: usize, p: &ProviderConfig) {
        let base = path(&[&"identity", &"providers", &i]);
        let at = |k: &str| {
            let mut v = base.clone();
            v.push(Seg::Key(k.to_owned()));
            v
        };
        let name_ok = (2..=32).contains(&p.name.len())
            && p.name.starts_with(|c: char| c.is_ascii_alphabetic())
            && p.name.ends_with(|c: char| c.is_ascii_alphanumeric())
            && p.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !name_ok {
            self.error(
                &at("name"),
                format!("invalid identity provider name `{}`", p.name),
                "use 2 to 32 letters, digits and inner `-`, starting with a letter (e.g. `Okta`)",
            );
        } else if [
            "cognito",
            "google",
            "facebook",
            "loginwithamazon",
            "signinwithapple",
        ]
        .contains(&p.name.to_ascii_lowercase().as_str())
        {
            self.error(
                &at("name"),
                format!(
                    "`{}` is a name Cognito reserves for its own providers",
                    p.name
                ),
                "name the provider after your organisation's IdP (e.g. `Okta`, `AzureAD`)",
            );
        }
        let (own, foreign): (&[&str], &[&str]) = match p.kind {
            ProviderType::Saml => (
                &["metadata_url", "metadata_file"],
                &["issuer", "client_id", "client_secret_arn", "scopes"],
            ),
            ProviderType::Oidc => (
                &["issuer", "client_id", "client_secret_arn", "scopes"],
                &["metadata_url", "metadata_file"],
            ),
        };
        let present = |k: &str| match k {
            "metadata_url" => p.metadata_url.is_some(),
            "metadata_file" => p.metadata_file.is_some(),
            "issuer" => p.issuer.is_some(),
            "client_id" => p.client_id.is_some(),
            "client_secret_arn" => p.client_secret_arn.is_some(),
            "scopes" => p.scopes.is_some(),
            _ => false,
        };
        let kind = match p.kind {
            ProviderType::Saml => "SAML",
            ProviderType::Oidc => "OIDC",
        };
        for k in foreign.iter().filter(|k| present(k)) {
            self.error_at_key(
                &at(k),
                format!("`{k}` does not apply to a {kind} provider"),
                format!(
                    "a {kind} provider takes {}",
                    own.iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        match p.kind {
            ProviderType::Saml => match (&p.metadata_url, &p.metadata_file) {
                (Some(_), Some(_)) => self.error_at_key(
                    &at("metadata_file"),
                    "both `metadata_url` and `metadata_file` are set",
                    "keep one: the URL where the IdP publishes its metadata, or a file next to this config",
                ),
                (None, None) => self.error_at_key(
                    &base,
                    format!("SAML provider `{}` has no metadata", p.name),
                    "add `metadata_url: https://…` (from your IdP's SAML app) or `metadata_file: okta-metadata.xml`",
                ),
                (Some(url), None) => self.https_url(&at("metadata_url"), url),
                (None, Some(file)) => {
                    if file.is_empty() || file.chars().any(char::is_control) {
                        self.error(&at("metadata_file"), "invalid metadata file name", "name a file relative to this config");
                    }
                }
            },
            ProviderType::Oidc => {
                match &p.issuer {
                    Some(url) => self.https_url(&at("issuer"), url),
                    None => self.error_at_key(
                        &base,
                        format!("OIDC provider `{}` has no `issuer`", p.name),
                        "add `issuer: https://…` (the IdP's issuer URL, without /.well-known/…)",
                    ),
                }
                match &p.client_id {
                    Some(id) if id.contains("{{") => self.error(
                        &at("client_id"),
                        "the OIDC client id contains `{{`, which CloudFormation reads as a dynamic reference",
                        "copy the client id of the app registered at your IdP; secrets go in `client_secret_arn`",
                    ),
                    Some(id) if !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_graphic()) => {}
                    Some(_) => self.error(&at("client_id"), "invalid OIDC client id", "copy the client id of the app registered at your IdP"),
                    None => self.error_at_key(
                        &base,
                        format!("OIDC provider `{}` has no `client_id`", p.name),
                        "add `client_id:` with the id of the app registered at your IdP",
                    ),
                }
                match &p.client_secret_arn {
                    Some(arn) if is_secret_arn(arn) => {}
                    Some(arn) => self.error(
                        &at("client_secret_arn"),
                        format!("`{arn}` is not a Secrets Manager secret ARN"),
                        "store the client secret in Secrets Manager and write its ARN here; the secret itself never goes in this file",
                    ),
                    None => self.error_at_key(
                        &base,
                        format!("OIDC provider `{}` has no `client_secret_arn`", p.name),
                        "store the client secret in Secrets Manager and add `client_secret_arn: arn:aws:secretsmanager:…`",
                    ),
                }
                if let Some(scopes) = &p.scopes {
                    for (j, s) in scopes.iter().enumerate() {
                        if s.is_empty() || s.contains("{{") || !s.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\') {
                            let mut at = at("scopes");
                            at.push(Seg::Index(j));
                            self.error(&at, format!("invalid scope `{s}`"), "a scope is one word such as `openid` or `email`");
                        }
                    }
                    if !scopes.iter().any(|s| s == "openid") {
                        self.error(&at("scopes"), "the scopes do not include `openid`", "add `openid`: sign-in needs the ID token");
                    }
                }
            }
        }
        if let Some(attr) = &p.groups_attribute {
            let ok = !attr.is_empty()
                && attr.len() <= 256
                && attr
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":/._-#".contains(c));
            if !ok {
                self.error(
                    &at("groups_attribute"),
                    format!("invalid groups attribute `{attr}`"),
                    "name the SAML attribute or OIDC claim that lists the user's groups (e.g. `groups`)",
                );
            }
        }
        for (idp_group, ours) in &p.group_map {
            let mut gat = at("group_map");
            gat.push(Seg::Key(idp_group.clone()));
            if idp_group.is_empty()
                || idp_group.len() > 256
                || idp_group.chars().any(char::is_control)
            {
                self.error_at_key(
                    &gat,
                    "invalid IdP group name",
                    "write the group's name exactly as the IdP sends it",
                );
            }
            if !config.groups.contains_key(ours) {
                self.error(
                    &gat,
                    format!("`{idp_group}` maps to `{ours}`, which is not a group in this file"),
                    format!(
                        "declare `{ours}` under `groups:` or map to one of: {}",
                        list(config.groups.keys())
                    ),
                );
            }
        }
    }

    fn https_url(&mut self, at: &[Seg], url: &str) {
        let ok = url.len() <= 2048
            && url.strip_prefix("https://").is_some_and(|rest| {
                !rest.is_empty()
                    && !rest.starts_with('/')
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_graphic() && !"\"'<>\\{}|^`".contains(c))
            });
        if !ok {
            self.error(
                at,
                format!("`{url}` is not an https:// URL"),
                "identity providers are reached over https only; copy the URL from your IdP",
            );
        }
    }

    fn url_ttl(&mut self, text: &str) -> Option<Duration> {
        let at = path(&[&"downloads", &"url_ttl"]);
        match humantime::parse_duration(text) {
            Ok(d) if (URL_TTL_MIN..=URL_TTL_MAX).contains(&d) => Some(d),
            Ok(_) => {
                self.error(
                    &at,
                    format!("a download URL lifetime of `{text}` is outside 1m..1h"),
                    "short-lived URLs are the point: choose between `1m` and `1h` (default `10m`)",
                );
                None
            }
            Err(_) => {
                self.error(
                    &at,
                    format!("`{text}` is not a duration"),
                    "write a duration such as `10m`, `90s` or `1h`",
                );
                None
            }
        }
    }

    fn max_size(&mut self, text: &str) -> Option<u64> {
        let at = path(&[&"uploads", &"max_size"]);
        match text.parse::<bytesize::ByteSize>() {
            Ok(b) if b.as_u64() > 0 && b.as_u64() <= MAX_OBJECT_BYTES => Some(b.as_u64()),
            Ok(_) => {
                self.error(
                    &at,
                    format!("`{text}` is outside 1B..5TiB"),
                    "S3 objects are at most 5TiB; write e.g. `5GiB`",
                );
                None
            }
            Err(_) => {
                self.error(
                    &at,
                    format!("`{text}` is not a size"),
                    "write a size such as `500MiB`, `5GiB` or `1TiB`",
                );
                None
            }
        }
    }

    fn audit(&mut self, config: &Config) -> u32 {
        let a = &config.audit;
        if !(1..=3653).contains(&a.retention_days) {
            self.error(
                &path(&[&"audit", &"retention_days"]),
                format!("{} days is outside 1..3653", a.retention_days),
                "keep records queryable for 1 day to 10 years; use `archive: true` for longer retention",
            );
        }
        let archive_days = a
            .archive_retention_days
            .unwrap_or(DEFAULT_ARCHIVE_RETENTION_DAYS);
        if let Some(days) = a.archive_retention_days {
            let at = path(&[&"audit", &"archive_retention_days"]);
            if !(1..=36500).contains(&days) {
                self.error(&at, format!("{days} days is outside 1..36500"), "choose how many days each archived record is locked (default 2557, seven years)");
            } else if !a.archive {
                self.warn(
                    &at,
                    "`archive_retention_days` has no effect without `archive: true`",
                    "set `archive: true` or remove this line",
                );
            } else if days < a.retention_days {
                self.warn(
                    &at,
                    "archived records are locked for less time than the table keeps them",
                    "the archive is the long-term record: make `archive_retention_days` at least `retention_days`",
                );
            }
        }
        archive_days
    }

    fn lambda(&mut self, config: &Config) {
        let m = config.lambda.memory_mb;
        if !(128..=10240).contains(&m) {
            self.error(
                &path(&[&"lambda", &"memory_mb"]),
                format!("{m} MB is outside 128..10240"),
                "Lambda memory is 128 to 10240 MB; 512 is plenty",
            );
        }
    }

    fn tags(&mut self, config: &Config) {
        if config.tags.len() > 50 {
            self.error(
                &path(&[&"tags"]),
                "more than 50 tags",
                "CloudFormation takes at most 50 stack tags",
            );
        }
        let tag_char = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
        for (k, v) in &config.tags {
            let at = path(&[&"tags", k]);
            if k.is_empty()
                || k.chars().count() > 128
                || !k.chars().all(tag_char)
                || k.to_ascii_lowercase().starts_with("aws:")
            {
                self.error_at_key(
                    &at,
                    format!("invalid tag key `{k}`"),
                    "tag keys are 1 to 128 letters, digits, spaces and `_ . : / = + - @`, not starting with `aws:`",
                );
            }
            if v.chars().count() > 256 || !v.chars().all(tag_char) {
                self.error(
                    &at,
                    format!("invalid value for tag `{k}`"),
                    "tag values are up to 256 letters, digits, spaces and `_ . : / = + - @`",
                );
            }
        }
    }

    fn admins(&mut self, config: &Config) {
        let mut seen = HashSet::new();
        for (i, a) in config.admins.iter().enumerate() {
            let at = path(&[&"admins", &i]);
            if !config.groups.contains_key(a) {
                self.error(
                    &at,
                    format!("admin group `{a}` is not declared under `groups:`"),
                    format!("add `{a}: {{}}` under `groups:` (an admin group needs no grants)"),
                );
            }
            if !seen.insert(a) {
                self.warn(&at, format!("`{a}` is listed twice"), "remove the repeat");
            }
        }
    }

    fn groups(
        &mut self,
        config: &Config,
        buckets: &[String],
        today: NaiveDate,
    ) -> Vec<GroupPolicy> {
        let start_of_today = today
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_else(Utc::now);
        let mut policies = Vec::new();
        let mapped: HashSet<&String> = config
            .identity
            .providers
            .iter()
            .flat_map(|p| p.group_map.values())
            .collect();
        for (name, group) in &config.groups {
            let gat = path(&[&"groups", name]);
            if name.starts_with("guest-") {
                self.error_at_key(
                    &gat,
                    format!("group names starting with `guest-` are reserved (`{name}`)"),
                    "`bucketdrive guests invite` creates those; pick another name",
                );
            } else if !is_group_name(name) {
                self.error_at_key(
                    &gat,
                    format!("invalid group name `{name}`"),
                    format!(
                        "group names are 1 to {MAX_GROUP_NAME} letters, digits, `.`, `_` and `-`, starting with a letter or digit (map other IdP names with `group_map`)"
                    ),
                );
            }
            let mut grants: Vec<(Grant, Vec<Seg>)> = Vec::new();
            for (i, entry) in group.grants.iter().enumerate() {
                let at = entry_path(
                    &gat,
                    "grants",
                    i,
                    entry.access.is_some() || entry.until.is_some(),
                );
                let Some(p) = self.rule_path(&at, &entry.path, buckets) else {
                    continue;
                };
                let access = match &entry.access {
                    Some(spec) => self.access(&sub(&gat, "grants", i, "access"), spec),
                    None => Some(Rights::READ),
                };
                let until = match &entry.until {
                    Some(text) => match Until::parse(text) {
                        Ok(u) => {
                            if u.ends_at() <= start_of_today {
                                self.warn(
                                    &sub(&gat, "grants", i, "until"),
                                    format!("this grant expired on {text}; it grants nothing"),
                                    "remove the grant, or move `until` to a later date",
                                );
                            }
                            Some(Some(u))
                        }
                        Err(msg) => {
                            self.error(
                                &sub(&gat, "grants", i, "until"),
                                format!("invalid `until`: {msg}"),
                                "e.g. `until: 2027-03-31`",
                            );
                            None
                        }
                    },
                    None => Some(None),
                };
                let (Some(access), Some(until)) = (access, until) else {
                    continue;
                };
                if let Some((_, first)) = grants.iter().find(|(g, _)| g.path == p) {
                    let line = self
                        .map
                        .value(self.source, first)
                        .map(|l| l.line)
                        .unwrap_or(0);
                    self.error(
                        &at,
                        format!("`{p}` is granted twice to `{name}` (first at line {line})"),
                        "merge the two grants into one, e.g. `{ path: …, access: read-write }`",
                    );
                    continue;
                }
                self.object_grant_hint(&at, &p);
                grants.push((
                    Grant {
                        path: p,
                        access,
                        until,
                    },
                    at,
                ));
            }
            let mut denies: Vec<(Deny, Vec<Seg>)> = Vec::new();
            for (i, entry) in group.deny.iter().enumerate() {
                let at = entry_path(&gat, "deny", i, entry.access.is_some());
                let Some(p) = self.rule_path(&at, &entry.path, buckets) else {
                    continue;
                };
                let access = match &entry.access {
                    Some(spec) => self.access(&sub(&gat, "deny", i, "access"), spec),
                    None => Some(Rights::ALL),
                };
                let Some(access) = access else { continue };
                if denies.iter().any(|(d, _)| d.path == p) {
                    self.error(
                        &at,
                        format!("`{p}` is denied twice in `{name}`"),
                        "remove the repeat",
                    );
                    continue;
                }
                self.object_grant_hint(&at, &p);
                denies.push((Deny { path: p, access }, at));
            }
            // Redundant grants: covered by another grant of the group that gives at least as
            // much for at least as long.
            for (g, at) in &grants {
                let wider = grants.iter().find(|(o, _)| {
                    o.path != g.path
                        && o.path.covers(&g.path)
                        && o.access.contains(g.access)
                        && match (&o.until, &g.until) {
                            (None, _) => true,
                            (Some(_), None) => false,
                            (Some(a), Some(b)) => a.ends_at() >= b.ends_at(),
                        }
                });
                if let Some((o, _)) = wider {
                    self.warn(
                        at,
                        format!(
                            "this grant is redundant: `{}` already grants {} on it",
                            o.path, o.access
                        ),
                        "remove it, or narrow the wider grant",
                    );
                }
            }
            if grants.is_empty()
                && denies.is_empty()
                && !config.admins.contains(name)
                && !mapped.contains(name)
            {
                self.warn_at_key(
                    &gat,
                    format!("group `{name}` grants nothing"),
                    "add `grants:`, make it an admin group, or remove it",
                );
            }
            policies.push((
                GroupPolicy {
                    group: name.clone(),
                    grants: grants.iter().map(|(g, _)| g.clone()).collect(),
                    deny: denies.iter().map(|(d, _)| d.clone()).collect(),
                },
                denies.into_iter().map(|(_, at)| at).collect::<Vec<_>>(),
            ));
        }
        // A deny that touches no grant of any group changes nothing.
        for (policy, deny_paths) in &policies {
            for (d, at) in policy.deny.iter().zip(deny_paths) {
                let touches = policies
                    .iter()
                    .flat_map(|(p, _)| &p.grants)
                    .any(|g| g.path.covers(&d.path) || d.path.covers(&g.path));
                if !touches {
                    self.warn(
                        at,
                        format!("deny `{}` overlaps no grant; it has no effect", d.path),
                        "remove it, or fix its path",
                    );
                }
            }
        }
        policies.into_iter().map(|(p, _)| p).collect()
    }

    fn rule_path(&mut self, at: &[Seg], text: &str, buckets: &[String]) -> Option<S3Path> {
        match S3Path::parse(text) {
            Ok(p) if buckets.iter().any(|b| b == p.bucket()) => Some(p),
            Ok(p) => {
                self.error(
                    at,
                    format!("bucket `{}` is not declared under `buckets:`", p.bucket()),
                    format!(
                        "declare it under `buckets:`, or use one of: {}",
                        list(buckets.iter())
                    ),
                );
                None
            }
            Err(e) => {
                let help = match &e {
                    PathError::MissingScheme(_) => "write paths as `s3://bucket/prefix/` (a folder) or `s3://bucket/key` (one object)".to_owned(),
                    _ => "write paths as `s3://bucket/prefix/`, with a valid bucket name and key".to_owned(),
                };
                self.error(at, e.to_string(), help);
                None
            }
        }
    }

    fn object_grant_hint(&mut self, at: &[Seg], p: &S3Path) {
        if !p.is_prefix() && !p.name().contains('.') {
            self.warn(
                at,
                format!("`{p}` names one object, not a folder"),
                format!("a path without a trailing `/` names exactly one object; write `{p}/` to cover the folder"),
            );
        }
    }

    fn access(&mut self, at: &[Seg], spec: &AccessSpec) -> Option<Rights> {
        let words = spec.words();
        if words.is_empty() {
            self.error(
                at,
                "`access` is empty",
                "write `read`, `write`, `read-write`, `delete` or a list of those",
            );
            return None;
        }
        let mut rights = Rights::NONE;
        for w in words {
            match Rights::parse_keyword(w) {
                Ok(r) => rights = rights.union(r),
                Err(msg) => {
                    self.error(
                        at,
                        msg,
                        "e.g. `access: read-write` or `access: [read, delete]`",
                    );
                    return None;
                }
            }
        }
        Some(rights)
    }
}

fn entry_path(group: &[Seg], list: &str, i: usize, is_map: bool) -> Vec<Seg> {
    let mut v = group.to_vec();
    v.push(Seg::Key(list.to_owned()));
    v.push(Seg::Index(i));
    if is_map {
        v.push(Seg::Key("path".to_owned()));
    }
    v
}

fn sub(group: &[Seg], list: &str, i: usize, key: &str) -> Vec<Seg> {
    let mut v = group.to_vec();
    v.push(Seg::Key(list.to_owned()));
    v.push(Seg::Index(i));
    v.push(Seg::Key(key.to_owned()));
    v
}

/// Group names: the documented safe set (docs/configuration.md). They appear in tokens, in the
/// policies table and in audit records, never in the template.
pub fn is_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
}

fn is_kms_key_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kms"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("key/").is_some_and(|id| {
            !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn is_secret_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    parts.len() == 7
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "secretsmanager"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5] == "secret"
        && !parts[6].is_empty()
        && parts[6]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
}

fn list<'a>(items: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<String> = items.map(|s| format!("`{s}`")).collect();
    if v.is_empty() {
        "(none declared)".to_owned()
    } else {
        v.join(", ")
    }
}

/// "Did you mean" for serde's unknown-field and unknown-variant messages, from the expected
/// names serde lists.
fn strip_positions(text: &str) -> String {
    let mut out = text.to_owned();
    while let Some(i) = out.find(" at line ") {
        let rest = &out[i + " at line ".len()..];
        let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
        let n = digits(rest);
        let Some(after) = rest[n..].strip_prefix(" column ") else {
            break;
        };
        let m = digits(after);
        let end = i + " at line ".len() + n + " column ".len() + m;
        out.replace_range(i..end, "");
    }
    out
}

fn serde_help(message: &str) -> Option<String> {
    let quoted =
        |s: &str| -> Vec<String> { s.split('`').skip(1).step_by(2).map(str::to_owned).collect() };
    if let Some(rest) = message
        .strip_prefix("unknown field ")
        .or_else(|| message.strip_prefix("unknown variant "))
    {
        let names = quoted(rest);
        let (given, expected) = names.split_first()?;
        let best = expected
            .iter()
            .map(|e| (strsim::jaro_winkler(given, e), e))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        return Some(match best {
            Some((_, e)) => format!("did you mean `{e}`?"),
            None if expected.is_empty() => "remove this key".to_owned(),
            None => format!(
                "write one of {}",
                expected
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let names = quoted(rest);
        return names
            .first()
            .map(|f| format!("add `{f}:` here (see docs/configuration.md)"));
    }
    if message.contains("while parsing")
        || message.contains("while scanning")
        || message.contains("did not find expected")
    {
        return Some("fix the YAML syntax here: indent with spaces (not tabs) and line up every `- ` item and `key:` with its siblings".to_owned());
    }
    if message.starts_with("invalid type") {
        return Some("check the value's type against docs/configuration.md (quote text that YAML reads as a number or boolean)".to_owned());
    }
    None
}
