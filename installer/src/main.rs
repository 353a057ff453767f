//! `bucketdrive`: the CLI platform engineers use to deploy and run BucketDrive.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use bucketdrive_core::config::ConfigError;
use clap::{CommandFactory, Parser};

use bucketdrive::cli::{AccessCommand, Cli, Command, LocalCommand, TemplateCommand};
use bucketdrive::commands;
use bucketdrive::exit::{Exit, Failure};
use bucketdrive::output::{Format, Ui};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let g = &cli.global;
    let color = !g.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stderr().is_terminal()
        && g.output == Format::Text;
    console::set_colors_enabled(color);
    console::set_colors_enabled_stderr(color);
    let ui = Ui {
        format: g.output,
        color,
        quiet: g.quiet,
        verbose: g.verbose,
        interactive: !g.no_interactive
            && std::io::stdin().is_terminal()
            && std::io::stderr().is_terminal(),
        yes: g.yes,
    };
    match run(&cli, &ui) {
        Ok(exit) => exit.into(),
        Err(e) => report(&e, &ui).into(),
    }
}

fn run(cli: &Cli, ui: &Ui) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Validate(args) => commands::validate::run(args, ui),
        Command::Access(AccessCommand::Check(args)) => commands::access::run(args, ui),
        Command::Template(TemplateCommand::Render(args)) => commands::template::run(args, ui),
        Command::Init(args) => block_on(commands::init::run(args, &cli.global, ui)),
        Command::Deploy(args) => block_on(commands::deploy::run(args, &cli.global, ui)),
        Command::Plan(args) => block_on(commands::plan::run(args, &cli.global, ui)),
        Command::Apply(args) => block_on(commands::deploy::apply(args, &cli.global, ui)),
        Command::Groups(cmd) => block_on(commands::groups::run(cmd, &cli.global, ui)),
        Command::Users(cmd) => block_on(commands::users::run(cmd, &cli.global, ui)),
        Command::Audit(cmd) => block_on(commands::audit::run(cmd, &cli.global, ui)),
        Command::Guests(cmd) => block_on(commands::guests::run(cmd, &cli.global, ui)),
        Command::Status(args) => block_on(commands::status::status(args, &cli.global, ui)),
        Command::Destroy(args) => block_on(commands::status::destroy(args, &cli.global, ui)),
        Command::Local(LocalCommand::Up(args)) => {
            block_on(commands::local::up(args, &cli.global, ui))
        }
        Command::Local(LocalCommand::Down(args)) => commands::local::down(args, ui),
        Command::Local(LocalCommand::Status(args)) => commands::local::status(args, ui),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "bucketdrive",
                &mut std::io::stdout(),
            );
            Ok(Exit::Ok)
        }
    }
}

/// Runs an async command on a runtime built for this invocation.
fn block_on<F: std::future::Future<Output = anyhow::Result<Exit>>>(f: F) -> anyhow::Result<Exit> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?
        .block_on(f)
}

/// Prints an error the user can act on and picks the exit code.
fn report(e: &anyhow::Error, ui: &Ui) -> Exit {
    if let Some(config) = e.downcast_ref::<ConfigError>() {
        if ui.format == Format::Json {
            let body = serde_json::json!({ "error": "invalid-config", "file": config.file, "diagnostics": config.diagnostics });
            let _ = writeln!(std::io::stdout(), "{body:#}");
        } else {
            eprintln!("{}", config.render(ui.color));
            eprintln!();
            eprintln!("{config}");
        }
        return Exit::Error;
    }
    let exit = e.downcast_ref::<Failure>().map_or(Exit::Error, |f| f.exit);
    if ui.format == Format::Json {
        let causes: Vec<String> = e.chain().skip(1).map(ToString::to_string).collect();
        let body = serde_json::json!({ "error": e.to_string(), "causes": causes });
        // A closed stdout (`… | head`) must not turn an error into a panic.
        let _ = writeln!(std::io::stdout(), "{body:#}");
    } else {
        let prefix = ui.paint("error:", |s| s.red().bold());
        eprintln!("{prefix} {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
    }
    exit
}
