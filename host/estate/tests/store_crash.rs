//! Crash safety of the embedded store: a writer killed with SIGKILL leaves a store that opens
//! cleanly, holds whole batches, answers searches, and comes back complete after a re-sync.
//!
//! The writer is this test binary run again (`std::env::current_exe()`) with
//! `CLOUDOPS_STORE_CRASH_CHILD` naming the store directory and the phase; it prints one line
//! per acknowledged batch, and the parent kills it part-way through.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloudops_estate::store::edge::{EdgeOptions, EdgeStore};
use cloudops_estate::store::{Collection, EstateStore, Filter, Point, Query, UPSERT_BATCH};

const CHILD_ENV: &str = "CLOUDOPS_STORE_CRASH_CHILD";
const TEST_NAME: &str = "store_crash::killed_writer_leaves_a_store_that_reopens_and_resyncs";

/// Points in a full sync: enough for `optimize()` to build an HNSW graph.
const TOTAL: usize = 8_000;

use crate::common;

/// The shared fixture point, as synced at time 1000.
fn point(i: usize) -> Point {
    common::point(i, 1000)
}

fn all_points() -> Vec<Point> {
    (0..TOTAL).map(point).collect()
}

/// The child: write batches forever (re-syncing from the start after the last one), or
/// build the indexes, printing progress.
fn child(dir: &Path, phase: &str) {
    let store = EdgeStore::open(dir).expect("child opens the store");
    println!("opened");
    match phase {
        "upsert" => {
            let points = all_points();
            let mut batch = 0usize;
            loop {
                for chunk in points.chunks(UPSERT_BATCH) {
                    store.upsert(Collection::Estate, chunk.to_vec()).unwrap();
                    batch += 1;
                    println!("batch {batch}");
                }
            }
        }
        "optimize" => {
            println!("optimizing");
            store.optimize().unwrap();
            println!("optimized");
            // Keep the process alive until it is killed.
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        other => panic!("unknown phase {other}"),
    }
}

fn spawn_child(dir: &Path, phase: &str) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{phase}:{}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the writer");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a line satisfying `done`; returns the last batch number seen.
fn wait_for(
    rx: &std::sync::mpsc::Receiver<String>,
    timeout: Duration,
    mut done: impl FnMut(&str) -> bool,
) -> usize {
    let deadline = Instant::now() + timeout;
    let mut last_batch = 0;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                if let Some(n) = line.strip_prefix("batch ") {
                    last_batch = n.parse().unwrap_or(last_batch);
                }
                if done(&line) {
                    return last_batch;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the writer exited early (batch {last_batch})")
            }
        }
    }
    panic!("the writer made no progress in {timeout:?} (batch {last_batch})");
}

fn kill(mut child: Child) {
    child.kill().expect("SIGKILL the writer");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the writer was killed: {status}");
}

/// Opens the store after a crash and checks it; returns the point count.
fn check_after_crash(dir: &Path, acknowledged: usize) -> u64 {
    let started = Instant::now();
    // HNSW whenever a graph exists, so a graph built before the kill is searched too.
    let options = EdgeOptions {
        exact_search_below: 0,
        ..EdgeOptions::default()
    };
    let store = EdgeStore::open_with(dir, options).expect("the store opens cleanly after SIGKILL");
    let opened_in = started.elapsed();
    let count = store.count(Collection::Estate, &Filter::all()).unwrap();
    let scanned = store
        .scan(Collection::Estate, &Filter::all())
        .unwrap()
        .len() as u64;
    assert_eq!(count, scanned, "count and scan agree");
    assert_eq!(
        count % UPSERT_BATCH as u64,
        0,
        "whole batches only: {count} points"
    );
    assert!(
        count as usize >= (acknowledged * UPSERT_BATCH).min(TOTAL),
        "every acknowledged batch survived: {count} points, {acknowledged} batches acknowledged"
    );
    // Search works and finds what it should.
    if count > 0 {
        let probe = point(0);
        let hits = store
            .search(
                Collection::Estate,
                &Query::Dense(probe.dense.clone()),
                &Filter::all(),
                5,
            )
            .unwrap();
        assert_eq!(hits[0].id, probe.id, "dense search finds the probe");
        let hits = store
            .search(
                Collection::Estate,
                &Query::Lexical(probe.lexical.clone()),
                &Filter::all(),
                5,
            )
            .unwrap();
        assert_eq!(hits[0].id, probe.id, "lexical search finds the probe");
    }
    println!(
        "after SIGKILL: opened in {opened_in:?}, {count} points ({} whole batches), \
         {acknowledged} batches acknowledged before the kill, search ok",
        count / UPSERT_BATCH as u64
    );
    count
}

fn resync(dir: &Path) {
    let started = Instant::now();
    let store = EdgeStore::open(dir).unwrap();
    store.upsert(Collection::Estate, all_points()).unwrap();
    let count = store.count(Collection::Estate, &Filter::all()).unwrap();
    assert_eq!(count, TOTAL as u64, "a re-sync restores every point");
    println!("re-sync: {count} points in {:.1?}", started.elapsed());
}

#[test]
fn killed_writer_leaves_a_store_that_reopens_and_resyncs() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let (phase, dir) = spec.split_once(':').expect("phase:dir");
        child(Path::new(dir), phase);
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    // Kill during the first sync, at a few different moments.
    for (round, after_batches) in [(1, 3), (2, 17), (3, 41)] {
        let (child, rx) = spawn_child(dir.path(), "upsert");
        // Each writer starts from the first point, so batch n covers points 0..n*100.
        let acknowledged = wait_for(&rx, Duration::from_secs(120), |line| {
            line.strip_prefix("batch ")
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n >= after_batches)
        });
        // Let it get into the middle of another batch.
        std::thread::sleep(Duration::from_millis(7 * round));
        kill(child);
        // Batches printed after the one we saw also count as acknowledged.
        let acknowledged = rx
            .try_iter()
            .filter_map(|l| l.strip_prefix("batch ").and_then(|n| n.parse().ok()))
            .fold(acknowledged, usize::max);
        println!("round {round}: killed the writer after batch {acknowledged}");
        check_after_crash(dir.path(), acknowledged);
    }

    resync(dir.path());

    // Kill while the HNSW graph is being built.
    let (child, rx) = spawn_child(dir.path(), "optimize");
    wait_for(&rx, Duration::from_secs(120), |line| line == "optimizing");
    std::thread::sleep(Duration::from_millis(300));
    let finished = rx.try_iter().any(|l| l == "optimized");
    kill(child);
    println!(
        "killed the writer during optimize() ({})",
        if finished {
            "it had already finished"
        } else {
            "mid-build"
        }
    );
    let count = check_after_crash(dir.path(), TOTAL / UPSERT_BATCH);
    assert_eq!(count, TOTAL as u64, "optimize() loses no points");

    // And the store still optimizes, searches and re-syncs.
    let started = Instant::now();
    let store = EdgeStore::open(dir.path()).unwrap();
    store.optimize().unwrap();
    drop(store);
    println!("optimize() after the crash: {:.1?}", started.elapsed());
    check_after_crash(dir.path(), TOTAL / UPSERT_BATCH);
    resync(dir.path());
}
