//! `bucketdrive validate`

use std::fmt;

use serde::Serialize;

use crate::cli::ConfigArg;
use crate::config_file;
use crate::exit::Exit;
use crate::output::Ui;

#[derive(Debug, Serialize)]
struct Validated {
    file: String,
    valid: bool,
    stack: String,
    region: String,
    buckets: usize,
    groups: usize,
    grants: usize,
    warnings: Vec<bucketdrive_core::config::Diagnostic>,
}

impl fmt::Display for Validated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is valid: stack `{}` in {}, {} bucket(s), {} group(s), {} grant(s)",
            self.file, self.stack, self.region, self.buckets, self.groups, self.grants
        )?;
        if !self.warnings.is_empty() {
            write!(f, ", {} warning(s)", self.warnings.len())?;
        }
        Ok(())
    }
}

pub fn run(args: &ConfigArg, ui: &Ui) -> anyhow::Result<Exit> {
    let valid = config_file::load(&args.config, ui)?;
    ui.result(&Validated {
        file: valid.file.clone(),
        valid: true,
        stack: valid.config.stack.clone(),
        region: valid.config.region.clone(),
        buckets: valid.config.buckets.len(),
        groups: valid.policies.len(),
        grants: valid.policies.iter().map(|p| p.grants.len()).sum(),
        warnings: valid.warnings.clone(),
    })?;
    Ok(Exit::Ok)
}
