//! BucketDrive's pure logic, shared by the Lambda and the CLI: the `bucketdrive.yaml` schema and
//! its validation, S3 paths, the grant/deny policy engine, token claims and the audit record.
//!
//! Nothing here does I/O or knows the AWS SDK, so every rule is exercised the same way by unit
//! tests, by the Lambda that enforces it and by `bucketdrive access check` that explains it.

pub mod audit;
pub mod audit_query;
pub mod claims;
pub mod config;
pub mod federation;
pub mod path;
pub mod policy;
