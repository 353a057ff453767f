//! One place that prints results: text for people, JSON for machines.

use std::io::Write;

use clap::ValueEnum;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// How to talk to the user: format, colour, verbosity, whether prompts are allowed.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub format: Format,
    pub color: bool,
    pub quiet: bool,
    pub verbose: u8,
    pub interactive: bool,
    pub yes: bool,
}

impl Ui {
    /// Prints a result: its `Display` for text, its JSON for `--output json`. Returns quietly on
    /// a closed pipe (`bucketdrive … | head`).
    pub fn result<T: Serialize + std::fmt::Display>(&self, value: &T) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        let written = match self.format {
            // Keep the kind of an I/O error (a closed pipe) so it is recognised below.
            Format::Json => serde_json::to_writer_pretty(&mut out, value)
                .map_err(|e| match e.io_error_kind() {
                    Some(kind) => std::io::Error::from(kind),
                    None => std::io::Error::other(e),
                })
                .and_then(|_| writeln!(out)),
            Format::Text => writeln!(out, "{value}"),
        };
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }

    /// A progress or status line on stderr, unless `--quiet` or JSON output.
    pub fn status(&self, line: impl AsRef<str>) {
        if !self.quiet && self.format == Format::Text {
            eprintln!("{}", line.as_ref());
        }
    }

    /// A warning on stderr (shown even with `--output json`; silenced by `--quiet`).
    pub fn warn(&self, line: impl AsRef<str>) {
        if !self.quiet {
            let prefix = if self.color {
                console::style("warning:").yellow().bold().to_string()
            } else {
                "warning:".to_owned()
            };
            eprintln!("{prefix} {}", line.as_ref());
        }
    }

    /// A spinner for slow work, on a terminal only (plain lines otherwise, so CI logs stay
    /// readable). Lines printed through it appear above it.
    pub fn spinner(&self, message: &str) -> Option<indicatif::ProgressBar> {
        if self.quiet || self.format != Format::Text || !console::Term::stderr().is_term() {
            return None;
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar.set_message(message.to_owned());
        Some(bar)
    }

    pub fn paint(
        &self,
        text: &str,
        style: fn(console::StyledObject<&str>) -> console::StyledObject<&str>,
    ) -> String {
        if self.color {
            style(console::style(text)).to_string()
        } else {
            text.to_owned()
        }
    }
}
