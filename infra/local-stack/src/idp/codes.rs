//! The provider's authorization codes: one is issued at sign-in for a client, a redirect URI and a
//! PKCE challenge, and redeemed at most once, within [`CODE_TTL_SECONDS`]. Times come from the
//! caller (the stack's clock), so that tests can move them.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use shared::domain::Timestamp;

use super::CODE_TTL_SECONDS;
use super::protocol::pkce_s256_matches;

/// What a code was issued for: the token request must repeat the client and redirect URI, and prove
/// the PKCE verifier of the challenge.
pub(super) struct Grant {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) code_challenge: String,
    pub(super) subject: String,
    pub(super) nonce: Option<String>,
    pub(super) scope: String,
    /// Unix seconds.
    pub(super) signed_in_at: i64,
}

/// A code's grant and when it stops being redeemable (unix seconds).
struct Pending {
    grant: Grant,
    expires_at: i64,
}

/// Why a code is not redeemed: each is an `invalid_grant` at the token endpoint.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// Never issued, or already redeemed.
    Unknown,
    /// Issued [`CODE_TTL_SECONDS`] or more ago.
    Expired,
    /// Issued to another client or redirect URI.
    OtherClient,
    /// The verifier is not the one of the code's challenge.
    VerifierMismatch,
}

impl Refused {
    /// The token endpoint's `error_description`; an expired code is told as an unknown one.
    pub(super) fn description(&self) -> &'static str {
        match self {
            Self::Unknown | Self::Expired => "the code is unknown, already used or expired",
            Self::OtherClient => "the code was issued to another client or redirect_uri",
            Self::VerifierMismatch => "the code_verifier does not match the code_challenge",
        }
    }
}

/// Codes issued and not yet redeemed (nor expired), by the code.
#[derive(Default)]
pub(super) struct Codes {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Codes {
    /// A new code for `grant`, redeemable until [`CODE_TTL_SECONDS`] after `now`; the codes that
    /// have expired by `now` are forgotten. Fails only when there is no randomness for a code.
    pub(super) fn issue(&self, grant: Grant, now: Timestamp) -> Result<String, getrandom::Error> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)?;
        let code = URL_SAFE_NO_PAD.encode(random);
        let mut pending = self.pending.lock().expect("codes lock");
        pending.retain(|_, p| p.expires_at > now.unix());
        pending.insert(code.clone(), Pending { grant, expires_at: now.unix() + CODE_TTL_SECONDS });
        Ok(code)
    }

    /// The grant of `code`, if it is redeemed at `now` by the client and redirect URI it was issued
    /// to, with the verifier of its challenge. The code is spent by the first redemption that names
    /// it, whatever that redemption's fate.
    pub(super) fn redeem(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: &str,
        now: Timestamp,
    ) -> Result<Grant, Refused> {
        let Some(Pending { grant, expires_at }) = self.pending.lock().expect("codes lock").remove(code) else {
            return Err(Refused::Unknown);
        };
        if expires_at <= now.unix() {
            return Err(Refused::Expired);
        }
        if grant.client_id != client_id || grant.redirect_uri != redirect_uri {
            return Err(Refused::OtherClient);
        }
        if !pkce_s256_matches(code_verifier, &grant.code_challenge) {
            return Err(Refused::VerifierMismatch);
        }
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "iam-console";
    const REDIRECT_URI: &str = "http://127.0.0.1:4000/console/callback";
    /// RFC 7636 appendix B's verifier and its S256 challenge.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    /// Sign-in time.
    const T0: i64 = 1_800_000_000;

    fn at(unix: i64) -> Timestamp {
        Timestamp::from_unix(unix)
    }

    /// What `ada` signed in for at `T0`.
    fn grant() -> Grant {
        Grant {
            client_id: CLIENT.into(),
            redirect_uri: REDIRECT_URI.into(),
            code_challenge: CHALLENGE.into(),
            subject: "ada".into(),
            nonce: Some("n-0S6_WzA2Mj".into()),
            scope: "openid profile".into(),
            signed_in_at: T0,
        }
    }

    /// A code issued at `T0` for [`grant`].
    fn issued(codes: &Codes) -> String {
        codes.issue(grant(), at(T0)).expect("randomness")
    }

    fn redeem(codes: &Codes, code: &str, now: i64) -> Result<Grant, Refused> {
        codes.redeem(code, CLIENT, REDIRECT_URI, VERIFIER, at(now))
    }

    #[test]
    fn a_code_redeemed_as_issued_gives_its_grant() {
        let codes = Codes::default();
        let code = issued(&codes);
        assert_eq!(URL_SAFE_NO_PAD.decode(&code).expect("base64url").len(), 32);
        let grant = redeem(&codes, &code, T0 + 1).expect("redeemed");
        assert_eq!((grant.client_id.as_str(), grant.redirect_uri.as_str()), (CLIENT, REDIRECT_URI));
        assert_eq!((grant.subject.as_str(), grant.scope.as_str()), ("ada", "openid profile"));
        assert_eq!((grant.nonce.as_deref(), grant.signed_in_at), (Some("n-0S6_WzA2Mj"), T0));
    }

    #[test]
    fn each_code_is_new() {
        let codes = Codes::default();
        assert_ne!(issued(&codes), issued(&codes));
    }

    #[test]
    fn a_code_is_redeemed_once() {
        let codes = Codes::default();
        let code = issued(&codes);
        assert!(redeem(&codes, &code, T0).is_ok());
        assert_eq!(redeem(&codes, &code, T0).err(), Some(Refused::Unknown));
    }

    #[test]
    fn a_code_never_issued_is_unknown() {
        let codes = Codes::default();
        issued(&codes);
        assert_eq!(redeem(&codes, "not-a-code", T0).err(), Some(Refused::Unknown));
    }

    #[test]
    fn a_code_is_redeemable_for_its_lifetime_and_not_after() {
        let codes = Codes::default();
        let (last_second, expired) = (issued(&codes), issued(&codes));
        assert!(redeem(&codes, &last_second, T0 + CODE_TTL_SECONDS - 1).is_ok());
        assert_eq!(redeem(&codes, &expired, T0 + CODE_TTL_SECONDS).err(), Some(Refused::Expired));
        assert_eq!(redeem(&codes, &expired, T0).err(), Some(Refused::Unknown), "an expired code is spent too");
    }

    #[test]
    fn issuing_forgets_the_expired_codes() {
        let codes = Codes::default();
        issued(&codes);
        let later = codes.issue(grant(), at(T0 + CODE_TTL_SECONDS)).expect("randomness");
        let pending = codes.pending.lock().expect("codes lock");
        assert_eq!(pending.keys().collect::<Vec<_>>(), [&later]);
    }

    #[test]
    fn a_wrong_verifier_is_refused_and_spends_the_code() {
        let codes = Codes::default();
        let code = issued(&codes);
        let wrong = "a".repeat(43);
        assert_eq!(codes.redeem(&code, CLIENT, REDIRECT_URI, &wrong, at(T0)).err(), Some(Refused::VerifierMismatch));
        assert_eq!(redeem(&codes, &code, T0).err(), Some(Refused::Unknown));
    }

    #[test]
    fn another_redirect_uri_or_client_is_refused() {
        let codes = Codes::default();
        let code = issued(&codes);
        let elsewhere = "http://127.0.0.1:4000/console/elsewhere";
        assert_eq!(codes.redeem(&code, CLIENT, elsewhere, VERIFIER, at(T0)).err(), Some(Refused::OtherClient));
        let code = issued(&codes);
        assert_eq!(codes.redeem(&code, "other", REDIRECT_URI, VERIFIER, at(T0)).err(), Some(Refused::OtherClient));
    }
}
