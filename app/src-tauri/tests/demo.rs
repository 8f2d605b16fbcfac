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

/// One window through the demo's whole story, a scenario at a time (loading the demo estate
/// takes minutes, so the scenarios share it): the sync view's progress until it completes;
/// search finds pg-instance-main1 with its permissions; the idle app's memory; ask → plan →
/// approve → the emulator reports the instance stopped and the explorer shows it; a denied
/// plan shows no Approve button. Each scenario saves a screenshot.
#[test]
fn the_demo_estate_in_a_real_window() {
    let test = "the_demo_estate_in_a_real_window";
    let home = tempfile::tempdir().expect("a home");
    let data = tempfile::tempdir().expect("a data dir");
    if crate::window::missing(test) {
        return;
    }
    install_plugins(data.path());
    let Some(window) = Window::open(Launch {
        test,
        data_dir: data.path(),
        home: home.path(),
        // Compositing on, as on a machine with a GPU. Without one the app turns it off
        // (src/drawing.rs), which the explorer test runs; there WebKitWebDriver never answers
        // a screenshot of the freshly opened first-run view (the window itself is drawn, and
        // every later screenshot is taken).
        env: vec![("WEBKIT_DISABLE_COMPOSITING_MODE".to_owned(), "0".to_owned())],
    }) else {
        return;
    };
    sync_view_shows_progress_and_completes(&window);
    search_finds_the_database_and_shows_its_permissions(&window);
    // Idle: nothing running, the ~6k-resource estate loaded and searched once.
    std::thread::sleep(Duration::from_secs(5));
    let memory = window.memory_mib();
    say!(
        "idle memory of the app (app + WebKit processes, PSS) with the demo estate loaded: \
         {:.0} MiB ({})",
        memory.iter().map(|(_, mib)| mib).sum::<f64>(),
        memory
            .iter()
            .map(|(name, mib)| format!("{name} {mib:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    ask_plan_approve_stops_the_database(&window);
    a_denied_plan_has_no_approve_button(&window);
}

fn sync_view_shows_progress_and_completes(window: &Window) {
    // Nothing synced and no AWS configuration: the Sync view offers the demo estate.
    window.wait_text("#demo-offer", Duration::from_secs(60), |t| {
        t.contains("No AWS configuration found")
    });
    window.screenshot("sync-first-run");
    let started = Instant::now();
    window.click("#demo-button", Duration::from_secs(5));
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
    say!(
        "demo estate seeded and synced in the app in {:.1} s: {outcome}",
        started.elapsed().as_secs_f64()
    );
    let rows = window.text("#sync-scopes tbody", Duration::from_secs(10));
    assert!(rows.contains("production (111111111111)"), "{rows}");
    window.screenshot("sync-complete");
}

/// Opens the explorer, searches `query` and opens the detail of the result `id`.
fn open_in_explorer(window: &Window, query: &str, id: &str) {
    window.click("#tab-explorer", Duration::from_secs(5));
    window.wait("#explorer-query", Duration::from_secs(5));
    window.script(
        "const q = document.getElementById('explorer-query'); q.value = ''; \
         q.dispatchEvent(new Event('input'));",
        serde_json::json!([]),
    );
    window.type_into("#explorer-query", query, Duration::from_secs(5));
    window.wait(
        &format!("#explorer-results .item[data-id='{id}']"),
        Duration::from_secs(30),
    );
    window.type_into("#explorer-query", ENTER, Duration::from_secs(5));
    window.wait_text("#detail-id", Duration::from_secs(30), |t| t == id);
}

fn search_finds_the_database_and_shows_its_permissions(window: &Window) {
    open_in_explorer(window, "pg-instance-main1", "pg-instance-main1");
    let permissions = window.text("#detail-permissions", Duration::from_secs(5));
    assert!(permissions.contains("rds:StopDBInstance"), "{permissions}");
    assert!(
        permissions.contains("rds:DeleteDBInstance (explicit deny)"),
        "{permissions}"
    );
    window.screenshot("explorer-pg-instance-main1");
}

/// Asks `prompt` in the chat and plans it over every resource it resolved to.
fn ask(window: &Window, prompt: &str) {
    window.click("#tab-chat", Duration::from_secs(5));
    window.type_into("#chat-prompt", prompt, Duration::from_secs(5));
    window.type_into("#chat-prompt", ENTER, Duration::from_secs(5));
    // The newest card's Plan button (earlier asks left theirs behind, disabled).
    window.click("#chat-plan:not([disabled])", Duration::from_secs(60));
}

fn ask_plan_approve_stops_the_database(window: &Window) {
    ask(window, "stop pg-instance-main1");
    let explain = window.wait_text("#plan-explain", Duration::from_secs(120), |t| !t.is_empty());
    let steps = window.text("#plan-steps", Duration::from_secs(5));
    assert!(steps.contains("rds:StopDBInstance"), "{steps}");
    assert!(steps.contains("aws rds stop-db-instance"), "{steps}");
    window.screenshot("chat-plan-stop");
    // A high-risk plan needs the target's name typed; lower ones only the button.
    if window.find("#approve-typed").is_some() {
        window.type_into(
            "#approve-typed",
            "pg-instance-main1",
            Duration::from_secs(5),
        );
    }
    window.click("#approve-button", Duration::from_secs(5));
    let text = window.text("[data-run][data-done='true']", Duration::from_secs(300));
    assert!(text.contains("run succeeded"), "{explain}\n{text}");
    window.screenshot("chat-run-stopped");
    // The emulator says stopped, and the explorer (re-scanned) shows it.
    open_in_explorer(window, "pg-instance-main1", "pg-instance-main1");
    let state = window.wait_text("#detail-state", Duration::from_secs(30), |t| t == "stopped");
    assert_eq!(state, "stopped");
    window.screenshot("explorer-pg-instance-main1-stopped");
}

fn a_denied_plan_has_no_approve_button(window: &Window) {
    // Clear the chat so only the new plan's card is there to look at.
    window.script(
        "document.getElementById('chat-messages').replaceChildren();",
        serde_json::json!([]),
    );
    ask(window, "delete pg-instance-main1");
    window.wait("#plan-explain", Duration::from_secs(120));
    let denied = window.text("#plan-denied", Duration::from_secs(5));
    assert!(denied.contains("rds:DeleteDBInstance"), "{denied}");
    window.wait("#plan-not-runnable", Duration::from_secs(5));
    assert!(
        window.find("#approve-button").is_none(),
        "a denied plan offered Approve"
    );
    window.screenshot("chat-plan-denied");
}
