//! Shared set-up for cloudops's end-to-end tests and benchmarks: build the plugins once,
//! start the AWS emulator, make clients, seed it, run a scan, and read what was found.

pub mod faults;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cloudops_demo::{self as demo, Emulator};
use cloudops_host::aws::xml::first_text;
use cloudops_host::aws::AwsClient;
use cloudops_host::plugin::{
    build, Limits, Plugin, PluginEngine, PluginError, PluginFiles, ScanReport, TrustStore,
};
use cloudops_host::resource::Resource;
use cloudops_host::store::server::ServerStore;
use cloudops_host::store::{EstateStore, StoreError};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// Where test builds of plugins go (inside the cargo target directory).
fn plugin_out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("test-plugins")
}

/// Builds the scanner crate `plugins/<name>` (once per test process; `name` may be a path
/// such as `dev/hostile`) and returns the built plugin folder.
pub fn built_plugin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = built.get(name) {
        return dir.clone();
    }
    let source = repo_root().join("plugins").join(name);
    // No data dir is involved; a fresh folder stands in for the one the build must not see.
    let no_data_dir = plugin_out_dir().join("no-data-dir");
    let result = build::build_plugin(&source, &plugin_out_dir(), &no_data_dir)
        .unwrap_or_else(|e| panic!("building plugin `{name}` failed: {e}"));
    built.insert(name.to_owned(), result.dir.clone());
    result.dir
}

/// One engine per test process, as in the product.
pub fn engine() -> PluginEngine {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    ENGINE
        .get_or_init(|| PluginEngine::new(None).expect("engine"))
        .clone()
}

/// Builds (once) and loads the scanner crate `plugins/<name>` with `limits`, trusting it
/// explicitly first as `cloudops plugin build` does for what it builds.
pub fn load_plugin(name: &str, limits: Limits) -> Result<Plugin, PluginError> {
    load_trusted(&built_plugin(name), limits)
}

/// Reads the built plugin in `dir`, trusts it as it is (for this process only) and loads it.
pub fn load_trusted(dir: &Path, limits: Limits) -> Result<Plugin, PluginError> {
    let trusted = TrustStore::in_memory().trust(PluginFiles::read(dir)?)?;
    Plugin::load(&engine(), trusted, limits)
}

/// Starts the project's emulator (moto plus the IAM SimulatePrincipalPolicy extension in
/// tests/emulator/) or fails the test with the reason.
pub async fn start_emulator() -> Emulator {
    Emulator::start_program(&repo_root().join("tests/emulator/moto_server"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The Qdrant server tests run against (`QDRANT_URL`; scripts/test starts one), or `None` after
/// printing the `SKIPPED: <test>: ...` line that scripts/test counts as a skipped test.
pub fn qdrant_url_or_skip(test: &str) -> Option<String> {
    let url = qdrant_url();
    if url.is_none() {
        // Written to stdout directly: libtest swallows a passing test's `println!`.
        let _ = writeln!(
            std::io::stdout().lock(),
            "SKIPPED: {test}: QDRANT_URL is not set"
        );
    }
    url
}

/// `QDRANT_URL`, if set.
pub fn qdrant_url() -> Option<String> {
    std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty())
}

/// Collections of one test or bench on a shared Qdrant server: named `<prefix>aws_estate`, ...,
/// so tests can run in parallel on one server without touching each other or a real estate;
/// deleted when created (an earlier run may have been killed) and when dropped (also after a
/// failed test).
pub struct ServerCollections {
    url: String,
    api_key: Option<String>,
    prefix: String,
}

impl ServerCollections {
    /// `prefix` must be unique among the tests that share the server.
    pub fn new(url: &str, prefix: &str) -> Self {
        let collections = Self {
            url: url.to_owned(),
            api_key: std::env::var("QDRANT_API_KEY")
                .ok()
                .filter(|k| !k.is_empty()),
            prefix: prefix.to_owned(),
        };
        collections
            .delete()
            .unwrap_or_else(|e| panic!("deleting the collections of {prefix}: {e}"));
        collections
    }

    /// A connection to the collections, created if missing.
    pub fn open(&self) -> Box<dyn EstateStore> {
        Box::new(self.connect().unwrap_or_else(|e| panic!("{e}")))
    }

    fn connect(&self) -> Result<ServerStore, StoreError> {
        ServerStore::connect_with_prefix(&self.url, self.api_key.as_deref(), &self.prefix)
    }

    fn delete(&self) -> Result<(), StoreError> {
        self.connect()?.delete_collections()
    }
}

impl Drop for ServerCollections {
    fn drop(&mut self) {
        // Only reported: panicking while a failed test unwinds would abort the whole run.
        if let Err(e) = self.delete() {
            eprintln!("could not delete the collections of {}: {e}", self.prefix);
        }
    }
}

/// What a bare boto3 listing of an estate took (`tests/emulator/list_estate.py`).
pub struct Boto3Listing {
    /// Wall time of the listing itself (without Python's start-up).
    pub seconds: f64,
    /// Requests sent.
    pub requests: u64,
    /// Resources seen, keyed `account/region/type` as `EstateFile::expected_counts` is.
    pub counts: std::collections::BTreeMap<String, usize>,
}

/// Lists every resource of `estate` in the emulator with bare boto3, ten workers at a time,
/// as the host schedules plugins: the emulator's own floor for a sync.
pub async fn boto3_listing(emulator: &Emulator, estate: &demo::EstateFile) -> Boto3Listing {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), estate.to_json()).expect("writing the estate file");
    let output = tokio::process::Command::new(repo_root().join(".venv/bin/python"))
        .arg(repo_root().join("tests/emulator/list_estate.py"))
        .args(["--url", emulator.url(), "--estate"])
        .arg(file.path())
        .output()
        .await
        .expect("running tests/emulator/list_estate.py (run scripts/setup first)");
    assert!(
        output.status.success(),
        "list_estate.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("list_estate.py prints JSON");
    Boto3Listing {
        seconds: listed["seconds"].as_f64().expect("seconds"),
        requests: listed["requests"].as_u64().expect("requests"),
        counts: serde_json::from_value(listed["counts"].clone()).expect("counts"),
    }
}

/// Runs one scan of `region` through the product's scan path; returns what was emitted
/// and the outcome.
pub async fn scan(
    plugin: &Plugin,
    client: &AwsClient,
    region: &str,
    settings: &[(&str, &str)],
) -> (Vec<Resource>, Result<ScanReport, PluginError>) {
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let scan =
        cloudops_host::scan::scan_region(plugin, client, demo::DEMO_ACCOUNT, region, &settings)
            .await;
    (scan.resources, scan.result)
}

/// The API version the tests call each query-protocol service with.
fn api_version(service: &str) -> &'static str {
    match service {
        "ec2" => "2016-11-15",
        "rds" => "2014-10-31",
        "elasticloadbalancing" => "2015-12-01",
        "iam" => "2010-05-08",
        other => panic!("no API version known for service `{other}`"),
    }
}

/// Sends one query-protocol call (to seed the emulator) and returns the body; fails the
/// test, naming the call, on any error.
pub async fn query(
    client: &AwsClient,
    region: &str,
    service: &str,
    action: &str,
    params: &[(&str, &str)],
) -> Vec<u8> {
    client
        .query(region, service, action, api_version(service), params)
        .await
        .unwrap_or_else(|e| panic!("{service}:{action}: {e}"))
}

/// The text of the first `<tag>` in a response body (an id a create call returned); fails
/// the test when there is none.
pub fn element_text(body: &[u8], tag: &str) -> String {
    first_text(body, tag).unwrap_or_else(|| panic!("no <{tag}> in the response"))
}

/// The ARN the scanners give an EC2 resource of the demo account: `kind` as in the ARN
/// (`vpc`, `subnet`, `security-group`, `instance`, `volume`).
pub fn ec2_arn(region: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{region}:{}:{kind}/{id}", demo::DEMO_ACCOUNT)
}

/// The ARN the rds scanner gives an RDS resource of the demo account: `kind` is `db`,
/// `cluster`, `snapshot` or `cluster-snapshot`.
pub fn rds_arn(region: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:rds:{region}:{}:{kind}:{id}", demo::DEMO_ACCOUNT)
}

/// A VPC with two subnets (zones `a` and `b`) and a security group, as seeded by
/// [`seed_network`].
pub struct Network {
    /// The VPC's id.
    pub vpc: String,
    /// The subnets' ids, in zones `a` and `b`.
    pub subnets: [String; 2],
    /// The security group's id.
    pub sg: String,
}

/// Creates a VPC `{prefix}.0.0/16` in `region` with subnets `{prefix}.1.0/24` and
/// `{prefix}.2.0/24` in zones `a` and `b`, and the security group `group` described as
/// `description`.
pub async fn seed_network(
    client: &AwsClient,
    region: &str,
    prefix: &str,
    (group, description): (&str, &str),
) -> Network {
    let cidr = format!("{prefix}.0.0/16");
    let body = query(client, region, "ec2", "CreateVpc", &[("CidrBlock", &cidr)]).await;
    let vpc = element_text(&body, "vpcId");
    let mut subnets = Vec::new();
    for (i, zone) in [(1, "a"), (2, "b")] {
        let (cidr, az) = (format!("{prefix}.{i}.0/24"), format!("{region}{zone}"));
        let params = [
            ("VpcId", vpc.as_str()),
            ("CidrBlock", &cidr),
            ("AvailabilityZone", &az),
        ];
        let body = query(client, region, "ec2", "CreateSubnet", &params).await;
        subnets.push(element_text(&body, "subnetId"));
    }
    let params = [
        ("GroupName", group),
        ("GroupDescription", description),
        ("VpcId", &vpc),
    ];
    let body = query(client, region, "ec2", "CreateSecurityGroup", &params).await;
    let [a, b] = <[String; 2]>::try_from(subnets).expect("two subnets");
    Network {
        vpc,
        subnets: [a, b],
        sg: element_text(&body, "groupId"),
    }
}

/// The resources of type `t`, sorted by name and then identifier, so a test can index
/// them.
pub fn of_type<'a>(resources: &'a [Resource], t: &str) -> Vec<&'a Resource> {
    let mut found: Vec<&Resource> = resources.iter().filter(|r| r.resource_type == t).collect();
    found.sort_by(|a, b| (&a.name, &a.identifier).cmp(&(&b.name, &b.identifier)));
    found
}

/// The identifiers of `resources`, in order.
pub fn ids(resources: &[&Resource]) -> Vec<String> {
    resources.iter().map(|r| r.identifier.clone()).collect()
}

/// A resource's relations as (kind, target ARN) pairs, in order.
pub fn relations(r: &Resource) -> Vec<(String, String)> {
    r.relations
        .iter()
        .map(|x| (x.kind.clone(), x.target_arn.clone()))
        .collect()
}

/// Whether the resource has a relation of `kind` to `target`.
pub fn has_relation(r: &Resource, kind: &str, target: &str) -> bool {
    r.relations
        .iter()
        .any(|x| x.kind == kind && x.target_arn == target)
}

/// A resource's tags as (key, value) pairs, in the scanner's order.
pub fn tags(r: &Resource) -> Vec<(String, String)> {
    r.tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// Borrowed pairs as owned ones, to compare with [`relations`] and [`tags`].
pub fn pairs<V: ToString>(list: &[(&str, V)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_string()))
        .collect()
}

/// The embedding model, loaded once per test binary.
pub fn embedder() -> std::sync::Arc<cloudops_host::embed::Embedder> {
    static MODEL: OnceLock<std::sync::Arc<cloudops_host::embed::Embedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            std::sync::Arc::new(cloudops_host::embed::Embedder::from_env().unwrap_or_else(|e| {
                panic!("the embedding model is needed: run scripts/setup and source scripts/env.sh ({e})")
            }))
        })
        .clone()
}

/// Sends one S3 REST call (`method path?sub`) through the host's client and fails the test
/// on a non-2xx.
pub async fn s3_call(
    client: &AwsClient,
    region: &str,
    method: &str,
    path: &str,
    sub: Option<&str>,
    body: &str,
) {
    let request = cloudops_host::aws::AwsRequest {
        service: "s3".into(),
        method: method.into(),
        path: path.into(),
        query: sub
            .map(|s| (s.to_owned(), String::new()))
            .into_iter()
            .collect(),
        headers: vec![("content-type".into(), "application/xml".into())],
        body: body.as_bytes().to_vec(),
    };
    let response = client.send(&request, region, 1 << 20).await.unwrap();
    assert!(
        response.is_success(),
        "{method} {path}?{sub:?} in {region}: HTTP {}: {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
}
