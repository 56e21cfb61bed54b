//! The token keys and claims: signing, verification, the time claims, rotation.

use super::*;

const ISS: &str = "https://iam.test";
const AUD: &str = "urn:test";

fn set(now: Timestamp) -> (KeySet, StoredKeySet) {
    let stored = StoredKeySet { current: StoredKey::generate(now).unwrap(), previous: None };
    (KeySet::from_secret(&serde_json::to_string(&stored).unwrap()).unwrap(), stored)
}

fn claims(now: Timestamp) -> AccessClaims {
    AccessClaims {
        iss: ISS.into(),
        aud: AUD.into(),
        sub: "akp_x".into(),
        client_id: "k".into(),
        org_id: "org_x".into(),
        principal_type: "ApiKey".into(),
        iat: now.unix(),
        exp: now.unix() + 900,
        jti: "j".into(),
        scope: None,
        act: None,
        allowed_cidrs: Vec::new(),
    }
}

/// A fixed instant: every call in a test is the same time, however slow the machine (the
/// verification judges time by the clock passed in, never the system's).
fn now() -> Timestamp {
    Timestamp::from_unix(1_800_000_000)
}

#[test]
fn a_signed_token_verifies_and_carries_its_claims() {
    let (keys, _) = set(now());
    let token = keys.sign(&claims(now())).unwrap();
    assert_eq!(keys.verify(&token, ISS, AUD, now()).unwrap(), claims(now()));
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert!(keys.knows(&header.kid.unwrap(), now()));
}

#[test]
fn issuer_audience_and_expiry_are_enforced() {
    let (keys, _) = set(now());
    let token = keys.sign(&claims(now())).unwrap();
    assert_eq!(keys.verify(&token, "https://other", AUD, now()), Err(AuthFailure::InvalidToken));
    assert_eq!(keys.verify(&token, ISS, "urn:other", now()), Err(AuthFailure::InvalidToken));
    assert_eq!(keys.verify(&token, ISS, AUD, now().plus_seconds(900 + 30)), Err(AuthFailure::TokenExpired));
    assert!(keys.verify(&token, ISS, AUD, now().plus_seconds(900 + 29)).is_ok(), "30 s of leeway");
}

/// `claims` with `nbf` added, signed with the set's current key as `sign` would.
fn sign_with_nbf(keys: &KeySet, claims: &AccessClaims, nbf: i64) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(TOKEN_TYPE.into());
    header.kid = Some(keys.current.kid.clone());
    let mut body = serde_json::to_value(claims).unwrap();
    body["nbf"] = nbf.into();
    jsonwebtoken::encode(&header, &body, keys.current.encoding.as_ref().unwrap()).unwrap()
}

#[test]
fn a_token_issued_in_the_future_is_refused_beyond_the_leeway() {
    let t0 = Timestamp::from_unix(1_795_000_000);
    let (keys, _) = set(t0);
    for (ahead, verifies) in [(0, true), (LEEWAY_SECONDS, true), (LEEWAY_SECONDS + 1, false), (3600, false)] {
        let mut issued = claims(t0);
        issued.iat = t0.unix() + ahead;
        issued.exp = issued.iat + 900;
        let token = keys.sign(&issued).unwrap();
        let verified = keys.verify(&token, ISS, AUD, t0);
        if verifies {
            assert_eq!(verified, Ok(issued), "iat {ahead} s ahead");
        } else {
            assert_eq!(verified, Err(AuthFailure::InvalidToken), "iat {ahead} s ahead");
        }
    }
}

#[test]
fn a_token_not_valid_yet_is_refused_beyond_the_leeway() {
    let t0 = Timestamp::from_unix(1_795_000_000);
    let (keys, _) = set(t0);
    for (ahead, verifies) in [(-60, true), (LEEWAY_SECONDS, true), (LEEWAY_SECONDS + 1, false), (3600, false)] {
        let token = sign_with_nbf(&keys, &claims(t0), t0.unix() + ahead);
        let verified = keys.verify(&token, ISS, AUD, t0);
        if verifies {
            assert_eq!(verified, Ok(claims(t0)), "nbf {ahead} s ahead");
        } else {
            assert_eq!(verified, Err(AuthFailure::InvalidToken), "nbf {ahead} s ahead");
        }
    }
}

#[test]
fn the_time_claims_are_judged_by_the_clock_passed_in() {
    // A token issued an hour ahead of the system clock verifies for a service clock an hour
    // ahead too, and is refused for one standing at the system's now.
    let later = Timestamp::now().plus_seconds(3600);
    let (keys, _) = set(later);
    let token = keys.sign(&claims(later)).unwrap();
    assert_eq!(keys.verify(&token, ISS, AUD, later), Ok(claims(later)));
    assert_eq!(keys.verify(&token, ISS, AUD, later.plus_seconds(-3600)), Err(AuthFailure::InvalidToken));
}

#[test]
fn a_token_of_another_key_set_is_invalid() {
    let (ours, _) = set(now());
    let (theirs, _) = set(now());
    let token = theirs.sign(&claims(now())).unwrap();
    assert_eq!(ours.verify(&token, ISS, AUD, now()), Err(AuthFailure::InvalidToken));
}

#[test]
fn a_retired_key_verifies_until_its_last_token_expires_then_leaves_the_jwks() {
    let t0 = now();
    let (old, old_stored) = set(t0);
    let token = old.sign(&claims(t0)).unwrap();
    let mut retired = old_stored.current.clone();
    retired.retired_at = Some(t0);
    let rotated = StoredKeySet { current: StoredKey::generate(t0).unwrap(), previous: Some(retired) };
    let keys = KeySet::from_secret(&serde_json::to_string(&rotated).unwrap()).unwrap();
    assert!(keys.verify(&token, ISS, AUD, t0.plus_seconds(60)).is_ok());
    assert_eq!(keys.jwks(t0)["keys"].as_array().unwrap().len(), 2);
    assert!(keys.knows(&old_stored.current.kid, t0.plus_seconds(RETIRED_KEY_LIFETIME_SECONDS - 1)));
    let later = t0.plus_seconds(RETIRED_KEY_LIFETIME_SECONDS);
    assert_eq!(keys.jwks(later)["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys.verify(&token, ISS, AUD, later), Err(AuthFailure::InvalidToken));
}

#[test]
fn the_published_half_verifies_what_the_signing_keys_sign_and_cannot_sign() {
    let now = Timestamp::from_unix(1_800_000_000);
    let (signing, stored) = set(now);
    let published = serde_json::to_string(&stored.published().unwrap()).unwrap();
    assert!(!published.contains(stored.current.private_key_pkcs8.expose_secret()), "no private key");
    let verifying = KeySet::from_published(&published).unwrap();
    let claims = AccessClaims {
        iss: ISS.into(),
        aud: AUD.into(),
        sub: "s".into(),
        client_id: "c".into(),
        org_id: "o".into(),
        principal_type: "ApiKey".into(),
        iat: now.unix(),
        exp: now.unix() + 60,
        jti: "j".into(),
        scope: None,
        act: None,
        allowed_cidrs: Vec::new(),
    };
    let token = signing.sign(&claims).unwrap();
    assert_eq!(verifying.verify(&token, ISS, AUD, now).unwrap(), claims);
    assert!(verifying.sign(&claims).is_err());
    assert_eq!(verifying.jwks(now), signing.jwks(now));
}
