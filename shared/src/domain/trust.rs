//! Workload trusts: which external OIDC tokens (a CI job's, a cloud workload's) an organisation
//! accepts in exchange for an access token of one of its API-key principals, with no API key.
//! A trust names the issuer, the audiences, and the conditions on the token's claims that must all
//! hold; it maps every token that passes to one principal.

use serde::{Deserialize, Serialize};

use super::{Name, OrgId, PrincipalId, Timestamp, TrustId};

/// One organisation's trust in one external issuer's tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadTrust {
    pub id: TrustId,
    pub org_id: OrgId,
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The tokens' `iss`, exactly: an `https` URL whose OpenID Connect discovery document names
    /// the keys that sign them.
    pub issuer: String,
    /// A token's `aud` must hold one of these. Each contains the organisation's id, so no other
    /// organisation can ever claim it.
    pub audiences: Vec<String>,
    /// Every one must hold (at least one pins `sub` or an immutable id claim).
    pub conditions: Vec<ClaimCondition>,
    /// The API-key principal a token that passes becomes.
    pub principal_id: PrincipalId,
    /// The longest lifetime of an access token issued through this trust (the org's own access
    /// token lifetime applies too: the shorter wins).
    pub max_token_lifetime_seconds: u32,
    pub enabled: bool,
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When a token last passed, and whose (`iss` is the trust's; `sub` the token's).
    #[serde(default)]
    pub last_used_at: Option<Timestamp>,
    #[serde(default)]
    pub last_used_subject: Option<String>,
}

/// One condition on a claim of the external token: `{"claim": "sub", "equals": "repo:acme/app:ref:refs/heads/main"}`
/// or `{"claim": "sub", "matches": "repo:acme/app:*"}` (a glob: `*` any run of characters, `/` and
/// `:` included; `?` one character).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimCondition {
    pub claim: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
}

/// The claims whose value names one workload and cannot be taken over by another: `sub`, and the
/// numeric ids that GitHub and GitLab put beside their renamable names.
pub const PINNING_CLAIMS: [&str; 5] = ["sub", "repository_id", "repository_owner_id", "project_id", "namespace_id"];

/// A claim's value as conditions compare it: a string as it is, an integer or a boolean as JSON
/// writes it; anything else (an object, an array, a fraction, null) has no text and meets no
/// condition.
pub fn claim_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

impl ClaimCondition {
    /// Whether the claims meet this condition.
    pub fn holds(&self, claims: &serde_json::Map<String, serde_json::Value>) -> bool {
        let Some(text) = claims.get(&self.claim).and_then(claim_text) else { return false };
        match (&self.equals, &self.matches) {
            (Some(expected), None) => text == *expected,
            (None, Some(pattern)) => wildmatch::WildMatch::new(pattern).matches(&text),
            _ => false,
        }
    }

    /// Whether this condition alone ties the trust to one workload: an `equals` on a pinning
    /// claim, or a `matches` on one whose fixed start (before the first wildcard) names something
    /// past a `:` or `/` and ends at a `:` or `/` (`repo:acme/*` pins; `repo:*`, `repo:acme*`
    /// and `*` do not).
    pub fn pins(&self) -> bool {
        if !PINNING_CLAIMS.contains(&self.claim.as_str()) {
            return false;
        }
        match (&self.equals, &self.matches) {
            (Some(value), None) => !value.is_empty(),
            (None, Some(pattern)) => pattern_pins(pattern),
            _ => false,
        }
    }

    /// What the condition says, for a person (the test of a token against a trust).
    pub fn describe(&self) -> String {
        match (&self.equals, &self.matches) {
            (Some(value), _) => format!("{} equals {value:?}", self.claim),
            (None, Some(pattern)) => format!("{} matches {pattern:?}", self.claim),
            (None, None) => format!("{} (no test)", self.claim),
        }
    }
}

fn pattern_pins(pattern: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return !pattern.is_empty();
    }
    // The fixed start must end at a separator, past something named: `repo:acme/` pins an owner,
    // while `repo:acme` would also match `repo:acme-evil/…`.
    let fixed = pattern.split(['*', '?']).next().unwrap_or_default();
    let named = fixed
        .char_indices()
        .find(|(_, c)| *c == ':' || *c == '/')
        .is_some_and(|(i, c)| fixed[i + c.len_utf8()..].chars().any(char::is_alphanumeric));
    named && fixed.ends_with([':', '/'])
}

impl WorkloadTrust {
    /// The first condition the claims do not meet, if any.
    pub fn first_unmet<'a>(
        &'a self,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<&'a ClaimCondition> {
        self.conditions.iter().find(|c| !c.holds(claims))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn condition(claim: &str, equals: Option<&str>, matches: Option<&str>) -> ClaimCondition {
        ClaimCondition { claim: claim.into(), equals: equals.map(String::from), matches: matches.map(String::from) }
    }

    fn claims(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn conditions_compare_text_exactly_and_globs_cross_separators() {
        let c = claims(json!({
            "sub": "repo:acme/app:ref:refs/heads/main", "repository_id": 74, "ok": true, "aud": ["a"], "f": 1.5
        }));
        assert!(condition("sub", Some("repo:acme/app:ref:refs/heads/main"), None).holds(&c));
        assert!(!condition("sub", Some("repo:acme/app:ref:refs/heads/mai"), None).holds(&c));
        assert!(!condition("sub", Some("REPO:acme/app:ref:refs/heads/main"), None).holds(&c));
        assert!(condition("sub", None, Some("repo:acme/*")).holds(&c));
        assert!(condition("sub", None, Some("repo:acme/app:ref:refs/heads/???n")).holds(&c));
        assert!(!condition("sub", None, Some("repo:other/*")).holds(&c));
        assert!(condition("repository_id", Some("74"), None).holds(&c));
        assert!(condition("ok", Some("true"), None).holds(&c));
        // No text: an array, a fraction, a claim that is not there.
        assert!(!condition("aud", None, Some("*")).holds(&c));
        assert!(!condition("f", None, Some("*")).holds(&c));
        assert!(!condition("missing", None, Some("*")).holds(&c));
    }

    #[test]
    fn only_conditions_on_pinning_claims_that_name_something_pin() {
        assert!(condition("sub", Some("repo:acme/app:ref:refs/heads/main"), None).pins());
        assert!(condition("repository_id", Some("74"), None).pins());
        assert!(condition("sub", None, Some("repo:acme/*")).pins());
        assert!(condition("sub", None, Some("system:serviceaccount:ci:*")).pins());
        for loose in ["*", "repo:*", "repo:?*", "?", "acme*", "", "repo:acme*", "repo:a*", "repo:acme/app*"] {
            assert!(!condition("sub", None, Some(loose)).pins(), "{loose}");
        }
        assert!(!condition("sub", Some(""), None).pins());
        assert!(!condition("repository", Some("acme/app"), None).pins(), "a renamable name does not pin");
        assert!(!condition("workflow", Some("deploy"), None).pins());
    }
}
