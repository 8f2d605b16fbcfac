//! Readers during a sync: `cargo bench -p cloudops-estate --bench readers`.
//!
//! Builds an embedded store of `READERS_BENCH_POINTS` (default 6,500, the demo estate's size)
//! resource-like points, then measures what a `cloudops search` pays for its store: opening a
//! reader (a private copy of the published generation) plus one dense top-10 search, one after
//! another for `READERS_BENCH_SECS` seconds (default 10) —
//! idle, and while a writer re-upserts every point in batches of 100 and publishes at the end
//! (the shape of a full sync). Prints p50/p95/max latency and how many reads failed (must be 0).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudops_estate::store::edge::EdgeStore;
use cloudops_estate::store::{Collection, EstateStore, Filter, Query, UPSERT_BATCH};

#[path = "../tests/common/mod.rs"]
mod common;
use common::point;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Reader latencies (open + search) until `stop`, and the number of failed reads.
fn read_until(dir: &std::path::Path, stop: &AtomicBool, at_least: usize) -> (Vec<Duration>, usize) {
    let query = Query::Dense(point(7, 0).dense);
    let (mut took, mut failed) = (Vec::new(), 0);
    while !stop.load(Ordering::SeqCst) || took.len() + failed < at_least {
        let started = Instant::now();
        match EdgeStore::open_reader(dir)
            .and_then(|r| r.search(Collection::Estate, &query, &Filter::all(), 10))
        {
            Ok(hits) if hits.len() == 10 => took.push(started.elapsed()),
            Ok(_) | Err(_) => failed += 1,
        }
    }
    (took, failed)
}

fn report(label: &str, mut took: Vec<Duration>, failed: usize) {
    took.sort();
    let at = |q: f64| took[((took.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label:>12}: {} reads, {failed} failed; open+search p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        took.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        took.last().unwrap().as_secs_f64() * 1e3
    );
}

fn main() {
    let points = env("READERS_BENCH_POINTS", 6_500) as usize;
    let secs = env("READERS_BENCH_SECS", 10);
    let dir = tempfile::tempdir().unwrap();
    {
        let writer = EdgeStore::open(dir.path()).unwrap();
        writer
            .upsert(
                Collection::Estate,
                (0..points).map(|i| point(i, 1)).collect(),
            )
            .unwrap();
        writer.optimize().unwrap();
    }
    println!("store of {points} points; each phase runs about {secs} s");

    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::SeqCst);
        });
        let (took, failed) = read_until(dir.path(), &stop, 1);
        report("idle", took, failed);
    });

    let stop = Arc::new(AtomicBool::new(false));
    let syncs = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let writer = EdgeStore::open(dir.path()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(secs);
            let mut generation = 2;
            while Instant::now() < deadline {
                for start in (0..points).step_by(UPSERT_BATCH) {
                    let batch = (start..(start + UPSERT_BATCH).min(points))
                        .map(|i| point(i, generation))
                        .collect();
                    writer.upsert(Collection::Estate, batch).unwrap();
                }
                writer.optimize().unwrap();
                writer.publish().unwrap();
                syncs.fetch_add(1, Ordering::SeqCst);
                generation += 1;
            }
            stop.store(true, Ordering::SeqCst);
        });
        let (took, failed) = read_until(dir.path(), &stop, 1);
        report("during sync", took, failed);
    });
    println!(
        "the writer completed {} full re-syncs meanwhile",
        syncs.load(Ordering::SeqCst)
    );
}
