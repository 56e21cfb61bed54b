//! The OpenAPI 3.1 document (`shared/openapi.yaml`, converted to JSON at build time), served at
//! `GET /iam/openapi.json` and used by the conformance tests and Schemathesis.

/// The document, as JSON.
pub const DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));
