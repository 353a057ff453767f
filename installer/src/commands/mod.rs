//! One module per subcommand.

pub mod access;
pub mod audit;
pub mod deploy;
pub mod groups;
pub mod guests;
pub mod init;
pub mod local;
pub mod plan;
pub mod status;
pub mod template;
pub mod users;
pub mod validate;
