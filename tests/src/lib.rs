//! Shared set-up for cloudops's end-to-end tests and benchmarks: build the plugins once,
//! start the AWS emulator, make clients, run a scan.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cloudops_host::aws::AwsClient;
use cloudops_host::demo::{self, Emulator};
use cloudops_host::plugin::{build, Limits, Plugin, PluginEngine, PluginError, ScanReport};
use cloudops_host::resource::Resource;

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
    let result = build::build_plugin(&source, &plugin_out_dir())
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

/// Builds (once) and loads the scanner crate `plugins/<name>` with `limits`.
pub fn load_plugin(name: &str, limits: Limits) -> Result<Plugin, PluginError> {
    Plugin::load(&engine(), &built_plugin(name), limits)
}

/// Starts the emulator or fails the test with the reason.
pub async fn start_emulator() -> Emulator {
    Emulator::start().await.unwrap_or_else(|e| panic!("{e}"))
}

/// A client signing with the given keys and sending everything to the emulator.
pub fn client(emulator: &Emulator, access_key: &str, secret: &str) -> AwsClient {
    emulator.client(access_key, secret)
}

/// A client with the demo keys (accepted while the emulator's authentication is off).
pub fn demo_client(emulator: &Emulator) -> AwsClient {
    emulator.demo_client()
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
    let mut scans = cloudops_host::scan::scan_regions(
        plugin,
        client,
        demo::DEMO_ACCOUNT,
        &[region.to_owned()],
        &settings,
        1,
    )
    .await;
    let scan = scans.pop().expect("one region scanned");
    (scan.resources, scan.result)
}
