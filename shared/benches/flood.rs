//! What a flood of wrong secrets for one key id costs a container, with the per-key-id failure
//! limit (the default: 5 failures per 60 s, then blocks of 60 s doubling to 15 min) and without it:
//! argon2 verifications counted by the hasher, and time per request on one thread (storage answered
//! from memory, so the work is the container's CPU). The service clock is a manual one, so an hour
//! of flood takes no hour. Run: `make bench` (cargo bench -p shared --features test-util --bench
//! flood). Figures: docs/benchmarks.md.

use std::time::Instant;

use shared::auth::{ApiKey, AuthFailure};
use shared::config::FailureLimit;
use shared::domain::Timestamp;
use shared::{ApiError, App, Clock};
use support::with_checksum;

mod support;

/// What a run of requests cost and how it was answered.
#[derive(Default)]
struct Cost {
    requests: u64,
    verifications: u64,
    refused_401: u64,
    refused_429: u64,
    micros: f64,
}

/// `n` distinct well-formed wrong secrets for `key_id` (an attacker varies them).
fn wrong_secrets(key_id: &str, n: usize) -> Vec<ApiKey> {
    (0..n).map(|i| ApiKey::parse(&with_checksum(&format!("ik_{key_id}.{i:0>32}"))).unwrap()).collect()
}

/// Presents each key once, `step` seconds of the service clock apart.
fn flood(rt: &tokio::runtime::Runtime, app: &App, clock: &Clock, keys: &[ApiKey], step: i64) -> Cost {
    let hasher = rt.block_on(app.hasher()).unwrap();
    let before = hasher.verifications();
    let mut cost = Cost::default();
    let started = Instant::now();
    for key in keys {
        match rt.block_on(app.verify_api_key(key)) {
            Err(ApiError::Unauthenticated(AuthFailure::InvalidApiKey)) => cost.refused_401 += 1,
            Err(ApiError::TooManyFailedAttempts { .. }) => cost.refused_429 += 1,
            other => panic!("a wrong secret was answered {:?}", other.map(|_| "a verified key")),
        }
        cost.requests += 1;
        clock.advance(step);
    }
    cost.micros = started.elapsed().as_secs_f64() * 1e6;
    cost.verifications = hasher.verifications() - before;
    cost
}

fn report(label: &str, cost: &Cost) {
    println!(
        "  {label:<18} {:>6} argon2 verifications per {} requests ({} answered 401, {} answered 429), {:.1} µs per request",
        cost.verifications,
        cost.requests,
        cost.refused_401,
        cost.refused_429,
        cost.micros / cost.requests as f64
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let off = FailureLimit { failures: u32::MAX, ..FailureLimit::default() };
    let app_with = |limit: FailureLimit| {
        let clock = Clock::manual(Timestamp::now());
        let (app, full) = support::app_with(&rt, |c| c.failed_verifications = limit, clock.clone());
        (app, clock, ApiKey::parse(&full).unwrap())
    };

    println!("flood: 1,000 distinct wrong secrets for one key id, all in the same second");
    for (label, limit) in [("with the limit:", FailureLimit::default()), ("without it:", off)] {
        let (app, clock, right) = app_with(limit);
        // The holder's key, verified in this container before the flood, works during it.
        rt.block_on(app.verify_api_key(&right)).unwrap();
        let known_id = right.key_id().to_string();
        report(label, &flood(&rt, &app, &clock, &wrong_secrets(&known_id, 1000), 0));
        assert!(rt.block_on(app.verify_api_key(&right)).is_ok(), "the verified key is never locked out");
        let unknown = flood(&rt, &app, &clock, &wrong_secrets("zzzzzzzzzzzzzzzzzzzz", 1000), 0);
        report("  (unknown key id)", &unknown);
    }

    println!("flood: 10 wrong secrets a second for one key id for an hour (36,000 requests)");
    for (label, limit) in [("with the limit:", FailureLimit::default()), ("without it:", off)] {
        let (app, clock, right) = app_with(limit);
        let keys = wrong_secrets(right.key_id().as_str(), 36_000);
        if limit.failures == u32::MAX {
            // Every request verifies (the burst above measured it); 36,000 of them would take ~25 s.
            println!("  {label:<18} {:>6} argon2 verifications per 36000 requests (each answered 401)", keys.len());
            continue;
        }
        let mut cost = Cost::default();
        for second in keys.chunks(10) {
            let part = flood(&rt, &app, &clock, second, 0);
            clock.advance(1);
            cost.requests += part.requests;
            cost.verifications += part.verifications;
            cost.refused_401 += part.refused_401;
            cost.refused_429 += part.refused_429;
            cost.micros += part.micros;
        }
        report(label, &cost);
    }
}
