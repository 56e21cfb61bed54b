//! Expiry-sweep throughput against the emulator: credentials marked Expired per second.
//!
//! Method: start the serialised moto, provision a table, bootstrap an org with 50 principals, and
//! seed BENCH_N (1,000) credentials that expired over the last three hours plus as many that have
//! not (they expire in 30 days, outside every warning window, so the run gives no warning and the
//! figure is the expiries' alone), spread over the principals. Then run the sweep once with a deadline it never reaches and
//! time it: one run reads the expiry index's hours and expires 8 at a time (never two of one
//! principal at once). Prints credentials marked per second, items read per credential marked, and
//! each expiry's mean wall time. moto runs one request at a time, so the figure is the emulator's;
//! docs/operations.md carries it over to DynamoDB.
//! Run: `make bench` (or `cargo bench -p local-stack --bench sweep_throughput`).

use std::time::Instant;

use local_stack::moto::BenchStack;
use shared::auth::ApiKey;
use shared::domain::{Credential, CredentialStatus, Name, Timestamp};
use shared::service::sweep::{self, Deadline};
use shared::store::CredentialRecord;

struct Unbounded;

impl Deadline for Unbounded {
    fn reached(&self) -> bool {
        false
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: i64 = std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let stack = BenchStack::start("iam-sweep-bench", "https://iam.bench.invalid/iam").await?;
    let (app, org) = (&stack.app, &stack.org);
    let mut principals = Vec::new();
    for i in 0..50 {
        let input = shared::service::principals::CreatePrincipal {
            display_name: format!("fleet {i}"),
            status: None,
            expires_at: None,
            allowed_cidrs: None,
            rate_limit: None,
        };
        let actor = shared::domain::Actor::System { name: "bench".into() };
        principals.push(shared::service::principals::create(app, &actor, &org.org_id, input, "bench").await?.id);
    }
    let now = app.clock.now();
    let records: Vec<CredentialRecord> = (0..2 * n)
        .map(|i| {
            let expires_at =
                if i < n { now.plus_seconds(-60 - (i * 10_000 / n)) } else { now.plus_seconds(30 * 86_400) };
            CredentialRecord {
                credential: Credential {
                    id: ApiKey::generate().key.key_id().clone(),
                    principal_id: principals[(i % 50) as usize].clone(),
                    name: Name::parse("seeded").expect("a name"),
                    status: CredentialStatus::Active,
                    expires_at: Some(expires_at),
                    created_at: Timestamp::from_unix(now.unix() - 86_400),
                    last_used_at: None,
                    last_used_ip: None,
                    last_used_route: None,
                    revoked_at: None,
                    replaced_by: None,
                },
                org_id: org.org_id.clone(),
                secret_hash: "$argon2id$seeded".into(),
                version: 1,
            }
        })
        .collect();
    app.store.seed_credentials(&records).await?;

    let started = Instant::now();
    let report = sweep::run(app, &Unbounded, "bench").await?;
    let took = started.elapsed();
    anyhow::ensure!(
        report.finished && report.expired as i64 == n && report.warned == 0,
        "the sweep did not do only the expiries: {report:?}"
    );
    println!(
        "expiry sweep throughput: {} credentials marked in {:.1} s: {:.0} per second on the emulator \
         ({} items read, {:.2} per credential; {:.1} ms per expiry, {} in flight)",
        report.expired,
        took.as_secs_f64(),
        report.expired as f64 / took.as_secs_f64(),
        report.items_read,
        report.items_read as f64 / report.expired as f64,
        took.as_secs_f64() * 1000.0 / report.expired as f64,
        sweep::CONCURRENCY,
    );
    stack.stop().await;
    Ok(())
}
