//! A first run: no AWS configuration, an empty data dir with the scanner plugins installed.
//! The Sync view offers the demo estate; loading it shows seeding and per-scope progress
//! until the sync completes; the explorer then finds pg-instance-main1 with its permissions;
//! the idle app's memory with that ~6k-resource estate loaded is printed.

use std::path::Path;
use std::time::{Duration, Instant};

use cloudops_host::paths;
use cloudops_host::plugin::{PluginFiles, TrustStore};

use crate::window::{Launch, Window, ENTER};

/// The first-party scanners, installed and trusted as `cloudops plugin build plugins/` does.
pub fn install_plugins(data_dir: &Path) {
    let mut trust = TrustStore::open(&paths::trust_file(data_dir)).expect("the trust file");
    for name in ["ec2", "rds", "s3", "lambda", "vpc", "elb"] {
        let built = cloudops_tests::built_plugin(name);
        let dest = data_dir.join("plugins").join(name);
        std::fs::create_dir_all(&dest).expect("the plugin folder");
        for entry in std::fs::read_dir(&built).expect("the built plugin") {
            let entry = entry.expect("a plugin file");
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::copy(entry.path(), dest.join(entry.file_name())).expect("copying");
            }
        }
        trust
            .trust(PluginFiles::read(&dest).expect("the installed plugin"))
            .expect("trusting it");
    }
}

#[test]
fn first_run_loads_the_demo_estate_and_the_explorer_shows_permissions() {
    let test = "first_run_loads_the_demo_estate_and_the_explorer_shows_permissions";
    let home = tempfile::tempdir().expect("a home");
    let data = tempfile::tempdir().expect("a data dir");
    let Some(window) = Window::open(Launch {
        test,
        data_dir: data.path(),
        home: home.path(),
        env: Vec::new(),
    }) else {
        return;
    };
    install_plugins(data.path());

    // Nothing synced and no AWS configuration: the Sync view offers the demo estate.
    window.wait_text("#demo-offer", Duration::from_secs(30), |t| {
        t.contains("No AWS configuration found")
    });
    window.screenshot("sync-first-run");
    let started = Instant::now();
    window.click(&window.wait("#demo-button", Duration::from_secs(5)));
    // Progress: seeding, then scopes done out of the total, then the outcome.
    window.wait_text("#sync-progress-text", Duration::from_secs(120), |t| {
        t.contains("seeding the demo estate")
    });
    window.wait_text("#sync-progress-text", Duration::from_secs(600), |t| {
        t.contains("scopes,")
    });
    window.screenshot("sync-in-progress");
    let outcome = window.wait_text("#sync-outcome", Duration::from_secs(900), |t| {
        t.starts_with("Sync complete") || t.starts_with("Sync failed")
    });
    assert!(outcome.starts_with("Sync complete"), "{outcome}");
    println!(
        "demo estate seeded and synced in the app in {:.1} s: {outcome}",
        started.elapsed().as_secs_f64()
    );
    let rows = window.text(&window.wait("#sync-scopes tbody", Duration::from_secs(10)));
    assert!(rows.contains("production (111111111111)"), "{rows}");
    window.screenshot("sync-complete");

    // The explorer finds the database and shows what the principal may do to it.
    let tab = window.wait("#tab-explorer", Duration::from_secs(5));
    window.click(&tab);
    let query = window.wait("#explorer-query", Duration::from_secs(5));
    window.type_text(&query, "pg-instance-main1");
    window.wait(
        "#explorer-results .item[data-id='pg-instance-main1']",
        Duration::from_secs(30),
    );
    window.type_text(&query, ENTER);
    window.wait_text("#detail-id", Duration::from_secs(30), |t| t == "pg-instance-main1");
    let permissions = window.text(&window.wait("#detail-permissions", Duration::from_secs(5)));
    assert!(permissions.contains("rds:StopDBInstance"), "{permissions}");
    assert!(
        permissions.contains("rds:DeleteDBInstance (explicit deny)"),
        "{permissions}"
    );
    window.screenshot("explorer-pg-instance-main1");

    // Idle: nothing running, the estate loaded.
    std::thread::sleep(Duration::from_secs(5));
    println!(
        "idle memory of the app (app + WebKit processes, PSS) with the demo estate loaded: {:.0} MiB",
        window.memory_mib()
    );
}
