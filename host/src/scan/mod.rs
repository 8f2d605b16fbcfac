//! Running one plugin over many regions of an account, in parallel.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::aws::AwsClient;
use crate::plugin::{Plugin, PluginError, ScanReport, ScanTarget};
use crate::resource::Resource;

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
    let runtime = tokio::runtime::Handle::current();
    let mut tasks = Vec::new();
    for region in regions {
        let mut target = ScanTarget::new(account_id, region.clone());
        target.settings = settings.to_vec();
        let (plugin, client, runtime, permits) = (
            plugin.clone(),
            client.clone(),
            runtime.clone(),
            permits.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            // Plugins run synchronously; their AWS calls go back to the runtime.
            tokio::task::spawn_blocking(move || {
                let found = Arc::new(Mutex::new(Vec::new()));
                let sink = {
                    let found = found.clone();
                    Box::new(move |batch: Vec<Resource>| {
                        found.lock().expect("sink lock").extend(batch)
                    })
                };
                let result = plugin.scan(&target, &client, &runtime, sink);
                let resources = std::mem::take(&mut *found.lock().expect("sink lock"));
                RegionScan {
                    region: target.region,
                    resources,
                    result,
                }
            })
            .await
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
