//! HTTP adapters: the error type and problem+json, request helpers, JSON bodies, cursors.

pub mod body;
pub mod csv;
pub mod cursor;
pub mod error;
mod list;
pub mod openapi;
pub mod request;
pub mod response;
pub mod routes;

pub use crate::auth::CursorKey;
pub use crate::auth::RequestCtx;
pub use body::{Patch, json_body};
pub use cursor::ListParams;
pub use error::{ApiError, FieldError, rate_limit_fields};
pub use response::{etag, json, json_with, no_content, no_store};
