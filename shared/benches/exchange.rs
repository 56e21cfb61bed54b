//! CPU per token exchange, per warm ApiKey authentication and per Bearer verification, in-process,
//! with DynamoDB and Secrets Manager answered from memory (the SDK's request building, signing and
//! response parsing still run; only the network is gone).
//! Run: `make bench` (cargo bench -p shared --bench exchange). Figures: docs/benchmarks.md.

use std::hint::black_box;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::infallible_client_fn;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use shared::auth::tokens::{StoredKey, StoredKeySet};
use shared::auth::{ApiKey, KeyHasher, Pepper};
use shared::domain::{OrgId, PrincipalId, Timestamp};
use shared::{App, Config};

const PEPPER: &str = "bench-pepper-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS";

fn now() -> Timestamp {
    Timestamp::from_unix(time::OffsetDateTime::now_utc().unix_timestamp())
}

fn response(content_type: &'static str, body: String) -> http::Response<String> {
    http::Response::builder().status(200).header("content-type", content_type).body(body).unwrap()
}

fn body_text(req: &http::Request<aws_smithy_types::body::SdkBody>) -> String {
    String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).into_owned()
}

/// An App whose table holds one org (direct ApiKey auth on) and one credential, in memory.
fn app_with_key(rt: &tokio::runtime::Runtime) -> (App, String) {
    let generated = ApiKey::generate();
    let key_id = generated.key.key_id().to_string();
    let hasher = KeyHasher::new(Pepper::new(PEPPER.as_bytes().to_vec()).unwrap()).unwrap();
    let phc = hasher.hash(&generated.key).unwrap();
    let (org, principal, t) = (OrgId::generate(), PrincipalId::generate(), now());
    let credential = json!({"Item": {
        "PK": {"S": format!("CRED#{key_id}")}, "SK": {"S": "CRED"}, "id": {"S": key_id},
        "principalId": {"S": principal.to_string()}, "name": {"S": "bench"}, "status": {"S": "Active"},
        "createdAt": {"S": t.to_string()}, "lastUsedAt": {"S": t.to_string()}, "orgId": {"S": org.to_string()},
        "secretHash": {"S": phc}, "principalType": {"S": "ApiKey"}, "principalStatus": {"S": "Active"}
    }})
    .to_string();
    let org_item = json!({"Item": {
        "PK": {"S": format!("ORG#{org}")}, "SK": {"S": "ORG"}, "id": {"S": org.to_string()}, "name": {"S": "bench"},
        "createdAt": {"S": t.to_string()}, "version": {"N": "1"},
        "settings": {"M": {"directApiKeyAuth": {"BOOL": true}, "accessTokenTtlSeconds": {"N": "900"},
                           "maxActiveCredentialsPerPrincipal": {"N": "10"}}}
    }})
    .to_string();
    let dynamo_http = infallible_client_fn(move |req| {
        let body = body_text(&req);
        let answer = if body.contains("CRED#") { credential.clone() } else { org_item.clone() };
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
    let app = rt
        .block_on(App::new(Config::new("bench", "bench", "https://iam.bench.invalid/iam"), dynamo, &secrets))
        .unwrap();
    (app, generated.full)
}

fn exchange(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (app, full) = app_with_key(&rt);
    let key = ApiKey::parse(&full).unwrap();
    // Warm the container: settings cached, the key verified once.
    let token = rt.block_on(shared::service::tokens::exchange(&app, &key, "warm")).unwrap().token;
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, format!("ApiKey {full}").parse().unwrap());
    rt.block_on(app.authenticate(&headers, "warm")).unwrap();

    c.bench_function("token exchange (warm, storage in memory)", |b| {
        b.to_async(&rt).iter(|| async { shared::service::tokens::exchange(&app, black_box(&key), "b").await.unwrap() })
    });
    c.bench_function("ApiKey authentication (warm, storage in memory)", |b| {
        b.to_async(&rt).iter(|| async { app.authenticate(black_box(&headers), "b").await.unwrap() })
    });
    c.bench_function("Bearer verification", |b| {
        b.to_async(&rt).iter(|| async { app.verify_bearer(black_box(&token)).await.unwrap() })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = exchange
}
criterion_main!(benches);
