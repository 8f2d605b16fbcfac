//! Hybrid search at scale: generated estates of ~10k and ~100k resources (the demo's
//! proportions and naming) indexed into the embedded store with the real model, then
//! queried. Prints indexing throughput, search p50/p99 including the query's embedding,
//! on-disk size and peak RSS, and the dev set's recall at each size.
//!
//! With `QDRANT_URL` set (`eval "$(../shared/tools/qdrant/start.sh)"`), each size runs again
//! with the store on that Qdrant server, and the embedded/server ratios are printed.
//!
//! `source scripts/env.sh && cargo bench -p cloudops-demo --bench search [-- 10000 100000]`

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudops_demo::offline_records;
use cloudops_demo::{generate, EstateSpec};
use cloudops_estate::embed::Embedder;
use cloudops_estate::estate::Estate;
use cloudops_estate::search::{self, eval, SearchRequest};
use cloudops_estate::store::seal::Sealer;
use cloudops_estate::store::server::ServerStore;
use cloudops_estate::store::{self, EstateStore, Location};

/// Where a run keeps its store.
enum Backend {
    Embedded,
    /// A Qdrant server's gRPC URL.
    Server(String),
}

/// Collections of the bench on a server, apart from any real estate there.
const SERVER_PREFIX: &str = "cloudops_bench_search_";

/// What the ratios compare.
struct Figures {
    indexing: Duration,
    p50: Duration,
    p99: Duration,
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    let embedder =
        Arc::new(Embedder::from_env().expect("run scripts/setup and source scripts/env.sh"));
    let cases = eval::parse_cases(cloudops_demo::DEV_SET).expect("dev set parses");
    let server = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty());
    if server.is_none() {
        println!("(QDRANT_URL is not set: the embedded store only)");
    }
    for size in sizes {
        let embedded = bench(size, &Backend::Embedded, embedder.clone(), &cases);
        if let Some(url) = &server {
            let on_server = bench(
                size,
                &Backend::Server(url.clone()),
                embedder.clone(),
                &cases,
            );
            let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
            println!(
                "embedded/server time ratio: indexing {:.2}, search p50 {:.2}, p99 {:.2} \
                 (below 1: the embedded store is faster)",
                ratio(embedded.indexing, on_server.indexing),
                ratio(embedded.p50, on_server.p50),
                ratio(embedded.p99, on_server.p99)
            );
        }
    }
}

fn server_store(url: &str) -> ServerStore {
    ServerStore::connect_with_prefix(
        url,
        std::env::var("QDRANT_API_KEY").ok().as_deref(),
        SERVER_PREFIX,
    )
    .expect("connect to the Qdrant server")
}

fn bench(size: usize, backend: &Backend, embedder: Arc<Embedder>, cases: &[eval::Case]) -> Figures {
    let file = generate(&EstateSpec::with_resources(size));
    let (records, accounts) = offline_records(&file);
    let n = records.len();
    // SEARCH_BENCH_KEEP=DIR keeps each size's store in DIR and reuses it on the next run, to
    // time searches again without indexing again.
    let kept = match backend {
        Backend::Embedded => {
            std::env::var_os("SEARCH_BENCH_KEEP").map(|d| Path::new(&d).join(size.to_string()))
        }
        Backend::Server(_) => None,
    };
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = kept.clone().unwrap_or_else(|| temp.path().to_owned());
    let reuse = kept.is_some() && dir.join("indexed").exists();
    let store: Box<dyn EstateStore> = match backend {
        Backend::Embedded => store::open(&Location::Embedded(dir.join("store"))).expect("store"),
        Backend::Server(url) => {
            // Starts empty, as the embedded store does in a fresh directory.
            server_store(url)
                .delete_collections()
                .expect("delete the bench's collections");
            Box::new(server_store(url))
        }
    };
    // A fixed key only so that a kept store can be read again.
    let sealer = Sealer::from_key(&[0x5e; 32]);
    let estate = Estate::new(Arc::from(store), embedder, Arc::new(sealer));

    let started = Instant::now();
    let mut embedded = 0;
    if !reuse {
        for chunk in records.chunks(1000) {
            embedded += estate.put(chunk.to_vec()).expect("put").embedded;
        }
    }
    let indexing = started.elapsed();
    let started = Instant::now();
    if !reuse {
        estate.store().optimize().expect("optimize");
        if kept.is_some() {
            std::fs::write(dir.join("indexed"), "").expect("marker");
        }
    }
    let optimizing = started.elapsed();

    let started = Instant::now();
    let again = estate.put(records.clone()).expect("re-put");
    let reput = started.elapsed();
    // A kept store indexed by an older build is brought up to date by this put instead.
    if !reuse {
        assert_eq!(again.unchanged, n);
    }

    // Queries: the dev set plus names and partial names drawn from this estate.
    let mut queries: Vec<String> = cases.iter().map(|c| c.query.clone()).collect();
    for (i, r) in records.iter().enumerate().step_by((n / 100).max(1)) {
        let name = &r.resource.name;
        queries.push(if i % 2 == 0 {
            name.clone()
        } else {
            name.replace("-", " ")
        });
    }
    let mut times = Vec::new();
    for round in 0..3 {
        for q in &queries {
            let started = Instant::now();
            let results = search::search(
                &estate,
                &accounts,
                &SearchRequest {
                    query: q.clone(),
                    limit: 10,
                    ..SearchRequest::default()
                },
            )
            .expect("search");
            if round > 0 {
                times.push(started.elapsed());
            }
            std::hint::black_box(results);
        }
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let report = eval::evaluate(&estate, &accounts, cases).expect("eval");
    estate.store().flush().expect("flush");

    let on = match backend {
        Backend::Embedded => "embedded store".to_owned(),
        Backend::Server(url) => format!("Qdrant server {url}"),
    };
    println!(
        "== {n} resources ({} accounts), {on}",
        file.accounts().len()
    );
    if reuse {
        println!("index: reused {}", dir.display());
    } else {
        println!(
        "index: {embedded} embedded + upserted in {:.1} s ({:.0} resources/s); optimize {:.2} s; no-change re-put {:.2} s",
        indexing.as_secs_f64(),
        n as f64 / indexing.as_secs_f64(),
        optimizing.as_secs_f64(),
        reput.as_secs_f64()
        );
    }
    println!(
        "search incl. query embedding ({} queries): p50 {} p99 {} max {}",
        times.len(),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(*times.last().unwrap())
    );
    println!(
        "dev set at this size: recall@1 {:.3} recall@5 {:.3} MRR {:.3}",
        report.recall_at_1, report.recall_at_5, report.mrr
    );
    match backend {
        Backend::Embedded => println!(
            "disk: {:.1} MiB allocated; peak RSS so far {:.0} MiB",
            allocated(&dir.join("store")) as f64 / (1 << 20) as f64,
            peak_rss_kib() as f64 / 1024.0
        ),
        Backend::Server(url) => {
            println!(
                "peak RSS so far {:.0} MiB (this process; the server's is its own)",
                peak_rss_kib() as f64 / 1024.0
            );
            server_store(url)
                .delete_collections()
                .expect("delete the bench's collections");
        }
    }
    Figures {
        indexing,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Allocated bytes under `dir` (blocks, not apparent size: the WAL preallocates).
fn allocated(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
