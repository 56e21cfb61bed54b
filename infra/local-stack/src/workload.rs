//! The development workload issuer: what GitHub Actions, GitLab CI or a Kubernetes cluster is to a
//! deployed stack, for `make dev` and the tests. It publishes an OpenID Connect discovery document
//! and a JWKS at [`ISSUER_PATH`] under the stack's base URL, and signs workload tokens shaped like
//! GitHub Actions' or a Kubernetes service account's (`make workload-token`). The local stack names
//! it as its one `http` issuer (`LOCAL_WORKLOAD_ISSUER`); a deployed stack has no such exception.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::event::IncomingRequest;
use crate::idp::DevIdp;

/// The issuer path under the stack's base URL.
pub const ISSUER_PATH: &str = "/_local/workload";
/// Where the key is saved under the state directory, for `iam-admin workload-token`.
pub const KEY_FILE: &str = "workload-issuer.json";
/// A workload token's lifetime unless asked otherwise (GitHub's are about this).
pub const DEFAULT_TTL_SECONDS: i64 = 300;

/// The shape of a workload token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A GitHub Actions job's OIDC token.
    Github,
    /// A Kubernetes service account's projected token.
    Kubernetes,
}

/// The claims of a workload token of `kind` for `audience`, issued at `now` for `ttl` seconds, with
/// `overrides` set last (a `null` removes a claim). `subject` replaces the kind's example `sub`.
pub fn claims(
    kind: Kind,
    issuer: &str,
    audience: &str,
    subject: Option<&str>,
    now: i64,
    ttl: i64,
    overrides: &Map<String, Value>,
) -> Value {
    let jti = ulid::Ulid::new().to_string().to_lowercase();
    let mut claims = match kind {
        Kind::Github => json!({
            "jti": jti,
            "sub": "repo:acme/app:ref:refs/heads/main",
            "aud": audience,
            "ref": "refs/heads/main",
            "sha": "5f8a2c1e9b0d4f6a7c3e1b2d9f0a8c6e4b2d1f0a",
            "repository": "acme/app",
            "repository_id": "690412345",
            "repository_owner": "acme",
            "repository_owner_id": "81234567",
            "run_id": "9876543210",
            "run_number": "42",
            "run_attempt": "1",
            "actor": "octocat",
            "actor_id": "583231",
            "workflow": "deploy",
            "workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main",
            "job_workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main",
            "event_name": "push",
            "ref_type": "branch",
            "ref_protected": "true",
            "environment": "production",
            "runner_environment": "github-hosted",
            "iss": issuer,
            "nbf": now,
            "iat": now,
            "exp": now + ttl,
        }),
        Kind::Kubernetes => json!({
            "aud": [audience],
            "exp": now + ttl,
            "iat": now,
            "nbf": now,
            "iss": issuer,
            "jti": jti,
            "kubernetes.io": {
                "namespace": "ci",
                "node": {"name": "node-1", "uid": "4b8f0c55-6b7e-4d8a-9d57-0c2f5c1a9e10"},
                "pod": {"name": "deployer-7d9f8", "uid": "0f3c2b1a-8e7d-4c6b-a5f4-e3d2c1b0a9f8"},
                "serviceaccount": {"name": "deployer", "uid": "c2a8e3f1-5d4b-4a7c-9e6f-1b0d2c3a4e5f"}
            },
            "sub": "system:serviceaccount:ci:deployer",
        }),
    };
    if let Some(subject) = subject {
        claims["sub"] = subject.into();
    }
    let object = claims.as_object_mut().expect("an object");
    for (name, value) in overrides {
        match value {
            Value::Null => object.remove(name),
            other => object.insert(name.clone(), other.clone()),
        };
    }
    claims
}

/// The issuer as the stack serves it.
pub struct LocalWorkloadIssuer {
    key: Arc<DevIdp>,
    api: String,
}

impl std::fmt::Debug for LocalWorkloadIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalWorkloadIssuer").field("issuer", &self.issuer()).finish_non_exhaustive()
    }
}

impl LocalWorkloadIssuer {
    /// The issuer of the stack at `api`, signing with `key`.
    pub fn new(key: Arc<DevIdp>, api: impl Into<String>) -> Self {
        Self { key, api: api.into() }
    }

    /// `{api}/_local/workload`.
    pub fn issuer(&self) -> String {
        format!("{}{ISSUER_PATH}", self.api)
    }

    /// The discovery document: the issuer and where its keys are.
    pub fn discovery(&self) -> Value {
        discovery(&self.issuer())
    }

    /// The issuer's answer to `incoming`, when its path is one of the issuer's.
    pub fn answer(&self, incoming: &IncomingRequest) -> Option<http::Response<Vec<u8>>> {
        let rest = incoming.path.strip_prefix(ISSUER_PATH)?;
        let body = match (incoming.method.to_ascii_uppercase().as_str(), rest) {
            ("GET" | "HEAD", "/.well-known/openid-configuration") => self.discovery(),
            ("GET" | "HEAD", "/jwks.json") => self.key.jwks(),
            _ => return None,
        };
        Some(
            http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("cache-control", "public, max-age=300")
                .body(body.to_string().into_bytes())
                .expect("valid response"),
        )
    }
}

/// The discovery document of a workload issuer at `issuer` (its keys at `{issuer}/jwks.json`), as
/// GitHub's `token.actions.githubusercontent.com` publishes it.
pub fn discovery(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks.json"),
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_id",
            "repository_owner", "repository_owner_id", "workflow", "job_workflow_ref", "event_name", "runner_environment"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid"],
    })
}

/// Serves a workload issuer at `issuer` (the listener's own `http://127.0.0.1:<port>`): its
/// discovery document and `jwks` (replaceable, for key rotations), counting the requests for the
/// keys (the tests' issuer).
pub async fn serve_issuer(
    listener: tokio::net::TcpListener,
    issuer: String,
    jwks: Arc<std::sync::RwLock<Value>>,
    key_fetches: Arc<std::sync::atomic::AtomicUsize>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let (issuer, jwks, key_fetches) = (issuer.clone(), jwks.clone(), key_fetches.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let (status, body) = match req.uri().path() {
                    "/.well-known/openid-configuration" => (200, discovery(&issuer).to_string()),
                    "/jwks.json" => {
                        key_fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        (200, jwks.read().expect("jwks lock").to_string())
                    }
                    _ => (404, "{}".to_string()),
                };
                async move {
                    Ok::<_, std::convert::Infallible>(
                        http::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                            .expect("valid response"),
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_github_token_has_githubs_claims_and_overrides_win() {
        let overrides = json!({"repository_id": "7", "environment": null, "extra": 1});
        let c = claims(
            Kind::Github,
            "https://i",
            "aud-1",
            Some("repo:x/y:ref:refs/heads/dev"),
            100,
            300,
            overrides.as_object().unwrap(),
        );
        for name in [
            "sub",
            "repository",
            "repository_id",
            "repository_owner",
            "repository_owner_id",
            "ref",
            "sha",
            "workflow",
            "job_workflow_ref",
            "event_name",
            "runner_environment",
            "jti",
            "iat",
            "nbf",
            "exp",
        ] {
            assert!(c.get(name).is_some(), "{name}");
        }
        assert_eq!(c["sub"], "repo:x/y:ref:refs/heads/dev");
        assert_eq!(
            (c["repository_id"].as_str(), c["extra"].as_i64(), c.get("environment")),
            (Some("7"), Some(1), None)
        );
        assert_eq!((c["exp"].as_i64(), c["aud"].as_str()), (Some(400), Some("aud-1")));
        let k = claims(Kind::Kubernetes, "https://i", "aud-1", None, 100, 300, &Map::new());
        assert_eq!(k["sub"], "system:serviceaccount:ci:deployer");
        assert_eq!(k["aud"], json!(["aud-1"]));
    }
}
