//! docs/openapi.yaml is the API's contract: it must name exactly the routes the Lambda serves
//! and exactly the error codes it answers with.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use bucketdrive_runtime::api::ROUTES;
use bucketdrive_runtime::api::http::ApiError;

fn spec() -> serde_json::Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml"))
            .unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

#[test]
fn the_spec_names_exactly_the_served_routes() {
    let spec = spec();
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn the_spec_names_exactly_the_error_codes() {
    let spec = spec();
    let documented: BTreeSet<&str> = spec["components"]["schemas"]["Error"]["properties"]["error"]
        ["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let answered: BTreeSet<&str> = ApiError::CODES.into_iter().collect();
    assert_eq!(documented, answered);
}

#[test]
fn every_operation_documents_401_and_503() {
    let spec = spec();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for status in ["200", "401", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
}
