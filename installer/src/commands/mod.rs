//! One module per subcommand.

pub mod access;
pub mod validate;
