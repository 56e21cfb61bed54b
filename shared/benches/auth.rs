//! CPU cost of the authentication path, in-process: key parsing, argon2id verification with the
//! service's parameters (and, for comparison, the cost with stronger ones), and hashing at issuance.
//! Run: `make bench` (cargo bench -p shared --bench auth). Figures: docs/benchmarks.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use shared::auth::{ApiKey, KeyHasher, Pepper};

fn hasher() -> KeyHasher {
    KeyHasher::new(Pepper::new(b"benchmark-pepper-benchmark-pepper-0123456789".to_vec()).unwrap()).unwrap()
}

fn key_format(c: &mut Criterion) {
    let full = ApiKey::generate().full;
    c.bench_function("api_key_parse (format + CRC32 checksum)", |b| {
        b.iter(|| ApiKey::parse(black_box(&full)).unwrap())
    });
    c.bench_function("api_key_generate (OS CSPRNG)", |b| b.iter(ApiKey::generate));
}

fn argon2(c: &mut Criterion) {
    let hasher = hasher();
    let key = ApiKey::generate().key;
    let phc = hasher.hash(&key).unwrap();
    let wrong = ApiKey::generate().key;
    let mut group = c.benchmark_group("argon2id m=1024 KiB t=1 p=1");
    group.bench_function("verify (right secret)", |b| b.iter(|| assert!(hasher.verify(black_box(&key), &phc))));
    group.bench_function("verify (wrong secret)", |b| b.iter(|| assert!(!hasher.verify(black_box(&wrong), &phc))));
    group.bench_function("verify against the dummy hash (unknown key id)", |b| {
        b.iter(|| hasher.verify(black_box(&wrong), hasher.dummy_hash()))
    });
    group.bench_function("hash (issuance)", |b| b.iter(|| hasher.hash(black_box(&key)).unwrap()));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = key_format, argon2
}
criterion_main!(benches);
