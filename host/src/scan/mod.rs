//! Running one plugin over many regions of an account, in parallel, and learning what
//! the caller may do with what it found. [`sync`] keeps the local estate in step with
//! whole AWS estates (many accounts, regions and plugins); [`status`] records how each
//! part of it went.

pub mod status;
pub mod sync;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::aws::iam::{self, Permissions, Principal};
use crate::aws::AwsClient;
use crate::plugin::{Plugin, PluginError, ScanReport, ScanTarget};
use crate::resource::{Constraints, Resource};

/// The outcome of scanning one region.
#[derive(Debug)]
pub struct RegionScan {
    /// The region.
    pub region: String,
    /// Resources the plugin emitted (also those emitted before a failure).
    pub resources: Vec<Resource>,
    /// The report, or why the scan of this region failed.
    pub result: Result<ScanReport, PluginError>,
}

/// Scans `regions` of `account_id` with `plugin`, at most `concurrency` regions at a time.
/// A failing region never stops the others. Results come back in the order of `regions`.
pub async fn scan_regions(
    plugin: &Plugin,
    client: &AwsClient,
    account_id: &str,
    regions: &[String],
    settings: &[(String, String)],
    concurrency: usize,
) -> Vec<RegionScan> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::new();
    for region in regions {
        let (plugin, client, account_id, region, settings, permits) = (
            plugin.clone(),
            client.clone(),
            account_id.to_owned(),
            region.clone(),
            settings.to_vec(),
            permits.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = permits
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            let (mut found, scan) =
                scan_streaming(&plugin, &client, &account_id, &region, &settings, permit);
            let mut resources = Vec::new();
            while let Some(batch) = found.recv().await {
                resources.extend(batch);
            }
            scan.await.map(|result| RegionScan {
                region,
                resources,
                result,
            })
        }));
    }
    let mut scans = Vec::with_capacity(tasks.len());
    for (task, region) in tasks.into_iter().zip(regions) {
        scans.push(match task.await {
            Ok(Ok(scan)) => scan,
            // A panic in the host while running a plugin: report it for this region only.
            Ok(Err(e)) | Err(e) => RegionScan {
                region: region.clone(),
                resources: Vec::new(),
                result: Err(PluginError::Trapped {
                    plugin: plugin.name().to_owned(),
                    call: "scan",
                    reason: format!("the host task failed: {e}"),
                }),
            },
        });
    }
    scans
}

/// Scans one region of one account: [`scan_regions`] for a single region.
pub async fn scan_region(
    plugin: &Plugin,
    client: &AwsClient,
    account_id: &str,
    region: &str,
    settings: &[(String, String)],
) -> RegionScan {
    scan_regions(
        plugin,
        client,
        account_id,
        &[region.to_owned()],
        settings,
        1,
    )
    .await
    .pop()
    .expect("one region in, one result out")
}

/// Starts a scan of one region of `account_id` with the plugin's `settings`, whose
/// resources arrive on the returned channel as the plugin emits them, so they can be stored
/// while the scan goes on. The channel closes when the scan ends; the handle then gives its
/// outcome. `permit` is held until the scan ends.
pub fn scan_streaming(
    plugin: &Plugin,
    client: &AwsClient,
    account_id: &str,
    region: &str,
    settings: &[(String, String)],
    permit: tokio::sync::OwnedSemaphorePermit,
) -> (
    tokio::sync::mpsc::UnboundedReceiver<Vec<Resource>>,
    tokio::task::JoinHandle<Result<ScanReport, PluginError>>,
) {
    let (found, receiver) = tokio::sync::mpsc::unbounded_channel();
    let mut target = ScanTarget::new(account_id, region);
    target.settings = settings.to_vec();
    let (plugin, client) = (plugin.clone(), client.clone());
    let runtime = tokio::runtime::Handle::current();
    // Plugins run synchronously; their AWS calls go back to the runtime.
    let scan = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let sink = Box::new(move |batch: Vec<Resource>| {
            // The receiver only goes away if the sync was dropped: nothing left to tell.
            let _ = found.send(batch);
        });
        plugin.scan(&target, &client, &runtime, sink)
    });
    (receiver, scan)
}

/// What the user may do with one resource: IAM permissions (when they could be learned)
/// and the plugin's state-based constraints narrowed by them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Access {
    /// The simulated permissions; `None` when IAM could not be asked (see the report's
    /// errors), in which case the constraints are the plugin's alone.
    pub permissions: Option<Permissions>,
    /// What the resource's state and the permissions allow.
    pub constraints: Constraints,
}

/// Permissions and constraints for a set of resources.
#[derive(Debug, Default)]
pub struct AccessReport {
    /// Who the credentials belong to, when STS answered.
    pub principal: Option<Principal>,
    /// Per resource ARN.
    pub resources: HashMap<String, Access>,
    /// Why permissions are missing, if they are.
    pub errors: Vec<String>,
}

/// Learns what the caller may do to each of `resources` (found by `plugin`): STS for the
/// principal, IAM SimulatePrincipalPolicy for the actions the plugin declares per type,
/// the plugin's `analyze` for the state. Failures degrade: a resource whose permissions
/// cannot be learned keeps its state-based constraints and the report says why.
pub async fn access(
    plugin: &Plugin,
    client: &AwsClient,
    region: &str,
    resources: &[Resource],
) -> AccessReport {
    let principal = iam::identify(client, region)
        .await
        .map_err(|e| format!("permissions unknown: cannot identify the caller: {e}"));
    access_as(plugin, client, region, principal, resources).await
}

/// [`access`] for a principal already identified (or the reason it could not be), so a
/// sync asks STS once per account rather than once per batch.
pub async fn access_as(
    plugin: &Plugin,
    client: &AwsClient,
    region: &str,
    principal: Result<Principal, String>,
    resources: &[Resource],
) -> AccessReport {
    let mut report = AccessReport::default();
    let actions_of = |t: &str| -> Vec<String> {
        plugin
            .info()
            .resource_types
            .iter()
            .find(|rt| rt.name == t)
            .map(|rt| rt.actions.clone())
            .unwrap_or_default()
    };
    let mut permissions = HashMap::new();
    match principal {
        Ok(principal) => {
            let requests: Vec<(String, Vec<String>)> = resources
                .iter()
                .map(|r| (r.arn.clone(), actions_of(&r.resource_type)))
                .collect();
            match iam::simulate(client, region, &principal, &requests).await {
                Ok(found) => permissions = found,
                Err(e) => report.errors.push(format!("permissions unknown: {e}")),
            }
            report.principal = Some(principal);
        }
        Err(e) => report.errors.push(e),
    }
    let (plugin, owned) = (plugin.clone(), resources.to_vec());
    let analyzed = tokio::task::spawn_blocking(move || {
        owned
            .iter()
            .map(|r| {
                let c = plugin.analyze(r).unwrap_or_else(|e| Constraints {
                    notes: vec![e.to_string()],
                    ..Constraints::default()
                });
                (r.arn.clone(), r.resource_type.clone(), c)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let known = report.errors.is_empty();
    for (arn, resource_type, state) in analyzed {
        let found = permissions
            .remove(&arn)
            .or_else(|| known.then(Permissions::default));
        let constraints = match &found {
            Some(p) => state.restricted_by(&actions_of(&resource_type), p),
            None => state,
        };
        report.resources.insert(
            arn,
            Access {
                permissions: found,
                constraints,
            },
        );
    }
    report
}
