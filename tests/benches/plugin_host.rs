//! Plugin host figures, printed (not asserted):
//! - component compile time (cold) and cached load time;
//! - warm instantiate + one small call (fresh store per call, as in production);
//! - one `aws.send` round trip without the network (capability check, SigV4, copies);
//! - a 500-instance EC2 scan through the plugin vs. the same requests sent natively,
//!   against the emulator, and the plugin's own cost on recorded responses.
//!
//! Run: `source scripts/env.sh && cargo bench -p cloudops-tests --bench plugin_host`

use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudops_demo::{self as demo, DEMO_ACCOUNT};
use cloudops_host::aws::{self, AwsClient, Credentials, Endpoints, Transport};
use cloudops_host::plugin::{CodeCache, Limits, Plugin, PluginEngine, PluginFiles, TrustStore};
use cloudops_host::resource::Resource;
use cloudops_tests::{built_plugin, start_emulator};

const REGION: &str = "us-west-2";
const INSTANCES: usize = 500;

/// Reads, trusts (for this run) and loads the plugin in `dir` on `engine`.
fn load_trusted(engine: &PluginEngine, dir: &std::path::Path, limits: Limits) -> Plugin {
    let files = PluginFiles::read(dir).unwrap();
    let trusted = TrustStore::in_memory().trust(files).unwrap();
    Plugin::load(engine, trusted, limits).unwrap()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let ec2_dir = built_plugin("ec2");
    let hostile_dir = built_plugin("dev/hostile");
    let wasm = std::fs::read(ec2_dir.join("ec2.wasm")).unwrap();
    println!("ec2 component: {} KiB", wasm.len() / 1024);

    // Compile: a fresh engine each time so nothing is cached.
    let compile = median(5, || {
        let engine = PluginEngine::new(None).unwrap();
        let t = Instant::now();
        engine.compile(&wasm, "bench").unwrap();
        t.elapsed()
    });
    println!("compile (Component::new, cold):          {}", ms(compile));
    let cache = tempfile::tempdir().unwrap();
    let engine = PluginEngine::new(Some(CodeCache::in_data_dir(cache.path()))).unwrap();
    engine.compile(&wasm, "bench").unwrap();
    let cached = median(20, || {
        let t = Instant::now();
        engine.compile(&wasm, "bench").unwrap();
        t.elapsed()
    });
    println!("load from compiled cache:                {}", ms(cached));
    let load = median(5, || {
        let t = Instant::now();
        load_trusted(&engine, &ec2_dir, Limits::default());
        t.elapsed()
    });
    println!(
        "Plugin::load (read, trust, compile, describe): {}",
        ms(load)
    );

    let plugin = load_trusted(&engine, &ec2_dir, Limits::default());
    let sample = sample_instance();
    let warm = median(2000, || {
        let t = Instant::now();
        plugin.analyze(&sample).unwrap();
        t.elapsed()
    });
    println!("warm instantiate + analyze():            {}", us(warm));

    // aws.send without the network: the hostile plugin's flood sends DescribeInstances
    // until the request budget is spent; the transport answers from memory.
    let sends = 2000u32;
    let canned = canned_client(Arc::new(Canned::new(vec![(
        "DescribeInstances",
        b"<DescribeInstancesResponse><reservationSet/></DescribeInstancesResponse>".to_vec(),
    )])));
    let limits = Limits {
        max_requests_per_scan: sends,
        ..Limits::default()
    };
    let hostile = load_trusted(&engine, &hostile_dir, limits);
    let per_send = median(5, || {
        let handle = tokio::runtime::Handle::current();
        let (hostile, canned) = (hostile.clone(), canned.clone());
        let t = Instant::now();
        std::thread::spawn(move || {
            let mut target = cloudops_host::plugin::ScanTarget::new(DEMO_ACCOUNT, REGION);
            target.settings = vec![("attack".into(), "flood".into())];
            let _ = hostile.scan(&target, &canned, &handle, Box::new(|_| {}));
        })
        .join()
        .unwrap();
        t.elapsed() / sends
    });
    println!("aws.send round trip, no network:         {}", us(per_send));

    // 500 instances in the emulator.
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    for _ in 0..INSTANCES / 100 {
        client
            .query(
                REGION,
                "ec2",
                "RunInstances",
                "2016-11-15",
                &[
                    ("ImageId", "ami-12345678"),
                    ("InstanceType", "t3.micro"),
                    ("MinCount", "100"),
                    ("MaxCount", "100"),
                    ("TagSpecification.1.ResourceType", "instance"),
                    ("TagSpecification.1.Tag.1.Key", "env"),
                    ("TagSpecification.1.Tag.1.Value", "bench"),
                ],
            )
            .await
            .unwrap();
    }
    let mut plugin_times = Vec::new();
    let mut report = None;
    for _ in 0..5 {
        let t = Instant::now();
        let scan =
            cloudops_host::scan::scan_region(&plugin, &client, DEMO_ACCOUNT, REGION, &[]).await;
        plugin_times.push(t.elapsed());
        assert_eq!(
            scan.resources
                .iter()
                .filter(|r| r.resource_type == "ec2_instance")
                .count(),
            INSTANCES
        );
        report = Some(scan.result.unwrap());
    }
    let report = report.unwrap();
    let mut native_times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let found = native_scan(&client).await;
        native_times.push(t.elapsed());
        assert_eq!(found.0, INSTANCES);
    }
    let (through_plugin, native) = (median_of(plugin_times), median_of(native_times));
    println!(
        "scan of {INSTANCES} instances (+{INSTANCES} root volumes), emulator:\n  through the plugin: {} ({} requests, {} fuel, {} MiB peak memory)\n  native host calls:  {}\n  ratio plugin/native: {:.2}",
        ms(through_plugin), report.requests, report.fuel_used, report.peak_memory_bytes >> 20, ms(native),
        through_plugin.as_secs_f64() / native.as_secs_f64()
    );

    // The plugin's own cost: the same responses replayed from memory.
    let bodies = record_responses(&client).await;
    let replay = canned_client(Arc::new(Canned::new(bodies)));
    let mut replay_times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let scan =
            cloudops_host::scan::scan_region(&plugin, &replay, DEMO_ACCOUNT, REGION, &[]).await;
        replay_times.push(t.elapsed());
        assert!(scan.result.is_ok());
    }
    let plugin_only = median_of(replay_times);
    println!(
        "  plugin on recorded responses (no emulator): {}",
        ms(plugin_only)
    );
}

/// The same three listings the plugin makes, sent and parsed by the host itself.
async fn native_scan(client: &AwsClient) -> (usize, usize, usize) {
    let mut counts = (0, 0, 0);
    for (action, params, id_tag) in [
        (
            "DescribeInstances",
            vec![("MaxResults", "1000")],
            "instanceId",
        ),
        ("DescribeVolumes", vec![("MaxResults", "500")], "volumeId"),
        (
            "DescribeSnapshots",
            vec![
                ("Owner.1", "self"),
                ("Filter.1.Name", "owner-id"),
                ("Filter.1.Value.1", DEMO_ACCOUNT),
                ("MaxResults", "1000"),
            ],
            "snapshotId",
        ),
    ] {
        let mut token: Option<String> = None;
        loop {
            let mut p = params.clone();
            if let Some(t) = &token {
                p.push(("NextToken", t));
            }
            let body = client
                .query(REGION, "ec2", action, "2016-11-15", &p)
                .await
                .unwrap();
            let ids = aws::xml::texts(&body, id_tag);
            let mut unique = ids.clone();
            unique.dedup();
            match action {
                "DescribeInstances" => counts.0 += unique.len(),
                "DescribeVolumes" => counts.1 += unique.len(),
                _ => counts.2 += unique.len(),
            }
            token = aws::xml::first_text(&body, "nextToken").filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
    }
    counts
}

async fn record_responses(client: &AwsClient) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for (action, params) in [
        ("DescribeInstances", vec![("MaxResults", "1000")]),
        ("DescribeVolumes", vec![("MaxResults", "500")]),
        ("DescribeSnapshots", vec![("Owner.1", "self")]),
    ] {
        out.push((
            action,
            client
                .query(REGION, "ec2", action, "2016-11-15", &params)
                .await
                .unwrap(),
        ));
    }
    out
}

/// Answers query-protocol requests from memory, by action.
struct Canned {
    bodies: Vec<(&'static str, Vec<u8>)>,
}

impl Canned {
    fn new(bodies: Vec<(&'static str, Vec<u8>)>) -> Self {
        Self { bodies }
    }
}

impl Transport for Canned {
    fn send(&self, request: http::Request<Vec<u8>>, _max: usize) -> aws::SendFuture<'_> {
        let body = String::from_utf8_lossy(request.body()).into_owned();
        let found = self
            .bodies
            .iter()
            .find(|(action, _)| body.starts_with(&format!("Action={action}&")))
            .map(|(_, b)| b.clone())
            .unwrap_or_else(|| {
                b"<Response><Errors><Error><Code>Unknown</Code></Error></Errors></Response>"
                    .to_vec()
            });
        Box::pin(async move { Ok(http::Response::builder().status(200).body(found).unwrap()) })
    }
}

fn canned_client(transport: Arc<Canned>) -> AwsClient {
    AwsClient::new(
        Credentials::from_keys(demo::DEMO_ACCESS_KEY, demo::DEMO_SECRET_KEY, None),
        Endpoints::default().with_global("http://127.0.0.1:9"),
        transport,
    )
}

fn sample_instance() -> Resource {
    Resource {
        resource_type: "ec2_instance".into(),
        identifier: "i-0123456789abcdef0".into(),
        arn: format!("arn:aws:ec2:{REGION}:{DEMO_ACCOUNT}:instance/i-0123456789abcdef0"),
        name: "web-1".into(),
        account_id: DEMO_ACCOUNT.into(),
        region: REGION.into(),
        state: Some("running".into()),
        tags: vec![],
        relations: vec![],
        metadata: Default::default(),
    }
}

fn median(n: usize, mut f: impl FnMut() -> Duration) -> Duration {
    median_of((0..n).map(|_| f()).collect())
}

fn median_of(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}
