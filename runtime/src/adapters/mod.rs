//! SDK-backed implementations of the ports. Thin on purpose: decisions live in the handlers and
//! in `bucketdrive-core`.

pub mod dynamo;
pub mod jwks;
pub mod s3;
