//! List cursors: opaque, encrypted and authenticated (AES-256-GCM-SIV) with the query they
//! continue as associated data, so a cursor shows nothing of the table's keys, and one that was
//! altered, or replayed on another org, principal or filter, is refused before any read.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::Pepper;
use crate::domain::ApiError;
use crate::store::PageKey;

/// The key that seals cursors, derived from the pepper (so every container agrees on it).
#[derive(Clone)]
pub struct CursorKey(Arc<RandomizedNonceKey>);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(<redacted>)")
    }
}

impl CursorKey {
    /// HMAC-SHA256(pepper, "iam-cursor-v2"): a key separate from the hashing use of the pepper.
    /// GCM-SIV, because its random nonces stay safe however many cursors one key seals.
    pub fn derive(pepper: &Pepper) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(pepper.bytes()).expect("HMAC takes any key length");
        mac.update(b"iam-cursor-v2");
        let key = RandomizedNonceKey::new(&AES_256_GCM_SIV, &mac.finalize().into_bytes()).expect("a 32-byte key");
        Self(Arc::new(key))
    }

    /// Seals `key` for the query named by `scope` (e.g. `credentials|org_…|akp_…|Active`):
    /// base64url of the nonce, then the ciphertext and its tag.
    pub fn seal(&self, scope: &str, key: &PageKey) -> String {
        let mut sealed = serde_json::to_vec(key).expect("page keys serialise");
        let nonce = self.0.seal_in_place_append_tag(Aad::from(scope.as_bytes()), &mut sealed).expect("sealing works");
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens a cursor sealed for `scope`; anything else is `invalid_cursor`.
    pub fn open(&self, scope: &str, cursor: &str) -> Result<PageKey, ApiError> {
        let mut raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| ApiError::InvalidCursor)?;
        if raw.len() < NONCE_LEN {
            return Err(ApiError::InvalidCursor);
        }
        let mut sealed = raw.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&raw).map_err(|_| ApiError::InvalidCursor)?;
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(scope.as_bytes()), &mut sealed)
            .map_err(|_| ApiError::InvalidCursor)?;
        serde_json::from_slice(plain).map_err(|_| ApiError::InvalidCursor)
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
    fn a_cursor_shows_nothing_of_the_table() {
        let cursor = key().seal("s", &page_key());
        let raw = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        // (Strings of four bytes or more: random bytes hold one by chance about once in 10^8.)
        for shown in ["ORG#", "PRINCIPAL#", "org_1", "akp_1", "\"PK\"", "\"SK\""] {
            assert!(!String::from_utf8_lossy(&raw).contains(shown), "{shown} shows in {cursor}");
        }
        assert_ne!(cursor, key().seal("s", &page_key()), "a fresh nonce each time");
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
