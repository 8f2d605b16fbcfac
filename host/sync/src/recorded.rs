//! A sync that records itself: each scope's outcome is saved in the data dir's sync status as
//! it ends, a run marker says a sync is under way (or was killed), and the store is published
//! to readers when it is done. The CLI (`cloudops sync`, `cloudops demo`) and the desktop app
//! run syncs through [`sync_recorded`]; they differ only in how they show its events.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::estate::Estate;
use crate::plugin::Plugin;
use crate::status::{FailedAccount, RunMarker, SyncStatus};
use crate::sync::{self, Event, SyncAccount, SyncOptions, SyncReport};

/// Runs [`sync::sync`] and records it in `data_dir`'s sync status. `failed` are the accounts
/// that could not even be set up (name and error): they are reported as `AccountFailed`
/// events first and recorded as failed accounts. Every event also goes to `events`.
///
/// Errors are the status file's (it could not be written: the data dir's permissions or free
/// space). A store that could not be published leaves the report's `unpublished` set.
pub async fn sync_recorded(
    accounts: Vec<SyncAccount>,
    failed: Vec<(String, String)>,
    plugins: Vec<Plugin>,
    estate: Estate,
    options: SyncOptions,
    data_dir: &Path,
    events: Arc<dyn Fn(Event) + Send + Sync>,
) -> Result<SyncReport, String> {
    for (name, error) in &failed {
        events(Event::AccountFailed {
            name: name.clone(),
            error: error.clone(),
            scopes: 0,
        });
    }
    // Each scope's outcome is saved as it ends, so a sync killed part-way still shows in
    // the status what it finished.
    let live = Arc::new(Mutex::new(SyncStatus::load(data_dir).unwrap_or_default()));
    let recording = {
        let (live, data_dir) = (live.clone(), data_dir.to_owned());
        Arc::new(move |event: Event| {
            let save = |update: &dyn Fn(&mut SyncStatus)| {
                let mut status = live.lock().unwrap_or_else(|e| e.into_inner());
                update(&mut status);
                if let Err(e) = status.save(&data_dir) {
                    tracing::warn!("{e}");
                }
            };
            match &event {
                Event::AccountReady { account, .. } => save(&|s| {
                    s.accounts.insert(account.id.clone(), account.clone());
                }),
                Event::ScopeDone(scope) => save(&|s| s.record(scope.clone())),
                _ => {}
            }
            events(event)
        })
    };
    // Until `end`, a later status knows this sync has not finished (or was killed).
    let running = RunMarker::begin(data_dir)?;
    let publisher = estate.clone();
    let mut report = sync::sync(accounts, plugins, estate, options, recording).await;
    // Readers (search, the app) see the store as of its last publication: hand them this
    // sync's state now rather than whenever the last handle on the store is dropped.
    let published = tokio::task::spawn_blocking(move || publisher.store().publish()).await;
    report.unpublished = match published {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    report.failed_accounts.splice(0..0, failed);
    let mut status = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for account in &report.accounts {
        status.accounts.insert(account.id.clone(), account.clone());
        status.failed_accounts.remove(&account.name);
    }
    for (name, error) in &report.failed_accounts {
        status
            .failed_accounts
            .insert(name.clone(), FailedAccount::new(name, error));
    }
    for scope in &report.scopes {
        status.record(scope.clone());
    }
    status.save(data_dir)?;
    running.end()?;
    Ok(report)
}
