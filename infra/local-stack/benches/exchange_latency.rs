//! Token-exchange latency through the local stack, next to bare reads on the same moto.
//!
//! Method: start the serialised moto and the local stack in this process (the stack's HTTP server
//! on a loopback port), bootstrap an org, warm both paths, then alternate, one at a time, N of
//! each of: a bare strongly consistent GetItem of the credential item; a bare strongly consistent
//! BatchGetItem of the credential and its principal (the warm exchange's own one round trip,
//! through the SDK); and an exchange (`POST /iam/auth/token`, JSON form, over one keep-alive
//! HTTP/1.1 connection). Alternating keeps moto's and the machine's drift out of the ratios.
//! Prints medians, p90, sequential exchanges per second and the ratios of medians.
//! Run: `make bench` (or `cargo bench -p local-stack --bench exchange_latency`), N from BENCH_N (300).

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use local_stack::moto::BenchStack;
use local_stack::server;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let stack = BenchStack::start("iam-bench", &format!("http://127.0.0.1:{port}/iam")).await?;
    let (app, template, org, dynamo, config) =
        (stack.app.clone(), stack.template.clone(), &stack.org, &stack.dynamo, &stack.config);
    tokio::spawn(server::serve(
        listener,
        app.clone(),
        template,
        server::LocalExtras::default(),
        std::future::pending(),
    ));

    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let body = serde_json::json!({ "apiKey": org.api_key }).to_string();
    let key_id = org.api_key[3..23].to_string();
    let (pk, sk) = shared::store::keys::credential(&shared::domain::KeyId::parse(&key_id)?);
    let (principal_pk, principal_sk) = shared::store::keys::principal(&org.org_id, &org.principal_id);
    let key_of = |pk: &str, sk: &str| {
        std::collections::HashMap::from([
            ("PK".to_string(), aws_sdk_dynamodb::types::AttributeValue::S(pk.to_string())),
            ("SK".to_string(), aws_sdk_dynamodb::types::AttributeValue::S(sk.to_string())),
        ])
    };
    let both = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .keys(key_of(&pk, &sk))
        .keys(key_of(&principal_pk, &principal_sk))
        .consistent_read(true)
        .build()?;

    let mut exchanges = Vec::with_capacity(n);
    let mut reads = Vec::with_capacity(n);
    let mut batches = Vec::with_capacity(n);
    for i in 0..n + 20 {
        let started = Instant::now();
        let out = dynamo
            .get_item()
            .table_name(&config.table_name)
            .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
            .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(sk.clone()))
            .consistent_read(true)
            .send()
            .await?;
        let read = started.elapsed();
        anyhow::ensure!(out.item.is_some(), "the credential item is there");

        let started = Instant::now();
        let out = dynamo.batch_get_item().request_items(&config.table_name, both.clone()).send().await?;
        let batch = started.elapsed();
        let found = out.responses.and_then(|mut r| r.remove(&config.table_name)).map_or(0, |items| items.len());
        anyhow::ensure!(found == 2, "the batch read finds the credential and its principal");

        let request = hyper::Request::post("/iam/auth/token")
            .header("host", format!("127.0.0.1:{port}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.clone())))?;
        let started = Instant::now();
        let response = sender.send_request(request).await?;
        let status = response.status();
        let _ = response.into_body().collect().await?;
        let exchange = started.elapsed();
        anyhow::ensure!(status == 200, "exchange answered {status}");
        if i >= 20 {
            reads.push(read);
            batches.push(batch);
            exchanges.push(exchange);
        }
    }
    exchanges.sort();
    reads.sort();
    batches.sort();
    let (ex50, rd50, bt50) = (percentile(&exchanges, 0.5), percentile(&reads, 0.5), percentile(&batches, 0.5));
    let total: Duration = exchanges.iter().sum();
    println!("N = {n} each, alternating, after 20 warm-up rounds");
    println!("bare GetItem (consistent): median {rd50:?}, p90 {:?}", percentile(&reads, 0.9));
    println!(
        "bare BatchGetItem (consistent, credential + principal): median {bt50:?}, p90 {:?}",
        percentile(&batches, 0.9)
    );
    println!("token exchange (HTTP):     median {ex50:?}, p90 {:?}", percentile(&exchanges, 0.9));
    println!("sequential exchanges/s: {:.0}", n as f64 / total.as_secs_f64());
    println!("ratio of medians (exchange / GetItem): {:.2}", ex50.as_secs_f64() / rd50.as_secs_f64());
    println!(
        "ratio of medians (exchange / BatchGetItem, its own round trip): {:.2}",
        ex50.as_secs_f64() / bt50.as_secs_f64()
    );
    stack.stop().await;
    Ok(())
}
