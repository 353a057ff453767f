//! The command line: every subcommand and flag, with help that teaches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::Format;

const AFTER_HELP: &str = "\
Start here:
  bucketdrive local up                 run everything on a local AWS emulator (no account needed)
  bucketdrive deploy                   no bucketdrive.yaml yet? a wizard writes it, then deploys
  bucketdrive plan                     what differs between bucketdrive.yaml and what is live
  bucketdrive groups add finance --grant s3://company-reports/quarterly/
                                       edit bucketdrive.yaml and apply at once (no stack update)
  bucketdrive access check --group finance s3://company-reports/annual/x.pdf
                                       explain what a group may do, with the rule that decides

Environment: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, BUCKETDRIVE_CONFIG, BUCKETDRIVE_OUTPUT,
BUCKETDRIVE_YES, BUCKETDRIVE_NO_INTERACTIVE, BUCKETDRIVE_RUNTIME_ZIP, NO_COLOR. See docs/cli.md.

Exit codes: 0 ok · 1 error · 2 changes pending (plan) · 3 denied · 4 declined · 5 deploy failed ·
6 tampering found (audit verify)";

#[derive(Debug, Parser)]
#[command(
    name = "bucketdrive",
    version,
    about = "Secure file sharing out of your own S3 buckets: deploy it, keep it equal to bucketdrive.yaml, audit it.",
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// AWS profile to use (default: the AWS SDK's usual chain)
    #[arg(long, global = true, value_name = "NAME", env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// AWS region (default: the config's `region`, then the SDK's chain)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (a local emulator such as MiniStack)
    #[arg(long, global = true, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Output format: `text` for people, `json` for scripts
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Text, env = "BUCKETDRIVE_OUTPUT")]
    pub output: Format,
    /// Answer yes to every confirmation (for CI)
    #[arg(long, short = 'y', global = true, env = "BUCKETDRIVE_YES", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub yes: bool,
    /// Never prompt: fail naming the missing flag instead
    #[arg(long, global = true, env = "BUCKETDRIVE_NO_INTERACTIVE", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub no_interactive: bool,
    /// Plain output without colours (also honours NO_COLOR)
    #[arg(long, global = true, env = "BUCKETDRIVE_NO_COLOR", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub no_color: bool,
    /// More detail (repeat for more)
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ConfigArg {
    /// The configuration file
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        default_value = "bucketdrive.yaml",
        env = "BUCKETDRIVE_CONFIG"
    )]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check bucketdrive.yaml: every error with file:line:column and what to write instead
    Validate(ConfigArg),
    /// Ask the policy engine, exactly as the Lambda enforces it
    #[command(subcommand)]
    Access(AccessCommand),
    /// The CloudFormation templates rendered from bucketdrive.yaml
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Write bucketdrive.yaml by answering questions (the wizard `deploy` runs when the file is
    /// missing), without deploying
    #[command(after_help = INIT_HELP)]
    Init(InitArgs),
    /// Deploy (or update) the stack from bucketdrive.yaml: package the runtime, show the change
    /// set, confirm, deploy with live events, then seed groups and policies. Without a config
    /// file, a wizard writes one first.
    #[command(after_help = DEPLOY_HELP)]
    Deploy(DeployArgs),
    /// Show how the live stack, Cognito groups and policies differ from bucketdrive.yaml.
    /// Exit 0 = in sync, 2 = changes pending, 1 = error.
    #[command(after_help = PLAN_HELP)]
    Plan(PlanCommandArgs),
    /// Make everything live equal bucketdrive.yaml (deploy without asking, then converge);
    /// running it twice reports no changes
    #[command(after_help = APPLY_HELP)]
    Apply(PlanArgs),
    /// Groups and their grants: each change edits bucketdrive.yaml and applies at once, without
    /// a stack update (effective within seconds)
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// People in the user pool: invite, list, disable, enable, remove
    #[command(subcommand)]
    Users(UsersCommand),
    /// The audit log: query it, export a period, verify the table against its archive
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Guests: one person from outside, one path, until a date (a personal group of their own)
    #[command(subcommand)]
    Guests(GuestsCommand),
    /// Where the stack is, its URLs, and whether groups and policies match bucketdrive.yaml
    #[command(after_help = "Example:\n  bucketdrive status -c bucketdrive.yaml --output json")]
    Status(ConfigArg),
    /// Delete the stack; says first what is kept (audit data, file buckets, the user pool)
    #[command(after_help = DESTROY_HELP)]
    Destroy(ConfigArg),
    /// The embedded default: run everything on a local AWS emulator (no account needed)
    #[command(subcommand)]
    Local(LocalCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Decide whether members of the given groups may act on one S3 path, and name the rule
    /// that decides. Exit 0 = allowed, 3 = denied, 1 = bad input.
    #[command(
        after_help = "Example:\n  bucketdrive access check -c examples/enterprise.yaml --group external-auditors \\\n      s3://company-reports/annual/audited/report.pdf"
    )]
    Check(AccessCheckArgs),
}

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Write the stack's CloudFormation YAML (to stdout, or to `--out FILE`)
    #[command(
        after_help = "Examples:\n  bucketdrive template render -c examples/enterprise.yaml --out stack.yaml\n  bucketdrive template render --artifacts        the bootstrap stack that holds the Lambda zips"
    )]
    Render(TemplateRenderArgs),
}

#[derive(Debug, Args)]
pub struct TemplateRenderArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Write the template to this file instead of stdout (`-o` is the global `--output` format)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Render the `bucketdrive-artifacts` bootstrap stack instead (needs no config)
    #[arg(long)]
    pub artifacts: bool,
}

#[derive(Debug, Args)]
pub struct AccessCheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// A group the caller belongs to (repeat for several)
    #[arg(long = "group", short = 'g', value_name = "GROUP", required = true)]
    pub groups: Vec<String>,
    /// What the caller wants to do
    #[arg(long, value_enum, default_value_t = ActionArg::Read)]
    pub action: ActionArg,
    /// Decide as of this time (RFC 3339, e.g. 2027-04-01T00:00:00Z) instead of now
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// The object or folder, e.g. s3://company-reports/annual/report.pdf
    #[arg(value_name = "S3_PATH")]
    pub path: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ActionArg {
    /// list and download
    Read,
    /// upload
    Write,
    /// delete
    Delete,
}

impl From<ActionArg> for bucketdrive_core::policy::Action {
    fn from(a: ActionArg) -> Self {
        use bucketdrive_core::policy::Action;
        match a {
            ActionArg::Read => Action::Read,
            ActionArg::Write => Action::Write,
            ActionArg::Delete => Action::Delete,
        }
    }
}

const INIT_HELP: &str = "\
Every question has a flag; without a terminal, a missing answer is an error naming its flag.

Examples:
  bucketdrive init                      ask everything
  bucketdrive init -c bucketdrive.yaml --region eu-west-1 --stack acme-files \\
      --bucket company-reports --create-bucket acme-partner-drop \\
      --grant finance=s3://company-reports/quarterly/ \\
      --grant engineering=read-write:s3://acme-partner-drop/incoming/ \\
      --mfa required --url-ttl 10m --audit-retention-days 400 --no-idp";

const DEPLOY_HELP: &str = "\
Examples:
  bucketdrive deploy                                     no bucketdrive.yaml yet: the wizard asks, writes it, deploys
  bucketdrive deploy -c bucketdrive.yaml --dry-run       show what would change
  bucketdrive deploy -c bucketdrive.yaml --yes --admin-email it@example.com

The wizard's flags (--stack, --bucket, --grant, …; see `bucketdrive init --help`) apply only
when the config file does not exist yet.";

const PLAN_HELP: &str = "\
Examples:
  bucketdrive plan                          text, with a unified diff of the template
  bucketdrive plan --output json            for CI; exit 2 means not in sync
  bucketdrive plan --no-drift               skip the drift detection (faster)

The stack is compared through a CloudFormation change set that is created and deleted again
(needs cloudformation:CreateChangeSet and DeleteChangeSet). Resources changed by hand since the
deploy are found with CloudFormation's drift detection (DetectStackDrift) and listed as drift:
`apply` cannot undo those while the template is unchanged; revert them by hand.";

const APPLY_HELP: &str = "\
Examples:
  bucketdrive apply -c bucketdrive.yaml     in CI, after review of `bucketdrive plan`";

const DESTROY_HELP: &str = "\
Asks you to type the stack name unless --yes. Kept after the stack is gone (DeletionPolicy
Retain): the user pool (the people), the audit table, the buckets the stack created, the audit
archive; and the shared `bucketdrive-artifacts` stack.

Example:
  bucketdrive destroy -c bucketdrive.yaml";

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Show the change set, then delete it: nothing is deployed
    #[arg(long)]
    pub dry_run: bool,
    /// Use this runtime zip instead of finding or building one
    #[arg(long, value_name = "FILE", env = "BUCKETDRIVE_RUNTIME_ZIP")]
    pub runtime_zip: Option<PathBuf>,
    /// Invite this email as the first admin (member of the first `admins` group)
    #[arg(long, value_name = "EMAIL")]
    pub admin_email: Option<String>,
    #[command(flatten)]
    pub wizard: WizardArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Overwrite the file when it exists
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub wizard: WizardArgs,
}

/// The wizard's answers as flags: each question is skipped when its flag is given.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Wizard answers (used when the config file does not exist)")]
pub struct WizardArgs {
    /// Stack name (also the prefix of its resources)
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// An existing bucket to share (never modified; repeat for several)
    #[arg(long = "bucket", value_name = "NAME")]
    pub buckets: Vec<String>,
    /// A bucket the stack creates and hardens (repeat for several)
    #[arg(long = "create-bucket", value_name = "NAME")]
    pub create_buckets: Vec<String>,
    /// A group's grant: `finance=s3://reports/q/` (read) or `eng=read-write:s3://drop/in/`
    /// (repeat; each group named here is declared)
    #[arg(long = "grant", value_name = "GROUP=[ACCESS:]S3_PATH")]
    pub grants: Vec<String>,
    /// The group whose members read the audit log [default: admins]
    #[arg(long, value_name = "NAME")]
    pub admin_group: Option<String>,
    /// Multi-factor authentication for the pool's own users [default: required]
    #[arg(long, value_enum)]
    pub mfa: Option<MfaArg>,
    /// A SAML identity provider (repeat for several)
    #[arg(long = "saml", value_name = "NAME=METADATA_URL")]
    pub saml: Vec<String>,
    /// An OIDC identity provider (the secret's ARN, never the secret; repeat for several)
    #[arg(long = "oidc", value_name = "NAME=ISSUER,CLIENT_ID,CLIENT_SECRET_ARN")]
    pub oidc: Vec<String>,
    /// No identity provider: people sign in with the pool's own accounts
    #[arg(long, conflicts_with_all = ["saml", "oidc"])]
    pub no_idp: bool,
    /// Lifetime of download links, 1m..1h [default: 10m]
    #[arg(long, value_name = "DURATION")]
    pub url_ttl: Option<String>,
    /// Days audit records stay queryable [default: 400]
    #[arg(long, value_name = "DAYS")]
    pub audit_retention_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MfaArg {
    Off,
    Optional,
    Required,
}

impl From<MfaArg> for bucketdrive_core::config::Mfa {
    fn from(m: MfaArg) -> Self {
        use bucketdrive_core::config::Mfa;
        match m {
            MfaArg::Off => Mfa::Off,
            MfaArg::Optional => Mfa::Optional,
            MfaArg::Required => Mfa::Required,
        }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The runtime zip to compare (and, for `apply`, deploy); without it `plan` keeps the
    /// stack's current code and `apply` finds or builds one
    #[arg(long, value_name = "FILE", env = "BUCKETDRIVE_RUNTIME_ZIP")]
    pub runtime_zip: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanCommandArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Skip CloudFormation drift detection of the stack's resources (hand-made changes to the
    /// Lambda, tables, buckets, log groups…); it takes seconds, up to a minute on AWS
    #[arg(long)]
    pub no_drift: bool,
}

/// Read, write or both, as `--access` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum AccessArg {
    /// list and download
    #[default]
    Read,
    /// upload
    Write,
    /// both
    ReadWrite,
}

impl AccessArg {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessArg::Read => "read",
            AccessArg::Write => "write",
            AccessArg::ReadWrite => "read-write",
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct GroupsCommon {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only edit bucketdrive.yaml; apply later (`bucketdrive apply`, e.g. in CI after review)
    #[arg(long)]
    pub no_apply: bool,
}

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// Declare a group with its grants (and denies)
    #[command(
        after_help = "Examples:\n  bucketdrive groups add finance --grant s3://company-reports/quarterly/ --description \"Finance team\"\n  bucketdrive groups add auditors --grant s3://company-reports/annual/ --until 2027-03-31\n  bucketdrive groups add eng --grant s3://drop/incoming/ --access read-write --deny s3://drop/incoming/secrets/"
    )]
    Add(GroupAddArgs),
    /// The groups of bucketdrive.yaml, with their members and whether they are live
    List(GroupsCommon),
    /// One group: grants, denies, members, live state
    Show(GroupNameArgs),
    /// Delete a group from bucketdrive.yaml, its policy and its Cognito group
    Remove(GroupNameArgs),
    /// Add a grant to a group
    #[command(
        after_help = "Example:\n  bucketdrive groups grant finance s3://company-reports/annual/ --access read"
    )]
    Grant(GroupGrantArgs),
    /// Take a grant (or with --deny, a deny) away from a group; effective within seconds
    #[command(
        after_help = "Example:\n  bucketdrive groups revoke finance s3://company-reports/annual/"
    )]
    Revoke(GroupRevokeArgs),
    /// Add a deny to a group: it wins over every grant
    Deny(GroupDenyArgs),
    /// Who is in a group (Cognito memberships; not in bucketdrive.yaml)
    #[command(subcommand)]
    Members(MembersCommand),
}

#[derive(Debug, Args)]
pub struct GroupAddArgs {
    #[command(flatten)]
    pub common: GroupsCommon,
    /// Group name (letters, digits, `.`, `_`, `-`)
    pub name: String,
    /// A path the group is granted (repeat for several)
    #[arg(long = "grant", value_name = "S3_PATH")]
    pub grants: Vec<String>,
    /// What the grants allow
    #[arg(long, value_enum, default_value_t = AccessArg::Read)]
    pub access: AccessArg,
    /// The grants end after this day (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// A path the group may never reach, whatever its grants (repeat for several)
    #[arg(long = "deny", value_name = "S3_PATH")]
    pub denies: Vec<String>,
    /// What the group is for
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct GroupNameArgs {
    #[command(flatten)]
    pub common: GroupsCommon,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct GroupGrantArgs {
    #[command(flatten)]
    pub common: GroupsCommon,
    pub name: String,
    #[arg(value_name = "S3_PATH")]
    pub path: String,
    #[arg(long, value_enum, default_value_t = AccessArg::Read)]
    pub access: AccessArg,
    /// The grant ends after this day (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct GroupRevokeArgs {
    #[command(flatten)]
    pub common: GroupsCommon,
    pub name: String,
    #[arg(value_name = "S3_PATH")]
    pub path: String,
    /// Remove the group's deny of this path instead of a grant
    #[arg(long)]
    pub deny: bool,
}

#[derive(Debug, Args)]
pub struct GroupDenyArgs {
    #[command(flatten)]
    pub common: GroupsCommon,
    pub name: String,
    #[arg(value_name = "S3_PATH")]
    pub path: String,
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Put people in the group (they get it at their next sign-in)
    #[command(
        after_help = "Example:\n  bucketdrive groups members add finance alice@example.com bob@example.com"
    )]
    Add(MembersArgs),
    /// Take people out of the group; tokens they already hold stop working within a minute
    Remove(MembersArgs),
    /// Who is in the group
    List(GroupNameArgs),
}

#[derive(Debug, Args)]
pub struct MembersArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    pub group: String,
    /// Usernames or emails
    #[arg(required = true, value_name = "USER")]
    pub users: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; Cognito emails them a temporary password
    #[command(
        after_help = "Example:\n  bucketdrive users invite alice@example.com --group finance"
    )]
    Invite(UserInviteArgs),
    /// Everyone in the pool (or in one group)
    List(UserListArgs),
    /// Stop a user signing in; tokens they hold stop working within a minute
    Disable(UserArgs),
    /// Let a disabled user sign in again
    Enable(UserArgs),
    /// Delete a user (asks unless --yes); tokens they hold stop working within a minute
    Remove(UserArgs),
    /// The groups a user is in
    Groups(UserArgs),
}

#[derive(Debug, Args)]
pub struct UserInviteArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    pub email: String,
    /// A group to put them in (repeat for several)
    #[arg(long = "group", short = 'g', value_name = "GROUP")]
    pub groups: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UserListArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only the members of this group
    #[arg(long, short = 'g', value_name = "GROUP")]
    pub group: Option<String>,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Username or email
    pub user: String,
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start the emulator, deploy the quickstart, create a demo user and sample files, print how
    /// to sign in (idempotent: a second `up` redeploys and prints fresh passwords)
    #[command(
        after_help = "Examples:\n  bucketdrive local up                                   start MiniStack and deploy the quickstart\n  bucketdrive local up --endpoint-url http://127.0.0.1:4566   use an emulator that already runs\n  bucketdrive local up --output json                     app_url, username, password, … for scripts"
    )]
    Up(LocalUpArgs),
    /// Stop the emulator `up` started
    Down(LocalDirArgs),
    /// Say whether the emulator runs and where the app is
    Status(LocalDirArgs),
}

#[derive(Debug, Args)]
pub struct LocalDirArgs {
    /// Where `local up` keeps the emulator and what it deployed (default: .bucketdrive/local
    /// of the checkout)
    #[arg(long, value_name = "DIR", env = "BUCKETDRIVE_LOCAL_DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LocalUpArgs {
    /// The config to deploy (default: examples/quickstart.yaml of the checkout)
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run the emulator on this port (default: a free one)
    #[arg(long)]
    pub port: Option<u16>,
    /// Use this runtime zip instead of building one
    #[arg(long, value_name = "FILE", env = "BUCKETDRIVE_RUNTIME_ZIP")]
    pub runtime_zip: Option<PathBuf>,
    #[command(flatten)]
    pub dir: LocalDirArgs,
}

// ------------------------------------------------------------------------------------- audit

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Who did what, when: records by user, by object or by time, newest first, from the
    /// table's indexes (never a scan). The read itself is recorded (`audit-read`).
    #[command(after_help = AUDIT_QUERY_HELP)]
    Query(AuditQueryArgs),
    /// Write every record of a period to a file (or stdout) as CSV or JSON lines, page by page
    #[command(after_help = AUDIT_EXPORT_HELP)]
    Export(AuditExportArgs),
    /// Compare the audit table with its S3 archive for a period: records changed or removed in
    /// the table, and records the archive lacks. Exit 0 = consistent, 6 = tampering found.
    #[command(after_help = AUDIT_VERIFY_HELP)]
    Verify(AuditVerifyArgs),
}

const AUDIT_QUERY_HELP: &str = "\
Examples:
  bucketdrive audit query --user alice@example.com --since 7d
  bucketdrive audit query --path s3://company-reports/annual/report.pdf --since 2026-01-01
  bucketdrive audit query --path s3://company-reports/annual/ --decision deny
  bucketdrive audit query --action group-change --user arn:aws:iam::123456789012:user/ops
  bucketdrive audit query --since 2026-12-01 --until 2026-12-03 --format csv > audit.csv
  bucketdrive audit query --output json | jq '.records[].user'

Times: RFC 3339 (2026-12-04T10:00:00Z), a day (2026-12-04, UTC; --until means its end) or a
duration ago (90m, 24h, 7d). Default: the last 24 hours.
A time range without --user or --path reads one index partition per day (at most 366 days).";

const AUDIT_EXPORT_HELP: &str = "\
Examples:
  bucketdrive audit export --since 2026-10-01 --until 2026-12-31 --out q4.csv
  bucketdrive audit export --since 2026-12-01 --until 2026-12-01 --format jsonl > day.jsonl
  bucketdrive audit export --since 30d --until now --user alice@example.com --out alice.csv

CSV: a header row, then one row per record (columns in docs/audit.md), RFC 4180 quoting; a
cell starting with = + - @ gets a leading ' so spreadsheets do not run it as a formula.
The file is written under a temporary name and renamed when complete.";

const AUDIT_VERIFY_HELP: &str = "\
Needs `audit: { archive: true }` in bucketdrive.yaml. Every archived record of the period must be
in the table unchanged, unless its expires_at (TTL) has passed; every table record older than
--settle must be in the archive (the stream to the archive is asynchronous).

Examples:
  bucketdrive audit verify                                   the last 24 hours
  bucketdrive audit verify --since 2026-11-01 --until 2026-11-30 --output json

Exit codes: 0 consistent · 6 tampering found · 1 error";

/// Which records: the criteria `query` and `export` share.
#[derive(Debug, Args, Clone)]
pub struct AuditFilterArgs {
    /// Whose records: an email or username (looked up in the user pool), a user's `sub`, or an
    /// AWS ARN (the actor of changes made with this CLI)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// One object (`s3://bucket/key`) or everything below a folder (`s3://bucket/prefix/`)
    #[arg(long, value_name = "S3_PATH")]
    pub path: Option<String>,
    /// Only this action: me, list, download, upload, delete, audit-read, request,
    /// group-change, user-change, apply, deploy, destroy
    #[arg(long, value_name = "ACTION", value_parser = parse_action)]
    pub action: Option<bucketdrive_core::audit::AuditAction>,
    /// Only allowed or only denied requests
    #[arg(long, value_enum)]
    pub decision: Option<DecisionArg>,
}

fn parse_action(s: &str) -> Result<bucketdrive_core::audit::AuditAction, String> {
    s.parse()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DecisionArg {
    Allow,
    Deny,
}

/// How `audit query` prints records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum QueryFormat {
    /// Aligned columns for people (with `--output json`: one JSON document instead)
    #[default]
    Table,
    /// RFC 4180 CSV with a header row
    Csv,
    /// One JSON record per line
    Jsonl,
}

#[derive(Debug, Args)]
pub struct AuditQueryArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub filter: AuditFilterArgs,
    /// From this time [default: 24 hours ago]
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Up to this time [default: now]
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// At most this many records, newest first (1..10000; `audit export` has no limit)
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// `table` for people, `csv` or `jsonl` for tools (`--output json` gives one JSON document)
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub filter: AuditFilterArgs,
    /// From this time (RFC 3339, YYYY-MM-DD, or a duration ago such as 30d)
    #[arg(long, value_name = "TIME")]
    pub since: String,
    /// Up to this time (YYYY-MM-DD means the end of that day; `now` is now)
    #[arg(long, value_name = "TIME")]
    pub until: String,
    /// Write to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// csv or jsonl [default: jsonl for an --out ending in .jsonl, else csv]
    #[arg(long, value_enum)]
    pub format: Option<crate::audit::ExportFormat>,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// From this time [default: 24 hours ago]
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Up to this time [default: now]
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Table records younger than this are not yet expected in the archive
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub settle: String,
}

// ------------------------------------------------------------------------------------ guests

#[derive(Debug, Subcommand)]
pub enum GuestsCommand {
    /// Invite someone from outside to one path until a date: a real account (Cognito emails a
    /// temporary password) in a personal group `guest-…` holding that single grant
    #[command(after_help = GUESTS_INVITE_HELP)]
    Invite(GuestInviteArgs),
    /// Every guest: email, path, until, whether the grant has expired, whether the account is
    /// enabled
    List(ConfigArg),
    /// End a guest's access now: the grant and group go, their tokens are refused within
    /// seconds, the account is disabled
    #[command(after_help = "Example:\n  bucketdrive guests revoke pat@partner.example")]
    Revoke(GuestRevokeArgs),
}

const GUESTS_INVITE_HELP: &str = "\
The path must be inside a bucket of bucketdrive.yaml. --until must be in the future and at most
90 days away: a date (valid through that day, UTC) or an RFC 3339 instant. At that moment access
ends by itself (an expired grant is no grant); `guests list` shows it as expired and
`guests revoke` removes it.

Examples:
  bucketdrive guests invite pat@partner.example --path s3://partner-drop/pat/ \\
      --until 2027-01-31
  bucketdrive guests invite pat@partner.example --path s3://partner-drop/pat/ \\
      --until 2026-12-24T17:00:00Z --access read-write";

#[derive(Debug, Args)]
pub struct GuestInviteArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The guest's email (their sign-in name)
    pub email: String,
    /// The one path they may reach: a folder (`s3://bucket/prefix/`) or an object
    #[arg(long, value_name = "S3_PATH")]
    pub path: String,
    /// When access ends: YYYY-MM-DD (through that day, UTC) or RFC 3339; at most 90 days away
    #[arg(long, value_name = "DATE")]
    pub until: String,
    /// What they may do there
    #[arg(long, value_enum, default_value_t = AccessArg::Read)]
    pub access: AccessArg,
}

#[derive(Debug, Args)]
pub struct GuestRevokeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The guest's email (or username)
    pub email: String,
}
