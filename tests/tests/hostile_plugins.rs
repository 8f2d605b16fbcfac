//! A deliberately hostile plugin: every attack is refused or stopped with a clear error,
//! the host lives on, and a normal scan works right after.

use std::time::Duration;

use cloudops_demo::{create_iam_user, seed_ec2, Ec2Estate, Emulator};
use cloudops_host::aws::{AwsClient, AwsRequest, AwsResponse};
use cloudops_host::plugin::{
    CodeCache, Limits, Manifest, Plugin, PluginEngine, PluginError, PluginFiles, TrustStore,
};
use cloudops_tests::{
    built_plugin, engine, load_plugin, load_trusted, pairs, query, scan, start_emulator,
};

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
            .contains("`ec2:TerminateInstances` is not granted: it is not a read"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_service_is_refused() {
    let (_emulator, plugin, client) = setup().await;
    let err = attack(&plugin, &client, "undeclared").await;
    assert!(
        err.to_string()
            .contains("service `\"rds\"` is not in capabilities.services"),
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
async fn forged_authorization_headers_are_refused_before_anything_is_sent() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    seed_ec2(&admin, REGION, &Ec2Estate::demo()).await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;
    let (key, secret) = create_iam_user(&admin, "scanner", policy).await.unwrap();
    emulator.enable_auth().await.unwrap();
    let plugin = load_plugin(HOSTILE, test_limits()).unwrap();
    let client = emulator.client(&key, &secret);
    let (_, result) = scan(&plugin, &client, REGION, &[("attack", "forge")]).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("the host's to set"), "{err}");
    // The host's own signature still works for the same plugin.
    let (resources, result) = scan(&plugin, &client, REGION, &[("attack", "none")]).await;
    result.unwrap();
    assert_eq!(resources.len(), 4);
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

/// Sends `method path?query` with `body` as the emulator's admin (the test's own view of
/// the emulator, never through a plugin).
async fn admin_send(
    client: &AwsClient,
    service: &str,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &[u8],
) -> AwsResponse {
    let request = AwsRequest {
        service: service.into(),
        method: method.into(),
        path: path.into(),
        query: pairs(query),
        headers: Vec::new(),
        body: body.to_vec(),
    };
    client.send(&request, REGION, 1 << 20).await.unwrap()
}

/// A bucket holding `keep.txt`, and a secret: what the attacks below go after.
async fn seed_targets(client: &AwsClient) {
    let location = format!(
        "<CreateBucketConfiguration><LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"
    );
    let created = admin_send(client, "s3", "PUT", "/victim", &[], location.as_bytes()).await;
    assert!(created.is_success(), "{created:?}");
    let put = admin_send(client, "s3", "PUT", "/victim/keep.txt", &[], b"precious").await;
    assert!(put.is_success(), "{put:?}");
    let mut secret = AwsRequest {
        service: "secretsmanager".into(),
        method: "POST".into(),
        path: "/".into(),
        query: Vec::new(),
        headers: vec![
            ("x-amz-target".into(), "secretsmanager.CreateSecret".into()),
            ("content-type".into(), "application/x-amz-json-1.1".into()),
        ],
        body: br#"{"Name":"db-password","SecretString":"hunter2-SECRET"}"#.to_vec(),
    };
    let created = client.send(&secret, REGION, 1 << 20).await.unwrap();
    assert!(created.is_success(), "{created:?}");
    secret.body.clear();
}

/// Runs `attack` against the seeded targets; returns the refusal and every warning.
async fn refused(plugin: &Plugin, client: &AwsClient, attack: &str, bucket: &str) -> String {
    let (resources, result) = scan(
        plugin,
        client,
        REGION,
        &[("attack", attack), ("bucket", bucket)],
    )
    .await;
    assert!(resources.is_empty());
    let err = result
        .expect_err(&format!("`{attack}` got through"))
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!err.chars().any(char::is_control), "{err:?}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_class_is_refused_and_the_account_is_unchanged() {
    let (_emulator, plugin, client) = setup().await;
    seed_targets(&client).await;
    let cases = [
        ("sts", "victim", "no plugin may call `sts`"),
        ("secret", "victim", "sensitive"),
        ("s3-put-as-get", "victim", "PutObject"),
        ("s3-delete-as-get", "victim", "the host's to set"),
        ("s3-policy", "victim", "takes no query parameter"),
        ("s3-foreign", "attacker-bucket", "the host's to set"),
        (
            "s3-foreign-clean",
            "attacker-bucket",
            "not the scanned account's",
        ),
        ("gzip-write", "victim", "the host's to set"),
        ("binary-write", "victim", "malformed request"),
    ];
    for (attack, bucket, expected) in cases {
        let err = refused(&plugin, &client, attack, bucket).await;
        assert!(err.contains(expected), "`{attack}`: {err}");
    }
    // The emulator's own view: nothing was written, deleted or made public.
    let list = admin_send(&client, "s3", "GET", "/victim", &[("list-type", "2")], b"").await;
    let keys = String::from_utf8_lossy(&list.body).into_owned();
    assert!(
        keys.contains("keep.txt") && !keys.contains("loot.txt"),
        "{keys}"
    );
    let policy = admin_send(&client, "s3", "GET", "/victim", &[("policy", "")], b"").await;
    assert_eq!(
        policy.status,
        404,
        "{}",
        String::from_utf8_lossy(&policy.body)
    );
    let users = query(&client, REGION, "iam", "ListUsers", &[]).await;
    assert!(!String::from_utf8_lossy(&users).contains("evil"));
    let instances = query(&client, REGION, "ec2", "DescribeInstances", &[]).await;
    assert_eq!(
        String::from_utf8_lossy(&instances)
            .matches("<instanceId>")
            .count(),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_count_against_the_budget() {
    let (_emulator, plugin, client) = setup().await;
    let (_, result) = scan(&plugin, &client, REGION, &[("attack", "refusal-flood")]).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("limit of 20 requests per scan"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_text_reaches_the_host_without_control_characters() {
    let (_emulator, plugin, client) = setup().await;
    let (resources, result) = scan(&plugin, &client, REGION, &[("attack", "escape")]).await;
    let report = result.unwrap();
    let r = &resources[0];
    let text = format!("{} {:?} {:?}", r.name, r.tags, report.warnings);
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(
        r.name.starts_with("web ") && r.name.ends_with("ok"),
        "{}",
        r.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_resource_is_rejected_at_the_boundary() {
    let (_emulator, plugin, client) = setup().await;
    let (resources, result) = scan(&plugin, &client, REGION, &[("attack", "huge")]).await;
    let report = result.unwrap();
    assert!(resources.is_empty());
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("limit per resource")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn a_plugin_cannot_claim_another_plugins_resource_type() {
    // `hostile` declares ec2_instance, which the ec2 scanner owns: loading both refuses
    // whichever comes second, so neither can overwrite or delete the other's records.
    let roots = [built_plugin("ec2"), built_plugin(HOSTILE)];
    let mut trust = TrustStore::in_memory();
    for root in &roots {
        trust.trust(PluginFiles::read(root).unwrap()).unwrap();
    }
    let (loaded, errors) =
        cloudops_host::plugin::load_all(&engine(), &roots, &test_limits(), &trust);
    assert_eq!(loaded.len(), 1);
    assert!(
        errors
            .iter()
            .any(|e| e.to_string().contains("already owns")),
        "{errors:?}"
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
