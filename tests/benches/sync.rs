//! Sync figures for the default demo estate (3 accounts × 3 regions, ~6,500 resources),
//! printed (not asserted), all against one emulator in one run:
//! - a bare boto3 listing of the estate (`tests/emulator/list_estate.py`): the emulator's
//!   own floor, the least time any client can take to read the estate from it;
//! - a full sync into an empty store (six plugins, STS, IAM, embeddings, sealing, embedded
//!   Qdrant): wall time, peak RSS during the sync, and its ratio to the floor;
//! - a re-sync with nothing changed (nothing embedded, nothing written);
//! - a full sync through the fault-injecting proxy with no faults, then with 10% of the
//!   requests throttled at random: the time ratio (target ≤ 1.3), retries and what failed;
//! - a full sync with a search every 100 ms beside it, each opening the store as
//!   `cloudops search` does (a reader of the last published state): p50/p95/max latency, and
//!   the bench fails if one search fails.
//!
//! `SYNC_BENCH_ONLY=throttling` or `=readers` runs only that part.
//! With `QDRANT_URL` set (`eval "$(../shared/tools/qdrant/start.sh)"`), both syncs run again
//! with the store on that Qdrant server, and the embedded/server ratios are printed.
//!
//! Run: `source scripts/env.sh && cargo bench -p cloudops-tests --bench sync`

use std::sync::Arc;
use std::time::Instant;

use cloudops_demo::{seed_estate, Emulator, EstateFile};
use cloudops_host::embed::Embedder;
use cloudops_host::estate::Estate;
use cloudops_host::plugin::{Limits, Plugin};
use cloudops_host::scan::status::ScopeStatus;
use cloudops_host::scan::sync::{self, SyncAccount, SyncOptions, SyncReport};
use cloudops_host::search::{self, AccountName, SearchRequest};
use cloudops_host::store::seal::Sealer;
use cloudops_host::store::{self, EstateStore, Location};
use cloudops_tests::faults::{Fault, FaultProxy, Pick, Rule};
use cloudops_tests::{boto3_listing, load_plugin, qdrant_url, start_emulator, ServerCollections};

const PLUGINS: [&str; 6] = ["ec2", "rds", "s3", "lambda", "vpc", "elb"];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let file = EstateFile::default_demo();
    let emulator = start_emulator().await;
    let seeded = seed_estate(&emulator, &file, |_| {}).await.unwrap();
    println!(
        "seeded the default demo estate: {} requests in {:.1} s",
        seeded.requests, seeded.seconds
    );

    let embedder =
        Arc::new(Embedder::from_env().expect("run scripts/setup and source scripts/env.sh"));
    let through = |url: &str| -> Vec<SyncAccount> {
        seeded
            .accounts
            .iter()
            .map(|a| SyncAccount {
                name: a.name.clone(),
                client: a.client_at(url),
                regions: file.account(&a.id).unwrap().regions.clone(),
            })
            .collect()
    };
    // `SYNC_BENCH_ONLY=throttling`: only the throttling figures (two full syncs).
    match std::env::var("SYNC_BENCH_ONLY").as_deref() {
        Ok("throttling") => return throttling(&emulator, embedder, &through).await,
        Ok("readers") => return readers_during_sync(embedder, through(emulator.url())).await,
        _ => {}
    }

    let floor = boto3_listing(&emulator, &file).await;
    let listed: usize = floor.counts.values().sum();
    println!(
        "boto3 listing (floor):   {:>7.1} s   {listed} resources, {} requests",
        floor.seconds, floor.requests
    );

    let accounts = || through(emulator.url());

    let dir = tempfile::tempdir().unwrap();
    let store = store::open(&Location::Embedded(dir.path().join("store"))).unwrap();
    println!("-- into the embedded store");
    let embedded = measure(
        Arc::from(store),
        embedder.clone(),
        &accounts,
        &emulator,
        floor.seconds,
    )
    .await;
    println!(
        "store on disk:           {:>7.1} MiB",
        dir_size(dir.path()) as f64 / (1024.0 * 1024.0)
    );

    throttling(&emulator, embedder.clone(), &through).await;
    readers_during_sync(embedder.clone(), through(emulator.url())).await;

    let Some(url) = qdrant_url() else {
        println!("(QDRANT_URL is not set: the embedded store only)");
        return;
    };
    let server = ServerCollections::new(&url, "cloudops_bench_sync_");
    println!("-- into the Qdrant server at {url}");
    let on_server = measure(
        Arc::from(server.open()),
        embedder,
        &accounts,
        &emulator,
        floor.seconds,
    )
    .await;
    println!(
        "embedded/server time ratio: full sync {:.2}, no-change re-sync {:.2} \
         (below 1: the embedded store is faster)",
        embedded.0 / on_server.0,
        embedded.1 / on_server.1
    );
}

/// A full sync into `store` (empty), then a no-change re-sync; prints their figures and
/// returns their wall times in seconds.
async fn measure(
    store: Arc<dyn EstateStore>,
    embedder: Arc<Embedder>,
    accounts: &dyn Fn() -> Vec<SyncAccount>,
    emulator: &Emulator,
    floor_seconds: f64,
) -> (f64, f64) {
    let estate = Estate::new(store, embedder, Arc::new(Sealer::generate()));
    let sync_once = || async {
        let plugins = plugins();
        let started = Instant::now();
        let report = sync::sync(
            accounts(),
            plugins,
            estate.clone(),
            SyncOptions::default(),
            Arc::new(|_| {}),
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let failed: Vec<_> = report
            .scopes
            .iter()
            .filter(|s| !s.errors.is_empty())
            .collect();
        assert!(report.is_clean(), "the sync had errors: {failed:#?}");
        (report, seconds)
    };

    reset_peak_rss();
    let cpu_before = (
        cpu_seconds("self"),
        cpu_seconds(&emulator.pid().to_string()),
    );
    let (full, full_seconds) = sync_once().await;
    let peak = peak_rss_mib();
    let cpu = (
        cpu_seconds("self") - cpu_before.0,
        cpu_seconds(&emulator.pid().to_string()) - cpu_before.1,
    );
    println!(
        "full sync:               {full_seconds:>7.1} s   {} resources, {} embedded, {} scopes",
        total(&full, |s| s.found),
        total(&full, |s| s.embedded),
        full.scopes.len()
    );
    println!(
        "full sync / floor:       {:>7.2}     (target ≤ 1.3)",
        full_seconds / floor_seconds
    );
    println!("peak RSS during sync:    {peak:>7.0} MiB (model, plugins, store)");
    println!(
        "CPU during sync:         {:>7.1} s in cloudops (plugins, IAM, embeddings, store), \
         {:.1} s in the emulator",
        cpu.0, cpu.1
    );
    print_slowest(&full);

    let (again, again_seconds) = sync_once().await;
    println!(
        "no-change re-sync:       {again_seconds:>7.1} s   {} embedded, {} added, {} updated, {} unchanged",
        total(&again, |s| s.embedded),
        total(&again, |s| s.added),
        total(&again, |s| s.updated),
        total(&again, |s| s.unchanged)
    );
    (full_seconds, again_seconds)
}

/// Full syncs through the fault proxy into fresh embedded stores, without faults and then
/// with 10% of requests throttled at random; prints the ratio of their times.
async fn throttling(
    emulator: &Emulator,
    embedder: Arc<Embedder>,
    accounts: &dyn Fn(&str) -> Vec<SyncAccount>,
) {
    let proxy = FaultProxy::start(emulator.url()).await;
    let mut times = Vec::new();
    for share in [0.0, 0.1] {
        proxy.set_rules(vec![Rule::new(Fault::Throttle).pick(Pick::Share(share))]);
        let dir = tempfile::tempdir().unwrap();
        let store = store::open(&Location::Embedded(dir.path().join("store"))).unwrap();
        let estate = Estate::new(
            Arc::from(store),
            embedder.clone(),
            Arc::new(Sealer::generate()),
        );
        let plugins = plugins();
        let accounts = accounts(proxy.url());
        let clients: Vec<_> = accounts.iter().map(|a| a.client.clone()).collect();
        let (requests_before, faults_before) = proxy.counts();
        let started = Instant::now();
        let report = sync::sync(
            accounts,
            plugins,
            estate,
            SyncOptions::default(),
            Arc::new(|_| {}),
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let (requests, faults) = proxy.counts();
        let retries: u64 = clients.iter().map(|c| c.stats().snapshot().retries).sum();
        let failed: Vec<String> = report
            .scopes
            .iter()
            .filter(|s| !s.complete || !s.errors.is_empty())
            .map(|s| format!("{}/{}/{}", s.account_id, s.region, s.service))
            .collect();
        println!(
            "through the proxy, {:>2.0}% throttled: {seconds:>7.1} s   {} requests, {} throttled, \
             {retries} retries, {} resources, {} scopes incomplete {failed:?}",
            share * 100.0,
            requests - requests_before,
            faults - faults_before,
            total(&report, |s| s.found),
            failed.len(),
        );
        times.push(seconds);
    }
    println!(
        "10% throttled / no faults: {:>5.2}     (target ≤ 1.3)",
        times[1] / times[0]
    );
}

/// A full sync into a fresh embedded store while another thread searches it every 100 ms,
/// opening a reader for each search as `cloudops search` does; prints the latencies.
async fn readers_during_sync(embedder: Arc<Embedder>, accounts: Vec<SyncAccount>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Embedded(dir.path().join("store"));
    let sealer = Arc::new(Sealer::generate());
    let store = store::open(&location).unwrap();
    let estate = Estate::new(Arc::from(store), embedder.clone(), sealer.clone());
    let names: Vec<AccountName> = accounts
        .iter()
        .map(|a| AccountName {
            id: String::new(),
            name: a.name.clone(),
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let searching = {
        let done = done.clone();
        std::thread::spawn(move || {
            let (mut took, mut failed) = (Vec::new(), Vec::new());
            while !done.load(Ordering::SeqCst) {
                let started = Instant::now();
                let answer = store::open_reader(&location)
                    .map_err(|e| e.to_string())
                    .and_then(|reader| {
                        let estate =
                            Estate::new(Arc::from(reader), embedder.clone(), sealer.clone());
                        search::search(
                            &estate,
                            &names,
                            &SearchRequest {
                                query: "production postgres database".into(),
                                accounts: Vec::new(),
                                regions: Vec::new(),
                                types: Vec::new(),
                                limit: 10,
                            },
                        )
                        .map_err(|e| e.to_string())
                    });
                match answer {
                    Ok(_) => took.push(started.elapsed().as_secs_f64() * 1e3),
                    Err(e) => failed.push(e),
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            (took, failed)
        })
    };
    let plugins = plugins();
    let started = Instant::now();
    let report = sync::sync(
        accounts,
        plugins,
        estate.clone(),
        SyncOptions::default(),
        Arc::new(|_| {}),
    )
    .await;
    estate.store().publish().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::SeqCst);
    let (mut took, failed) = searching.join().unwrap();
    took.sort_by(f64::total_cmp);
    let at = |q: f64| {
        took.get(((took.len() as f64 * q) as usize).min(took.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "searches during a full sync ({seconds:.1} s, {} resources): {} answered, {} failed; \
         latency p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms (open a reader + embed + search)",
        total(&report, |s| s.found),
        took.len(),
        failed.len(),
        at(0.5),
        at(0.95),
        took.last().copied().unwrap_or(f64::NAN),
    );
    assert!(
        failed.is_empty(),
        "searches failed during the sync: {failed:?}"
    );
}

/// The six first-party scanners, loaded afresh as each sync does.
fn plugins() -> Vec<Plugin> {
    PLUGINS
        .iter()
        .map(|name| load_plugin(name, Limits::default()).unwrap())
        .collect()
}

fn total(report: &SyncReport, field: fn(&ScopeStatus) -> usize) -> usize {
    report.scopes.iter().map(field).sum()
}

/// The five scopes that took longest: where the wall time goes.
fn print_slowest(report: &SyncReport) {
    let mut scopes: Vec<&ScopeStatus> = report.scopes.iter().collect();
    scopes.sort_by_key(|s| std::cmp::Reverse(s.duration_ms));
    for s in scopes.iter().take(5) {
        println!(
            "  slowest scope: {}/{}/{:<7} {:>6.1} s  {} resources",
            s.account_id,
            s.region,
            s.service,
            s.duration_ms as f64 / 1000.0,
            s.found
        );
    }
}

/// Resets the kernel's peak-RSS mark for this process (Linux `clear_refs`), so the peak
/// read afterwards is the sync's, not the seeding's.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// User + system CPU seconds of a process (`self` or a pid), from /proc (100 ticks a second,
/// the Linux default).
fn cpu_seconds(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the parenthesised command name; utime and stime are the 12th and
            // 13th of them.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
            Some((ticks(11)? + ticks(12)?) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => dir_size(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
