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

use cloudops_demo::{generate, EstateSpec};
use cloudops_demo::{offline_records, TYPED_QUERIES};
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
    let estate = Estate::new(Arc::from(store), embedder.clone(), Arc::new(sealer));

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
    // What the app and `cloudops search` search: a reader's frozen copy of the published store.
    let reader = match backend {
        Backend::Embedded => {
            estate.store().publish().expect("publish");
            let store = store::open_reader(&Location::Embedded(dir.join("store"))).expect("reader");
            Estate::new(
                Arc::from(store),
                embedder,
                Arc::new(Sealer::from_key(&[0x5e; 32])),
            )
        }
        Backend::Server(_) => estate.clone(),
    };
    let typing = as_typed(&estate, &reader, &accounts);
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
    typing.print();
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

/// Search as the explorer does it: every prefix of [`TYPED_QUERIES`] (a query per key), the
/// best [`EXPLORER_LIMIT`] as plain summaries, from a reader's frozen copy (which keeps the
/// plain fields of every record, see `Estate::catalog`) beside the same searches of the live
/// store (the baseline: a listing reads every matching payload), and the query's embedding.
struct Typing {
    prefixes: usize,
    /// The slowest prefixes (reader), slowest first: where to look.
    slowest: Vec<(Duration, String)>,
    reader: Vec<Duration>,
    live: Vec<Duration>,
    embedding: Vec<Duration>,
}

/// The explorer's results for a query with words in it (app/src-tauri/src/explore.rs).
const EXPLORER_LIMIT: usize = 50;

fn as_typed(live: &Estate, reader: &Estate, accounts: &[cloudops_core::AccountName]) -> Typing {
    let prefixes: Vec<&str> = TYPED_QUERIES
        .iter()
        .flat_map(|q| (1..=q.len()).map(move |n| &q[..n]))
        .collect();
    let request = |q: &str| SearchRequest {
        query: q.to_owned(),
        limit: EXPLORER_LIMIT,
        ..SearchRequest::default()
    };
    let timed = |estate: &Estate, q: &str| {
        let started = Instant::now();
        std::hint::black_box(search::summaries(estate, accounts, &request(q)).expect("search"));
        started.elapsed()
    };
    let mut typing = Typing {
        prefixes: prefixes.len(),
        slowest: Vec::new(),
        reader: Vec::new(),
        live: Vec::new(),
        embedding: Vec::new(),
    };
    // Round 0 warms up (and fills the reader's catalog); the kinds interleave so that drift
    // hits each alike.
    for round in 0..3 {
        for q in &prefixes {
            let from_reader = timed(reader, q);
            let from_live = timed(live, q);
            let started = Instant::now();
            std::hint::black_box(reader.embedder().embed_query(q).expect("embed"));
            let embedding = started.elapsed();
            if round > 0 {
                typing.slowest.push((from_reader, (*q).to_owned()));
                typing.reader.push(from_reader);
                typing.live.push(from_live);
                typing.embedding.push(embedding);
            }
        }
    }
    typing
}

impl Typing {
    fn print(mut self) {
        self.slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
        let mut seen = std::collections::HashSet::new();
        self.slowest.retain(|(_, q)| seen.insert(q.clone()));
        let slowest: Vec<String> = self
            .slowest
            .iter()
            .take(5)
            .map(|(t, q)| format!("{q:?} {}", ms(*t)))
            .collect();
        let figures = |times: &mut Vec<Duration>| {
            times.sort();
            let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
            format!("p50 {} p95 {}", ms(pct(0.50)), ms(pct(0.95)))
        };
        println!(
            "as typed ({} prefixes of the explorer's queries, best {EXPLORER_LIMIT} as \
             summaries): a reader's copy {}; the live store (baseline) {}; the query's \
             embedding alone {}",
            self.prefixes,
            figures(&mut self.reader),
            figures(&mut self.live),
            figures(&mut self.embedding)
        );
        println!("as typed, slowest: {}", slowest.join(", "));
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
