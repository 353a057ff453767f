//! BucketDrive's Lambda runtime as a library, so tests drive the same handlers the `bootstrap`
//! binary runs.

pub mod adapters;
pub mod api;
pub mod archive;
pub mod auth;
pub mod cache;
pub mod ports;
pub mod presign;
pub mod pretoken;
pub mod settings;
pub mod web;
