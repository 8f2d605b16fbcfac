//! Keeping the local estate in step with AWS.
//!
//! Four levels: accounts → regions → services (plugins) → batches of at most [`BATCH`]
//! resources. Every (account, region, service) is a scope; scopes run in parallel, and each
//! batch of a scope is checked against IAM, embedded and stored as it comes. Scans and
//! batches being stored have separate permits (each [`SyncOptions::concurrency`] wide): a
//! scan waits for the store only through its bounded channel
//! ([`EMITTED_BATCHES_IN_FLIGHT`](crate::plugin::limits::EMITTED_BATCHES_IN_FLIGHT)), never
//! for a permit that a waiting scan holds.
//!
//! Failures stay inside their scope: a plugin that fails in one region leaves the
//! others untouched, an account whose credentials fail leaves the other accounts untouched,
//! and resources whose permissions cannot be learned are stored with IAM marked unknown.
//!
//! A scope's scan removes what it no longer saw, type by type: a type whose listing was
//! incomplete (a skipped item, an unreadable field) removes nothing, and a scan that failed
//! or could not store removes nothing at all, so a throttled or half-failed scan never
//! forgets resources. A complete scan that would remove more than half of its scope's
//! records is held back unless the caller allows it ([`SyncOptions::allow_mass_delete`]):
//! an emptied listing is far more often a wrong account, a wrong region or a broken
//! permission than a real mass deletion, and the caller can ask the user
//! ([`HeldDeletion::apply`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::status::{AccountStatus, ScopeStatus};
use crate::aws::iam::{self, Principal};
use crate::aws::AwsClient;
use crate::estate::{Estate, Record};
use crate::plugin::Plugin;
use crate::resource::Resource;
use crate::{access_as, scan_streaming};

/// Resources per batch: checked against IAM, embedded and stored together.
pub const BATCH: usize = 100;

/// Default number of scans in flight, and of batches being stored.
pub const DEFAULT_CONCURRENCY: usize = 10;

/// One account to sync.
#[derive(Debug, Clone)]
pub struct SyncAccount {
    /// Name used in queries and status ("production"): the profile name by default.
    pub name: String,
    /// A client signing with the account's credentials.
    pub client: AwsClient,
    /// Regions to scan.
    pub regions: Vec<String>,
}

/// How to sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Scans in flight at once across all accounts, and separately batches being checked,
    /// embedded and stored at once.
    pub concurrency: usize,
    /// Learn IAM permissions (STS + SimulatePrincipalPolicy).
    pub iam: bool,
    /// Remove what a complete scan no longer saw even when it is more than half of the
    /// scope's records; otherwise that removal is held back ([`SyncReport::held`]).
    pub allow_mass_delete: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            iam: true,
            allow_mass_delete: false,
        }
    }
}

/// A removal of stale records that was held back because it was too large.
#[derive(Debug, Clone)]
pub struct HeldDeletion {
    /// Account id.
    pub account_id: String,
    /// Region.
    pub region: String,
    /// Plugin name.
    pub service: String,
    /// Records of the scope in the store (of the types that were listed completely).
    pub total: u64,
    /// The records the removal would delete.
    pub ids: Vec<uuid::Uuid>,
}

impl HeldDeletion {
    /// `account/region/service`.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}", self.account_id, self.region, self.service)
    }

    /// How many records the removal would delete.
    pub fn stale(&self) -> u64 {
        self.ids.len() as u64
    }

    /// Removes the records after all (the user confirmed); returns how many.
    pub fn apply(&self, estate: &Estate) -> Result<u64, crate::estate::EstateError> {
        estate.remove(&self.scope(), &self.ids)
    }
}

/// Whether removing `stale` of `total` records needs a confirmation.
pub fn is_mass_delete(stale: u64, total: u64) -> bool {
    stale > 0 && stale * 2 > total
}

/// What a sync reports while it runs.
#[derive(Debug, Clone)]
pub enum Event {
    /// STS said who an account's credentials belong to.
    AccountReady {
        /// The account.
        account: AccountStatus,
        /// Scopes that will run for it.
        scopes: usize,
    },
    /// An account could not be used at all.
    AccountFailed {
        /// Its name.
        name: String,
        /// Why.
        error: String,
        /// Scopes that will not run.
        scopes: usize,
    },
    /// A scope's scan finished (its resources were stored as they came).
    Scanned {
        /// `account/region/service`.
        scope: String,
        /// Resources found.
        found: usize,
    },
    /// A batch was stored.
    Stored {
        /// `account/region/service`.
        scope: String,
        /// Resources in the batch.
        count: usize,
    },
    /// A scope is done.
    ScopeDone(ScopeStatus),
}

/// The outcome of a sync.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Accounts that could be identified.
    pub accounts: Vec<AccountStatus>,
    /// Accounts that could not, with the reason.
    pub failed_accounts: Vec<(String, String)>,
    /// Every scope's outcome.
    pub scopes: Vec<ScopeStatus>,
    /// Removals held back as too large (see [`SyncOptions::allow_mass_delete`]).
    pub held: Vec<HeldDeletion>,
    /// Wall time.
    pub duration: Duration,
    /// Why the store could not be published to readers after the sync (its changes are
    /// stored, but searches still see the state before it); `None` when it was, or when the
    /// sync was not run through [`crate::sync_recorded`].
    pub unpublished: Option<String>,
}

impl SyncReport {
    /// True when every account and scope completed without errors.
    pub fn is_clean(&self) -> bool {
        self.failed_accounts.is_empty()
            && self
                .scopes
                .iter()
                .all(|s| s.complete && s.errors.is_empty())
    }

    /// True when nothing could be synced: no scope saw everything or stored anything
    /// (every account failed, or every scan failed before its first resource).
    pub fn is_total_failure(&self) -> bool {
        !self
            .scopes
            .iter()
            .any(|s| s.complete || s.added + s.updated + s.unchanged > 0)
    }
}

/// Syncs every account × region × plugin into `estate`.
pub async fn sync(
    accounts: Vec<SyncAccount>,
    plugins: Vec<Plugin>,
    estate: Estate,
    options: SyncOptions,
    events: Arc<dyn Fn(Event) + Send + Sync>,
) -> SyncReport {
    let started = Instant::now();
    let permits = Permits {
        scans: Arc::new(Semaphore::new(options.concurrency.max(1))),
        batches: Arc::new(Semaphore::new(options.concurrency.max(1))),
    };
    let mut report = SyncReport::default();
    let mut tasks = Vec::new();

    // Identify every account first, in parallel: the account id names the scopes.
    let identified = futures_join_all(accounts.iter().map(|account| {
        let (client, region) = (account.client.clone(), account.regions.first().cloned());
        async move {
            let region = region.unwrap_or_else(|| "us-east-1".to_owned());
            iam::identify(&client, &region).await
        }
    }))
    .await;

    for (account, principal) in accounts.into_iter().zip(identified) {
        let scopes = account.regions.len() * plugins.len();
        let principal = match principal {
            Ok(p) => p,
            Err(e) => {
                let error = format!("cannot identify the caller (STS GetCallerIdentity): {e}");
                events(Event::AccountFailed {
                    name: account.name.clone(),
                    error: error.clone(),
                    scopes,
                });
                report.failed_accounts.push((account.name, error));
                continue;
            }
        };
        let status = AccountStatus {
            id: principal.account_id.clone(),
            name: account.name.clone(),
            principal: Some(principal.arn.clone()),
        };
        events(Event::AccountReady {
            account: status.clone(),
            scopes,
        });
        report.accounts.push(status);
        for region in &account.regions {
            for plugin in &plugins {
                let scope = Scope {
                    account: account.clone(),
                    principal: principal.clone(),
                    region: region.clone(),
                    plugin: plugin.clone(),
                    estate: estate.clone(),
                    iam: options.iam,
                    allow_mass_delete: options.allow_mass_delete,
                };
                let (permits, events) = (permits.clone(), events.clone());
                tasks.push(tokio::spawn(scope.run(permits, events)));
            }
        }
    }
    for task in tasks {
        match task.await {
            Ok((status, held)) => {
                report.scopes.push(status);
                report.held.extend(held);
            }
            Err(e) => tracing::error!("a sync task failed: {e}"),
        }
    }
    report.duration = started.elapsed();
    report
}

/// The sync's two kinds of permit. A scan holds a `scans` permit while its scope stores
/// batches under `batches` permits: with one kind, scans blocked on a full channel could hold
/// every permit their own batches wait for.
#[derive(Clone)]
struct Permits {
    scans: Arc<Semaphore>,
    batches: Arc<Semaphore>,
}

/// One (account, region, plugin).
struct Scope {
    account: SyncAccount,
    principal: Principal,
    region: String,
    plugin: Plugin,
    estate: Estate,
    iam: bool,
    allow_mass_delete: bool,
}

impl Scope {
    async fn run(
        self,
        permits: Permits,
        events: Arc<dyn Fn(Event) + Send + Sync>,
    ) -> (ScopeStatus, Option<HeldDeletion>) {
        let started = Instant::now();
        let account_id = self.principal.account_id.clone();
        let service = self.plugin.name().to_owned();
        let key = format!("{account_id}/{}/{service}", self.region);
        let mut status = ScopeStatus {
            account_id: account_id.clone(),
            region: self.region.clone(),
            service: service.clone(),
            last_attempt: unix_now(),
            ..ScopeStatus::default()
        };

        // Resources are stored in batches as the plugin emits them, while it goes on
        // scanning; what was found is stored even when the scan fails part-way.
        let permit = permits.scans.acquire_owned().await.expect("never closed");
        let (mut found, scan) = scan_streaming(
            &self.plugin,
            &self.account.client,
            &account_id,
            &self.region,
            &[],
            permit,
        );
        let mut complete = true;
        // What may be removed: `None` when nothing may (the scan failed, or storing did);
        // else every type but those whose listing was incomplete.
        let mut unsure: Option<Vec<String>> = Some(Vec::new());
        // Only records of this scope count against its records; a plugin may emit a
        // resource of another region, which is stored but belongs to that region's scope.
        let mut seen_here = HashSet::new();
        let mut pending: Vec<Resource> = Vec::new();
        loop {
            let more = found.recv().await;
            let ended = more.is_none();
            pending.extend(more.into_iter().flatten());
            while pending.len() >= BATCH || (ended && !pending.is_empty()) {
                let batch: Vec<Resource> = pending.drain(..pending.len().min(BATCH)).collect();
                status.found += batch.len();
                let _permit = permits.batches.acquire().await.expect("never closed");
                seen_here.extend(
                    batch
                        .iter()
                        .filter(|r| r.account_id == account_id && r.region == self.region)
                        .map(|r| {
                            crate::store::resource_id(
                                &r.account_id,
                                &r.region,
                                &r.resource_type,
                                &r.identifier,
                            )
                        }),
                );
                if !self.store(batch, &mut status, &key, &events).await {
                    complete = false;
                    unsure = None;
                }
            }
            if ended {
                break;
            }
        }
        match scan.await {
            Ok(Ok(report)) if report.incomplete_types.is_empty() => {}
            Ok(Ok(report)) => {
                complete = false;
                status.errors.push(format!(
                    "incomplete listing of {}: nothing of {} was removed",
                    report.incomplete_types.join(", "),
                    if report.incomplete_types.len() == 1 {
                        "it"
                    } else {
                        "them"
                    }
                ));
                if let Some(unsure) = &mut unsure {
                    unsure.extend(report.incomplete_types);
                }
            }
            Ok(Err(e)) => {
                complete = false;
                unsure = None;
                status.errors.push(e.to_string());
            }
            Err(e) => {
                complete = false;
                unsure = None;
                status.errors.push(format!("the scan stopped: {e}"));
            }
        }
        events(Event::Scanned {
            scope: key.clone(),
            found: status.found,
        });

        let mut held = None;
        if let Some(unsure) = unsure {
            let (estate, region, service, account_id) = (
                self.estate.clone(),
                self.region.clone(),
                service.clone(),
                account_id.clone(),
            );
            let allow = self.allow_mass_delete;
            let scope = key.clone();
            let removed = tokio::task::spawn_blocking(move || {
                // Only records of this scope count: a plugin may emit a resource of another
                // region, which belongs to that region's scope.
                let unseen = estate
                    .unseen(&account_id, &region, &service, &seen_here, &unsure)
                    .map_err(|e| e.to_string())?;
                let stale = unseen.stale.len() as u64;
                if !allow && is_mass_delete(stale, unseen.total) {
                    return Ok(Err(HeldDeletion {
                        account_id,
                        region,
                        service,
                        total: unseen.total,
                        ids: unseen.stale,
                    }));
                }
                estate
                    .remove(&scope, &unseen.stale)
                    .map(Ok)
                    .map_err(|e| e.to_string())
            })
            .await;
            match removed {
                Ok(Ok(Ok(n))) => status.removed = n,
                Ok(Ok(Err(hold))) => {
                    status.held_back = hold.stale();
                    status.errors.push(format!(
                        "the scan no longer saw {} of the {} stored resources; they were kept \
                         in case the listing was wrong (another account, a missing permission). \
                         If they are really gone, run `cloudops sync --allow-mass-delete`",
                        hold.stale(),
                        hold.total
                    ));
                    held = Some(hold);
                }
                Ok(Err(e)) => status.errors.push(format!("removing stale resources: {e}")),
                Err(e) => status.errors.push(format!("removing stale resources: {e}")),
            }
        }
        if status.stale > 0 {
            // The listing may be complete, but not everything in it could be read: a
            // "completed with failures", never a clean sync.
            status.errors.push(format!(
                "{} resources keep parts from an earlier read, marked stale: reading them \
                 failed this time (the warnings say which); run `cloudops sync` again",
                status.stale
            ));
        }
        status.complete = complete;
        if complete {
            status.last_success = Some(status.last_attempt);
        }
        status.duration_ms = started.elapsed().as_millis() as u64;
        events(Event::ScopeDone(status.clone()));
        (status, held)
    }

    /// Learns the permissions on one batch, then embeds and stores it; false if it could
    /// not be stored.
    async fn store(
        &self,
        batch: Vec<Resource>,
        status: &mut ScopeStatus,
        key: &str,
        events: &Arc<dyn Fn(Event) + Send + Sync>,
    ) -> bool {
        let principal = if self.iam {
            Ok(self.principal.clone())
        } else {
            Err("IAM permission discovery is off".to_owned())
        };
        let access = access_as(
            &self.plugin,
            &self.account.client,
            &self.region,
            principal,
            &batch,
        )
        .await;
        // With discovery off by choice, unknown permissions are what was asked for.
        if let Some(first) = access.errors.first().filter(|_| self.iam) {
            if !status.errors.contains(first) {
                status.errors.push(first.clone());
            }
        }
        let records: Vec<Record> = batch
            .into_iter()
            .map(|resource| {
                let found = access.resources.get(&resource.arn);
                Record {
                    permissions: found.and_then(|a| a.permissions.clone()),
                    constraints: found.map(|a| a.constraints.clone()).unwrap_or_default(),
                    resource,
                    service: status.service.clone(),
                    account_name: self.account.name.clone(),
                    principal: Some(self.principal.arn.clone()),
                }
            })
            .collect();
        status.iam_known += records.iter().filter(|r| r.permissions.is_some()).count();
        let count = records.len();
        let estate = self.estate.clone();
        let stored = match tokio::task::spawn_blocking(move || estate.put(records)).await {
            Ok(Ok(stats)) => {
                status.added += stats.added;
                status.updated += stats.updated;
                status.unchanged += stats.unchanged;
                status.embedded += stats.embedded;
                status.stale += stats.stale;
                true
            }
            Ok(Err(e)) => {
                status.errors.push(format!("storing resources: {e}"));
                false
            }
            Err(e) => {
                status.errors.push(format!("storing resources: {e}"));
                false
            }
        };
        events(Event::Stored {
            scope: key.to_owned(),
            count,
        });
        stored
    }
}

/// Awaits every future, keeping order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("identify task panicked"));
    }
    out
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
