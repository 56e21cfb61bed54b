//! The provider's HTML pages: the sign-in form, the refusal of a request it will not act on and the
//! failure of a sign-in, each served with headers that let nothing but the page itself run or
//! frame it.

use super::protocol::AuthorizeParams;
use super::{CONSOLE_CLIENT_ID, ISSUER_PATH, response};

/// The headers of the provider's HTML pages: nothing but the page itself may run or frame it, and
/// the form posts only back to the provider.
const PAGE_HEADERS: [(&str, &str); 6] = [
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("content-security-policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];

/// Text for HTML content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page of the provider's, `title` and `main` in its frame, with [`PAGE_HEADERS`].
fn page(status: u16, title: &str, main: &str) -> http::Response<Vec<u8>> {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  \
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n  \
         <title>{title} · development identity provider</title>\n</head>\n<body>\n  <main>\n{main}\n  </main>\n</body>\n</html>\n"
    );
    response(status, &PAGE_HEADERS, body.into_bytes())
}

/// 400: a request the provider will not send anywhere (an unknown client, a redirect URI it does
/// not allow, no PKCE): said on a page, never by redirecting.
pub(super) fn refusal_page(reason: &str) -> http::Response<Vec<u8>> {
    let main = format!(
        "    <h1>Sign-in request refused</h1>\n    <p>{}</p>\n    \
         <p>The development identity provider signs in only its registered client, <code>{CONSOLE_CLIENT_ID}</code>, \
         back to its registered redirect URI, with a PKCE S256 challenge.</p>",
        escape(reason)
    );
    page(400, "Sign-in request refused", &main)
}

/// 500: the provider had no randomness for a code.
pub(super) fn no_randomness_page() -> http::Response<Vec<u8>> {
    page(500, "Sign-in failed", "    <h1>Sign-in failed</h1>\n    <p>No randomness for a code.</p>")
}

/// The sign-in form for the authorization request `params`, with `subject` filled in and `error`,
/// if any, said beside it.
pub(super) fn sign_in_form(
    status: u16,
    params: &AuthorizeParams,
    subject: &str,
    error: Option<&str>,
) -> http::Response<Vec<u8>> {
    let (alert, described) = match error {
        Some(error) => (
            format!("    <p id=\"subject-error\" role=\"alert\">{}</p>\n", escape(error)),
            " aria-describedby=\"subject-error\" aria-invalid=\"true\"",
        ),
        None => (String::new(), ""),
    };
    let main = format!(
        "    <h1>Sign in to the development identity provider</h1>\n    \
         <p>Local only: any subject signs in, without a password. Use a member's subject (the demo \
         organisation's owner is <code>demo-owner</code>).</p>\n{alert}    \
         <form method=\"post\" action=\"{ISSUER_PATH}/authorize\">\n      {hidden}\n      \
         <label for=\"subject\">Subject</label>\n      \
         <input id=\"subject\" name=\"subject\" type=\"text\" required autocomplete=\"username\" \
         spellcheck=\"false\" value=\"{value}\"{described}>\n      \
         <button type=\"submit\">Sign in</button>\n    </form>",
        hidden = hidden_fields(params),
        value = escape(subject),
    );
    page(status, "Sign in", &main)
}

/// The hidden fields that carry the request through the sign-in form.
fn hidden_fields(params: &AuthorizeParams) -> String {
    let mut fields = vec![
        ("response_type", params.response_type.as_str()),
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
    ];
    for (name, value) in [("state", &params.state), ("scope", &params.scope), ("nonce", &params.nonce)] {
        if let Some(value) = value {
            fields.push((name, value));
        }
    }
    fields
        .iter()
        .map(|(name, value)| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value)))
        .collect::<Vec<_>>()
        .join("\n      ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_text_is_escaped() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
