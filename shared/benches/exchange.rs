//! CPU per token exchange, per warm ApiKey authentication and per Bearer verification, in-process,
//! with DynamoDB and Secrets Manager answered from memory (the SDK's request building, signing and
//! response parsing still run; only the network is gone).
//! Run: `make bench` (cargo bench -p shared --bench exchange). Figures: docs/benchmarks.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use shared::auth::{ApiKey, RequestCtx};
use support::{app_with_key, app_with_policy};

mod support;

fn exchange(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (app, full) = app_with_key(&rt);
    let key = ApiKey::parse(&full).unwrap();
    // The request as API Gateway describes it (its route and address are what a key's last use records).
    let ctx = RequestCtx {
        route_key: "POST /iam/auth/token".into(),
        request_id: "b".into(),
        source_ip: Some("198.51.100.7".into()),
    };
    // Warm the container: settings cached, the key verified once.
    let token = rt.block_on(shared::service::tokens::exchange(&app, &key, &ctx)).unwrap().token;
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, format!("ApiKey {full}").parse().unwrap());
    rt.block_on(app.authenticate(&headers, &ctx)).unwrap();

    c.bench_function("token exchange (warm, storage in memory)", |b| {
        b.to_async(&rt).iter(|| async { shared::service::tokens::exchange(&app, black_box(&key), &ctx).await.unwrap() })
    });
    c.bench_function("ApiKey authentication (warm, storage in memory)", |b| {
        b.to_async(&rt).iter(|| async { app.authenticate(black_box(&headers), &ctx).await.unwrap() })
    });
    c.bench_function("Bearer verification", |b| {
        b.to_async(&rt).iter(|| async { app.verify_bearer(black_box(&token), &ctx).await.unwrap() })
    });

    // The same two paths of a principal with an allowlist and a rate limit: the allowlist check,
    // and the call counted against this container's lease (one UpdateItem per 100,000 calls).
    let (fenced, full) = app_with_policy(&rt);
    let key = ApiKey::parse(&full).unwrap();
    let token = rt.block_on(shared::service::tokens::exchange(&fenced, &key, &ctx)).unwrap().token;
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, format!("ApiKey {full}").parse().unwrap());
    rt.block_on(fenced.authenticate(&headers, &ctx)).unwrap();
    c.bench_function("ApiKey authentication, allowlist and rate limit (warm, storage in memory)", |b| {
        b.to_async(&rt).iter(|| async { fenced.authenticate(black_box(&headers), &ctx).await.unwrap() })
    });
    c.bench_function("Bearer verification, allowlist and rate limit", |b| {
        b.to_async(&rt).iter(|| async { fenced.verify_bearer(black_box(&token), &ctx).await.unwrap() })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = exchange
}
criterion_main!(benches);
