//! What the local stack serves beside the template for the console: the development identity
//! provider's browser sign-in (authorization code with PKCE S256) and the console's built files.

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use iam_tests::{TestApp, TestResponse};
use local_stack::console::{CONTENT_SECURITY_POLICY, ConsoleSite};
use local_stack::event::IncomingRequest;
use local_stack::idp::{self, LocalIdp};
use local_stack::server::{LocalExtras, respond};
use serde_json::{Value, json};

/// The stack's base URL as the provider and the console are told it.
const API: &str = "http://127.0.0.1:3000";
const CALLBACK: &str = "http://127.0.0.1:3000/console/callback";
/// RFC 7636, appendix B: a verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A test app whose identity provider is the stack's development provider at [`API`], and what the
/// stack serves beside the template.
struct Stack {
    app: TestApp,
    extras: LocalExtras,
}

impl Stack {
    async fn new(console_dir: Option<PathBuf>) -> Self {
        let issuer = format!("{API}{}", idp::ISSUER_PATH);
        let app = TestApp::with_config(|c| c.oidc.as_mut().expect("a provider").issuer = issuer).await;
        let extras = LocalExtras {
            idp: Some(Arc::new(LocalIdp::new(app.idp.clone(), API))),
            console: console_dir.map(|dir| ConsoleSite::new(dir, API)),
            scanner: None,
            workload: None,
        };
        Self { app, extras }
    }

    /// `method path?query` as a browser sends it, with a form body if any.
    async fn send(&self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> TestResponse {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut headers = Vec::new();
        let mut body = Vec::new();
        if let Some(form) = form {
            headers.push(("Content-Type".to_string(), "application/x-www-form-urlencoded".to_string()));
            body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish().into_bytes();
        }
        let incoming = IncomingRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers,
            body,
            source_ip: "127.0.0.1".into(),
        };
        let response = respond(&self.app.app, &self.app.template, &self.extras, incoming).await;
        let (parts, raw) = response.into_parts();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        TestResponse { status: parts.status.as_u16(), headers: parts.headers, raw, body }
    }

    /// The console's sign-in request, with `changes` to its parameters (an empty value drops one).
    fn authorize_query(changes: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", idp::CONSOLE_CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("state", "st-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", "openid profile email"),
            ("nonce", "n-1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (name, value) in changes {
            params.retain(|(k, _)| k != name);
            if !value.is_empty() {
                params.push((name.to_string(), value.to_string()));
            }
        }
        params
    }

    /// Signs `subject` in with the console's request: the code the provider redirects with.
    async fn sign_in(&self, subject: &str) -> String {
        let mut form = Self::authorize_query(&[]);
        form.push(("subject".into(), subject.into()));
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = self.send("POST", "/_local/idp/authorize", Some(&pairs)).await;
        assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.raw));
        let location = r.header("location");
        let query = location.strip_prefix(&format!("{CALLBACK}?")).unwrap_or_else(|| panic!("{location}"));
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        assert_eq!(params.iter().find(|(k, _)| k == "state").map(|(_, v)| v.as_str()), Some("st-1"));
        params.into_iter().find(|(k, _)| k == "code").expect("a code").1
    }

    /// The token request for `code`, with `changes` to its parameters (an empty value drops one).
    async fn redeem(&self, code: &str, changes: &[(&str, &str)]) -> TestResponse {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("client_id", idp::CONSOLE_CLIENT_ID),
            ("code_verifier", VERIFIER),
        ];
        for (name, value) in changes {
            form.retain(|(k, _)| k != name);
            if !value.is_empty() {
                form.push((name, value));
            }
        }
        self.send("POST", "/_local/idp/token", Some(&form)).await
    }
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn query_string(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish()
}

#[tokio::test]
async fn a_browser_signs_in_with_pkce_and_its_access_token_is_a_member_token() {
    let stack = Stack::new(None).await;
    let member = stack.app.add_member("ada", Some("iam-viewer")).await;

    let r = stack.send("GET", "/_local/idp/.well-known/openid-configuration", None).await;
    assert_eq!(r.status, 200);
    let issuer = format!("{API}/_local/idp");
    assert_eq!(r.body["issuer"], issuer.as_str());
    assert_eq!(r.body["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(r.body["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(r.body["jwks_uri"], format!("{issuer}/jwks.json"));
    assert_eq!(r.body["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(r.body["id_token_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(r.body["token_endpoint_auth_methods_supported"], json!(["none"]));
    let r = stack.send("GET", "/_local/idp/jwks.json", None).await;
    assert_eq!((r.status, &r.body), (200, &stack.app.idp.jwks()));

    let page =
        stack.send("GET", &format!("/_local/idp/authorize?{}", query_string(&Stack::authorize_query(&[]))), None).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(page.header("content-security-policy").contains("default-src 'none'"));
    let html = String::from_utf8(page.raw.clone()).unwrap();
    for expected in [
        "<html lang=\"en\">",
        "<title>",
        "<label for=\"subject\">Subject</label>",
        "<input id=\"subject\" name=\"subject\"",
        "<button type=\"submit\">Sign in</button>",
        "<input type=\"hidden\" name=\"code_challenge\" value=\"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\">",
        "<input type=\"hidden\" name=\"state\" value=\"st-1\">",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    assert!(!html.contains("<script"), "no script at all");

    let code = stack.sign_in("ada").await;
    assert!(URL_SAFE_NO_PAD.decode(&code).unwrap().len() >= 16, "at least 128 random bits");
    let r = stack.redeem(&code, &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!((r.body["token_type"].as_str(), r.body["expires_in"].as_i64()), (Some("Bearer"), Some(3600)));
    assert_eq!(r.body["scope"], "openid profile email");
    let now = stack.app.app.clock.now().unix();
    let access = r.body["access_token"].as_str().unwrap();
    assert_eq!(
        claims(access),
        json!({"iss": issuer, "aud": idp::AUDIENCE, "sub": "ada", "iat": now, "nbf": now, "exp": now + 3600}),
        "a member token, as make user-token makes one"
    );
    let id = claims(r.body["id_token"].as_str().unwrap());
    assert_eq!(
        (&id["iss"], &id["sub"], &id["aud"], &id["nonce"], &id["iat"], &id["exp"]),
        (&json!(issuer), &json!("ada"), &json!("iam-console"), &json!("n-1"), &json!(now), &json!(now + 3600))
    );

    // The access token is the member's: the API knows whose organisations it may show.
    let me = stack.app.bearer_call("GET", "/iam/me", access, None).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["organisations"][0]["principalId"], member.as_str());

    let again = stack.redeem(&code, &[]).await;
    assert_eq!((again.status, again.body["error"].as_str()), (400, Some("invalid_grant")), "a code is spent once");
}

#[tokio::test]
async fn a_code_is_spent_by_a_wrong_verifier_and_expires_after_a_minute() {
    let stack = Stack::new(None).await;
    let code = stack.sign_in("bob").await;
    let wrong = "x".repeat(43);
    let r = stack.redeem(&code, &[("code_verifier", wrong.as_str())]).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("invalid_grant")), "{:?}", r.body);
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("cache-control"), "no-store");
    let r = stack.redeem(&code, &[]).await;
    assert_eq!(r.body["error"], "invalid_grant", "the wrong verifier spent the code");

    let code = stack.sign_in("bob").await;
    let r = stack.redeem(&code, &[("redirect_uri", format!("{API}/console/other").as_str())]).await;
    assert_eq!(r.body["error"], "invalid_grant", "another redirect_uri than the code's");

    let code = stack.sign_in("bob").await;
    stack.app.app.clock.advance(idp::CODE_TTL_SECONDS);
    let r = stack.redeem(&code, &[]).await;
    assert_eq!(r.body["error"], "invalid_grant", "expired by the stack's clock");

    let code = stack.sign_in("bob").await;
    stack.app.app.clock.advance(idp::CODE_TTL_SECONDS - 1);
    assert_eq!(stack.redeem(&code, &[]).await.status, 200, "a second before it expires");
}

#[tokio::test]
async fn a_token_request_that_is_not_one_is_an_oauth_error() {
    let stack = Stack::new(None).await;
    let code = stack.sign_in("carol").await;
    for (changes, error) in [
        (vec![("grant_type", "client_credentials")], "unsupported_grant_type"),
        (vec![("grant_type", "")], "invalid_request"),
        (vec![("client_id", "someone-else")], "invalid_client"),
        (vec![("client_id", "")], "invalid_request"),
        (vec![("code_verifier", "")], "invalid_request"),
        (vec![("code_verifier", "short")], "invalid_request"),
        (vec![("redirect_uri", "")], "invalid_request"),
        (vec![("code", "")], "invalid_request"),
    ] {
        let r = stack.redeem(&code, &changes).await;
        assert_eq!((r.status, r.body["error"].as_str()), (400, Some(error)), "{changes:?}: {:?}", r.body);
        assert!(r.body["error_description"].is_string());
    }
    // None of those reached the code: it still redeems.
    assert_eq!(stack.redeem(&code, &[]).await.status, 200);
}

#[tokio::test]
async fn the_provider_refuses_a_request_it_may_not_send_anywhere_without_redirecting() {
    let stack = Stack::new(None).await;
    for changes in [
        vec![("client_id", "unknown")],
        vec![("client_id", "")],
        vec![("redirect_uri", "https://evil.example/console/callback")],
        vec![("redirect_uri", &*format!("{CALLBACK}/"))],
        vec![("redirect_uri", "")],
        vec![("code_challenge", "")],
        vec![("code_challenge_method", "plain")],
        vec![("code_challenge_method", "")],
        vec![("code_challenge", "too-short")],
        vec![("response_type", "token")],
    ] {
        let params = Stack::authorize_query(&changes);
        let r = stack.send("GET", &format!("/_local/idp/authorize?{}", query_string(&params)), None).await;
        assert_eq!((r.status, r.header("location")), (400, ""), "{changes:?}");
        assert!(String::from_utf8_lossy(&r.raw).contains("Sign-in request refused"), "{changes:?}");
        let mut form = params.clone();
        form.push(("subject".into(), "mallory".into()));
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = stack.send("POST", "/_local/idp/authorize", Some(&pairs)).await;
        assert_eq!((r.status, r.header("location")), (400, ""), "POST {changes:?}");
    }
}

#[tokio::test]
async fn an_empty_subject_gets_the_page_again_with_its_error() {
    let stack = Stack::new(None).await;
    let mut form = Stack::authorize_query(&[("state", "\"><script>alert(1)</script>")]);
    form.push(("subject".into(), "   ".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = stack.send("POST", "/_local/idp/authorize", Some(&pairs)).await;
    assert_eq!((r.status, r.header("location")), (400, ""));
    let html = String::from_utf8(r.raw).unwrap();
    assert!(html.contains("role=\"alert\">Enter a subject.</p>"), "{html}");
    assert!(html.contains("aria-describedby=\"subject-error\""), "{html}");
    assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""), "the state, escaped: {html}");
    assert!(!html.contains("<script"), "{html}");
}

/// A built console in a directory of its own, beside a file it must never serve.
fn built_console() -> PathBuf {
    let root = std::env::temp_dir().join(format!("iam-console-{}", ulid::Ulid::new()));
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(root.join("secret.txt"), "NOT-FOR-THE-BROWSER").unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>console</title>").unwrap();
    std::fs::write(dist.join("assets/index-Bx7c9a1f.js"), "console.log(1)").unwrap();
    std::fs::write(dist.join("assets/index-D4e5f6a7.css"), "body{}").unwrap();
    std::fs::write(dist.join("favicon.svg"), "<svg/>").unwrap();
    dist
}

#[tokio::test]
async fn the_console_is_served_with_its_headers_and_routes_to_index_html() {
    let dist = built_console();
    let stack = Stack::new(Some(dist.clone())).await;
    let index = "<!doctype html><title>console</title>";

    assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'self'; script-src 'self'; style-src 'self';"));
    let r = stack.send("GET", "/console", None).await;
    assert_eq!((r.status, r.header("location")), (301, "/console/"));
    for (path, status, media, cache, body) in [
        ("/console/", 200, "text/html; charset=utf-8", "no-cache", index),
        ("/console/index.html", 200, "text/html; charset=utf-8", "no-cache", index),
        (
            "/console/assets/index-Bx7c9a1f.js",
            200,
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
            "console.log(1)",
        ),
        (
            "/console/assets/index-D4e5f6a7.css",
            200,
            "text/css; charset=utf-8",
            "public, max-age=31536000, immutable",
            "body{}",
        ),
        ("/console/favicon.svg", 200, "image/svg+xml", "no-cache", "<svg/>"),
        // The single-page app's own routes, and anything else that is no file, are index.html.
        ("/console/callback?code=abc&state=x", 200, "text/html; charset=utf-8", "no-cache", index),
        ("/console/api-keys/akp_01JD5Z8Q2M3N4P5R6S7T8V9W0X", 200, "text/html; charset=utf-8", "no-cache", index),
        ("/console/assets", 200, "text/html; charset=utf-8", "no-cache", index),
    ] {
        let r = stack.send("GET", path, None).await;
        assert_eq!(
            (r.status, r.header("content-type"), r.header("cache-control"), String::from_utf8_lossy(&r.raw).as_ref()),
            (status, media, cache, body),
            "{path}"
        );
    }
    for path in ["/console", "/console/", "/console/assets/index-Bx7c9a1f.js", "/console/config.json", "/console/x"] {
        let r = stack.send("GET", path, None).await;
        assert_eq!(r.header("content-security-policy"), CONTENT_SECURITY_POLICY, "{path}");
        assert_eq!(
            (r.header("x-content-type-options"), r.header("referrer-policy"), r.header("x-frame-options")),
            ("nosniff", "no-referrer", "DENY"),
            "{path}"
        );
    }

    let r = stack.send("GET", "/console/config.json", None).await;
    assert_eq!((r.status, r.header("content-type"), r.header("cache-control")), (200, "application/json", "no-cache"));
    assert_eq!(
        r.body,
        json!({"issuer": format!("{API}/_local/idp"), "clientId": "iam-console", "apiBaseUrl": API,
               "redirectUri": format!("{API}/console/callback")})
    );

    // The template's routes are still the functions' (and the console takes only GET and HEAD).
    assert_eq!(stack.send("GET", "/iam/openapi.json", None).await.status, 200);
    let r = stack.send("POST", "/console/", None).await;
    assert_eq!((r.status, r.body["message"].as_str()), (404, Some("Not Found")));
    let _ = std::fs::remove_dir_all(dist.parent().unwrap());
}

#[tokio::test]
async fn no_path_climbs_out_of_the_console() {
    let dist = built_console();
    let stack = Stack::new(Some(dist.clone())).await;
    for path in [
        "/console/../secret.txt",
        "/console/%2e%2e/secret.txt",
        "/console/assets/..%2f..%2fsecret.txt",
        "/console/assets/%2E%2E/%2E%2E/secret.txt",
        "/console/..%5csecret.txt",
        "/console/./index.html",
    ] {
        let r = stack.send("GET", path, None).await;
        assert_eq!(r.status, 400, "{path}");
        assert!(!String::from_utf8_lossy(&r.raw).contains("NOT-FOR-THE-BROWSER"), "{path}");
        assert_eq!(r.header("content-security-policy"), CONTENT_SECURITY_POLICY, "{path}");
    }
    // A link out of the directory is no file of the console.
    std::os::unix::fs::symlink(dist.parent().unwrap().join("secret.txt"), dist.join("leak.txt")).unwrap();
    let r = stack.send("GET", "/console/leak.txt", None).await;
    assert_eq!((r.status, r.header("content-type")), (200, "text/html; charset=utf-8"));
    assert!(!String::from_utf8_lossy(&r.raw).contains("NOT-FOR-THE-BROWSER"));
    let _ = std::fs::remove_dir_all(dist.parent().unwrap());
}

#[tokio::test]
async fn a_console_not_built_says_how_to_build_it() {
    let empty = std::env::temp_dir().join(format!("iam-console-{}", ulid::Ulid::new()));
    let stack = Stack::new(Some(empty.clone())).await;
    for path in ["/console/", "/console/api-keys", "/console/assets/index.js"] {
        let r = stack.send("GET", path, None).await;
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(r.header("content-type"), "text/plain; charset=utf-8");
        assert_eq!(String::from_utf8_lossy(&r.raw), "the console is not built: run make console");
        assert_eq!(r.header("content-security-policy"), CONTENT_SECURITY_POLICY);
    }
    assert_eq!(stack.send("GET", "/console/config.json", None).await.status, 200, "its configuration is the stack's");
}
