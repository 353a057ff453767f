//! `bucketdrive.yaml`: the schema ([`Config`]), parsing and validation ([`load`]) with
//! file:line:column diagnostics ([`Diagnostic`]).

mod diagnostic;
mod locate;
mod model;
mod validate;

pub use diagnostic::{ConfigError, Diagnostic, Severity, render_all};
pub use locate::{Location, Seg, SourceMap};
pub use model::{
    AccessSpec, Architecture, AuditConfig, BucketConfig, Config, DenyEntry, DownloadsConfig,
    GrantEntry, GroupConfig, IdentityConfig, LambdaConfig, Mfa, ProviderConfig, ProviderType,
    UploadsConfig,
};
pub use validate::{
    DEFAULT_ARCHIVE_RETENTION_DAYS, MAX_OBJECT_BYTES, URL_TTL_MAX, URL_TTL_MIN, ValidConfig,
    is_group_name, load,
};
