//! The plan server's figures: `cargo bench -p cloudops-server --bench plan`
//! (`source scripts/env.sh` first, for the model).
//!
//! - plan latency p50/p99 and requests/s at 1 and at 20 concurrent clients, over real HTTP on
//!   loopback, against the `cloudops-server` binary (a child process) serving a Git repository
//!   of the repo's `playbooks/`, with the seed example's request;
//! - the server's RSS after that (VmRSS, and the peak VmHWM);
//! - library load time (parse + check + embed + index, in process) for the real library and
//!   for 2,000 generated playbooks (the real ones with every text made unique, so each is
//!   embedded).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudops_estate::embed::Embedder;
use cloudops_estate::store::Location;
use cloudops_planner::Planner;
use cloudops_playbook::Library;
use serde_json::{json, Value};

const SEQUENTIAL: usize = 300;
const CLIENTS: usize = 20;
const PER_CLIENT: usize = 50;
const GENERATED: usize = 2_000;

fn main() {
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("../playbooks");
    // The library is committed as it stands, straight from its folder (git's --work-tree).
    let repo = tempfile::tempdir().unwrap();
    let work_tree = format!("--work-tree={}", library.display());
    for args in [
        &["init", "--quiet", "--initial-branch", "main"][..],
        &[&work_tree, "add", "--all"],
        &[
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@cloudops.invalid",
            "commit",
            "--quiet",
            "-m",
            "library",
        ],
    ] {
        let ok = Command::new("git")
            .current_dir(repo.path())
            .args(args)
            .status()
            .unwrap();
        assert!(ok.success(), "git {args:?}");
    }
    println!(
        "plan server bench ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(http_figures(repo.path()));
    load_figures(&library);
}

/// A running `cloudops-server`, killed on drop.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn http_figures(repo: &Path) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_cloudops-server"))
        .args([
            "--playbooks",
            &repo.to_string_lossy(),
            "--listen",
            &addr,
            "--poll-seconds",
            "0",
        ])
        .env("RUST_LOG", "warn,qdrant_edge=error")
        .env_remove("REDIS_URL")
        .env_remove("QDRANT_URL")
        .stdout(Stdio::null())
        .spawn()
        .expect("the cloudops-server binary runs");
    let server = ServerProcess(child);
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the server did not start in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "  server ready (process start + library load) in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let url = format!("{base}/v1/plan");
    let seed = Arc::new(serde_json::to_vec(&seed_request()).unwrap());
    let first: Value = serde_json::from_slice(&post(&client, &url, &seed).await.1).unwrap();
    assert_eq!(first["steps"][0]["action"], "rds:StopDBInstance");
    for _ in 0..20 {
        post(&client, &url, &seed).await; // warm-up
    }
    println!("  the seed's request every time (its prompt embedding cached after the first):");
    let same = vec![seed; SEQUENTIAL.max(CLIENTS * PER_CLIENT)];
    clients(1, &url, &same[..SEQUENTIAL]).await;
    clients(CLIENTS, &url, &same[..CLIENTS * PER_CLIENT]).await;

    let (distinct, texts) = distinct_requests();
    println!(
        "  a new prompt every time (the evaluation sets' prompts in 5 wordings: {} requests, \
         {texts} distinct texts for the model):",
        distinct.len()
    );
    let (one, many) = distinct.split_at(SEQUENTIAL.min(distinct.len() / 4));
    clients(1, &url, one).await;
    clients(CLIENTS, &url, many).await;

    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.0.id())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    println!(
        "  server RSS {:.0} MiB (peak {:.0} MiB)",
        field("VmRSS:"),
        field("VmHWM:")
    );
}

/// `bodies` sent by `n` concurrent clients, each sending its share one after another.
async fn clients(n: usize, url: &str, bodies: &[Arc<Vec<u8>>]) {
    let begun = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|c| {
            let mine: Vec<_> = bodies.iter().skip(c).step_by(n).cloned().collect();
            let (client, url) = (reqwest::Client::new(), url.to_owned());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(mine.len());
                for body in &mine {
                    latencies.push(post(&client, &url, body).await.0);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(bodies.len());
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let label = if n == 1 {
        "1 client".into()
    } else {
        format!("{n} clients")
    };
    report(&label, &mut latencies, bodies.len(), begun.elapsed());
}

/// One plan request: its latency and the answer.
async fn post(client: &reqwest::Client, url: &str, body: &Arc<Vec<u8>>) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.as_ref().clone())
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    let text = response.bytes().await.unwrap();
    assert!(status.is_success(), "plan failed: {status}: {text:?}");
    (started.elapsed(), text.to_vec())
}

fn report(label: &str, latencies: &mut [Duration], requests: usize, elapsed: Duration) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "    {label}: p50 {:.2} ms, p99 {:.2} ms, {:.0} requests/s ({requests} plans)",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        requests as f64 / elapsed.as_secs_f64()
    );
}

/// The planner evaluation sets' requests, each prompt in five wordings a person might use,
/// interleaved so that every client meets every service; and how many distinct texts the
/// model sees among them (names are replaced by types before embedding, so "stop web-1" and
/// "stop web-2" are one text, as they are for a real server).
fn distinct_requests() -> (Vec<Arc<Vec<u8>>>, usize) {
    const WORDINGS: [&str; 5] = ["{}", "please {}", "{} now", "can you {}", "{} for me"];
    let eval = Path::new(env!("CARGO_MANIFEST_DIR")).join("../host/planner/eval");
    let mut requests = Vec::new();
    let mut texts = std::collections::HashSet::new();
    for set in ["dev.jsonl", "holdout.jsonl"] {
        let (fixtures, cases) =
            cloudops_planner::eval::load(&eval.join("resources.json"), &eval.join(set)).unwrap();
        for case in cases {
            let resources: Vec<_> = case
                .resources
                .iter()
                .filter_map(|id| fixtures.iter().find(|r| &r.identifier == id))
                .cloned()
                .collect();
            for wording in WORDINGS {
                let prompt = wording.replace("{}", &case.prompt);
                texts.insert(cloudops_planner::prompt_key(
                    &cloudops_planner::retrieval_text(&prompt, &resources),
                ));
                let body = json!({
                    "prompt": prompt,
                    "identified_resources": resources,
                    "user_values": case.user_values,
                });
                requests.push((requests.len() % WORDINGS.len(), requests.len(), body));
            }
        }
    }
    // Wording-major order: all first wordings, then all second ones, ...
    requests.sort_by_key(|(wording, n, _)| (*wording, *n));
    let bodies = requests
        .into_iter()
        .map(|(_, _, body)| Arc::new(serde_json::to_vec(&body).unwrap()))
        .collect();
    (bodies, texts.len())
}

fn seed_request() -> Value {
    let cases =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../playbooks/tests/rds.stop-instance.json");
    let cases: Value = serde_json::from_slice(&std::fs::read(cases).unwrap()).unwrap();
    json!({"prompt": cases[0]["prompt"], "identified_resources": cases[0]["resources"]})
}

fn load_figures(library: &Path) {
    let embedder = Arc::new(Embedder::from_env().expect("the model: source scripts/env.sh"));
    model_floor(&embedder);
    let real = cloudops_playbook::library::read_dir(library).expect("the real library reads");
    let count = Library::from_files(real.clone())
        .expect("the real library is sound")
        .len();
    time_load(
        &format!("real library ({count} playbooks)"),
        real.clone(),
        &embedder,
    );
    let mut generated = Vec::new();
    let mut playbooks = 0;
    'all: for n in 0.. {
        for (path, bytes) in &real {
            let is_playbook = path.ends_with(".yaml") || path.ends_with(".yml");
            let bytes = match std::str::from_utf8(bytes) {
                Ok(text) if is_playbook => variant(text, n).into_bytes(),
                _ => bytes.clone(),
            };
            generated.push((format!("gen{n}/{path}"), bytes));
            playbooks += usize::from(is_playbook);
        }
        if playbooks >= GENERATED {
            break 'all;
        }
    }
    time_load(
        &format!("{playbooks} generated playbooks"),
        generated,
        &embedder,
    );
}

/// What the model alone costs for prompts: the floor under a plan whose prompt is new.
fn model_floor(embedder: &Embedder) {
    let prompts: Vec<String> = (0..20)
        .map(|n| format!("please stop the rds instance number {n} tonight"))
        .collect();
    embedder.embed(&prompts).unwrap(); // warm-up
    let rounds = 10;
    let started = Instant::now();
    for prompt in prompts.iter().take(rounds) {
        embedder.embed_query(prompt).unwrap();
    }
    let one = started.elapsed() / rounds as u32;
    let started = Instant::now();
    for _ in 0..rounds {
        embedder.embed(&prompts).unwrap();
    }
    let twenty = started.elapsed() / rounds as u32;
    println!(
        "  model floor: one new prompt {:.1} ms; 20 new prompts in one batch {:.1} ms \
         (what 20 clients with new prompts wait at least)",
        one.as_secs_f64() * 1e3,
        twenty.as_secs_f64() * 1e3
    );
}

fn time_load(label: &str, files: Vec<(String, Vec<u8>)>, embedder: &Arc<Embedder>) {
    let index = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let library = Library::from_files(files).unwrap_or_else(|e| panic!("{label}: {e:?}"));
    let checked = started.elapsed();
    let location = Location::Embedded(index.path().into());
    Planner::build(library, "bench".into(), embedder.clone(), &location, None)
        .expect("the planner builds");
    let total = started.elapsed();
    println!(
        "  load {label}: {:.2} s (parse + check {:.0} ms, embed + index {:.2} s)",
        total.as_secs_f64(),
        checked.as_secs_f64() * 1e3,
        (total - checked).as_secs_f64()
    );
}

/// `text` with its id, inverse, title and utterances made unique to variant `n`.
fn variant(text: &str, n: usize) -> String {
    let mut out = String::new();
    let mut in_utterances = false;
    for line in text.lines() {
        let line = if let Some(id) = line.strip_prefix("id: ") {
            format!("id: {id}-g{n}")
        } else if let Some(id) = line.strip_prefix("inverse: ") {
            format!("inverse: {id}-g{n}")
        } else if let Some(title) = line.strip_prefix("title: ") {
            format!("title: {title} (fleet {n})")
        } else if in_utterances && line.starts_with("  - ") {
            format!("{line} in fleet {n}")
        } else {
            line.to_owned()
        };
        if !line.starts_with("  ") {
            in_utterances = line.starts_with("utterances:");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}
