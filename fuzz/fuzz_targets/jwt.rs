//! Bearer-token decoding and verification: the unverified `iss` reader (which routes a token to
//! IAM's verifier or the identity provider's) and `KeySet::verify`, on raw strings and on tokens
//! genuinely signed with the key set's own key, so that header and claims decoding past the
//! signature check is reached too.
//! Property: nothing panics; a token that verifies has our `iss` and `aud`, is unexpired, was
//! not issued (`iat`) nor made valid (`nbf`) later than now plus the leeway, and was signed with
//! the current key with `typ: at+jwt`.

#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use shared::auth::tokens::{KeySet, StoredKey, StoredKeySet};
use shared::domain::Timestamp;

const ISS: &str = "https://iam.fuzz.test/iam";
const AUD: &str = "urn:infuse:api";

struct Keys {
    set: KeySet,
    signer: EncodingKey,
    kid: String,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let mut current = StoredKey::generate(Timestamp::now()).expect("key generation");
    // A fixed kid, so that the seeds (fuzz/seeds/jwt) can name it.
    current.kid = "fuzz-kid".into();
    let stored = StoredKeySet { current, previous: None };
    let der = stored.current.pkcs8_der().expect("base64 key");
    Keys {
        set: KeySet::from_secret(&serde_json::to_string(&stored).expect("json")).expect("key set"),
        signer: EncodingKey::from_ed_der(&der),
        kid: stored.current.kid.clone(),
    }
});

/// A JSON value from the fuzzer, biased towards the shapes claims take.
#[derive(Arbitrary, Debug)]
enum Field {
    Absent,
    Ours,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<String>),
    Null,
}

impl Field {
    fn value(&self, ours: Value) -> Option<Value> {
        Some(match self {
            Self::Absent => return None,
            Self::Ours => ours,
            Self::Text(t) => json!(t),
            Self::Int(i) => json!(i),
            Self::Float(f) => json!(f),
            Self::Bool(b) => json!(b),
            Self::List(l) => json!(l),
            Self::Null => Value::Null,
        })
    }
}

/// A header and claims object field by field, signed (mode 2).
#[derive(Arbitrary, Debug)]
struct Fields {
    alg: Field,
    typ: Field,
    kid: Field,
    extra_header: Option<(String, String)>,
    iss: Field,
    aud: Field,
    sub: Field,
    client_id: Field,
    org_id: Field,
    principal_type: Field,
    exp_offset: Field,
    iat: Field,
    jti: Field,
    nbf_offset: Field,
}

fn sign(header: &[u8], claims: &[u8]) -> String {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &KEYS.signer, Algorithm::EdDSA).expect("sign");
    format!("{message}.{signature}")
}

fn structured(f: Fields, now: Timestamp) -> String {
    let mut header = serde_json::Map::new();
    let mut claims = serde_json::Map::new();
    let put = |map: &mut serde_json::Map<String, Value>, name: &str, field: &Field, ours: Value| {
        if let Some(v) = field.value(ours) {
            map.insert(name.to_string(), v);
        }
    };
    put(&mut header, "alg", &f.alg, json!("EdDSA"));
    put(&mut header, "typ", &f.typ, json!("at+jwt"));
    put(&mut header, "kid", &f.kid, json!(KEYS.kid));
    if let Some((name, value)) = f.extra_header {
        header.insert(name, json!(value));
    }
    let exp = match f.exp_offset {
        Field::Int(offset) => Field::Int(now.unix().saturating_add(offset % 100_000)),
        other => other,
    };
    put(&mut claims, "iss", &f.iss, json!(ISS));
    put(&mut claims, "aud", &f.aud, json!(AUD));
    put(&mut claims, "sub", &f.sub, json!("akp_01JC0000000000000000000000"));
    put(&mut claims, "client_id", &f.client_id, json!("0123456789abcdefghij"));
    put(&mut claims, "org_id", &f.org_id, json!("org_01JC0000000000000000000000"));
    put(&mut claims, "principal_type", &f.principal_type, json!("ApiKey"));
    put(&mut claims, "exp", &exp, json!(now.unix() + 600));
    put(&mut claims, "iat", &f.iat, json!(now.unix()));
    put(&mut claims, "jti", &f.jti, json!("fuzz"));
    // An integer is an offset from now, so that both sides of the leeway are reached.
    let nbf = match f.nbf_offset {
        Field::Int(offset) => Field::Int(now.unix().saturating_add(offset % 100_000)),
        Field::Ours => Field::Absent,
        other => other,
    };
    put(&mut claims, "nbf", &nbf, Value::Null);
    sign(&serde_json::to_vec(&header).expect("json"), &serde_json::to_vec(&claims).expect("json"))
}

/// A claim of the token's payload as JSON (`nbf` is not among the verified claims returned).
fn payload_claim(token: &str, name: &str) -> Option<Value> {
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice::<Value>(&payload).ok()?.get(name).cloned()
}

// Framing (so seeds stay readable): byte 0 picks the mode (mod 3). 0: the rest is the token;
// 1: the rest is `<header JSON>\n<claims JSON>`, signed with the key set's current key;
// 2: the rest drives `Fields` (arbitrary), signed.
fuzz_target!(|data: &[u8]| {
    let now = Timestamp::now();
    let [mode, rest @ ..] = data else { return };
    let token = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => match rest.iter().position(|&b| b == b'\n') {
            Some(i) => sign(&rest[..i], &rest[i + 1..]),
            None => sign(rest, b"{}"),
        },
        _ => match Fields::arbitrary(&mut arbitrary::Unstructured::new(rest)) {
            Ok(fields) => structured(fields, now),
            Err(_) => return,
        },
    };
    let _ = shared::auth::unverified_issuer(&token);
    let _ = jsonwebtoken::decode_header(&token);
    if let Ok(claims) = KEYS.set.verify(&token, ISS, AUD, now) {
        assert_eq!(claims.iss, ISS);
        assert_eq!(claims.aud, AUD);
        assert!(claims.exp + 30 > now.unix(), "expired token accepted: {claims:?}");
        assert!(claims.iat <= now.unix() + 30, "token issued in the future accepted: {claims:?}");
        if let Some(nbf) = payload_claim(&token, "nbf").and_then(|v| v.as_i64()) {
            assert!(nbf <= now.unix() + 30, "token not valid yet accepted: nbf {nbf}, {claims:?}");
        }
        let header = jsonwebtoken::decode_header(&token).expect("a verified token has a header");
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(KEYS.kid.as_str()));
        assert!(
            header
                .typ
                .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"))
        );
    }
});
