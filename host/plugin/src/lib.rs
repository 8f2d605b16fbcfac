//! Scanner plugins: untrusted WebAssembly components run in a sandbox.
//!
//! - [`engine`]: the one wasmtime engine, epoch ticker and authenticated compiled-code cache;
//! - [`manifest`]: the `plugin.toml` format;
//! - [`gate`]: the single gate every `aws.send` goes through: it derives the operation
//!   the way AWS will and grants operations, deny by default;
//! - [`limits`]: memory, fuel, time, request and size limits;
//! - `wit`: bindings, one module per WIT version;
//! - [`trust`]: reading a plugin folder once and checking it against what the user trusts;
//! - `runtime`: loading a trusted plugin and calling it;
//! - [`build`]: turning a scanner crate into a plugin folder;
//! - [`playbook`]: running playbook components, which finish a plan and may only narrow it.

#![deny(missing_docs)]

use cloudops_aws as aws;
use cloudops_core::{paths, resource};
use cloudops_seal as seal;

pub mod build;
pub mod engine;
pub mod gate;
pub mod limits;
pub mod manifest;
pub mod playbook;
pub mod replay;
mod runtime;
pub mod scan;
pub mod template;
pub mod trust;
mod wit;

use std::path::PathBuf;

pub use engine::{CacheStats, CodeCache, PluginEngine};
pub use limits::Limits;
pub use manifest::Manifest;
pub use runtime::{Plugin, PluginError, ResourceSink, ScanReport, ScanTarget, MANIFEST_FILE};
pub use trust::{PluginFiles, TrustStore, Trusted};

/// Plugin folders found under `roots`: each root that holds a `plugin.toml` itself, and
/// each direct subfolder of a root that does. Sorted by path; missing roots are skipped.
pub fn discover(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for root in roots {
        if root.join(MANIFEST_FILE).is_file() {
            found.push(root.clone());
            continue;
        }
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(MANIFEST_FILE).is_file())
            .collect();
        dirs.sort();
        found.extend(dirs);
    }
    found
}

/// Loads every plugin under `roots` that `trust` accepts. A plugin that is untrusted or
/// fails to load is reported and skipped: one bad plugin never keeps the others from working.
pub fn load_all(
    engine: &PluginEngine,
    roots: &[PathBuf],
    limits: &Limits,
    trust: &TrustStore,
) -> (Vec<Plugin>, Vec<PluginError>) {
    let mut plugins: Vec<Plugin> = Vec::new();
    let mut errors = Vec::new();
    for dir in discover(roots) {
        let plugin = match trust.load(engine, &dir, limits.clone()) {
            Ok(plugin) => plugin,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if plugins.iter().any(|p| p.name() == plugin.name()) {
            tracing::warn!(plugin = plugin.name(), dir = %dir.display(), "a plugin with this name was already loaded from an earlier folder; skipping");
        } else if let Some((owner, ty)) = type_owner(&plugins, &plugin) {
            // A resource type belongs to the first plugin that declares it: another one
            // emitting it could overwrite, or by its absence delete, that plugin's records.
            errors.push(PluginError::Invalid {
                plugin: plugin.name().to_owned(),
                reason: format!(
                    "it declares resource type `{ty}`, which plugin `{owner}` already owns"
                ),
            });
        } else {
            plugins.push(plugin);
        }
    }
    (plugins, errors)
}

/// The loaded plugin that already declares one of `plugin`'s resource types, and the type.
fn type_owner<'a>(loaded: &'a [Plugin], plugin: &Plugin) -> Option<(&'a str, String)> {
    plugin.info().resource_types.iter().find_map(|t| {
        loaded
            .iter()
            .find(|p| p.info().resource_types.iter().any(|o| o.name == t.name))
            .map(|p| (p.name(), t.name.clone()))
    })
}

/// The plugin folder of `name` under `roots`, if any.
pub fn find(roots: &[PathBuf], name: &str) -> Option<PathBuf> {
    discover(roots)
        .into_iter()
        .find(|dir| Manifest::load(&dir.join(MANIFEST_FILE)).is_ok_and(|m| m.name == name))
}
