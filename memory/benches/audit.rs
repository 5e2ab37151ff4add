//! Audit log throughput: appends into SQLite and PostgreSQL, batched (1,000 entries per
//! commit) and one entry per durable commit, and verification of the chain, both the pure
//! link check and a whole-store walk.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;
use steward_memory::audit::{build, ChainVerifier, GENESIS};
use steward_memory::testing::{postgres, sqlite, TestDb};
use steward_memory::NewEntry;

fn entry(i: i64) -> NewEntry {
    NewEntry::new(
        1_767_614_400_000 + i,
        "steward",
        "proposal.pending_approval",
        Some(i / 4),
        json!({ "decision": { "verdict": "needs_approval", "reasons": [{ "policy": "gpu-spend-needs-approval", "message": "adds more than $3/h of GPU spend" }] }, "mode": "autonomous" }),
    )
}

fn appends(c: &mut Criterion, runtime: &tokio::runtime::Runtime, name: &str, db: &TestDb) {
    let mut group = c.benchmark_group(format!("audit append ({name})"));
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    // Proposal ids grow as they do in a running daemon (entries of one proposal cluster,
    // new proposals get higher ids), so the proposal index is appended to, not scattered.
    let mut next = 0;
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("batched, 1,000 entries per commit", |b| {
        b.iter_batched(
            || {
                next += 1_000;
                (next - 1_000..next).map(entry).collect::<Vec<_>>()
            },
            |batch| runtime.block_on(db.store.append_batch(&batch)).expect("append"),
            BatchSize::LargeInput,
        )
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("one entry per durable commit", |b| {
        b.iter(|| {
            next += 1;
            runtime.block_on(db.store.append(entry(next))).expect("append")
        })
    });
    group.finish();
}

fn verify(c: &mut Criterion, runtime: &tokio::runtime::Runtime, db: &TestDb) {
    // The pure link check over a million entries built in memory.
    let mut entries = Vec::with_capacity(1_000_000);
    let (mut seq, mut hash) = (0, GENESIS.to_string());
    for i in 0..1_000_000 {
        let e = build(seq, hash, &entry(i));
        seq = e.seq;
        hash = e.hash.clone();
        entries.push(e);
    }
    let mut group = c.benchmark_group("audit verify");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(entries.len() as u64));
    group.bench_function("chain links, in memory (1,000,000 entries)", |b| {
        b.iter(|| {
            let mut verifier = ChainVerifier::default();
            for e in &entries {
                verifier.push(black_box(e)).expect("intact");
            }
        })
    });
    let n = runtime.block_on(db.store.verify()).expect("verify").entries;
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(format!("whole SQLite store ({n} entries)"), |b| {
        b.iter(|| runtime.block_on(db.store.verify()).expect("verify"))
    });
    group.finish();
    let started = Instant::now();
    let report = runtime.block_on(db.store.verify()).expect("verify");
    println!(
        "store verify: {} entries in {:.2?} ({:.0} entries/s)",
        report.entries,
        started.elapsed(),
        report.entries as f64 / started.elapsed().as_secs_f64()
    );
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let db = runtime.block_on(sqlite());
    appends(c, &runtime, "SQLite", &db);
    verify(c, &runtime, &db);
    runtime.block_on(db.cleanup());
    let db = runtime.block_on(postgres());
    appends(c, &runtime, "PostgreSQL", &db);
    runtime.block_on(db.cleanup());
}

criterion_group!(benches, bench);
criterion_main!(benches);
