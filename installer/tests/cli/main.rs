//! The `bucketdrive` binary end to end, against the AWS emulator (MiniStack): deploy, the
//! wizard in a pseudo-terminal, plan/apply, groups, users, guests, audit, status/destroy and `local up`.
//!
//! One test binary with a module per command (each test still runs in its own process under
//! nextest). Every test makes its own stack and buckets with `unique_name`, so they share one
//! emulator (`BUCKETDRIVE_TEST_ENDPOINT`, as scripts/test sets it) without colliding.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod common;
mod deploy;
mod faults;
mod groups;
mod guests;
mod local;
mod plan;
mod users;
mod wizard;
