//! `bucketdrive template render`: the CloudFormation YAML for a config.

use std::fmt;
use std::io::Write;

use anyhow::Context;
use serde::Serialize;

use crate::cli::TemplateRenderArgs;
use crate::config_file;
use crate::exit::Exit;
use crate::output::{Format, Ui};
use crate::template::{self, RenderInputs};

#[derive(Debug, Serialize)]
struct Rendered {
    /// The file written, or `-` for stdout.
    file: String,
    /// `stack` or `artifacts`.
    template: &'static str,
    bytes: usize,
    /// The template itself, when it went to stdout with `--output json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote the {} template to {} ({} bytes)",
            self.template, self.file, self.bytes
        )
    }
}

pub fn run(args: &TemplateRenderArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let (kind, body) = if args.artifacts {
        ("artifacts", template::render_artifacts()?)
    } else {
        let path = &args.config.config;
        let valid = config_file::load(path, ui)?;
        let inputs = RenderInputs::load(&valid, path)?;
        ("stack", template::render(&valid, &inputs)?)
    };
    let bytes = body.len();
    match &args.out {
        Some(out) => {
            std::fs::write(out, &body)
                .with_context(|| format!("cannot write the template to `{}`", out.display()))?;
            ui.result(&Rendered {
                file: out.display().to_string(),
                template: kind,
                bytes,
                body: None,
            })?;
        }
        None if ui.format == Format::Json => ui.result(&Rendered {
            file: "-".to_owned(),
            template: kind,
            bytes,
            body: Some(body),
        })?,
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(body.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.context("cannot write the template to stdout")?,
            }
        }
    }
    Ok(Exit::Ok)
}
