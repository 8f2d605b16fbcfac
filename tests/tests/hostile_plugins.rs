//! A deliberately hostile plugin: every attack is refused or stopped with a clear error,
//! the host lives on, and a normal scan works right after.

use std::time::Duration;

use cloudops_host::demo::{create_iam_user, seed_ec2, Ec2Estate, Emulator};
use cloudops_host::plugin::{
    CodeCache, Limits, Manifest, Plugin, PluginEngine, PluginError, PluginFiles, TrustStore,
};
use cloudops_tests::{built_plugin, load_plugin, load_trusted, scan, start_emulator};

const REGION: &str = "us-west-2";
/// The test-only scanner crate, kept out of `plugins/` so `cloudops plugin build plugins/`
/// never installs it.
const HOSTILE: &str = "dev/hostile";

fn test_limits() -> Limits {
    Limits {
        memory_bytes: 64 << 20,
        scan_fuel: 2_000_000_000,
        scan_timeout: Duration::from_secs(60),
        max_requests_per_scan: 20,
        ..Limits::default()
    }
}

async fn setup() -> (Emulator, Plugin, cloudops_host::aws::AwsClient) {
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    seed_ec2(&client, REGION, &Ec2Estate::demo()).await.unwrap();
    (
        emulator,
        load_plugin(HOSTILE, test_limits()).unwrap(),
        client,
    )
}

/// Runs `attack`, returns its error text, and checks the same plugin then scans normally.
async fn attack(
    plugin: &Plugin,
    client: &cloudops_host::aws::AwsClient,
    attack: &str,
) -> PluginError {
    let (_, result) = scan(plugin, client, REGION, &[("attack", attack)]).await;
    let err = result.expect_err("the attack must fail");
    let (resources, after) = scan(plugin, client, REGION, &[("attack", "none")]).await;
    after.unwrap_or_else(|e| panic!("a normal scan after `{attack}` failed: {e}"));
    assert_eq!(
        resources.len(),
        4,
        "the normal scan after `{attack}` sees the estate"
    );
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_runs_out_of_fuel() {
    let (_emulator, plugin, client) = setup().await;
    let err = attack(&plugin, &client, "loop").await;
    assert!(
        matches!(err, PluginError::Trapped { call: "scan", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("CPU budget"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_hits_the_time_limit_when_fuel_is_plentiful() {
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    seed_ec2(&client, REGION, &Ec2Estate::demo()).await.unwrap();
    let limits = Limits {
        scan_fuel: u64::MAX / 2,
        scan_timeout: Duration::from_secs(1),
        ..test_limits()
    };
    let plugin = load_plugin(HOSTILE, limits).unwrap();
    let err = attack(&plugin, &client, "loop").await;
    assert!(err.to_string().contains("time limit"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4_gib_allocation_hits_the_memory_cap() {
    let (_emulator, plugin, client) = setup().await;
    let err = attack(&plugin, &client, "alloc").await;
    assert!(err.to_string().contains("past the 64 MiB limit"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_action_is_refused() {
    let (_emulator, plugin, client) = setup().await;
    let err = attack(&plugin, &client, "write").await;
    assert!(matches!(err, PluginError::ScanFailed { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("may not call `ec2:TerminateInstances`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_service_is_refused() {
    let (_emulator, plugin, client) = setup().await;
    let err = attack(&plugin, &client, "undeclared").await;
    assert!(
        err.to_string().contains("may not call service `iam`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_contained() {
    let (_emulator, plugin, client) = setup().await;
    let err = attack(&plugin, &client, "panic").await;
    assert!(matches!(err, PluginError::Trapped { .. }), "{err}");
    assert!(err.to_string().contains("crashed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_flood_is_capped() {
    let (_emulator, plugin, client) = setup().await;
    let err = attack(&plugin, &client, "flood").await;
    assert!(
        err.to_string().contains("limit of 20 requests per scan"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_authorization_headers_are_dropped_and_the_host_signs() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    seed_ec2(&admin, REGION, &Ec2Estate::demo()).await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;
    let (key, secret) = create_iam_user(&admin, "scanner", policy).await.unwrap();
    // With authentication on, a forged signature reaching the emulator would be a 403.
    emulator.enable_auth().await.unwrap();
    let plugin = load_plugin(HOSTILE, test_limits()).unwrap();
    let (_, result) = scan(
        &plugin,
        &emulator.client(&key, &secret),
        REGION,
        &[("attack", "forge")],
    )
    .await;
    let report = result.unwrap();
    assert!(
        report.warnings.iter().any(|w| w == "status=200"),
        "{:?}",
        report.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_resources_are_skipped_with_a_warning() {
    let (_emulator, plugin, client) = setup().await;
    let (resources, result) = scan(&plugin, &client, REGION, &[("attack", "badjson")]).await;
    let report = result.unwrap();
    assert!(resources.is_empty());
    assert_eq!(report.resources, 0);
    assert!(
        report.warnings.iter().any(|w| w.contains("not valid JSON")),
        "{:?}",
        report.warnings
    );
}

/// A private copy of a built plugin folder, to damage.
fn copy_of_built(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(built_plugin(name)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn a_tampered_component_is_refused() {
    let dir = copy_of_built(HOSTILE);
    let wasm = dir.path().join("hostile.wasm");
    let mut bytes = std::fs::read(&wasm).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&wasm, bytes).unwrap();
    let err = load_trusted(dir.path(), test_limits()).unwrap_err();
    assert!(matches!(err, PluginError::Tampered { .. }), "{err}");
    assert!(
        err.to_string().contains("modified after it was built"),
        "{err}"
    );
}

#[test]
fn a_plugin_for_an_unknown_newer_wit_is_refused() {
    let dir = copy_of_built(HOSTILE);
    let path = dir.path().join("plugin.toml");
    let mut manifest = Manifest::load(&path).unwrap();
    manifest.wit = "0.9.0".parse().unwrap();
    std::fs::write(&path, manifest.to_toml()).unwrap();
    let err = load_trusted(dir.path(), test_limits()).unwrap_err();
    assert!(matches!(err, PluginError::UnsupportedWit { .. }), "{err}");
    assert!(err.to_string().contains("cloudops:scanner@0.9.0"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_over_the_size_cap_never_reaches_the_plugin() {
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    seed_ec2(&client, REGION, &Ec2Estate::demo()).await.unwrap();
    // Four instances describe to several KiB of XML; 1 KiB is too little.
    let limits = Limits {
        max_response_bytes: 1024,
        ..test_limits()
    };
    let plugin = load_plugin(HOSTILE, limits).unwrap();
    let (resources, result) = scan(&plugin, &client, REGION, &[("attack", "none")]).await;
    let err = result.expect_err("an oversized response must fail the scan");
    assert!(resources.is_empty());
    assert!(
        err.to_string().contains("larger than the 1024-byte limit"),
        "{err}"
    );
}

/// Renames the plugin in its manifest only: its `describe()` still says `hostile`, so if
/// its code ran, loading would fail with "it calls itself `hostile`".
fn impostor() -> tempfile::TempDir {
    let dir = copy_of_built(HOSTILE);
    let path = dir.path().join("plugin.toml");
    let mut manifest = Manifest::load(&path).unwrap();
    manifest.name = "impostor".into();
    std::fs::write(&path, manifest.to_toml()).unwrap();
    dir
}

#[test]
fn an_untrusted_plugin_is_refused_before_any_of_its_code_runs() {
    let dir = impostor();
    let data = tempfile::tempdir().unwrap();
    let trust_file = data.path().join("trusted-plugins.toml");
    let engine = PluginEngine::new(None).unwrap();

    let err = TrustStore::open(&trust_file)
        .unwrap()
        .load(&engine, dir.path(), test_limits())
        .unwrap_err();
    assert!(matches!(err, PluginError::NotTrusted { .. }), "{err}");
    assert!(
        err.to_string().contains("cloudops plugin trust impostor"),
        "{err}"
    );
    assert_eq!(engine.cache_stats().compiled, 0, "nothing was compiled");
    assert!(!trust_file.exists(), "refusing records nothing");

    // Trusted, the same files are compiled and describe() runs: now the mismatch shows.
    TrustStore::open(&trust_file)
        .unwrap()
        .trust(PluginFiles::read(dir.path()).unwrap())
        .unwrap();
    let err = TrustStore::open(&trust_file)
        .unwrap()
        .load(&engine, dir.path(), test_limits())
        .unwrap_err();
    assert!(err.to_string().contains("calls itself `hostile`"), "{err}");
    assert_eq!(engine.cache_stats().compiled, 1);
}

#[test]
fn a_widened_manifest_is_refused_until_trusted_again() {
    let dir = copy_of_built(HOSTILE);
    let data = tempfile::tempdir().unwrap();
    let trust_file = data.path().join("trusted-plugins.toml");
    let engine = PluginEngine::new(None).unwrap();
    TrustStore::open(&trust_file)
        .unwrap()
        .trust(PluginFiles::read(dir.path()).unwrap())
        .unwrap();
    TrustStore::open(&trust_file)
        .unwrap()
        .load(&engine, dir.path(), test_limits())
        .unwrap();

    let path = dir.path().join("plugin.toml");
    let mut manifest = Manifest::load(&path).unwrap();
    manifest.capabilities.actions = Some(vec![
        "ec2:Describe*".into(),
        "ec2:TerminateInstances".into(),
    ]);
    std::fs::write(&path, manifest.to_toml()).unwrap();
    let compiled = engine.cache_stats().compiled;
    let err = TrustStore::open(&trust_file)
        .unwrap()
        .load(&engine, dir.path(), test_limits())
        .unwrap_err();
    assert!(
        matches!(
            err,
            PluginError::Untrusted {
                what: "plugin.toml",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("cloudops plugin trust hostile"),
        "{err}"
    );
    assert_eq!(engine.cache_stats().compiled, compiled);
}

#[test]
fn a_tampered_compiled_cache_entry_is_recompiled_never_deserialized() {
    let dir = copy_of_built(HOSTILE);
    let data = tempfile::tempdir().unwrap();
    let engine = PluginEngine::new(Some(CodeCache::in_data_dir(data.path()))).unwrap();
    let load = || {
        let trusted = TrustStore::in_memory()
            .trust(PluginFiles::read(dir.path()).unwrap())
            .unwrap();
        Plugin::load(&engine, trusted, test_limits()).unwrap()
    };
    load();
    load();
    let stats = engine.cache_stats();
    assert_eq!((stats.compiled, stats.hits, stats.rejected), (1, 1, 0));

    // Flip one byte of the compiled code, as a build script with write access to the
    // cache (but not to the key) could.
    let cache = CodeCache::in_data_dir(data.path()).dir;
    let entry = std::fs::read_dir(&cache)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&entry, bytes).unwrap();

    load().info();
    let stats = engine.cache_stats();
    assert_eq!((stats.compiled, stats.hits, stats.rejected), (2, 1, 1));
    load();
    assert_eq!(engine.cache_stats().hits, 2, "the fresh entry verifies");
}

#[test]
fn loading_all_plugins_skips_and_reports_the_untrusted_one_only() {
    let roots = tempfile::tempdir().unwrap();
    let trusted = roots.path().join("hostile");
    let untrusted = roots.path().join("impostor");
    for (dir, source) in [(&trusted, copy_of_built(HOSTILE)), (&untrusted, impostor())] {
        std::fs::create_dir_all(dir).unwrap();
        for entry in std::fs::read_dir(source.path()).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let mut trust = TrustStore::in_memory();
    trust.trust(PluginFiles::read(&trusted).unwrap()).unwrap();
    let engine = PluginEngine::new(None).unwrap();

    let (plugins, errors) = cloudops_host::plugin::load_all(
        &engine,
        &[roots.path().to_owned()],
        &test_limits(),
        &trust,
    );
    let names: Vec<&str> = plugins.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["hostile"]);
    assert_eq!(errors.len(), 1);
    assert!(
        matches!(&errors[0], PluginError::NotTrusted { plugin, .. } if plugin == "impostor"),
        "{}",
        errors[0]
    );
    assert_eq!(
        engine.cache_stats().compiled,
        1,
        "only the trusted one compiled"
    );
}
