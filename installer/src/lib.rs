//! `bucketdrive`, the CLI, as a library: the binary in `main.rs` is a thin shell around these
//! modules, and integration tests (and other crates of the workspace) call them directly.

pub mod audit;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config_edit;
pub mod config_file;
pub mod deploy;
pub mod exit;
pub mod live;
pub mod output;
pub mod state;
pub mod template;
pub mod users;
