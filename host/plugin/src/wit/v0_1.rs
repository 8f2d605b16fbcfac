//! Bindings for `cloudops:scanner@0.1.0` (folder `wit/v0.1`).
//!
//! Only conversions live here: every import delegates to the latest version's
//! implementation. Differences from 0.2.0: `scan-summary` has no `incomplete-types` (a
//! 0.1 scan is complete or failed as a whole) and `emit` returns nothing.

wasmtime::component::bindgen!({
    world: "scanner-plugin",
    path: "../../wit/v0.1",
});

use super::latest;
use crate::runtime::PluginState;

use cloudops::scanner::{aws, host, types};

impl types::Host for PluginState {}

impl aws::Host for PluginState {
    fn send(&mut self, req: aws::Request) -> Result<aws::Response, String> {
        let req = latest::cloudops::scanner::aws::Request {
            service: req.service,
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            body: req.body,
        };
        latest::cloudops::scanner::aws::Host::send(self, req).map(|r| aws::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        })
    }
}

impl host::Host for PluginState {
    fn log(&mut self, level: host::Level, message: String) {
        use latest::cloudops::scanner::host::Level;
        let level = match level {
            host::Level::Error => Level::Error,
            host::Level::Warn => Level::Warn,
            host::Level::Info => Level::Info,
            host::Level::Debug => Level::Debug,
            host::Level::Trace => Level::Trace,
        };
        latest::cloudops::scanner::host::Host::log(self, level, message);
    }

    fn emit(&mut self, batch: Vec<types::Resource>) {
        let batch = batch.into_iter().map(Into::into).collect();
        latest::cloudops::scanner::host::Host::emit(self, batch);
    }
}

impl From<types::Resource> for latest::types::Resource {
    fn from(r: types::Resource) -> Self {
        Self {
            resource_type: r.resource_type,
            identifier: r.identifier,
            arn: r.arn,
            name: r.name,
            region: r.region,
            state: r.state,
            tags: r
                .tags
                .into_iter()
                .map(|t| latest::types::Tag {
                    key: t.key,
                    value: t.value,
                })
                .collect(),
            relations: r
                .relations
                .into_iter()
                .map(|x| latest::types::Relation {
                    kind: x.kind,
                    target_arn: x.target_arn,
                })
                .collect(),
            metadata: r.metadata,
        }
    }
}

impl From<latest::types::Resource> for types::Resource {
    fn from(r: latest::types::Resource) -> Self {
        Self {
            resource_type: r.resource_type,
            identifier: r.identifier,
            arn: r.arn,
            name: r.name,
            region: r.region,
            state: r.state,
            tags: r
                .tags
                .into_iter()
                .map(|t| types::Tag {
                    key: t.key,
                    value: t.value,
                })
                .collect(),
            relations: r
                .relations
                .into_iter()
                .map(|x| types::Relation {
                    kind: x.kind,
                    target_arn: x.target_arn,
                })
                .collect(),
            metadata: r.metadata,
        }
    }
}

impl From<types::PluginInfo> for latest::types::PluginInfo {
    fn from(i: types::PluginInfo) -> Self {
        Self {
            name: i.name,
            version: i.version,
            services: i.services,
            resource_types: i
                .resource_types
                .into_iter()
                .map(|t| latest::types::ResourceTypeInfo {
                    name: t.name,
                    actions: t.actions,
                })
                .collect(),
        }
    }
}

impl From<&latest::types::ScanContext> for types::ScanContext {
    fn from(c: &latest::types::ScanContext) -> Self {
        Self {
            account_id: c.account_id.clone(),
            region: c.region.clone(),
            partition: c.partition.clone(),
            settings: c.settings.clone(),
        }
    }
}

impl From<types::ScanSummary> for latest::types::ScanSummary {
    fn from(s: types::ScanSummary) -> Self {
        Self {
            resources: s.resources,
            warnings: s.warnings,
            incomplete_types: Vec::new(),
        }
    }
}

impl From<types::Constraints> for latest::types::Constraints {
    fn from(c: types::Constraints) -> Self {
        Self {
            can_stop: c.can_stop,
            can_start: c.can_start,
            can_delete: c.can_delete,
            has_backups: c.has_backups,
            has_dependencies: c.has_dependencies,
            notes: c.notes,
        }
    }
}
