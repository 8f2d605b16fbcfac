//! The Sync view: the status per account/region/service, a sync with live progress per scope
//! (as `sync` events), and the demo estate for a first run with no AWS configuration.

use std::sync::Arc;

use cloudops_demo::{self as demo, Emulator, EstateFile, SeedProgress};
use cloudops_host::config::Config;
use cloudops_host::local;
use cloudops_host::paths;
use cloudops_host::plugin::{self, CodeCache, Limits, Plugin, PluginEngine, TrustStore};
use cloudops_host::scan::status::{RunMarker, SyncStatus};
use cloudops_host::scan::sync::{Event, SyncAccount, SyncOptions, DEFAULT_CONCURRENCY};
use serde_json::{json, Value};
use tauri::{AppHandle, Emitter, State};

use crate::error::{CommandError, CommandResult};
use crate::state::{AppState, Demo};

/// The event the Sync view listens to.
pub const SYNC_EVENT: &str = "sync";

/// The last sync of every scope, the accounts, and whether one runs now.
#[tauri::command]
pub fn sync_status(state: State<'_, Arc<AppState>>) -> CommandResult<Value> {
    let data_dir = state.data_dir();
    let status = SyncStatus::load(data_dir).map_err(CommandError::Host)?;
    let config = Config::load_for(state.data_dir()).map_err(CommandError::Host)?;
    let running = state.syncing.load(std::sync::atomic::Ordering::SeqCst);
    let interrupted = matches!(RunMarker::load(data_dir), Some((_, false)));
    Ok(json!({
        "store": local::describe(&local::location(data_dir, &config)),
        "running": running,
        "interrupted": interrupted,
        "accounts": status.accounts.values().collect::<Vec<_>>(),
        "failed_accounts": status.failed_accounts.values().collect::<Vec<_>>(),
        "scopes": status.scopes.values().map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["iam_success_rate"] = json!(s.iam_success_rate());
            v
        }).collect::<Vec<_>>(),
        "aws_configured": state.aws_configured,
        "demo_running": state.demo.try_lock().map(|d| d.is_some()).unwrap_or(true),
    }))
}

/// Whether the user has AWS set up at all: config accounts, AWS variables, or ~/.aws files.
/// With none, the app offers the demo estate first.
pub fn aws_configured(config: &Config) -> bool {
    let env = [
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    let files = std::env::var_os("HOME").is_some_and(|home| {
        let aws = std::path::Path::new(&home).join(".aws");
        aws.join("config").is_file() || aws.join("credentials").is_file()
    });
    !config.accounts.is_empty() || env || files
}

/// Loads the trusted installed plugins; untrusted or broken ones are named in the error only
/// when none is left.
fn load_plugins(state: &AppState) -> CommandResult<Vec<Plugin>> {
    let data_dir = state.data_dir();
    let engine =
        PluginEngine::new(Some(CodeCache::in_data_dir(data_dir))).map_err(CommandError::host)?;
    let trust = TrustStore::open(&paths::trust_file(data_dir)).map_err(CommandError::host)?;
    let roots = paths::plugin_roots(data_dir);
    let (plugins, errors) = plugin::load_all(&engine, &roots, &Limits::default(), &trust);
    if plugins.is_empty() {
        let why: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(CommandError::NoEstate(if why.is_empty() {
            format!(
                "no scanner plugins installed in {}: build them with `cloudops plugin build plugins/`, \
                 or install a built one in Plugins",
                roots[0].display()
            )
        } else {
            format!(
                "none of the installed plugins can be loaded ({}): trust them in Plugins",
                why.join("; ")
            )
        }));
    }
    Ok(plugins)
}

/// Sends one sync event to the window; a closed window is no reason to stop a sync.
fn emit(app: &AppHandle, payload: Value) {
    if let Err(e) = app.emit(SYNC_EVENT, payload) {
        tracing::warn!("sync event not delivered: {e}");
    }
}

/// The JSON a sync event reaches the window as.
fn event_json(event: &Event) -> Value {
    match event {
        Event::AccountReady { account, scopes } => {
            json!({"type": "account_ready", "account": account, "scopes": scopes})
        }
        Event::AccountFailed {
            name,
            error,
            scopes,
        } => {
            json!({"type": "account_failed", "name": name, "error": error, "scopes": scopes})
        }
        Event::Scanned { scope, found } => {
            json!({"type": "scanned", "scope": scope, "found": found})
        }
        Event::Stored { scope, count } => json!({"type": "stored", "scope": scope, "count": count}),
        Event::ScopeDone(s) => json!({"type": "scope_done", "status": s}),
    }
}

/// Runs a recorded sync of `accounts`, streaming its events, then reopens the reader.
async fn run_sync(
    app: &AppHandle,
    state: &AppState,
    accounts: Vec<SyncAccount>,
    plugins: Vec<Plugin>,
    allow_mass_delete: bool,
) -> CommandResult<Value> {
    let config = Config::load_for(state.data_dir()).map_err(CommandError::Host)?;
    let writer = {
        let (data_dir, config) = (state.data_dir.clone(), config.clone());
        tokio::task::spawn_blocking(move || local::open(&data_dir, &config))
            .await
            .map_err(CommandError::host)?
            .map_err(CommandError::host)?
    };
    let scopes = accounts.iter().map(|a| a.regions.len()).sum::<usize>() * plugins.len();
    emit(app, json!({"type": "started", "scopes": scopes}));
    let events = {
        let app = app.clone();
        Arc::new(move |event: Event| emit(&app, event_json(&event)))
    };
    let options = SyncOptions {
        concurrency: config.sync.concurrency.unwrap_or(DEFAULT_CONCURRENCY),
        iam: true,
        allow_mass_delete,
    };
    let report = cloudops_host::scan::sync_recorded(
        accounts,
        Vec::new(),
        plugins,
        writer.estate,
        options,
        state.data_dir(),
        events,
    )
    .await
    .map_err(CommandError::Host)?;
    state.reopen();
    crate::memory::give_back_freed();
    let found: usize = report.scopes.iter().map(|s| s.found).sum();
    let summary = json!({
        "type": "finished",
        "scopes": report.scopes.len(),
        "found": found,
        "clean": report.is_clean(),
        "seconds": report.duration.as_secs_f64(),
        "failed_accounts": report.failed_accounts,
        "unpublished": report.unpublished,
    });
    emit(app, summary.clone());
    Ok(summary)
}

/// Syncs again: the demo's accounts while the demo runs, else the AWS accounts of the config.
#[tauri::command]
pub async fn start_sync(app: AppHandle, state: State<'_, Arc<AppState>>) -> CommandResult<Value> {
    let state = state.inner().clone();
    let _guard = state.begin_sync()?;
    let plugins = load_plugins(&state)?;
    let accounts = {
        let demo = state.demo.lock().await;
        match demo.as_ref() {
            Some(d) => demo_accounts(d),
            None => crate::accounts::configured(state.data_dir()).await?,
        }
    };
    let result = run_sync(&app, &state, accounts, plugins, false).await;
    if let Err(e) = &result {
        emit(&app, json!({"type": "failed", "error": e.to_string()}));
    }
    result
}

fn demo_accounts(demo: &Demo) -> Vec<SyncAccount> {
    demo.accounts
        .iter()
        .map(|(a, regions)| SyncAccount {
            name: a.name.clone(),
            client: a.client(&demo.emulator),
            regions: regions.clone(),
        })
        .collect()
}

/// Starts the demo: the local AWS emulator, seeded with the demo estate (three accounts ×
/// three regions, ~6,000 resources), then synced — as `cloudops demo` does. Progress arrives
/// as `sync` events (`seeding`, then the sync's own).
#[tauri::command]
pub async fn start_demo(app: AppHandle, state: State<'_, Arc<AppState>>) -> CommandResult<Value> {
    let state = state.inner().clone();
    let _guard = state.begin_sync()?;
    let result = demo_run(&app, &state).await;
    if let Err(e) = &result {
        emit(&app, json!({"type": "failed", "error": e.to_string()}));
    }
    result
}

async fn demo_run(app: &AppHandle, state: &AppState) -> CommandResult<Value> {
    if state.demo.lock().await.is_some() {
        return Err(CommandError::Busy(
            "the demo estate is already loaded: press Sync to sync it again".into(),
        ));
    }
    // Fail before starting anything if the plugins are missing.
    let plugins = load_plugins(state)?;
    let estate_file = match std::env::var_os("CLOUDOPS_DEMO_ESTATE") {
        Some(path) => EstateFile::load(std::path::Path::new(&path)).map_err(CommandError::host)?,
        None => EstateFile::default_demo(),
    };
    emit(app, json!({"type": "emulator_starting"}));
    let emulator = Emulator::start().await.map_err(|e| {
        CommandError::Host(format!(
            "{e} (scripts/setup installs the emulator, moto, into .venv)"
        ))
    })?;
    let total: usize = estate_file.declared_counts().values().sum();
    emit(app, json!({"type": "seeding", "done": 0, "total": total}));
    let seeded = {
        let app = app.clone();
        demo::seed_estate(&emulator, &estate_file, move |p: SeedProgress| {
            // Every 1% is enough for a progress bar and keeps the window's queue short.
            if p.done.is_multiple_of((p.total / 100).max(1)) || p.done == p.total {
                emit(&app, json!({"type": "seeding", "done": p.done, "total": p.total, "location": p.location}));
            }
        })
        .await
        .map_err(|e| CommandError::Host(format!("seeding the demo estate: {e}")))?
    };
    let accounts = seeded
        .accounts
        .into_iter()
        .map(|a| {
            let regions = estate_file
                .account(&a.id)
                .map(|acc| acc.regions.clone())
                .unwrap_or_default();
            (a, regions)
        })
        .collect();
    let demo = Demo { emulator, accounts };
    let sync_accounts = demo_accounts(&demo);
    *state.demo.lock().await = Some(demo);
    // The chat's session reaches AWS through the demo from now on.
    state.chat.reset().await;
    // The demo estate is freshly seeded: nothing stored can be wrongly removed.
    run_sync(app, state, sync_accounts, plugins, true).await
}
