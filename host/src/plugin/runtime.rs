//! Loading a plugin and running its calls in a fresh, limited store.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{ResourceLimiter, Store, StoreLimits, Trap};

use crate::aws::{AwsClient, AwsRequest};
use crate::resource::{self, Constraints, PluginInfo, ResourceTypeInfo};

use super::capabilities::{Grant, Refusal};
use super::engine::PluginEngine;
use super::limits::Limits;
use super::manifest::{Manifest, ManifestError};
use super::trust::Trusted;
use super::wit::{self, latest, Bindings};

/// The file every plugin folder holds.
pub const MANIFEST_FILE: &str = "plugin.toml";

/// A plugin that cannot be loaded or whose call failed. Every variant names the plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// `plugin.toml` is missing or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The manifest describes a source folder, not a built plugin.
    #[error("plugin `{plugin}` in {dir} is not built: run `cloudops plugin build {dir}`")]
    NotBuilt {
        /// Plugin name.
        plugin: String,
        /// Its folder.
        dir: PathBuf,
    },
    /// The component file cannot be read.
    #[error("plugin `{plugin}`: cannot read {path}: {source}")]
    Io {
        /// Plugin name.
        plugin: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The component's hash differs from the manifest's.
    #[error(
        "plugin `{plugin}` was modified after it was built: {file} has sha256 {actual}, but \
         plugin.toml says {expected}. Refusing to load it; rebuild or reinstall the plugin"
    )]
    Tampered {
        /// Plugin name.
        plugin: String,
        /// The component file.
        file: PathBuf,
        /// The hash in the manifest.
        expected: String,
        /// The hash of the file.
        actual: String,
    },
    /// The plugin changed since the user trusted it.
    #[error(
        "plugin `{plugin}` in {dir} changed since it was trusted: its {what} no longer \
         matches what {trust_file} recorded. Refusing to run it. If you rebuilt or \
         reinstalled it on purpose, review it with `cloudops plugin trust {plugin}`"
    )]
    Untrusted {
        /// Plugin name.
        plugin: String,
        /// Its folder.
        dir: PathBuf,
        /// `component` or `plugin.toml`.
        what: &'static str,
        /// The trust file.
        trust_file: PathBuf,
    },
    /// The user never trusted the plugin. None of its code has run.
    #[error(
        "plugin `{plugin}` in {dir} is not trusted ({trust_file} has no record of it), so \
         none of its code was run. Review what it may do and trust it with `cloudops plugin \
         trust {plugin}`"
    )]
    NotTrusted {
        /// Plugin name.
        plugin: String,
        /// Its folder.
        dir: PathBuf,
        /// The trust file.
        trust_file: PathBuf,
    },
    /// The plugin targets a WIT version this host does not know.
    #[error(
        "plugin `{plugin}` targets cloudops:scanner@{version}, which this cloudops does not \
         support (it loads {supported}); update cloudops or use a plugin built for a supported version"
    )]
    UnsupportedWit {
        /// Plugin name.
        plugin: String,
        /// The version it targets.
        version: String,
        /// What this host loads.
        supported: String,
    },
    /// The component is not a valid scanner component.
    #[error("plugin `{plugin}` is not a valid scanner component: {reason}")]
    Invalid {
        /// Plugin name.
        plugin: String,
        /// What is wrong (compile or link error, mismatch with the manifest).
        reason: String,
    },
    /// A call trapped or hit a limit. The plugin's instance is discarded.
    #[error("plugin `{plugin}` was stopped during `{call}`: {reason}")]
    Trapped {
        /// Plugin name.
        plugin: String,
        /// `scan`, `describe` or `analyze`.
        call: &'static str,
        /// What happened, in words.
        reason: String,
    },
    /// The plugin's scan returned an error.
    #[error("plugin `{plugin}` failed to scan {account}/{region}: {message}")]
    ScanFailed {
        /// Plugin name.
        plugin: String,
        /// Account scanned.
        account: String,
        /// Region scanned.
        region: String,
        /// The plugin's message.
        message: String,
    },
}

/// Where one scan runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTarget {
    /// 12-digit account id.
    pub account_id: String,
    /// Region to scan.
    pub region: String,
    /// ARN partition.
    pub partition: String,
    /// Plugin settings from the user's configuration.
    pub settings: Vec<(String, String)>,
}

impl ScanTarget {
    /// A target in the `aws` partition with no settings.
    pub fn new(account_id: impl Into<String>, region: impl Into<String>) -> Self {
        let region = region.into();
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        Self {
            account_id: account_id.into(),
            region,
            partition: partition.into(),
            settings: Vec::new(),
        }
    }
}

/// What one completed scan did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// Resources accepted by the host.
    pub resources: u32,
    /// The plugin's warnings, then the host's (refused requests, rejected resources).
    pub warnings: Vec<String>,
    /// Resource types the plugin could not list completely: what is known of them must
    /// not be forgotten because this scan did not see it.
    pub incomplete_types: Vec<String>,
    /// AWS requests sent.
    pub requests: u32,
    /// Fuel burnt.
    pub fuel_used: u64,
    /// Largest linear memory the plugin had, in bytes.
    pub peak_memory_bytes: usize,
    /// Wall time of the call.
    pub duration: Duration,
}

/// Receives each accepted batch as the plugin emits it (a channel sender, usually).
pub type ResourceSink = Box<dyn FnMut(Vec<resource::Resource>) + Send>;

/// A verified, compiled plugin, ready to instantiate. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

struct Inner {
    manifest: Manifest,
    dir: PathBuf,
    grant: Arc<Grant>,
    info: PluginInfo,
    declared_types: Arc<BTreeSet<String>>,
    bindings: Bindings,
    engine: PluginEngine,
    limits: Limits,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.manifest.name)
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// Loads a plugin the user trusts: checks the WIT version, compiles the verified
    /// component bytes (or loads cached code), links only cloudops's own interfaces and asks
    /// the plugin to describe itself. Get `plugin` from [`TrustStore::check`] (or
    /// [`TrustStore::load`]): nothing of an untrusted plugin is compiled or run.
    ///
    /// [`TrustStore::check`]: super::trust::TrustStore::check
    /// [`TrustStore::load`]: super::trust::TrustStore::load
    pub fn load(
        engine: &PluginEngine,
        plugin: Trusted,
        limits: Limits,
    ) -> Result<Self, PluginError> {
        let files = plugin.into_files();
        let dir = files.dir().to_owned();
        let actual = files.component_sha256();
        let manifest = files.manifest().clone();
        let bytes = files.component();
        let name = manifest.name.clone();
        check_wit_supported(&name, &manifest.wit)?;

        let invalid = |reason: String| PluginError::Invalid {
            plugin: manifest.name.clone(),
            reason,
        };
        let component = engine
            .compile(bytes, &actual)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let exported = wit::exported_version(engine.engine(), &component)
            .ok_or_else(|| invalid("it does not export `cloudops:scanner/scanner`".into()))?;
        check_wit_supported(&name, &exported)?;
        if (exported.major, exported.minor) != (manifest.wit.major, manifest.wit.minor) {
            return Err(invalid(format!(
                "plugin.toml says wit = \"{}\" but the component exports cloudops:scanner@{exported}",
                manifest.wit
            )));
        }

        let bindings = Bindings::link(engine.engine(), &component, &exported)
            .map_err(|e| invalid(format!("{e:#}")))?;

        let grant = Arc::new(Grant::new(&name, &manifest.capabilities));
        let mut store = new_store(engine, &name, &limits, None);
        limit_call(&mut store, limits.call_fuel, limits.call_timeout);
        let info = bindings
            .describe(&mut store)
            .map_err(|e| trapped(&name, "describe", &e, &store, &limits))?;
        let info = PluginInfo {
            name: info.name,
            version: info.version,
            services: info.services,
            resource_types: info
                .resource_types
                .into_iter()
                .map(|t| ResourceTypeInfo {
                    name: t.name,
                    actions: t.actions,
                })
                .collect(),
        };
        if info.name != name {
            return Err(invalid(format!(
                "it calls itself `{}` but plugin.toml names it `{name}`",
                info.name
            )));
        }
        if let Some(s) = info
            .services
            .iter()
            .find(|s| !manifest.capabilities.services.contains(s))
        {
            return Err(invalid(format!(
                "it says it scans `{s}`, which plugin.toml does not list in capabilities.services"
            )));
        }
        let declared_types = Arc::new(info.resource_types.iter().map(|t| t.name.clone()).collect());
        Ok(Self {
            inner: Arc::new(Inner {
                manifest,
                dir,
                grant,
                info,
                declared_types,
                bindings,
                engine: engine.clone(),
                limits,
            }),
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.inner.manifest.name
    }

    /// The verified manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The folder the plugin was loaded from.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// What the plugin reported from `describe`.
    pub fn info(&self) -> &PluginInfo {
        &self.inner.info
    }

    /// Runs one scan of `target` in a fresh instance. Blocks the calling thread: call it
    /// from a blocking task. `runtime` drives the plugin's AWS requests; `sink` receives
    /// resources as they are emitted.
    pub fn scan(
        &self,
        target: &ScanTarget,
        client: &AwsClient,
        runtime: &tokio::runtime::Handle,
        sink: ResourceSink,
    ) -> Result<ScanReport, PluginError> {
        let inner = &self.inner;
        let limits = &inner.limits;
        let started = Instant::now();
        let call = ScanCall {
            grant: inner.grant.clone(),
            client: client.clone(),
            runtime: runtime.clone(),
            region: target.region.clone(),
            account_id: target.account_id.clone(),
            declared_types: inner.declared_types.clone(),
            limits: limits.clone(),
            requests: 0,
            emitted: 0,
            sink,
            warnings: Vec::new(),
            budget_warned: false,
        };
        let mut store = new_store(&inner.engine, self.name(), limits, Some(call));
        limit_call(&mut store, limits.scan_fuel, limits.scan_timeout);
        let ctx = latest::types::ScanContext {
            account_id: target.account_id.clone(),
            region: target.region.clone(),
            partition: target.partition.clone(),
            settings: target.settings.clone(),
        };
        let result = inner.bindings.scan(&mut store, &ctx);
        // Resources emitted before a failure have already been handed over: the caller
        // decides what an incomplete scan means (it must not delete what it did not see).
        let result = result.map_err(|e| trapped(self.name(), "scan", &e, &store, limits))?;
        let summary = result.map_err(|message| PluginError::ScanFailed {
            plugin: self.name().to_owned(),
            account: target.account_id.clone(),
            region: target.region.clone(),
            message,
        })?;
        let fuel_used = limits.scan_fuel - store.get_fuel().unwrap_or(0);
        let data = store.into_data();
        let call = data.call.expect("scan store has a call");
        let mut warnings = summary.warnings;
        warnings.extend(call.warnings);
        Ok(ScanReport {
            resources: call.emitted,
            warnings,
            incomplete_types: summary.incomplete_types,
            requests: call.requests,
            fuel_used,
            peak_memory_bytes: data.limiter.peak,
            duration: started.elapsed(),
        })
    }

    /// Asks the plugin what `resource`'s state allows.
    pub fn analyze(&self, resource: &resource::Resource) -> Result<Constraints, PluginError> {
        let inner = &self.inner;
        let mut store = new_store(&inner.engine, self.name(), &inner.limits, None);
        limit_call(
            &mut store,
            inner.limits.call_fuel,
            inner.limits.call_timeout,
        );
        let c = inner
            .bindings
            .analyze(&mut store, to_wit_resource(resource))
            .map_err(|e| trapped(self.name(), "analyze", &e, &store, &inner.limits))?;
        Ok(Constraints {
            can_stop: c.can_stop,
            can_start: c.can_start,
            can_delete: c.can_delete,
            has_backups: c.has_backups,
            has_dependencies: c.has_dependencies,
            notes: c.notes,
        })
    }
}

fn check_wit_supported(plugin: &str, version: &semver::Version) -> Result<(), PluginError> {
    if wit::SUPPORTED.contains(&(version.major, version.minor)) {
        return Ok(());
    }
    Err(PluginError::UnsupportedWit {
        plugin: plugin.to_owned(),
        version: version.to_string(),
        supported: wit::SUPPORTED
            .iter()
            .map(|(major, minor)| format!("{major}.{minor}.x"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The store's data: limits plus, during a scan, everything `aws.send` and `emit` need.
pub(crate) struct PluginState {
    plugin: Arc<str>,
    limiter: MemoryMeter,
    call: Option<ScanCall>,
    log_lines: u32,
}

struct ScanCall {
    grant: Arc<Grant>,
    client: AwsClient,
    runtime: tokio::runtime::Handle,
    region: String,
    account_id: String,
    declared_types: Arc<BTreeSet<String>>,
    limits: Limits,
    requests: u32,
    emitted: u32,
    sink: ResourceSink,
    warnings: Vec<String>,
    budget_warned: bool,
}

/// The store limiter, recording the largest memory the plugin asked for.
struct MemoryMeter {
    limits: StoreLimits,
    peak: usize,
}

impl ResourceLimiter for MemoryMeter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak = self.peak.max(desired);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

fn new_store(
    engine: &PluginEngine,
    plugin: &str,
    limits: &Limits,
    call: Option<ScanCall>,
) -> Store<PluginState> {
    let mut store = Store::new(
        engine.engine(),
        PluginState {
            plugin: plugin.into(),
            limiter: MemoryMeter {
                limits: limits.store_limits(),
                peak: 0,
            },
            call,
            log_lines: 0,
        },
    );
    store.limiter(|s| &mut s.limiter);
    store
}

fn limit_call(store: &mut Store<PluginState>, fuel: u64, timeout: Duration) {
    store.set_fuel(fuel).expect("fuel is enabled on the engine");
    store.set_epoch_deadline(Limits::ticks(timeout));
    store.epoch_deadline_trap();
}

/// Turns a trap into words a user can act on.
fn trapped(
    plugin: &str,
    call: &'static str,
    error: &wasmtime::Error,
    store: &Store<PluginState>,
    limits: &Limits,
) -> PluginError {
    let (fuel, timeout) = if call == "scan" {
        (limits.scan_fuel, limits.scan_timeout)
    } else {
        (limits.call_fuel, limits.call_timeout)
    };
    let reason = match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => format!("it used up its CPU budget of {fuel} fuel units"),
        Some(Trap::Interrupt) => format!("it ran past its {}s time limit", timeout.as_secs_f64()),
        Some(Trap::UnreachableCodeReached) => {
            "it crashed (a Rust plugin traps this way when it panics; see its log lines above)"
                .to_owned()
        }
        Some(Trap::StackOverflow) => "it overflowed its stack".to_owned(),
        Some(trap) => format!("it trapped: {trap}"),
        None if format!("{error:#}").contains("growing memory") => format!(
            "it tried to grow its memory past the {} MiB limit (it had {} MiB)",
            limits.memory_bytes >> 20,
            store.data().limiter.peak >> 20
        ),
        None => format!("{error:#}"),
    };
    PluginError::Trapped {
        plugin: plugin.to_owned(),
        call,
        reason,
    }
}

fn to_wit_resource(r: &resource::Resource) -> latest::types::Resource {
    latest::types::Resource {
        resource_type: r.resource_type.clone(),
        identifier: r.identifier.clone(),
        arn: r.arn.clone(),
        name: r.name.clone(),
        region: r.region.clone(),
        state: r.state.clone(),
        tags: r
            .tags
            .iter()
            .map(|t| latest::types::Tag {
                key: t.key.clone(),
                value: t.value.clone(),
            })
            .collect(),
        relations: r
            .relations
            .iter()
            .map(|rel| latest::types::Relation {
                kind: rel.kind.clone(),
                target_arn: rel.target_arn.clone(),
            })
            .collect(),
        metadata: serde_json::Value::Object(r.metadata.clone()).to_string(),
    }
}

impl ScanCall {
    /// Validates one emitted resource and converts it; `Err` says why it was rejected.
    fn accept(&self, r: latest::types::Resource) -> Result<resource::Resource, String> {
        if r.identifier.is_empty() {
            return Err("its identifier is empty".into());
        }
        if !self.declared_types.contains(&r.resource_type) {
            return Err(format!(
                "its type `{}` is not one the plugin declares in describe()",
                r.resource_type
            ));
        }
        if r.region != self.region && r.region != "global" {
            return Err(format!(
                "its region `{}` is not the scanned region `{}`",
                r.region, self.region
            ));
        }
        if !r.arn.starts_with("arn:") {
            return Err(format!("its ARN `{}` does not start with `arn:`", r.arn));
        }
        if r.metadata.len() > self.limits.max_metadata_bytes {
            return Err(format!(
                "its metadata is {} bytes, over the {}-byte limit",
                r.metadata.len(),
                self.limits.max_metadata_bytes
            ));
        }
        let metadata = match serde_json::from_str::<serde_json::Value>(&r.metadata) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => return Err("its metadata is JSON but not an object".into()),
            Err(e) => return Err(format!("its metadata is not valid JSON ({e})")),
        };
        Ok(resource::Resource {
            resource_type: r.resource_type,
            identifier: r.identifier,
            arn: r.arn,
            name: r.name,
            account_id: self.account_id.clone(),
            region: r.region,
            state: r.state,
            tags: r
                .tags
                .into_iter()
                .map(|t| resource::Tag {
                    key: t.key,
                    value: t.value,
                })
                .collect(),
            relations: r
                .relations
                .into_iter()
                .map(|rel| resource::Relation {
                    kind: rel.kind,
                    target_arn: rel.target_arn,
                })
                .collect(),
            metadata,
        })
    }
}

impl latest::types::Host for PluginState {}

impl latest::cloudops::scanner::aws::Host for PluginState {
    fn send(
        &mut self,
        req: latest::cloudops::scanner::aws::Request,
    ) -> Result<latest::cloudops::scanner::aws::Response, String> {
        let plugin = self.plugin.clone();
        let Some(call) = self.call.as_mut() else {
            let message = format!("plugin `{plugin}` may call aws.send only during scan()");
            tracing::warn!(plugin = %plugin, "{message}");
            return Err(message);
        };
        if call.requests >= call.limits.max_requests_per_scan {
            let refusal = Refusal::BudgetSpent {
                plugin: plugin.to_string(),
                limit: call.limits.max_requests_per_scan,
            };
            if !call.budget_warned {
                call.budget_warned = true;
                tracing::warn!(plugin = %plugin, "{refusal}");
                call.warnings.push(refusal.to_string());
            }
            return Err(refusal.to_string());
        }
        let mut request = AwsRequest {
            service: req.service,
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            body: req.body,
        };
        match call.grant.check(&mut request) {
            Ok(dropped) if !dropped.is_empty() => {
                tracing::warn!(plugin = %plugin, headers = ?dropped, "dropped headers a plugin may not set");
            }
            Ok(_) => {}
            Err(refusal) => {
                tracing::warn!(plugin = %plugin, region = %call.region, "refused: {refusal}");
                call.warnings.push(refusal.to_string());
                return Err(refusal.to_string());
            }
        }
        call.requests += 1;
        let response = call
            .runtime
            .block_on(
                call.client
                    .send(&request, &call.region, call.limits.max_response_bytes),
            )
            .map_err(|e| {
                tracing::debug!(plugin = %plugin, error = %e, "aws.send failed");
                e.to_string()
            })?;
        Ok(latest::cloudops::scanner::aws::Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}

/// Log lines one plugin call may write before the rest are dropped.
const MAX_LOG_LINES: u32 = 10_000;
/// Longest log line kept, in bytes.
const MAX_LOG_LINE: usize = 4096;

impl latest::cloudops::scanner::host::Host for PluginState {
    fn log(&mut self, level: latest::cloudops::scanner::host::Level, message: String) {
        use latest::cloudops::scanner::host::Level;
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            if self.log_lines == MAX_LOG_LINES + 1 {
                tracing::warn!(plugin = %self.plugin, "plugin log limit reached; dropping further lines");
            }
            return;
        }
        // Control characters could forge log lines or terminal escapes.
        let mut message: String = message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if message.len() > MAX_LOG_LINE {
            let cut = (0..=MAX_LOG_LINE)
                .rev()
                .find(|&i| message.is_char_boundary(i))
                .unwrap_or(0);
            message.truncate(cut);
            message.push('…');
        }
        let plugin = &*self.plugin;
        match level {
            Level::Error => tracing::error!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Trace => tracing::trace!(plugin, "{message}"),
        }
    }

    fn emit(&mut self, batch: Vec<latest::types::Resource>) -> u32 {
        let plugin = self.plugin.clone();
        let Some(call) = self.call.as_mut() else {
            tracing::warn!(plugin = %plugin, "emit outside scan() ignored");
            return 0;
        };
        let mut accepted = Vec::with_capacity(batch.len());
        for r in batch {
            if call.emitted >= call.limits.max_resources_per_scan {
                call.warnings.push(format!(
                    "plugin `{plugin}` emitted more than {} resources; the rest were dropped",
                    call.limits.max_resources_per_scan
                ));
                break;
            }
            let id = r.identifier.clone();
            match call.accept(r) {
                Ok(resource) => {
                    call.emitted += 1;
                    accepted.push(resource);
                }
                Err(why) => {
                    let warning = format!(
                        "plugin `{plugin}` emitted an invalid resource `{id}`: {why}; skipped"
                    );
                    tracing::warn!("{warning}");
                    call.warnings.push(warning);
                }
            }
        }
        let count = accepted.len() as u32;
        if !accepted.is_empty() {
            (call.sink)(accepted);
        }
        count
    }
}
