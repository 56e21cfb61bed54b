//! The integration tests, one binary: the real handlers, routed by the real template, against the
//! moto emulator. One module per area of the product; each test its own table and org.

mod abuse;
mod access;
mod authentication;
mod authorizer;
mod console;
mod credential_report;
mod credentials;
mod events;
mod faults;
mod grants;
mod hot_keys;
mod isolation;
mod key_policy;
mod last_used;
mod leaks;
mod lifecycle;
mod lifetime_policy;
mod logs;
mod members;
mod model;
mod openapi;
mod principals;
mod rotation;
mod routes;
mod scope;
mod sweep;
mod token_revocation;
mod tokens;
mod usage;
mod workload;
