//! The API key: `ik_<keyId>.<keySecret>`, where the secret is 32 base62 characters and a 6-character
//! base62 CRC32 of everything before it, so a truncated or mistyped key is refused without a read.

use secrecy::{ExposeSecret, SecretString};

use crate::domain::KeyId;

const PREFIX: &str = "ik_";
const SECRET_RANDOM_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// The key was not of the form `ik_<keyId>.<keySecret>` or its checksum was wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the API key is not a complete ik_<keyId>.<keySecret> value")]
pub struct MalformedKey;

/// A presented key that has passed the format and checksum checks. Its secret never prints.
#[derive(Clone, Debug)]
pub struct ApiKey {
    key_id: KeyId,
    secret: SecretString,
}

/// A newly generated key: its id, and the full value to show the client once.
pub struct GeneratedKey {
    pub key: ApiKey,
    /// `ik_<keyId>.<keySecret>`; returned in the issuance response and nowhere else.
    pub full: String,
}

impl ApiKey {
    /// Checks prefix, lengths, alphabets and checksum; reads nothing.
    pub fn parse(text: &str) -> Result<Self, MalformedKey> {
        let rest = text.strip_prefix(PREFIX).ok_or(MalformedKey)?;
        let (key_id, secret) = rest.split_once('.').ok_or(MalformedKey)?;
        let key_id = KeyId::parse(key_id).map_err(|_| MalformedKey)?;
        if secret.len() != SECRET_RANDOM_LEN + CHECKSUM_LEN || !secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(MalformedKey);
        }
        let body_len = text.len() - CHECKSUM_LEN;
        if checksum(&text[..body_len]) != text[body_len..] {
            return Err(MalformedKey);
        }
        Ok(Self { key_id, secret: secret.into() })
    }

    /// A new key from the OS CSPRNG: a 20-character base36 id and ~190 bits of base62 secret.
    pub fn generate() -> GeneratedKey {
        let key_id = KeyId::parse(&random_string(BASE36, KeyId::LEN)).expect("generated key ids are well formed");
        let random = random_string(BASE62, SECRET_RANDOM_LEN);
        let body = format!("{PREFIX}{key_id}.{random}");
        let sum = checksum(&body);
        let full = format!("{body}{sum}");
        GeneratedKey { key: Self { key_id, secret: format!("{random}{sum}").into() }, full }
    }

    /// The public id, which is also the credential's id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The secret part, for hashing only.
    pub(crate) fn secret(&self) -> &str {
        self.secret.expose_secret()
    }

    /// The whole value, `ik_<keyId>.<keySecret>`, for hashing into the verification cache key.
    pub(crate) fn full(&self) -> String {
        format!("{PREFIX}{}.{}", self.key_id, self.secret.expose_secret())
    }
}

/// CRC32 of `text`, in base62, left-padded to six characters (62^6 > 2^32).
fn checksum(text: &str) -> String {
    let mut n = crc32fast::hash(text.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base62 is ASCII")
}

/// `len` characters drawn uniformly from `alphabet` (rejection sampling, so no modulo bias).
fn random_string(alphabet: &[u8], len: usize) -> String {
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).expect("the OS CSPRNG is available");
        for &b in &buf {
            if (b as usize) < limit && out.len() < len {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_back_to_itself() {
        let generated = ApiKey::generate();
        assert_eq!(generated.full.len(), 3 + 20 + 1 + 38);
        let parsed = ApiKey::parse(&generated.full).unwrap();
        assert_eq!(parsed.full(), generated.key.full());
        assert_eq!(parsed.full(), generated.full);
    }

    #[test]
    fn every_truncation_and_single_character_typo_is_malformed() {
        let full = ApiKey::generate().full;
        for cut in 0..full.len() {
            assert!(ApiKey::parse(&full[..cut]).is_err(), "truncated at {cut}");
        }
        for (i, original) in full.char_indices().skip(3) {
            let replacement = if original == 'a' { 'b' } else { 'a' };
            let mut typo = full.clone();
            typo.replace_range(i..i + 1, &replacement.to_string());
            if typo != full && original != '.' {
                assert!(ApiKey::parse(&typo).is_err(), "typo at {i}");
            }
        }
    }

    #[test]
    fn other_shapes_are_malformed() {
        for text in ["", "ik_", "ik_.x", "sk_live_abc", "ik_ABCDEFGHIJ0123456789.x", "ik_abcdefghij0123456789"] {
            assert!(ApiKey::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let generated = ApiKey::generate();
        let shown = format!("{:?}", generated.key);
        assert!(!shown.contains(generated.key.secret()));
    }

    #[test]
    fn random_strings_use_the_whole_alphabet() {
        let s = random_string(BASE62, 20_000);
        for c in BASE62 {
            assert!(s.as_bytes().contains(c));
        }
    }
}
