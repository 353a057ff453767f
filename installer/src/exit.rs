//! Exit codes CI can branch on. Documented in docs/cli.md; never renumber.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; for `plan`, nothing to change; for `access check`, allowed.
    Ok = 0,
    /// Bad input, bad config, or an AWS error the user can act on.
    Error = 1,
    /// `plan`: live state differs from the config.
    ChangesPending = 2,
    /// `access check`: the request would be denied.
    Denied = 3,
    /// The user declined at a confirmation prompt; nothing was changed.
    Declined = 4,
    /// A deploy or apply failed and the stack was rolled back (or left for inspection).
    DeployFailed = 5,
    /// `audit verify`: the audit table differs from its archive (records changed, removed, or
    /// never archived).
    Tampered = 6,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// An error that carries the exit code to leave with, for failures that are not plain errors.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
        }
    }
}
