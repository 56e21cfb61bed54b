//! The `Authorization` header: its one parser.

use http::HeaderMap;

use crate::domain::AuthFailure;

/// The scheme and value of the Authorization header.
#[derive(Debug)]
pub enum Presented {
    ApiKey(String),
    Bearer(String),
}

/// The Authorization header as `(scheme, credentials)`, both trimmed; compare the scheme
/// case-insensitively. The one parser of the header: [`presented`] and the token endpoint's
/// `Basic` client authentication both read it here.
pub fn authorization(headers: &HeaderMap) -> Option<(&str, &str)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    value.split_once(' ').map(|(scheme, rest)| (scheme, rest.trim()))
}

/// The Authorization header read as `ApiKey <value>` or `Bearer <token>` (schemes case-insensitive).
pub fn presented(headers: &HeaderMap) -> Result<Presented, AuthFailure> {
    let (scheme, rest) = authorization(headers).ok_or(AuthFailure::MissingCredentials)?;
    if rest.is_empty() {
        return Err(AuthFailure::MissingCredentials);
    }
    if scheme.eq_ignore_ascii_case("apikey") {
        Ok(Presented::ApiKey(rest.to_string()))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Presented::Bearer(rest.to_string()))
    } else {
        Err(AuthFailure::MissingCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparseable_authorization_headers_are_missing_credentials() {
        for value in ["", "ApiKey", "ApiKey   ", "Basic abc", "ik_abc"] {
            let mut headers = HeaderMap::new();
            headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
            assert!(matches!(presented(&headers), Err(AuthFailure::MissingCredentials)), "{value:?}");
        }
        assert!(matches!(presented(&HeaderMap::new()), Err(AuthFailure::MissingCredentials)));
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, "apikey ik_x".parse().unwrap());
        assert!(matches!(presented(&headers), Ok(Presented::ApiKey(v)) if v == "ik_x"));
    }
}
