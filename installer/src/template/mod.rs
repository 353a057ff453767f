//! The CloudFormation templates, rendered from `bucketdrive.yaml` with handlebars.
//!
//! [`render`] builds a [`model::StackModel`] (logical IDs, ARN lists, flags) from the validated
//! config and places it into `templates/stack.yaml.hbs`. Config values reach the YAML only
//! through the helpers in [`helpers`], which write them as quoted scalars or flow collections,
//! so a hostile name cannot add or change a resource. The templates are compiled into the
//! binary: an installed `bucketdrive` needs no files next to it.

pub mod helpers;
pub mod model;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bucketdrive_core::config::{ProviderType, ValidConfig};

/// The main stack (docs/architecture.md, "The main stack").
pub const STACK_TEMPLATE: &str = include_str!("../../../templates/stack.yaml.hbs");
/// The per-account, per-region bootstrap stack that holds the Lambda zips.
pub const ARTIFACTS_TEMPLATE: &str = include_str!("../../../templates/artifacts.yaml.hbs");
/// Name of the bootstrap stack (one per account and region).
pub const ARTIFACTS_STACK_NAME: &str = "bucketdrive-artifacts";

/// What the render needs besides the config: content the installer read from disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderInputs {
    /// SAML metadata documents, by provider name, for providers configured with
    /// `metadata_file`.
    pub saml_metadata: BTreeMap<String, String>,
}

impl RenderInputs {
    /// Reads every `metadata_file` of the config, relative to the directory of `config_path`.
    pub fn load(valid: &ValidConfig, config_path: &Path) -> Result<RenderInputs, RenderError> {
        let dir = config_path.parent().unwrap_or_else(|| Path::new(""));
        let mut saml_metadata = BTreeMap::new();
        for p in &valid.config.identity.providers {
            if let (ProviderType::Saml, Some(file)) = (p.kind, &p.metadata_file) {
                let path = dir.join(file);
                let xml =
                    std::fs::read_to_string(&path).map_err(|source| RenderError::MetadataRead {
                        provider: p.name.clone(),
                        path: path.clone(),
                        source,
                    })?;
                saml_metadata.insert(p.name.clone(), xml);
            }
        }
        Ok(RenderInputs { saml_metadata })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read the SAML metadata of provider `{provider}` from `{}`; `metadata_file` is relative to the config file", path.display())]
    MetadataRead {
        provider: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no SAML metadata was read for provider `{provider}`; load the inputs with `RenderInputs::load`"
    )]
    MetadataMissing { provider: String },
    #[error("the SAML metadata of provider `{provider}` has {chars} characters; Cognito takes at most {max}, so publish it and use `metadata_url`", max = model::MAX_METADATA_FILE_CHARS)]
    MetadataTooLarge { provider: String, chars: usize },
    #[error(
        "{field} contains `{{{{`, which CloudFormation would expand as a dynamic reference; remove it"
    )]
    DynamicReference { field: String },
    #[error("the tag `{key}` is set by BucketDrive itself; remove it from `tags:`")]
    ReservedTag { key: String },
    #[error("the declared buckets take {bytes} bytes in the Lambda environment (at most {max}); declare fewer buckets per stack", max = model::MAX_BUCKETS_ENV_BYTES)]
    TooManyBuckets { bytes: usize },
    #[error("the built-in template `{name}` does not compile (a bug in bucketdrive)")]
    Template {
        name: &'static str,
        #[source]
        source: Box<handlebars::TemplateError>,
    },
    #[error("rendering the template `{name}` failed (a bug in bucketdrive)")]
    Render {
        name: &'static str,
        #[source]
        source: Box<handlebars::RenderError>,
    },
    #[error("the rendered template `{name}` is not valid YAML (a bug in bucketdrive)")]
    Yaml {
        name: &'static str,
        #[source]
        source: serde_yaml_ng::Error,
    },
}

/// Renders the main stack's template for a validated config.
pub fn render(valid: &ValidConfig, inputs: &RenderInputs) -> Result<String, RenderError> {
    let model = model::build(valid, inputs)?;
    render_with("stack.yaml.hbs", STACK_TEMPLATE, &model)
}

/// Renders the bootstrap stack `bucketdrive-artifacts`. It depends on no config: one artifact
/// bucket serves every BucketDrive stack in the account and region.
pub fn render_artifacts() -> Result<String, RenderError> {
    render_with(
        "artifacts.yaml.hbs",
        ARTIFACTS_TEMPLATE,
        &serde_json::json!({}),
    )
}

fn render_with<T: serde::Serialize>(
    name: &'static str,
    source: &str,
    data: &T,
) -> Result<String, RenderError> {
    let mut hb = helpers::registry();
    hb.register_template_string(name, source)
        .map_err(|e| RenderError::Template {
            name,
            source: Box::new(e),
        })?;
    let text = hb.render(name, data).map_err(|e| RenderError::Render {
        name,
        source: Box::new(e),
    })?;
    // A last line of defence: whatever went into it, the output is one YAML document.
    serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text)
        .map_err(|source| RenderError::Yaml { name, source })?;
    Ok(text)
}
