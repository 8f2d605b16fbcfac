//! Embedded store benchmark: `cargo bench -p cloudops-estate --bench store`.
//!
//! For 10k and 100k resource-like points (384-d unit vectors clustered around 200 centres,
//! ~15-term sparse vectors over 2^20 dimensions, a resource payload with a 300-byte sealed
//! blob) it prints: upsert throughput (batches of 100), `optimize()` time, search latency
//! p50/p99 (dense top-10 with and without an account + type filter, lexical top-10), recall@10
//! of dense search against brute force on 200 queries (exact, and HNSW at several `ef`), time
//! to reopen, disk use (allocated blocks and apparent size) and peak RSS.
//!
//! Each size runs in a child process (this binary again, with `STORE_BENCH_SIZE`), so the
//! peak RSS of one size is not carried into the next. `STORE_BENCH_SIZES=10000` picks sizes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cloudops_estate::store::edge::{EdgeOptions, EdgeStore};
use cloudops_estate::store::{
    Collection, EstateStore, Filter, Point, Query, SparseVector, DENSE_DIM, UPSERT_BATCH,
};
use serde_json::json;
use uuid::Uuid;

const CENTRES: usize = 200;
const QUERIES: usize = 200;
const TOP: usize = 10;
const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];
const TYPES: [&str; 12] = [
    "ec2:instance",
    "ec2:volume",
    "ec2:snapshot",
    "ec2:security-group",
    "ec2:subnet",
    "ec2:vpc",
    "rds:db",
    "rds:cluster",
    "s3:bucket",
    "lambda:function",
    "lambda:layer",
    "lambda:alias",
];

fn main() {
    if let Ok(size) = std::env::var("STORE_BENCH_SIZE") {
        run(size.parse().expect("STORE_BENCH_SIZE is a number"));
        return;
    }
    let sizes = std::env::var("STORE_BENCH_SIZES").unwrap_or_else(|_| "10000,100000".into());
    println!("store benchmark (embedded qdrant-edge), {} cpus", cpus());
    for size in sizes.split(',') {
        let status = Command::new(std::env::current_exe().unwrap())
            .env("STORE_BENCH_SIZE", size.trim())
            .status()
            .expect("run the benchmark child");
        assert!(status.success(), "benchmark for {size} points failed");
    }
}

struct Data {
    points: Vec<Point>,
    dense_queries: Vec<Vec<f32>>,
    lexical_queries: Vec<SparseVector>,
    filters: Vec<Filter>,
}

fn run(n: usize) {
    let mut rng = fastrand::Rng::with_seed(42 + n as u64);
    let data = generate(n, &mut rng);
    let dir = tempfile::tempdir().unwrap();
    println!("\n== {n} points ==");

    // Upserts, in batches of 100.
    let store = EdgeStore::open(dir.path()).unwrap();
    let started = Instant::now();
    for chunk in data.points.chunks(UPSERT_BATCH) {
        store.upsert(Collection::Estate, chunk.to_vec()).unwrap();
    }
    let upsert = started.elapsed();
    println!(
        "upsert:   {:>8.0} points/s ({n} points in {:.2?}, batches of {UPSERT_BATCH})",
        n as f64 / upsert.as_secs_f64(),
        upsert
    );
    let started = Instant::now();
    store
        .upsert(Collection::Estate, data.points[..1000.min(n)].to_vec())
        .unwrap();
    let again = started.elapsed();
    assert_eq!(
        store.count(Collection::Estate, &Filter::all()).unwrap(),
        n as u64
    );
    println!("re-upsert 1000 same ids: {again:.2?}, count unchanged");

    let started = Instant::now();
    store.optimize().unwrap();
    println!("optimize: {:.2?}", started.elapsed());
    let started = Instant::now();
    store.flush().unwrap();
    println!("flush:    {:.2?}", started.elapsed());
    drop(store);

    let started = Instant::now();
    let store = EdgeStore::open(dir.path()).unwrap();
    println!("reopen:   {:.2?}", started.elapsed());
    let default_mode = if (n as u64) < store.options().exact_search_below {
        "exact"
    } else {
        "hnsw"
    };

    // Brute-force truth.
    let started = Instant::now();
    let truth: Vec<Vec<Uuid>> = data
        .dense_queries
        .iter()
        .map(|q| brute_force(&data.points, q, None))
        .collect();
    let truth_filtered: Vec<Vec<Uuid>> = data
        .dense_queries
        .iter()
        .zip(&data.filters)
        .map(|(q, f)| brute_force(&data.points, q, Some(f)))
        .collect();
    println!(
        "(brute force truth for {QUERIES} queries: {:.2?})",
        started.elapsed()
    );

    println!("search over {QUERIES} queries, top {TOP}:       p50        p99   recall@10");
    let report = |label: &str, store: &EdgeStore, filtered: bool| {
        let mut times = Vec::new();
        let mut recall = 0.0;
        for (i, q) in data.dense_queries.iter().enumerate() {
            let filter = if filtered {
                data.filters[i].clone()
            } else {
                Filter::all()
            };
            let started = Instant::now();
            let hits = store
                .search(Collection::Estate, &Query::Dense(q.clone()), &filter, TOP)
                .unwrap();
            times.push(started.elapsed());
            let expected = if filtered {
                &truth_filtered[i]
            } else {
                &truth[i]
            };
            let found = hits.iter().filter(|h| expected.contains(&h.id)).count();
            recall += found as f64 / expected.len().max(1) as f64;
        }
        let (p50, p99) = percentiles(&mut times);
        println!(
            "  {label:<38} {:>7.3} ms {:>7.3} ms   {:.4}",
            ms(p50),
            ms(p99),
            recall / QUERIES as f64
        );
    };
    report(
        &format!("dense ({default_mode}, default options)"),
        &store,
        false,
    );
    report(
        &format!("dense + account & type filter ({default_mode})"),
        &store,
        true,
    );
    let mut times = Vec::new();
    for q in &data.lexical_queries {
        let started = Instant::now();
        let hits = store
            .search(
                Collection::Estate,
                &Query::Lexical(q.clone()),
                &Filter::all(),
                TOP,
            )
            .unwrap();
        times.push(started.elapsed());
        assert!(!hits.is_empty());
    }
    let (p50, p99) = percentiles(&mut times);
    println!(
        "  {:<38} {:>7.3} ms {:>7.3} ms",
        "lexical (IDF)",
        ms(p50),
        ms(p99)
    );
    drop(store);

    // The alternatives, for choosing the defaults.
    let modes: [(&str, EdgeOptions); 5] = [
        ("dense exact", options(u64::MAX, 128)),
        ("dense hnsw ef=32", options(0, 32)),
        ("dense hnsw ef=64", options(0, 64)),
        ("dense hnsw ef=128", options(0, 128)),
        ("dense hnsw ef=256", options(0, 256)),
    ];
    for (label, options) in modes {
        let store = EdgeStore::open_with(dir.path(), options).unwrap();
        report(label, &store, false);
    }
    let store = EdgeStore::open_with(dir.path(), options(0, 128)).unwrap();
    report("dense hnsw ef=128 + filter", &store, true);
    drop(store);

    let (allocated, apparent) = disk_use(dir.path());
    println!(
        "disk:     {:.1} MiB allocated, {:.1} MiB apparent",
        mib(allocated),
        mib(apparent)
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    println!(
        "memory:   peak RSS (VmHWM) {}, RSS now {} (includes the {n} generated points)",
        field("VmHWM:"),
        field("VmRSS:")
    );
}

fn options(exact_search_below: u64, hnsw_ef: usize) -> EdgeOptions {
    EdgeOptions {
        exact_search_below,
        hnsw_ef,
        ..EdgeOptions::default()
    }
}

fn gaussian(rng: &mut fastrand::Rng) -> f32 {
    // Box-Muller.
    let u1 = rng.f32().max(f32::MIN_POSITIVE);
    let u2 = rng.f32();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// A unit vector about `spread` (noise norm) away from `centre`.
fn around(centre: &[f32], spread: f32, rng: &mut fastrand::Rng) -> Vec<f32> {
    let scale = spread / (DENSE_DIM as f32).sqrt();
    normalized(centre.iter().map(|c| c + scale * gaussian(rng)).collect())
}

fn generate(n: usize, rng: &mut fastrand::Rng) -> Data {
    let centres: Vec<Vec<f32>> = (0..CENTRES)
        .map(|_| normalized((0..DENSE_DIM).map(|_| gaussian(rng)).collect()))
        .collect();
    let sealed = format!("v1:{}", "x".repeat(297));
    let points: Vec<Point> = (0..n)
        .map(|i| {
            let centre = &centres[rng.usize(..CENTRES)];
            // Cosine to the centre about 0.8, between neighbours about 0.65.
            let dense = around(centre, 0.75, rng);
            let lexical = SparseVector::from_pairs(
                (0..15).map(|_| (rng.u32(..1 << 20), 0.5 + rng.f32() * 1.5)),
            );
            let account = ACCOUNTS[rng.usize(..ACCOUNTS.len())];
            let region = REGIONS[rng.usize(..REGIONS.len())];
            let resource_type = TYPES[rng.usize(..TYPES.len())];
            let identifier = format!("{}-{i:08x}", resource_type.replace(':', "-"));
            let tags = [
                format!("env={}", ["prod", "dev", "staging"][rng.usize(..3)]),
                format!("team=team-{}", rng.usize(..20)),
                format!("cost-centre=cc-{}", rng.usize(..50)),
            ];
            let state = ["running", "stopped", "available"][rng.usize(..3)];
            let payload = json!({
                "identifier": identifier,
                "name": format!("resource {i}"),
                "resource_type": resource_type,
                "service": resource_type.split(':').next().unwrap(),
                "account_id": account,
                "region": region,
                "state": state,
                "tag_pairs": tags,
                "tag_keys": ["env", "team", "cost-centre"],
                "synced_at": 1_760_000_000 + rng.i64(..86_400),
                "sealed": sealed,
            });
            Point {
                id: cloudops_estate::store::resource_id(
                    account,
                    region,
                    resource_type,
                    &identifier,
                ),
                dense,
                lexical,
                payload: payload.as_object().unwrap().clone(),
            }
        })
        .collect();
    let dense_queries = (0..QUERIES)
        .map(|_| around(&centres[rng.usize(..CENTRES)], 0.75, rng))
        .collect();
    let lexical_queries = (0..QUERIES)
        .map(|_| {
            let p = &points[rng.usize(..n)];
            SparseVector::from_pairs(p.lexical.indices.iter().take(5).map(|&i| (i, 1.0)))
        })
        .collect();
    let filters = (0..QUERIES)
        .map(|_| {
            Filter::all()
                .eq("account_id", ACCOUNTS[rng.usize(..ACCOUNTS.len())])
                .eq("resource_type", TYPES[rng.usize(..TYPES.len())])
        })
        .collect();
    Data {
        points,
        dense_queries,
        lexical_queries,
        filters,
    }
}

fn matches(point: &Point, filter: &Filter) -> bool {
    use cloudops_estate::store::Condition;
    filter.must.iter().all(|c| match c {
        Condition::AnyOf { field, values } => point.payload[field]
            .as_str()
            .is_some_and(|v| values.iter().any(|x| x == v)),
        _ => unimplemented!("the benchmark filters on keywords only"),
    })
}

fn brute_force(points: &[Point], query: &[f32], filter: Option<&Filter>) -> Vec<Uuid> {
    let mut scored: Vec<(f32, Uuid)> = points
        .iter()
        .filter(|p| filter.is_none_or(|f| matches(p, f)))
        .map(|p| (p.dense.iter().zip(query).map(|(a, b)| a * b).sum(), p.id))
        .collect();
    let k = TOP.min(scored.len());
    if k == 0 {
        return Vec::new();
    }
    scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
    scored.truncate(k);
    scored.into_iter().map(|(_, id)| id).collect()
}

fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn disk_use(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut allocated = 0;
    let mut apparent = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                allocated += meta.blocks() * 512;
                apparent += meta.len();
            }
        }
    }
    (allocated, apparent)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
