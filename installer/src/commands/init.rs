//! The wizard: writes `bucketdrive.yaml` from answers. `bucketdrive init` runs it alone;
//! `bucketdrive deploy` runs it when the config file does not exist, then deploys the result.
//!
//! Every question has a flag ([`WizardArgs`]); a question whose flag is given is not asked. With
//! no terminal (or `--no-interactive`) nothing is asked: a missing answer is an error naming
//! its flag. The file is checked with core's `load` before it is written, so the wizard never
//! leaves an invalid config behind.

use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use bucketdrive_core::config::{
    self, GrantEntry, Mfa, ProviderConfig, ProviderType, URL_TTL_MAX, URL_TTL_MIN, is_group_name,
};
use bucketdrive_core::path::S3Path;
use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use indexmap::IndexMap;
use serde::Serialize;

use crate::aws::Aws;
use crate::cli::{GlobalArgs, InitArgs, WizardArgs};
use crate::config_edit::{grant_item, scalar};
use crate::exit::Exit;
use crate::output::Ui;

/// Everything the wizard asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answers {
    pub stack: String,
    pub region: String,
    /// Bucket names, and whether the stack creates them.
    pub buckets: Vec<(String, bool)>,
    pub groups: IndexMap<String, Vec<GrantEntry>>,
    pub admin_group: String,
    pub mfa: Mfa,
    pub providers: Vec<ProviderConfig>,
    pub url_ttl: String,
    pub audit_retention_days: u32,
    /// The first admin, invited by `deploy` (not part of the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_email: Option<String>,
}

/// What `init` reports.
#[derive(Debug, Serialize)]
pub struct Written {
    pub file: String,
    pub stack: String,
    pub region: String,
    pub buckets: usize,
    pub groups: usize,
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {} (stack `{}` in {}, {} bucket(s), {} group(s)); deploy it with `bucketdrive deploy -c {}`",
            self.file, self.stack, self.region, self.buckets, self.groups, self.file
        )
    }
}

pub async fn run(args: &InitArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let path = &args.config.config;
    if path.exists() && !args.force {
        bail!(
            "`{}` already exists; edit it, pass `--force` to replace it, or `-c FILE` to write another",
            path.display()
        );
    }
    let answers = gather(&args.wizard, global, None, false, ui).await?;
    write(path, &answers, ui)?;
    ui.result(&Written {
        file: path.display().to_string(),
        stack: answers.stack.clone(),
        region: answers.region.clone(),
        buckets: answers.buckets.len(),
        groups: answers.groups.len()
            + usize::from(!answers.groups.contains_key(&answers.admin_group)),
    })?;
    Ok(Exit::Ok)
}

/// Whether any wizard answer was given as a flag.
pub fn any_given(w: &WizardArgs) -> bool {
    w.stack.is_some()
        || !w.buckets.is_empty()
        || !w.create_buckets.is_empty()
        || !w.grants.is_empty()
        || w.admin_group.is_some()
        || w.mfa.is_some()
        || !w.saml.is_empty()
        || !w.oidc.is_empty()
        || w.no_idp
        || w.url_ttl.is_some()
        || w.audit_retention_days.is_some()
}

/// Renders, checks with core's `load`, and writes the file. Nothing is written when the check
/// fails.
pub fn write(path: &Path, answers: &Answers, ui: &Ui) -> anyhow::Result<()> {
    let text = render(answers);
    let today = chrono::Utc::now().date_naive();
    config::load(&path.display().to_string(), &text, today)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory `{}`", dir.display()))?;
    }
    std::fs::write(path, &text).with_context(|| format!("cannot write `{}`", path.display()))?;
    ui.status(format!("wrote {}", path.display()));
    Ok(())
}

/// The config file for `a`, with comments that say what each part does.
pub fn render(a: &Answers) -> String {
    let mut y = String::new();
    y.push_str(&format!(
        "# bucketdrive.yaml, written by the bucketdrive wizard on {}.\n",
        chrono::Utc::now().format("%Y-%m-%d")
    ));
    y.push_str("# Every key is explained in docs/configuration.md. Review changes with `bucketdrive plan`,\n");
    y.push_str(
        "# apply them with `bucketdrive apply`; `bucketdrive groups …` edits this file for you.\n",
    );
    y.push_str(&format!("stack: {}\n", scalar(&a.stack)));
    y.push_str(&format!("region: {}\n\n", scalar(&a.region)));
    y.push_str("buckets:\n");
    for (name, create) in &a.buckets {
        if *create {
            y.push_str(&format!(
                "  - name: {}\n    create: true          # the stack creates and hardens it\n",
                scalar(name)
            ));
        } else {
            y.push_str(&format!(
                "  - name: {}   # existing: shared, never modified\n",
                scalar(name)
            ));
        }
    }
    y.push_str("\nidentity:\n");
    y.push_str(&format!(
        "  mfa: {}{}\n",
        a.mfa.as_str(),
        match a.mfa {
            Mfa::Required => "         # off | optional | required",
            _ => "         # `required` is recommended for real people",
        }
    ));
    if !a.providers.is_empty() {
        y.push_str("  providers:\n");
        for p in &a.providers {
            let kind = match p.kind {
                ProviderType::Saml => "saml",
                ProviderType::Oidc => "oidc",
            };
            y.push_str(&format!(
                "    - type: {kind}\n      name: {}\n",
                scalar(&p.name)
            ));
            let fields = [
                ("metadata_url", &p.metadata_url),
                ("issuer", &p.issuer),
                ("client_id", &p.client_id),
                ("client_secret_arn", &p.client_secret_arn),
                ("groups_attribute", &p.groups_attribute),
            ];
            for (key, value) in fields {
                if let Some(v) = value {
                    y.push_str(&format!("      {key}: {}\n", scalar(v)));
                }
            }
        }
    }
    y.push_str(&format!(
        "\ndownloads:\n  url_ttl: {}             # how long a download link works (1m..1h)\n",
        scalar(&a.url_ttl)
    ));
    y.push_str(&format!(
        "\naudit:\n  retention_days: {}   # how long records stay queryable\n",
        a.audit_retention_days
    ));
    y.push_str(&format!(
        "\n# Members of these groups may read the audit log.\nadmins: [{}]\n",
        scalar(&a.admin_group)
    ));
    y.push_str("\ngroups:\n");
    let mut wrote_admin = false;
    for (name, grants) in &a.groups {
        let is_admin = *name == a.admin_group;
        wrote_admin |= is_admin;
        if grants.is_empty() {
            y.push_str(&format!("  {}:\n", scalar(name)));
            y.push_str(if is_admin {
                "    description: Reads the audit log\n"
            } else {
                "    grants: []\n"
            });
            continue;
        }
        y.push_str(&format!("  {}:\n", scalar(name)));
        if is_admin {
            y.push_str("    description: Reads the audit log\n");
        }
        y.push_str("    grants:\n");
        for g in grants {
            y.push_str(&format!("      - {}\n", grant_item(g)));
        }
    }
    if !wrote_admin {
        y.push_str(&format!(
            "  {}:\n    description: Reads the audit log\n",
            scalar(&a.admin_group)
        ));
    }
    y
}

// ----------------------------------------------------------------------------------- answers

/// Parses `GROUP=[ACCESS:]S3_PATH`.
pub fn parse_grant(flag: &str) -> anyhow::Result<(String, GrantEntry)> {
    let usage = "write GROUP=S3_PATH or GROUP=ACCESS:S3_PATH, e.g. `--grant finance=s3://company-reports/quarterly/` or `--grant eng=read-write:s3://drop/incoming/`";
    let (group, rest) = flag
        .split_once('=')
        .with_context(|| format!("`--grant {flag}`: {usage}"))?;
    let group = group.trim();
    if !is_group_name(group) {
        bail!(
            "`--grant {flag}`: `{group}` is not a group name (letters, digits, `.`, `_`, `-`; starting with a letter or digit)"
        );
    }
    let at = rest
        .find("s3://")
        .with_context(|| format!("`--grant {flag}`: no s3:// path; {usage}"))?;
    let access = match rest[..at].trim_end_matches(':') {
        "" => None,
        a @ ("read" | "write" | "read-write") => Some(a.to_owned()),
        other => bail!("`--grant {flag}`: access `{other}` is not read, write or read-write"),
    };
    Ok((
        group.to_owned(),
        GrantEntry {
            path: rest[at..].to_owned(),
            access: access.map(config::AccessSpec::One),
            until: None,
        },
    ))
}

fn parse_saml(flag: &str) -> anyhow::Result<ProviderConfig> {
    let (name, url) = flag.split_once('=').with_context(|| {
        format!("`--saml {flag}`: write NAME=METADATA_URL, e.g. `--saml Okta=https://acme.okta.com/app/…/sso/saml/metadata`")
    })?;
    Ok(provider(
        ProviderType::Saml,
        name,
        Some(url),
        None,
        None,
        None,
    ))
}

fn parse_oidc(flag: &str) -> anyhow::Result<ProviderConfig> {
    let usage = "write NAME=ISSUER,CLIENT_ID,CLIENT_SECRET_ARN, e.g. `--oidc Entra=https://login.microsoftonline.com/<tenant>/v2.0,<client id>,arn:aws:secretsmanager:…`";
    let (name, rest) = flag
        .split_once('=')
        .with_context(|| format!("`--oidc {flag}`: {usage}"))?;
    let parts: Vec<&str> = rest.split(',').map(str::trim).collect();
    let [issuer, client_id, secret] = parts.as_slice() else {
        bail!("`--oidc {flag}`: {usage}");
    };
    Ok(provider(
        ProviderType::Oidc,
        name,
        None,
        Some(issuer),
        Some(client_id),
        Some(secret),
    ))
}

fn provider(
    kind: ProviderType,
    name: &str,
    metadata_url: Option<&str>,
    issuer: Option<&str>,
    client_id: Option<&str>,
    secret: Option<&str>,
) -> ProviderConfig {
    ProviderConfig {
        kind,
        name: name.trim().to_owned(),
        metadata_url: metadata_url.map(|s| s.trim().to_owned()),
        metadata_file: None,
        issuer: issuer.map(|s| s.trim().to_owned()),
        client_id: client_id.map(|s| s.trim().to_owned()),
        client_secret_arn: secret.map(|s| s.trim().to_owned()),
        scopes: None,
        groups_attribute: Some("groups".to_owned()),
        group_map: IndexMap::new(),
    }
}

fn check_ttl(text: &str) -> Result<(), String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if (URL_TTL_MIN..=URL_TTL_MAX).contains(&d) => Ok(()),
        Ok(_) => Err("between 1m and 1h, e.g. 10m".to_owned()),
        Err(_) => Err("a duration such as 10m or 1h".to_owned()),
    }
}

fn check_stack(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err("letters, digits and `-`, starting with a letter, at most 48 characters".to_owned())
    }
}

fn check_bucket(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a bucket name (3-63 lower-case letters, digits, `-` and `.`)"
        ))
    }
}

fn env_region() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

/// Collects the answers: from flags, and from prompts for the rest when there is a terminal.
/// `admin_email`: `deploy`'s `--admin-email`; `ask_admin`: whether to ask for it.
pub async fn gather(
    w: &WizardArgs,
    global: &GlobalArgs,
    admin_email: Option<&str>,
    ask_admin: bool,
    ui: &Ui,
) -> anyhow::Result<Answers> {
    // Flags first: bad values are errors whether or not there is a terminal.
    let mut groups: IndexMap<String, Vec<GrantEntry>> = IndexMap::new();
    for g in &w.grants {
        let (group, grant) = parse_grant(g)?;
        groups.entry(group).or_default().push(grant);
    }
    let mut providers = Vec::new();
    for s in &w.saml {
        providers.push(parse_saml(s)?);
    }
    for o in &w.oidc {
        providers.push(parse_oidc(o)?);
    }
    if let Some(t) = &w.url_ttl {
        check_ttl(t).map_err(|e| anyhow::anyhow!("`--url-ttl {t}`: {e}"))?;
    }
    if let Some(s) = &w.stack {
        check_stack(s).map_err(|e| anyhow::anyhow!("`--stack {s}`: {e}"))?;
    }
    let mut buckets: Vec<(String, bool)> = Vec::new();
    for b in &w.buckets {
        check_bucket(b).map_err(|e| anyhow::anyhow!("`--bucket`: {e}"))?;
        buckets.push((b.clone(), false));
    }
    for b in &w.create_buckets {
        check_bucket(b).map_err(|e| anyhow::anyhow!("`--create-bucket`: {e}"))?;
        buckets.push((b.clone(), true));
    }
    let region = global.region.clone().or_else(env_region);

    if !ui.interactive {
        let mut missing = Vec::new();
        if region.is_none() {
            missing.push("`--region REGION`");
        }
        if w.stack.is_none() {
            missing.push("`--stack NAME`");
        }
        if buckets.is_empty() {
            missing.push("`--bucket NAME` or `--create-bucket NAME`");
        }
        if groups.is_empty() {
            missing.push("`--grant GROUP=S3_PATH`");
        }
        if ask_admin && admin_email.is_none() {
            missing.push("`--admin-email EMAIL`");
        }
        if !missing.is_empty() {
            bail!(
                "there is no config file and no terminal to ask questions: pass {} (see `bucketdrive init --help`), or write the file yourself (start from examples/quickstart.yaml)",
                missing.join(", ")
            );
        }
        return Ok(Answers {
            stack: w.stack.clone().unwrap_or_default(),
            region: region.unwrap_or_default(),
            buckets,
            groups,
            admin_group: w.admin_group.clone().unwrap_or_else(|| "admins".into()),
            mfa: w.mfa.map(Mfa::from).unwrap_or_default(),
            providers,
            url_ttl: w.url_ttl.clone().unwrap_or_else(|| "10m".into()),
            audit_retention_days: w.audit_retention_days.unwrap_or(400),
            admin_email: admin_email.map(str::to_owned),
        });
    }

    let colorful = ColorfulTheme::default();
    let theme: &dyn Theme = if ui.color { &colorful } else { &SimpleTheme };
    let ask = Asker { theme };
    eprintln!(
        "No config file yet: a few questions, then bucketdrive.yaml is written (every question has a flag: `bucketdrive init --help`)."
    );

    let region = match region {
        Some(r) => r,
        None => ask.text(
            "AWS region for the stack",
            Some("us-east-1".into()),
            |s: &str| {
                if s.len() >= 6
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    Ok(())
                } else {
                    Err("a region such as eu-west-1".to_owned())
                }
            },
        )?,
    };
    let stack = match &w.stack {
        Some(s) => s.clone(),
        None => ask.text("Stack name", Some("bucketdrive".into()), check_stack)?,
    };
    if buckets.is_empty() {
        buckets = ask_buckets(&ask, global, &region, ui).await?;
    }
    if groups.is_empty() {
        groups = ask_groups(&ask, &buckets)?;
    }
    let admin_group = match &w.admin_group {
        Some(g) => g.clone(),
        None => ask.text(
            "Group whose members read the audit log",
            Some("admins".into()),
            |s: &str| {
                if is_group_name(s) {
                    Ok(())
                } else {
                    Err("letters, digits, `.`, `_`, `-`".to_owned())
                }
            },
        )?,
    };
    let mfa = match w.mfa {
        Some(m) => m.into(),
        None => {
            let choice = ask.select(
                "Multi-factor authentication for people with a password",
                &["required (recommended)", "optional", "off"],
                0,
            )?;
            [Mfa::Required, Mfa::Optional, Mfa::Off][choice]
        }
    };
    if providers.is_empty() && !w.no_idp {
        providers = ask_providers(&ask)?;
    }
    let url_ttl = match &w.url_ttl {
        Some(t) => t.clone(),
        None => ask.text(
            "How long download links work (1m..1h)",
            Some("10m".into()),
            check_ttl,
        )?,
    };
    let audit_retention_days = match w.audit_retention_days {
        Some(d) => d,
        None => ask
            .text(
                "Days audit records stay queryable",
                Some("400".into()),
                |s: &str| match s.parse::<u32>() {
                    Ok(d) if d >= 1 => Ok(()),
                    _ => Err("a number of days, e.g. 400".to_owned()),
                },
            )?
            .parse()
            .unwrap_or(400),
    };
    let admin_email = match (admin_email, ask_admin) {
        (Some(e), _) => Some(e.to_owned()),
        (None, false) => None,
        (None, true) => {
            let e = ask.text_optional(
                "Email of the first admin (invited after the deploy; empty: none)",
                |s: &str| {
                    if s.is_empty() || (s.contains('@') && !s.contains(char::is_whitespace)) {
                        Ok(())
                    } else {
                        Err("an email address".to_owned())
                    }
                },
            )?;
            (!e.is_empty()).then_some(e)
        }
    };
    Ok(Answers {
        stack,
        region,
        buckets,
        groups,
        admin_group,
        mfa,
        providers,
        url_ttl,
        audit_retention_days,
        admin_email,
    })
}

struct Asker<'t> {
    theme: &'t dyn Theme,
}

impl Asker<'_> {
    fn text(
        &self,
        prompt: &str,
        default: Option<String>,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String> {
        let mut input = dialoguer::Input::<String>::with_theme(self.theme).with_prompt(prompt);
        if let Some(d) = default {
            input = input.default(d);
        }
        let answer = input
            .validate_with(|s: &String| check(s.trim()))
            .interact_text()
            .context("cannot read the answer from the terminal")?;
        Ok(answer.trim().to_owned())
    }

    fn text_optional(
        &self,
        prompt: &str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String> {
        let answer = dialoguer::Input::<String>::with_theme(self.theme)
            .with_prompt(prompt)
            .allow_empty(true)
            .validate_with(|s: &String| check(s.trim()))
            .interact_text()
            .context("cannot read the answer from the terminal")?;
        Ok(answer.trim().to_owned())
    }

    fn select(&self, prompt: &str, items: &[&str], default: usize) -> anyhow::Result<usize> {
        dialoguer::Select::with_theme(self.theme)
            .with_prompt(prompt)
            .items(items.iter().copied())
            .default(default)
            .interact()
            .context("cannot read the answer from the terminal")
    }

    fn confirm(&self, prompt: &str, default: bool) -> anyhow::Result<bool> {
        dialoguer::Confirm::with_theme(self.theme)
            .with_prompt(prompt)
            .default(default)
            .interact()
            .context("cannot read the answer from the terminal")
    }
}

/// The account's buckets, offered by number; any other name is a bucket the stack creates.
async fn ask_buckets(
    ask: &Asker<'_>,
    global: &GlobalArgs,
    region: &str,
    ui: &Ui,
) -> anyhow::Result<Vec<(String, bool)>> {
    let existing = match Aws::load(
        global.profile.as_deref(),
        Some(region),
        global.endpoint_url.as_deref(),
    )
    .await
    {
        Ok(aws) => match aws.s3().list_buckets().send().await {
            Ok(r) => {
                let mut names: Vec<String> = r
                    .buckets()
                    .iter()
                    .filter_map(|b| b.name().map(str::to_owned))
                    .filter(|n| !n.starts_with("bucketdrive-artifacts"))
                    .collect();
                names.sort();
                names
            }
            Err(e) => {
                ui.warn(format!(
                    "cannot list the account's buckets ({}); type their names",
                    crate::aws::describe(e)
                ));
                Vec::new()
            }
        },
        Err(e) => {
            ui.warn(format!("cannot reach AWS ({e}); type the bucket names"));
            Vec::new()
        }
    };
    const SHOWN: usize = 40;
    if existing.is_empty() {
        eprintln!("No buckets found in the account: name the ones to share.");
    } else {
        eprintln!("Buckets in this account:");
        for (i, b) in existing.iter().take(SHOWN).enumerate() {
            eprintln!("  {:>3}  {b}", i + 1);
        }
        if existing.len() > SHOWN {
            eprintln!("  … and {} more (type their names)", existing.len() - SHOWN);
        }
    }
    let picked = ask.text(
        "Buckets to share (numbers or names, comma-separated; a new name is a bucket the stack creates)",
        None,
        |s: &str| {
            let items: Vec<&str> = s.split(',').map(str::trim).filter(|x| !x.is_empty()).collect();
            if items.is_empty() {
                return Err("at least one bucket".to_owned());
            }
            for item in items {
                match item.parse::<usize>() {
                    Ok(n) if (1..=existing.len().min(SHOWN)).contains(&n) => {}
                    Ok(_) => return Err(format!("there is no bucket number {item}")),
                    Err(_) => check_bucket(item)?,
                }
            }
            Ok(())
        },
    )?;
    let mut out: Vec<(String, bool)> = Vec::new();
    for item in picked.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let name = match item.parse::<usize>() {
            Ok(n) => existing.get(n - 1).cloned().unwrap_or_default(),
            Err(_) => item.to_owned(),
        };
        if out.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let create = !existing.contains(&name);
        if create {
            eprintln!("  `{name}` is not in the account: the stack will create it (hardened).");
        }
        out.push((name, create));
    }
    Ok(out)
}

fn ask_groups(
    ask: &Asker<'_>,
    buckets: &[(String, bool)],
) -> anyhow::Result<IndexMap<String, Vec<GrantEntry>>> {
    let names: Vec<&str> = buckets.iter().map(|(n, _)| n.as_str()).collect();
    let example = names.first().copied().unwrap_or("bucket");
    let mut groups = IndexMap::new();
    eprintln!("Groups: who may read or write where. People get access only through groups.");
    loop {
        let prompt = if groups.is_empty() {
            "Group name (e.g. finance)"
        } else {
            "Another group (empty: done)"
        };
        let first = groups.is_empty();
        let taken: Vec<String> = groups.keys().cloned().collect();
        let name = ask.text_optional(prompt, |s: &str| {
            if s.is_empty() {
                return if first {
                    Err("at least one group".to_owned())
                } else {
                    Ok(())
                };
            }
            if taken.iter().any(|t| t == s) {
                return Err(format!("`{s}` is already declared"));
            }
            if is_group_name(s) {
                Ok(())
            } else {
                Err("letters, digits, `.`, `_`, `-`, starting with a letter or digit".to_owned())
            }
        })?;
        if name.is_empty() {
            break;
        }
        let mut grants: Vec<GrantEntry> = Vec::new();
        loop {
            let prompt = if grants.is_empty() {
                format!("Path `{name}` may use (e.g. s3://{example}/reports/)")
            } else {
                format!("Another path for `{name}` (empty: done)")
            };
            let first_grant = grants.is_empty();
            let path = ask.text_optional(&prompt, |s: &str| {
                if s.is_empty() {
                    return if first_grant {
                        Err("at least one path".to_owned())
                    } else {
                        Ok(())
                    };
                }
                let p = S3Path::parse(s).map_err(|e| e.to_string())?;
                if !names.contains(&p.bucket()) {
                    return Err(format!(
                        "bucket `{}` is not one of the shared buckets ({})",
                        p.bucket(),
                        names.join(", ")
                    ));
                }
                Ok(())
            })?;
            if path.is_empty() {
                break;
            }
            let access = ask.select(
                &format!("What may `{name}` do in {path}"),
                &["read (list and download)", "write (upload)", "read-write"],
                0,
            )?;
            grants.push(GrantEntry {
                path,
                access: match access {
                    1 => Some(config::AccessSpec::One("write".into())),
                    2 => Some(config::AccessSpec::One("read-write".into())),
                    _ => None,
                },
                until: None,
            });
        }
        groups.insert(name, grants);
    }
    Ok(groups)
}

fn ask_providers(ask: &Asker<'_>) -> anyhow::Result<Vec<ProviderConfig>> {
    let mut out = Vec::new();
    let mut prompt = "Sign in through your identity provider (SAML or OIDC)?";
    while ask.confirm(prompt, false)? {
        let kind = ask.select("Kind of provider", &["SAML 2.0", "OIDC"], 0)?;
        let name = ask.text(
            "Provider name (shown on the sign-in page)",
            None,
            |s: &str| {
                if !s.is_empty() && s.len() <= 32 && !s.contains(char::is_whitespace) {
                    Ok(())
                } else {
                    Err("up to 32 characters, no spaces".to_owned())
                }
            },
        )?;
        let https = |s: &str| {
            if s.starts_with("https://") {
                Ok(())
            } else {
                Err("an https:// URL".to_owned())
            }
        };
        let p = if kind == 0 {
            let url = ask.text("SAML metadata URL", None, https)?;
            provider(ProviderType::Saml, &name, Some(&url), None, None, None)
        } else {
            let issuer = ask.text("OIDC issuer URL", None, https)?;
            let client = ask.text("OIDC client id", None, |s: &str| {
                if s.is_empty() {
                    Err("the client id registered at the provider".to_owned())
                } else {
                    Ok(())
                }
            })?;
            let secret = ask.text(
                "ARN of the Secrets Manager secret holding the client secret",
                None,
                |s: &str| {
                    if s.starts_with("arn:") && s.contains(":secretsmanager:") {
                        Ok(())
                    } else {
                        Err("arn:aws:secretsmanager:<region>:<account>:secret:<name>".to_owned())
                    }
                },
            )?;
            provider(
                ProviderType::Oidc,
                &name,
                None,
                Some(&issuer),
                Some(&client),
                Some(&secret),
            )
        };
        let attr = ask.text(
            "The claim or attribute carrying the user's groups",
            Some("groups".into()),
            |s: &str| {
                if s.is_empty() {
                    Err("e.g. groups".to_owned())
                } else {
                    Ok(())
                }
            },
        )?;
        out.push(ProviderConfig {
            groups_attribute: Some(attr),
            ..p
        });
        prompt = "Another identity provider?";
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn answers() -> Answers {
        let mut groups = IndexMap::new();
        groups.insert(
            "finance".to_owned(),
            vec![
                parse_grant("finance=s3://company-reports/quarterly/")
                    .unwrap()
                    .1,
            ],
        );
        groups.insert(
            "eng".to_owned(),
            vec![
                parse_grant("eng=read-write:s3://acme-drop/incoming/")
                    .unwrap()
                    .1,
            ],
        );
        Answers {
            stack: "acme-files".into(),
            region: "eu-west-1".into(),
            buckets: vec![
                ("company-reports".into(), false),
                ("acme-drop".into(), true),
            ],
            groups,
            admin_group: "it-admins".into(),
            mfa: Mfa::Required,
            providers: vec![
                parse_saml("Okta=https://acme.okta.com/app/x/sso/saml/metadata").unwrap(),
                parse_oidc("Entra=https://login.microsoftonline.com/t/v2.0,abc,arn:aws:secretsmanager:eu-west-1:123456789012:secret:entra-AbCdEf").unwrap(),
            ],
            url_ttl: "15m".into(),
            audit_retention_days: 730,
            admin_email: None,
        }
    }

    #[test]
    fn the_written_file_validates_and_says_what_was_answered() {
        let a = answers();
        let text = render(&a);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let valid = config::load("bucketdrive.yaml", &text, today)
            .unwrap_or_else(|e| panic!("{}\n{text}", e.render(false)));
        let c = &valid.config;
        assert_eq!(c.stack, "acme-files");
        assert_eq!(c.buckets.len(), 2);
        assert!(c.buckets[1].create);
        assert_eq!(c.admins, vec!["it-admins".to_owned()]);
        assert_eq!(c.identity.providers.len(), 2);
        assert_eq!(c.downloads.url_ttl, "15m");
        assert_eq!(c.audit.retention_days, 730);
        assert_eq!(
            c.groups.keys().collect::<Vec<_>>(),
            ["finance", "eng", "it-admins"]
        );
        assert!(text.contains("# existing: shared, never modified"));
    }

    #[test]
    fn grant_flags_parse_with_and_without_access() {
        let (g, grant) = parse_grant("eng=read-write:s3://b/year=2024/").unwrap();
        assert_eq!(g, "eng");
        assert_eq!(grant.path, "s3://b/year=2024/");
        assert_eq!(
            grant.access,
            Some(config::AccessSpec::One("read-write".into()))
        );
        assert!(
            parse_grant("eng=rw:s3://b/")
                .unwrap_err()
                .to_string()
                .contains("`rw`")
        );
        assert!(
            parse_grant("s3://b/")
                .unwrap_err()
                .to_string()
                .contains("GROUP=S3_PATH")
        );
    }
}
