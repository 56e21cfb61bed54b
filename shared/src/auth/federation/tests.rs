//! The federation's pure parts: reading a token, its times, the addresses and URLs fetched.

use super::*;

fn encode(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

fn token(header: Value, claims: Value) -> String {
    format!("{}.{}.c2ln", encode(&header), encode(&claims))
}

#[test]
fn a_token_is_peeked_whatever_its_algorithm_and_malformed_ones_are_named() {
    let claims = serde_json::json!({"iss": "https://i", "sub": "s", "aud": ["a", "b"], "exp": 1, "iat": 1});
    let peeked = peek(&token(serde_json::json!({"alg": "none"}), claims.clone())).unwrap();
    assert_eq!((peeked.alg.as_str(), peeked.audiences.len()), ("none", 2));
    for bad in [
        "a.b".to_string(),
        "a.b.c.d".to_string(),
        token(serde_json::json!({"alg": "RS256"}), serde_json::json!({"iss": "https://i", "aud": "a"})),
        token(serde_json::json!({"alg": "RS256"}), serde_json::json!({"iss": "https://i", "sub": "s"})),
        token(serde_json::json!({"alg": "RS256"}), serde_json::json!({"iss": "", "sub": "s", "aud": "a"})),
        token(serde_json::json!({"typ": "JWT"}), claims),
        "x".repeat(MAX_SUBJECT_TOKEN_BYTES + 1),
    ] {
        assert_eq!(peek(&bad).unwrap_err(), GrantRefusal::MalformedToken, "{bad}");
    }
}

#[test]
fn times_are_checked_on_the_service_clock_with_the_leeway() {
    let now = Timestamp::from_unix(10_000);
    let at = |exp: i64, iat: i64, nbf: Option<i64>| {
        let mut claims = serde_json::json!({"exp": exp, "iat": iat});
        if let Some(nbf) = nbf {
            claims["nbf"] = nbf.into();
        }
        check_times(claims.as_object().unwrap(), now)
    };
    assert_eq!(at(10_100, 9_900, Some(9_900)), Ok(()));
    assert_eq!(at(10_000 - LEEWAY_SECONDS + 1, 9_900, None), Ok(()));
    assert_eq!(at(10_000 - LEEWAY_SECONDS, 9_900, None), Err(GrantRefusal::TokenExpired));
    assert_eq!(at(10_100, 10_000 + LEEWAY_SECONDS + 1, None), Err(GrantRefusal::TokenNotYetValid));
    assert_eq!(at(10_100, 9_900, Some(10_000 + LEEWAY_SECONDS + 1)), Err(GrantRefusal::TokenNotYetValid));
    assert_eq!(at(20_000, 10_000 - MAX_SUBJECT_TOKEN_AGE_SECONDS - 1, None), Err(GrantRefusal::TokenTooOld));
    assert_eq!(
        check_times(serde_json::json!({"exp": 20_000}).as_object().unwrap(), now),
        Err(GrantRefusal::MalformedToken),
        "iat is required"
    );
}

#[test]
fn only_public_addresses_and_https_urls_are_fetched() {
    for private in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fd00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
    ] {
        assert!(!is_public(private.parse().unwrap()), "{private}");
    }
    for public in ["140.82.112.3", "8.8.8.8", "2606:4700::1111"] {
        assert!(is_public(public.parse().unwrap()), "{public}");
    }
    let policy = FetchPolicy::default();
    assert!(policy.allows_url("https://token.actions.githubusercontent.com/.well-known/jwks"));
    for refused in [
        "http://token.actions.githubusercontent.com",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "https://user:pw@example.com/",
        "file:///etc/passwd",
        "not a url",
    ] {
        assert!(!policy.allows_url(refused), "{refused}");
    }
    let local = FetchPolicy { local_issuer: Some("http://127.0.0.1:4000/_local/workload".into()) };
    assert!(local.allows_url("http://127.0.0.1:4000/_local/workload/jwks.json"));
    assert!(!local.allows_url("http://127.0.0.1:4000/_local/workloadx"));
    assert!(!local.allows_url("http://127.0.0.1:4000/other"));
}
