//! Running a plugin's scan: one region, several regions at a time, or streaming what it
//! emits as it goes.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::aws::AwsClient;
use crate::resource::Resource;
use crate::{Plugin, PluginError, ScanReport, ScanTarget};

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
/// outcome. `permit` is held until the scan ends. The channel holds at most
/// [`EMITTED_BATCHES_IN_FLIGHT`](crate::limits::EMITTED_BATCHES_IN_FLIGHT) batches: the
/// receiver must keep reading while it holds `permit`, and must not wait for a permit of the
/// same kind to read on.
pub fn scan_streaming(
    plugin: &Plugin,
    client: &AwsClient,
    account_id: &str,
    region: &str,
    settings: &[(String, String)],
    permit: tokio::sync::OwnedSemaphorePermit,
) -> (
    tokio::sync::mpsc::Receiver<Vec<Resource>>,
    tokio::task::JoinHandle<Result<ScanReport, PluginError>>,
) {
    let (found, receiver) = tokio::sync::mpsc::channel(crate::limits::EMITTED_BATCHES_IN_FLIGHT);
    let mut target = ScanTarget::new(account_id, region);
    target.settings = settings.to_vec();
    let (plugin, client) = (plugin.clone(), client.clone());
    let runtime = tokio::runtime::Handle::current();
    // Plugins run synchronously; their AWS calls go back to the runtime.
    let scan = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let sink = Box::new(move |batch: Vec<Resource>| {
            // Waits while the channel is full (this is a blocking task). The receiver only
            // goes away if the sync was dropped: nothing left to tell.
            let _ = found.blocking_send(batch);
        });
        plugin.scan(&target, &client, &runtime, sink)
    });
    (receiver, scan)
}
