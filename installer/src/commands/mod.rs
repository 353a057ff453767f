//! One module per subcommand.

pub mod access;
pub mod template;
pub mod validate;
