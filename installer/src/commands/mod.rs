//! One module per subcommand.

pub mod access;
pub mod deploy;
pub mod local;
pub mod template;
pub mod validate;
