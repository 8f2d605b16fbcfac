//! The cloudops desktop app: a Tauri 2 window over the host library. Its commands call the
//! host crates directly (no HTTP between the app and its own host) and are thin: parse the
//! arguments, call the host, map the result; progress reaches the window as events.
//!
//! Views (the frontend in `app/src`): Chat ([`chat`]), Explorer ([`explore`]), Executions
//! ([`executions`]), Sync ([`sync`]) and Plugins ([`plugins`]). No credential crosses IPC.
#![deny(missing_docs)]

mod accounts;
pub mod chat;
pub mod drawing;
pub mod error;
pub mod executions;
pub mod explore;
pub mod memory;
pub mod plugins;
pub mod state;
pub mod sync;

use std::sync::Arc;

use cloudops_host::config::Config;
use state::AppState;
use tauri::Manager;

/// Runs the app until its window closes. The data dir is `CLOUDOPS_DATA_DIR` or the XDG data
/// dir, as for the CLI.
pub fn run() {
    let data_dir = cloudops_host::paths::data_dir(None);
    let aws_configured = Config::load_for(&data_dir)
        .map(|c| sync::aws_configured(&c))
        .unwrap_or(true);
    let state = Arc::new(AppState::new(data_dir, aws_configured));
    let app = tauri::Builder::default()
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            app_info,
            explore::explore,
            explore::explore_rows,
            explore::resource_detail,
            sync::sync_status,
            sync::start_sync,
            sync::start_demo,
            plugins::list_plugins,
            plugins::install_plugin,
            plugins::trust_plugin,
            executions::list_executions,
            executions::execution_events,
            executions::execution_records,
            executions::cancel_execution,
            chat::chat_history,
            chat::chat_resolve,
            chat::chat_plan,
            chat::chat_approve,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: the cloudops window could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            // The event loop ends the process without dropping the state: stop the demo's
            // emulator here.
            let state = handle.state::<Arc<AppState>>().inner().clone();
            let demo = state.demo.try_lock().ok().and_then(|mut d| d.take());
            drop(demo);
        }
    });
}

/// What the window needs to know at start: where the data is, and whether there is any.
#[tauri::command]
fn app_info(state: tauri::State<'_, Arc<AppState>>) -> serde_json::Value {
    let data_dir = state.data_dir();
    serde_json::json!({
        "data_dir": data_dir.display().to_string(),
        "version": env!("CARGO_PKG_VERSION"),
        "synced": cloudops_host::scan::status::SyncStatus::load(data_dir)
            .map(|s| !s.scopes.is_empty())
            .unwrap_or(false),
    })
}
