//! Unknown key id vs wrong secret: are their latencies distinguishable? Welch's t statistic over
//! paired samples (each pair in a random order) of `App::verify_api_key` (the whole authentication path, storage answered
//! from memory so the network's noise does not hide a difference). Target: |t| < 4.5.
//! Run: `make bench` (cargo bench -p shared --bench timing), samples from BENCH_N (default 4000).

use std::time::Instant;

use shared::Clock;
use shared::auth::ApiKey;
use support::with_checksum;

mod support;

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn main() {
    let n: usize = std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The failure limit is off: every sample must reach argon2, as the first few of a key id do.
    let (app, full) = support::app_with(&rt, |c| c.failed_verifications.failures = u32::MAX, Clock::system());
    let known = ApiKey::parse(&full).unwrap();
    // Same key id with another well-formed secret; and a key id nobody issued.
    let wrong_secret = with_checksum(&format!("ik_{}.{}", known.key_id(), "Q".repeat(32)));
    let unknown_id = with_checksum(&format!("ik_{}.{}", "z".repeat(20), "Q".repeat(32)));
    let (wrong_secret, unknown_id) = (ApiKey::parse(&wrong_secret).unwrap(), ApiKey::parse(&unknown_id).unwrap());

    let time = |key: &ApiKey| {
        let t = Instant::now();
        assert!(rt.block_on(app.verify_api_key(key)).is_err());
        t.elapsed().as_secs_f64() * 1e6
    };
    // Each pair runs in a random order (as dudect assigns classes at random): with a fixed order
    // the second call of every pair inherits what the first left in the caches and the allocator.
    let mut order = 0x9e37_79b9_7f4a_7c15_u64;
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n + 200 {
        order ^= order << 13;
        order ^= order >> 7;
        order ^= order << 17;
        let (wrong, unknown) = if order & 1 == 0 {
            let w = time(&wrong_secret);
            (w, time(&unknown_id))
        } else {
            let u = time(&unknown_id);
            (time(&wrong_secret), u)
        };
        if i >= 200 {
            a.push(wrong);
            b.push(unknown);
        }
    }
    let ((ma, va), (mb, vb)) = (mean_var(&a), mean_var(&b));
    let t = (ma - mb) / (va / a.len() as f64 + vb / b.len() as f64).sqrt();
    println!("N = {n} each, in pairs of random order, 200 warm-up pairs dropped");
    println!("wrong secret: mean {ma:.1} µs, median {:.1} µs, sd {:.1} µs", median(&mut a), va.sqrt());
    println!("unknown id:   mean {mb:.1} µs, median {:.1} µs, sd {:.1} µs", median(&mut b), vb.sqrt());
    println!("Welch's t = {t:.2} (target |t| < 4.5)");
}
