//! `?limit=` and `?cursor=` of a list route (the cursor itself: `auth::CursorKey`).

use lambda_http::Request;

use super::request::query_param;
use super::{ApiError, FieldError};
use crate::auth::CursorKey;
pub use crate::store::ListParams;

impl ListParams {
    /// The default page size.
    pub const DEFAULT_LIMIT: usize = 50;
    /// The largest page size.
    pub const MAX_LIMIT: usize = 100;

    /// Reads `limit` (1..=100, default 50) and opens `cursor` for `scope`.
    pub fn from_request(req: &Request, key: &CursorKey, scope: &str) -> Result<Self, ApiError> {
        let limit = match query_param(req, "limit") {
            None => Self::DEFAULT_LIMIT,
            Some(text) => {
                text.parse::<usize>().ok().filter(|l| (1..=Self::MAX_LIMIT).contains(l)).ok_or_else(|| {
                    ApiError::InvalidRequest(vec![FieldError::new("limit", "must be a whole number from 1 to 100")])
                })?
            }
        };
        let start = query_param(req, "cursor").map(|c| key.open(scope, &c)).transpose()?;
        Ok(Self { limit, start })
    }
}
