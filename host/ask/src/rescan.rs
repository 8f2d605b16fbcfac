//! Re-scanning what a run touched, so the estate shows the new state at once
//! (`cloudops search pg-instance-main1` says `stopped` right after the stop).
//!
//! Each touched (account, region, service) is synced again with cloudops-sync's own
//! machinery — the installed plugin, IAM, embeddings, sealing — and nothing else: a scope is
//! a region of one service (the RDS instances of production in us-west-2), not the estate.
//! Its status is recorded in the sync status as a sync's would be.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cloudops_core::paths;
use cloudops_estate::estate::Estate;
use cloudops_playbook::plan::Plan;
use cloudops_plugin_host::{self as plugin, CodeCache, Limits, PluginEngine};
use cloudops_sync::status::SyncStatus;
use cloudops_sync::sync::{self as sync, SyncAccount, SyncOptions};
use serde::Serialize;

use crate::accounts::Clients;
use crate::AskError;

/// One scope to scan again: (account id, region, service).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Touched {
    /// The account id.
    pub account_id: String,
    /// The region.
    pub region: String,
    /// The scanner plugin (service) that reads the resource type.
    pub service: String,
}

/// The scanner plugin reading `resource_type` (`rds_instance` → `rds`).
pub fn service_of(resource_type: &str) -> &str {
    resource_type.split('_').next().unwrap_or(resource_type)
}

/// The scopes `plan`'s steps touch.
pub fn touched(plan: &Plan) -> Vec<Touched> {
    plan.steps
        .iter()
        .map(|s| Touched {
            account_id: s.target.account.clone(),
            region: s.target.region.clone(),
            service: service_of(&s.target.resource_type).to_owned(),
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// What a re-scan did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RescanReport {
    /// The scopes scanned.
    pub scopes: Vec<Touched>,
    /// Resources found in them.
    pub found: usize,
    /// Resources whose record changed.
    pub updated: usize,
    /// Problems, in words (the run itself is not affected).
    pub errors: Vec<String>,
}

/// Syncs the `scopes` again into `estate` (a writer) with the installed plugins.
pub async fn rescan(
    data_dir: &Path,
    estate: Estate,
    clients: &Clients,
    scopes: Vec<Touched>,
) -> Result<RescanReport, AskError> {
    let services: BTreeSet<String> = scopes.iter().map(|s| s.service.clone()).collect();
    let plugins = load_plugins(data_dir, &services)?;
    let names = SyncStatus::load(data_dir)
        .map(|s| {
            s.accounts
                .values()
                .map(|a| (a.id.clone(), a.name.clone()))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default();
    let mut report = RescanReport {
        scopes: scopes.clone(),
        ..RescanReport::default()
    };
    // One sync per (account, service): its regions and that plugin only.
    let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for s in &scopes {
        groups
            .entry((s.account_id.clone(), s.service.clone()))
            .or_default()
            .push(s.region.clone());
    }
    for ((account_id, service), regions) in groups {
        let Some(plugin) = plugins.iter().find(|p| p.name() == service) else {
            report.errors.push(format!(
                "no `{service}` plugin installed: `cloudops sync` will read the change later"
            ));
            continue;
        };
        let client = match clients.client(&account_id, &regions[0]).await {
            Ok((client, _)) => client,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        let account = SyncAccount {
            name: names
                .get(&account_id)
                .cloned()
                .unwrap_or(account_id.clone()),
            client,
            regions,
        };
        let options = SyncOptions {
            concurrency: 4,
            ..SyncOptions::default()
        };
        let done = sync::sync(
            vec![account],
            vec![plugin.clone()],
            estate.clone(),
            options,
            std::sync::Arc::new(|_| {}),
        )
        .await;
        record(data_dir, &done, &mut report);
    }
    Ok(report)
}

/// Adds a sync's outcome to the report and to the data dir's sync status.
fn record(data_dir: &Path, done: &sync::SyncReport, report: &mut RescanReport) {
    let mut status = SyncStatus::load(data_dir).unwrap_or_default();
    for scope in &done.scopes {
        report.found += scope.found;
        report.updated += scope.updated + scope.added;
        report.errors.extend(scope.errors.iter().cloned());
        status.record(scope.clone());
    }
    for (name, error) in &done.failed_accounts {
        report.errors.push(format!("account {name}: {error}"));
    }
    if let Err(e) = status.save(data_dir) {
        report.errors.push(e);
    }
}

/// The installed plugins named in `services`, trusted ones only.
fn load_plugins(
    data_dir: &Path,
    services: &BTreeSet<String>,
) -> Result<Vec<plugin::Plugin>, AskError> {
    let fail = |e: String| AskError::Component(format!("loading the scanner plugins: {e}"));
    let engine = PluginEngine::new(Some(CodeCache::in_data_dir(data_dir)))
        .map_err(|e| fail(e.to_string()))?;
    let trust = plugin::trust::TrustStore::open(&paths::trust_file(data_dir))
        .map_err(|e| fail(e.to_string()))?;
    let (plugins, _errors) = plugin::load_all(
        &engine,
        &paths::plugin_roots(data_dir),
        &Limits::default(),
        &trust,
    );
    Ok(plugins
        .into_iter()
        .filter(|p| services.contains(p.name()))
        .collect())
}
