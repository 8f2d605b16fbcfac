//! Embedding figures: model load time, throughput on batches of 100 resource texts, query
//! latency, and peak memory. Needs the model (`scripts/setup`, then `source scripts/env.sh`):
//!
//! ```sh
//! cargo bench -p cloudops-estate --bench embed
//! ```
//!
//! A plain program that prints numbers. The issue's target is 200 texts/s on 2 cores; DESIGN.md
//! § 5.2's ~430 texts/s was measured on shorter texts than these.

use std::time::{Duration, Instant};

use cloudops_core::resource::{Resource, Tag};
use cloudops_estate::embed::{resource_text, Embedder};

const BATCHES: usize = 10;
const BATCH: usize = 100;
const QUERIES: usize = 200;

fn main() {
    let started = Instant::now();
    let embedder = match Embedder::from_env() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let load = started.elapsed();
    println!("threads              {}", threads());
    println!("model load           {:.0} ms", ms(load));

    let mut rng = fastrand::Rng::with_seed(7);
    let texts: Vec<String> = (0..BATCHES * BATCH)
        .map(|i| resource_text(&resource(&mut rng, i)))
        .collect();
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    println!(
        "texts                {} in batches of {BATCH}, {:.1} words each on average, e.g. {:?}",
        texts.len(),
        words as f64 / texts.len() as f64,
        texts[3]
    );

    // Warm up: the first runs allocate ONNX Runtime's buffers.
    embedder.embed(&texts[..BATCH]).expect("warm-up");
    let mut batch_times = Vec::new();
    let started = Instant::now();
    for batch in texts.chunks(BATCH) {
        let t = Instant::now();
        let vectors = embedder.embed(batch).expect("embed");
        batch_times.push(t.elapsed());
        assert_eq!(vectors.len(), batch.len());
    }
    let total = started.elapsed();
    batch_times.sort();
    println!(
        "throughput           {:.0} texts/s ({} texts in {:.2} s; per batch of {BATCH}: min {:.0} ms, median {:.0} ms, max {:.0} ms)",
        texts.len() as f64 / total.as_secs_f64(),
        texts.len(),
        total.as_secs_f64(),
        ms(batch_times[0]),
        ms(batch_times[batch_times.len() / 2]),
        ms(batch_times[batch_times.len() - 1]),
    );

    let queries: Vec<String> = (0..QUERIES).map(|i| query(&mut rng, i)).collect();
    let mut latencies = Vec::new();
    for q in &queries {
        let t = Instant::now();
        embedder.embed_query(q).expect("query");
        latencies.push(t.elapsed());
    }
    latencies.sort();
    let pct =
        |p: f64| ms(latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]);
    println!(
        "query latency        p50 {:.1} ms, p99 {:.1} ms ({QUERIES} queries, e.g. {:?})",
        pct(0.50),
        pct(0.99),
        queries[1]
    );
    println!(
        "memory               peak RSS (VmHWM) {} MB, now (VmRSS) {} MB",
        status_mb("VmHWM:"),
        status_mb("VmRSS:")
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A `/proc/self/status` figure in MB, or `?` off Linux.
fn status_mb(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(|| "?".into(), |kb| (kb / 1024).to_string())
}

const APPS: &[&str] = &[
    "billing",
    "checkout",
    "search",
    "auth",
    "reporting",
    "inventory",
    "payments",
    "analytics",
    "notifications",
    "catalog",
    "ledger",
    "crm",
];
const ENVS: &[&str] = &["production", "staging", "dev", "qa", "sandbox"];
const TEAMS: &[&str] = &[
    "platform",
    "data",
    "payments-team",
    "growth",
    "sre",
    "security",
];

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

/// A resource shaped like the ones the scanners emit, with varied names, tags and details.
fn resource(rng: &mut fastrand::Rng, i: usize) -> Resource {
    let app = pick(rng, APPS);
    let env = pick(rng, ENVS);
    let mut metadata = serde_json::Map::new();
    let mut meta = |k: &str, v: &str| {
        metadata.insert(k.into(), v.into());
    };
    let (kind, name, identifier) = match i % 6 {
        0 | 1 => {
            meta(
                "instance_type",
                pick(
                    rng,
                    &[
                        "t3.micro",
                        "t3.large",
                        "m5.xlarge",
                        "c6g.2xlarge",
                        "r5.large",
                    ],
                ),
            );
            (
                "ec2_instance",
                format!(
                    "{app}-{env}-{}",
                    pick(rng, &["web", "worker", "api", "batch"])
                ),
                format!("i-{:017x}", rng.u64(..) >> 4),
            )
        }
        2 => {
            meta(
                "engine",
                pick(rng, &["postgres", "mysql", "aurora-postgresql", "mariadb"]),
            );
            meta(
                "class",
                pick(rng, &["db.t3.medium", "db.r6g.large", "db.m5.xlarge"]),
            );
            let name = format!("{app}-{env}-db{}", rng.u8(1..4));
            ("rds_instance", name.clone(), name)
        }
        3 => {
            meta(
                "runtime",
                pick(
                    rng,
                    &["python3.12", "nodejs20.x", "java21", "provided.al2023"],
                ),
            );
            let name = format!(
                "{app}-{}-{env}",
                pick(rng, &["handler", "cron", "resize-images", "export"])
            );
            ("lambda_function", name.clone(), name)
        }
        4 => {
            let name = format!(
                "{app}-{}-{env}-{}",
                pick(rng, &["logs", "backups", "assets", "exports"]),
                rng.u16(100..999)
            );
            ("s3_bucket", name.clone(), name)
        }
        _ => (
            "ec2_volume",
            format!("{app}-{env}-data"),
            format!("vol-{:017x}", rng.u64(..) >> 4),
        ),
    };
    let mut tags = vec![
        Tag {
            key: "Name".into(),
            value: name.clone(),
        },
        Tag {
            key: "env".into(),
            value: env.into(),
        },
        Tag {
            key: "app".into(),
            value: app.into(),
        },
    ];
    if rng.bool() {
        tags.push(Tag {
            key: "team".into(),
            value: pick(rng, TEAMS).into(),
        });
    }
    if rng.u8(..4) == 0 {
        tags.push(Tag {
            key: "cost-center".into(),
            value: format!("cc-{}", rng.u16(1000..9999)),
        });
    }
    Resource {
        resource_type: kind.into(),
        arn: format!("arn:aws:service:us-east-1:123456789012:{identifier}"),
        identifier,
        name,
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        state: None,
        tags,
        relations: vec![],
        metadata,
    }
}

/// A question a user might type.
fn query(rng: &mut fastrand::Rng, i: usize) -> String {
    let app = pick(rng, APPS);
    let env = pick(rng, ENVS);
    match i % 8 {
        0 => format!("{env} database"),
        1 => format!("which {app} servers are running in {env}"),
        2 => format!("lambda functions for {app}"),
        3 => format!("s3 buckets with {app} backups"),
        4 => "large postgres instances".into(),
        5 => format!("everything owned by the {} team", pick(rng, TEAMS)),
        6 => format!("{app} {env} volumes"),
        _ => format!("stop the {env} {app} workers to save money"),
    }
}
