//! Reading bucketdrive.yaml from disk and reporting its problems.

use std::path::Path;

use anyhow::Context;
use bucketdrive_core::config::{self, ValidConfig};

use crate::output::Ui;

/// Loads and validates the config, printing warnings. Errors come back as `ConfigError`
/// (rendered with snippets by `main`).
pub fn load(path: &Path, ui: &Ui) -> anyhow::Result<ValidConfig> {
    let source = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read `{}`; pass the config with `--config FILE` (start from examples/quickstart.yaml)",
            path.display()
        )
    })?;
    let today = chrono::Utc::now().date_naive();
    let valid = config::load(&path.display().to_string(), &source, today)?;
    if !ui.quiet && !valid.warnings.is_empty() {
        eprintln!("{}", config::render_all(&valid.warnings, &source, ui.color));
        eprintln!();
    }
    Ok(valid)
}
