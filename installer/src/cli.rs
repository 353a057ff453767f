//! The command line: every subcommand and flag, with help that teaches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::Format;

const AFTER_HELP: &str = "\
Start here:
  bucketdrive local up                 run everything on a local AWS emulator (no account needed)
  bucketdrive validate                 check bucketdrive.yaml
  bucketdrive access check --group finance s3://company-reports/annual/x.pdf
                                       explain what a group may do, with the rule that decides

Exit codes: 0 ok · 1 error · 2 changes pending (plan) · 3 denied (access check) · 4 declined · 5 deploy failed";

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
    #[arg(long, global = true, value_name = "NAME")]
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
    #[arg(long, global = true)]
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
    /// Deploy (or update) the stack from bucketdrive.yaml: package the runtime, show the change
    /// set, confirm, deploy with live events, then seed groups and policies
    #[command(
        after_help = "Examples:\n  bucketdrive deploy -c bucketdrive.yaml --dry-run      show what would change\n  bucketdrive deploy -c bucketdrive.yaml --yes --admin-email it@example.com"
    )]
    Deploy(DeployArgs),
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
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start the emulator, deploy the quickstart, create a demo user and sample files, print how
    /// to sign in (idempotent: a second `up` redeploys and prints fresh passwords)
    Up(LocalUpArgs),
    /// Stop the emulator `up` started
    Down,
    /// Say whether the emulator runs and where the app is
    Status,
}

#[derive(Debug, Args)]
pub struct LocalUpArgs {
    /// The config to deploy (default: examples/quickstart.yaml of the checkout)
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run the emulator on this port (default: a free one)
    #[arg(long)]
    pub port: Option<u16>,
}
