//! Errors and warnings about a config file, each with its file:line:column, a message and what to
//! write instead, rendered like the Rust compiler's (annotate-snippets, the renderer cargo uses).

use std::fmt;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use super::locate::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about a config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// 1-based; absent only when the problem has no place in the file (e.g. an empty file).
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// What to write instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip)]
    pub(crate) span: Option<(usize, usize)>,
}

impl Diagnostic {
    pub(crate) fn new(
        severity: Severity,
        file: &str,
        at: Option<Location>,
        message: String,
        help: Option<String>,
    ) -> Self {
        Diagnostic {
            severity,
            file: file.to_owned(),
            line: at.map(|l| l.line),
            column: at.map(|l| l.column),
            message,
            help,
            span: at.map(|l| (l.start, l.end)),
        }
    }

    /// `file:line:column`, or just the file when there is no position.
    pub fn position(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file),
            _ => self.file.clone(),
        }
    }

    /// Renders this diagnostic with a snippet of `source`, like rustc. `color` adds ANSI styles.
    pub fn render(&self, source: &str, color: bool) -> String {
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let title = level.primary_title(&self.message);
        let group = match self.span {
            Some((start, end)) => {
                // Always underline something, even for a position at the end of a line.
                let end = if end > start {
                    end
                } else {
                    (start + 1).min(source.len())
                };
                let start = start.min(end);
                title.element(
                    Snippet::source(source)
                        .path(self.file.as_str())
                        .fold(true)
                        .annotation(AnnotationKind::Primary.span(start..end)),
                )
            }
            None => title.element(annotate_snippets::Origin::path(&self.file)),
        };
        let mut report = vec![group];
        if let Some(help) = &self.help {
            report.push(Group::with_title(Level::HELP.secondary_title(help)));
        }
        renderer.render(&report)
    }
}

impl fmt::Display for Diagnostic {
    /// One line: `file:line:col: error: message (help: …)`. For logs and JSON consumers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {sev}: {}", self.position(), self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// The config could not be used: every error found, in file order.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {} error{} in the configuration", .diagnostics.len(), if .diagnostics.len() == 1 { "" } else { "s" })]
pub struct ConfigError {
    pub file: String,
    pub source_text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    /// Every diagnostic rendered with its snippet, separated by blank lines.
    pub fn render(&self, color: bool) -> String {
        render_all(&self.diagnostics, &self.source_text, color)
    }
}

/// Renders diagnostics of one file, each with its snippet.
pub fn render_all(diagnostics: &[Diagnostic], source: &str, color: bool) -> String {
    diagnostics
        .iter()
        .map(|d| d.render(source, color))
        .collect::<Vec<_>>()
        .join("\n\n")
}
