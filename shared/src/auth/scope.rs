//! Down-scoped tokens (AWS STS session policies, RFC 8693's `scope`): a token's `scope`, a set of
//! action patterns, narrows what its principal's roles grant. Pure.

use super::policy::action_matches;
use crate::domain::{PrincipalType, Role};

/// The most patterns one `scope` may hold.
pub const MAX_SCOPE_ACTIONS: usize = 50;

/// A requested `scope`: space-separated action patterns (`iam:apiKeys:read`, `iam:*`, `*`), each
/// `service:resourceType:verb` with `*` allowed, 1 to [`MAX_SCOPE_ACTIONS`] of them, duplicates
/// dropped. `Err` names the first pattern that is not one.
pub fn parse(text: &str) -> Result<Vec<String>, String> {
    let mut actions: Vec<String> = Vec::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let segment_ok = |s: &str| {
            !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || "*-_".contains(c))
        };
        let valid = word == "*" || (word.split(':').count() >= 2 && word.split(':').all(segment_ok));
        if !valid {
            return Err(format!("{word:?} is not an action pattern (service:resourceType:verb, * allowed)"));
        }
        if !actions.iter().any(|a| a == word) {
            actions.push(word.to_string());
        }
    }
    if actions.is_empty() || actions.len() > MAX_SCOPE_ACTIONS {
        return Err(format!("must hold 1 to {MAX_SCOPE_ACTIONS} action patterns, separated by spaces"));
    }
    Ok(actions)
}

/// Does `granted` cover every action `requested` can match? Decided by matching `requested` itself,
/// `*` and all, as an action: `iam:*` covers `iam:apiKeys:*`, `iam:apiKeys:read` does not. Sound
/// (never covers what it should not) and, for the patterns roles use, exact.
pub fn covers(granted: &str, requested: &str) -> bool {
    action_matches(granted, requested)
}

/// The first requested pattern that no role supporting `principal_type` covers.
pub fn first_not_granted<'a>(
    roles: &[Role],
    principal_type: PrincipalType,
    requested: &'a [String],
) -> Option<&'a str> {
    let granted: Vec<&str> = roles
        .iter()
        .filter(|r| r.principal_types.contains(&principal_type))
        .flat_map(|r| r.permissions.iter().map(|p| p.action.as_str()))
        .collect();
    requested.iter().find(|want| !granted.iter().any(|g| covers(g, want))).map(String::as_str)
}

/// Does a token's scope allow `action`? (`None`: an unscoped token, everything its roles grant.)
pub fn allows(scope: Option<&[String]>, action: &str) -> bool {
    scope.is_none_or(|patterns| patterns.iter().any(|p| action_matches(p, action)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_parses_into_distinct_action_patterns() {
        assert_eq!(parse("iam:apiKeys:read  iam:apiKeys:read iam:*").unwrap(), vec!["iam:apiKeys:read", "iam:*"]);
        assert_eq!(parse("*").unwrap(), vec!["*"]);
        for bad in ["", "   ", "read", "iam:", "iam::read", "iam:api keys", "iam:apiKeys:read\u{0}", "iam:a/b:read"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse(
                &vec!["iam:x:y"; 51]
                    .iter()
                    .enumerate()
                    .map(|(i, _)| format!("iam:x:v{i}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
            .is_err()
        );
    }

    #[test]
    fn coverage_is_pattern_containment() {
        assert!(covers("*", "iam:apiKeys:*"));
        assert!(covers("iam:*", "iam:apiKeys:read"));
        assert!(covers("iam:*", "iam:apiKeys:*"));
        assert!(covers("iam:apiKeys:*", "iam:apiKeys:re*"));
        assert!(covers("iam:apiKeys:r*", "iam:apiKeys:re*"));
        assert!(!covers("iam:apiKeys:read", "iam:apiKeys:*"));
        assert!(!covers("iam:apiKeys:re*", "iam:apiKeys:r*"));
        assert!(!covers("iam:apiKeys:*", "iam:*"));
        assert!(!covers("iam:*", "*"));
    }

    #[test]
    fn a_scope_allows_only_its_actions() {
        let scope = vec!["iam:apiKeys:read".to_string(), "iot:*".to_string()];
        assert!(allows(Some(&scope), "iam:apiKeys:read"));
        assert!(allows(Some(&scope), "iot:devices:write"));
        assert!(!allows(Some(&scope), "iam:apiKeys:update"));
        assert!(allows(None, "iam:apiKeys:update"));
    }
}
