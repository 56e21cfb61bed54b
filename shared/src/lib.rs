//! The IAM service's one library: everything two functions need lives here.

pub mod app;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod service;
pub mod store;
pub mod telemetry;

pub use anyhow;
pub use app::App;
pub use clock::Clock;
pub use config::Config;
pub use domain::ApiError;
