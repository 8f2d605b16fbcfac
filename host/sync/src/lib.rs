//! Learning what the caller may do with what a scan found ([`access`]), keeping the local
//! estate in step with whole AWS estates (many accounts, regions and plugins: [`sync`]) and
//! recording how each part of it went ([`status`]). Running a plugin's scan itself is the
//! plugin host's ([`scan_regions`], re-exported here).

#![deny(missing_docs)]

use cloudops_aws as aws;
use cloudops_core::resource;
use cloudops_estate::{estate, store};
use cloudops_plugin_host as plugin;

mod recorded;
pub mod status;
pub mod sync;

pub use recorded::sync_recorded;

use std::collections::HashMap;

use crate::aws::iam::{self, Permissions, Principal};
use crate::aws::AwsClient;
use crate::plugin::Plugin;
use crate::resource::{Constraints, Resource};

pub use cloudops_plugin_host::scan::{scan_region, scan_regions, scan_streaming, RegionScan};

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
