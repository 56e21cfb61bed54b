//! The local stack: every route of `infra/template.yaml` served on loopback by calling each
//! function's `handle` in-process with an API Gateway HTTP API (v2) event, plus the admin
//! operations (create the table from the template, seed secrets, bootstrap an org); beside them,
//! the development identity provider, the development workload issuer and the console.

pub mod admin;
pub mod console;
pub mod event;
pub mod functions;
pub mod idp;
pub mod moto;
pub mod runtime_api;
pub mod scanner;
pub mod server;
pub mod template;
pub mod workload;
