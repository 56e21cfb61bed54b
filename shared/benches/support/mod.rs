//! Shared by the benches: an App whose DynamoDB and Secrets Manager are answered from memory by the
//! SDK's `infallible_client_fn` (request building, SigV4 and parsing still run; the network does not).

#![allow(dead_code)]

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::infallible_client_fn;
use serde_json::json;
use shared::auth::tokens::{StoredKey, StoredKeySet};
use shared::auth::{ApiKey, KeyHasher, Pepper};
use shared::domain::{OrgId, PrincipalId, Timestamp};
use shared::{App, Clock, Config};

const PEPPER: &str = "bench-pepper-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS";

pub fn now() -> Timestamp {
    Timestamp::now()
}

fn response(content_type: &'static str, body: String) -> http::Response<String> {
    http::Response::builder().status(200).header("content-type", content_type).body(body).unwrap()
}

fn body_text(req: &http::Request<aws_smithy_types::body::SdkBody>) -> String {
    String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).into_owned()
}

/// An App whose table holds one org (direct ApiKey auth on) and one credential, in memory.
pub fn app_with_key(rt: &tokio::runtime::Runtime) -> (App, String) {
    app_with(rt, |_| {}, Clock::system())
}

/// As [`app_with_key`], with the configuration adjusted first and time read from `clock`.
pub fn app_with(rt: &tokio::runtime::Runtime, adjust: impl FnOnce(&mut Config), clock: Clock) -> (App, String) {
    build(rt, adjust, clock, false)
}

/// As [`app_with_key`], its principal with a call policy: `allowedCidrs` 198.51.100.0/24 (the
/// benches' address) and a rate limit of 1,000,000 calls per 60 s, whose leases (100,000 calls
/// each) the in-memory DynamoDB grants.
#[allow(dead_code)] // not every bench that shares this module uses it
pub fn app_with_policy(rt: &tokio::runtime::Runtime) -> (App, String) {
    build(rt, |_| {}, Clock::system(), true)
}

fn build(rt: &tokio::runtime::Runtime, adjust: impl FnOnce(&mut Config), clock: Clock, policy: bool) -> (App, String) {
    let generated = ApiKey::generate();
    let key_id = generated.key.key_id().to_string();
    let hasher = KeyHasher::new(Pepper::new(PEPPER.as_bytes().to_vec()).unwrap()).unwrap();
    let phc = hasher.hash(&generated.key).unwrap();
    let (org, principal, t) = (OrgId::generate(), PrincipalId::generate(), now());
    let credential = json!({"Item": {
        "PK": {"S": format!("CRED#{key_id}")}, "SK": {"S": "CRED"}, "id": {"S": key_id},
        "principalId": {"S": principal.to_string()}, "name": {"S": "bench"}, "status": {"S": "Active"},
        "createdAt": {"S": t.to_string()}, "lastUsedAt": {"S": t.to_string()}, "orgId": {"S": org.to_string()},
        "secretHash": {"S": phc}
    }})
    .to_string();
    let org_item = json!({"Item": {
        "PK": {"S": format!("ORG#{org}")}, "SK": {"S": "ORG"}, "id": {"S": org.to_string()}, "name": {"S": "bench"},
        "createdAt": {"S": t.to_string()}, "version": {"N": "1"},
        "settings": {"M": {"directApiKeyAuth": {"BOOL": true}, "accessTokenTtlSeconds": {"N": "900"},
                           "maxActiveCredentialsPerPrincipal": {"N": "10"}}}
    }})
    .to_string();
    // The principal, as Bearer verification reads it (its tokensValidAfter, once per 5 s per container).
    let mut principal_item = json!({"Item": {
        "PK": {"S": format!("ORG#{org}")}, "SK": {"S": format!("PRINCIPAL#{principal}")},
        "id": {"S": principal.to_string()}, "orgId": {"S": org.to_string()}, "type": {"S": "ApiKey"},
        "displayName": {"S": "bench"}, "status": {"S": "Active"}, "createdAt": {"S": t.to_string()},
        "updatedAt": {"S": t.to_string()}, "version": {"N": "1"}
    }});
    if policy {
        principal_item["Item"]["allowedCidrs"] = json!({"L": [{"S": "198.51.100.0/24"}]});
        principal_item["Item"]["rateLimit"] = json!({"M": {"limit": {"N": "1000000"}, "periodSeconds": {"N": "60"}}});
    }
    let principal_item = principal_item.to_string();
    let known = key_id.clone();
    // A warm authentication reads the credential and its principal in one BatchGetItem; a container's
    // first, once the secret verified, the principal and the org.
    let item_of = |answer: &str| serde_json::from_str::<serde_json::Value>(answer).unwrap()["Item"].clone();
    let batch =
        json!({"Responses": {"bench": [item_of(&credential), item_of(&principal_item)]}, "UnprocessedKeys": {}})
            .to_string();
    let first_batch =
        json!({"Responses": {"bench": [item_of(&principal_item), item_of(&org_item)]}, "UnprocessedKeys": {}})
            .to_string();
    let dynamo_http = infallible_client_fn(move |req| {
        let target = req.headers().get("x-amz-target").and_then(|t| t.to_str().ok()).unwrap_or_default();
        let batch_read = target.ends_with("BatchGetItem");
        let body = body_text(&req);
        // The one credential; any other key id is unknown (an empty GetItem answer). A rate-limit
        // lease is granted whole.
        let answer = if target.ends_with("UpdateItem") && body.contains("RATE#") {
            json!({"Attributes": {"leased": {"N": "100000"}}}).to_string()
        } else if batch_read && body.contains("CRED#") {
            batch.clone()
        } else if batch_read {
            first_batch.clone()
        } else if body.contains(&format!("CRED#{known}")) {
            credential.clone()
        } else if body.contains("CRED#") {
            "{}".to_string()
        } else if body.contains("PRINCIPAL#") {
            principal_item.clone()
        } else {
            org_item.clone()
        };
        response("application/x-amz-json-1.0", answer)
    });
    let keys =
        serde_json::to_string(&StoredKeySet { current: StoredKey::generate(t).unwrap(), previous: None }).unwrap();
    let secrets_http = infallible_client_fn(move |req| {
        let body = body_text(&req);
        let value = if body.contains("signing-keys") { keys.clone() } else { PEPPER.to_string() };
        let answer = json!({"ARN": "arn:aws:secretsmanager:us-east-1:0:secret:x", "Name": "x", "VersionId": "v",
                            "SecretString": value, "VersionStages": ["AWSCURRENT"]});
        response("application/x-amz-json-1.1", answer.to_string())
    });
    let credentials = Credentials::new("bench", "bench", None, None, "bench");
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials.clone())
            .http_client(dynamo_http)
            .build(),
    );
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials)
            .http_client(secrets_http)
            .build(),
    );
    let mut config = Config::new("bench", "bench", "https://iam.bench.invalid/iam");
    adjust(&mut config);
    let app = rt.block_on(App::with_clock(config, dynamo, &secrets, clock)).unwrap();
    (app, generated.full)
}

/// The key format's checksum (CRC32 in base62, six characters) appended to `body`.
pub fn with_checksum(body: &str) -> String {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    format!("{body}{}", String::from_utf8(out.to_vec()).unwrap())
}
