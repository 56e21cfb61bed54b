//! List cursors: opaque, sealed with an HMAC over the query they continue, so a cursor that was
//! altered, or replayed on another org, principal or filter, is refused before any read.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use lambda_http::Request;
use sha2::Sha256;

use super::request::query_param;
use super::{ApiError, FieldError};
use crate::auth::Pepper;
use crate::store::PageKey;

type HmacSha256 = Hmac<Sha256>;

/// The key that seals cursors, derived from the pepper (so every container agrees on it).
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(<redacted>)")
    }
}

impl CursorKey {
    /// HMAC(pepper, "iam-cursor-v1"): a key separate from the hashing use of the pepper.
    pub fn derive(pepper: &Pepper) -> Self {
        let mut mac = HmacSha256::new_from_slice(pepper.bytes()).expect("HMAC takes any key length");
        mac.update(b"iam-cursor-v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, scope: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    /// Seals `key` for the query named by `scope` (e.g. `credentials|org_…|akp_…|Active`).
    pub fn seal(&self, scope: &str, key: &PageKey) -> String {
        let payload = serde_json::to_vec(key).expect("page keys serialise");
        let tag = self.mac(scope, &payload).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(tag))
    }

    /// Opens a cursor sealed for `scope`; anything else is `invalid_cursor`.
    pub fn open(&self, scope: &str, cursor: &str) -> Result<PageKey, ApiError> {
        let (payload, tag) = cursor.split_once('.').ok_or(ApiError::InvalidCursor)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| ApiError::InvalidCursor)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| ApiError::InvalidCursor)?;
        self.mac(scope, &payload).verify_slice(&tag).map_err(|_| ApiError::InvalidCursor)?;
        serde_json::from_slice(&payload).map_err(|_| ApiError::InvalidCursor)
    }
}

/// `?limit=` and `?cursor=` of a list route.
#[derive(Debug)]
pub struct ListParams {
    pub limit: usize,
    pub start: Option<PageKey>,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CursorKey {
        CursorKey::derive(&Pepper::new(vec![9; 32]).unwrap())
    }

    fn page_key() -> PageKey {
        PageKey::from([("PK".to_string(), "ORG#org_1".to_string()), ("SK".to_string(), "PRINCIPAL#akp_1".to_string())])
    }

    #[test]
    fn a_cursor_opens_for_its_own_query_only() {
        let cursor = key().seal("api-keys|org_1|*", &page_key());
        assert_eq!(key().open("api-keys|org_1|*", &cursor).unwrap(), page_key());
        assert!(matches!(key().open("api-keys|org_2|*", &cursor), Err(ApiError::InvalidCursor)));
        assert!(matches!(key().open("api-keys|org_1|Active", &cursor), Err(ApiError::InvalidCursor)));
    }

    #[test]
    fn an_altered_cursor_is_refused() {
        let cursor = key().seal("s", &page_key());
        let mut bytes = cursor.into_bytes();
        bytes[3] ^= 1;
        let altered = String::from_utf8(bytes).unwrap();
        assert!(matches!(key().open("s", &altered), Err(ApiError::InvalidCursor)));
        assert!(matches!(key().open("s", "garbage"), Err(ApiError::InvalidCursor)));
    }
}
