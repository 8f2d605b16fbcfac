//! Loading a plugin and running its calls in a fresh, limited store.
//!
//! Over 800 lines: the plugin's store state and every host import that touches it (`aws.send`,
//! `emit`, `log`) stay together; the gate, limits and WIT bindings have their own modules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{ResourceLimiter, Store, StoreLimits, Trap};

use crate::aws::{AwsClient, AwsRequest};
use crate::resource::{self, Constraints, PluginInfo, ResourceTypeInfo};

use super::engine::PluginEngine;
use super::gate::{self, Grant, Refusal};
use super::limits::{clean_text, Limits, LineBudget};
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

        let grant = Arc::new(
            Grant::new(&manifest.capabilities, limits.request_caps())
                .map_err(|e| invalid(e.to_string()))?,
        );
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
            emitted_bytes: 0,
            sink,
            warnings: LineBudget::new(limits.max_warnings, limits.max_log_line_bytes),
            warning_lines: Vec::new(),
            rejected_types: BTreeSet::new(),
            owned_buckets: None,
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
            message: clean_text(&message, limits.max_log_line_bytes),
        })?;
        let fuel_used = limits.scan_fuel - store.get_fuel().unwrap_or(0);
        let data = store.into_data();
        let call = data.call.expect("scan store has a call");
        let mut warnings: Vec<String> = summary
            .warnings
            .iter()
            .take(limits.max_warnings)
            .map(|w| clean_text(w, limits.max_log_line_bytes))
            .collect();
        warnings.extend(call.warning_lines);
        if call.warnings.dropped > 0 {
            warnings.push(format!(
                "{} more warnings from the host were repeats or over the limit of {}",
                call.warnings.dropped, limits.max_warnings
            ));
        }
        let mut incomplete_types: BTreeSet<String> = summary
            .incomplete_types
            .into_iter()
            .filter(|t| inner.declared_types.contains(t))
            .collect();
        incomplete_types.extend(call.rejected_types);
        let incomplete_types = incomplete_types.into_iter().collect();
        Ok(ScanReport {
            resources: call.emitted,
            warnings,
            incomplete_types,
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

/// A store for one playbook component run (`plan`): its `aws.send` goes through `grant`
/// in (`account_id`, `region`) exactly as a scan's does (the same gate, account checks and
/// request budget, here `limits.max_component_requests`); it emits nothing.
pub(crate) fn component_store(
    engine: &PluginEngine,
    name: &str,
    limits: &Limits,
    grant: Arc<Grant>,
    client: &AwsClient,
    runtime: &tokio::runtime::Handle,
    (account_id, region): (&str, &str),
) -> Store<PluginState> {
    let limits = Limits {
        max_requests_per_scan: limits.max_component_requests,
        ..limits.clone()
    };
    let call = ScanCall {
        grant,
        client: client.clone(),
        runtime: runtime.clone(),
        region: region.to_owned(),
        account_id: account_id.to_owned(),
        declared_types: Arc::new(BTreeSet::new()),
        limits: limits.clone(),
        requests: 0,
        emitted: 0,
        emitted_bytes: 0,
        sink: Box::new(|_| {}),
        warnings: LineBudget::new(limits.max_warnings, limits.max_log_line_bytes),
        warning_lines: Vec::new(),
        rejected_types: BTreeSet::new(),
        owned_buckets: None,
    };
    let mut store = new_store(engine, name, &limits, Some(call));
    limit_call(&mut store, limits.component_fuel, limits.component_timeout);
    store
}

/// What a component run's `aws.send` did: requests charged, and the refusals and other
/// warnings the host recorded.
pub(crate) fn component_requests(store: &Store<PluginState>) -> (u32, Vec<String>) {
    store
        .data()
        .call
        .as_ref()
        .map_or((0, Vec::new()), |c| (c.requests, c.warning_lines.clone()))
}

/// The largest linear memory the store's guest had, in bytes.
pub(crate) fn peak_memory(store: &Store<PluginState>) -> usize {
    store.data().limiter.peak
}

/// The store's data: limits plus, during a scan, everything `aws.send` and `emit` need.
pub(crate) struct PluginState {
    plugin: Arc<str>,
    limiter: MemoryMeter,
    call: Option<ScanCall>,
    log: LineBudget,
}

struct ScanCall {
    grant: Arc<Grant>,
    client: AwsClient,
    runtime: tokio::runtime::Handle,
    region: String,
    account_id: String,
    declared_types: Arc<BTreeSet<String>>,
    limits: Limits,
    /// Requests charged: refused ones and every retry count.
    requests: u32,
    emitted: u32,
    emitted_bytes: usize,
    sink: ResourceSink,
    warnings: LineBudget,
    warning_lines: Vec<String>,
    /// Declared types of which the host dropped an emitted resource: what is stored of them
    /// must not be deleted as unseen, since the resource was seen.
    rejected_types: BTreeSet<String>,
    /// The account's own buckets, read by the host on the first S3 bucket request.
    owned_buckets: Option<Result<BTreeSet<String>, String>>,
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
            log: LineBudget::new(limits.max_log_lines as usize, limits.max_log_line_bytes),
            call,
        },
    );
    store.limiter(|s| &mut s.limiter);
    store
}

pub(crate) fn limit_call(store: &mut Store<PluginState>, fuel: u64, timeout: Duration) {
    store.set_fuel(fuel).expect("fuel is enabled on the engine");
    store.set_epoch_deadline(Limits::ticks(timeout));
    store.epoch_deadline_trap();
}

/// Turns a trap into words a user can act on.
pub(crate) fn trapped(
    plugin: &str,
    call: &'static str,
    error: &wasmtime::Error,
    store: &Store<PluginState>,
    limits: &Limits,
) -> PluginError {
    let (fuel, timeout) = if call == "scan" {
        (limits.scan_fuel, limits.scan_timeout)
    } else if call == "plan" {
        (limits.component_fuel, limits.component_timeout)
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
    /// Identity fields must be clean as sent (changing them would change what the record
    /// is); display fields are cleaned of control characters.
    fn accept(&self, r: latest::types::Resource) -> Result<resource::Resource, String> {
        let limits = &self.limits;
        let size = resource_bytes(&r);
        if size > limits.max_resource_bytes {
            return Err(format!(
                "it is {size} bytes, over the {}-byte limit per resource",
                limits.max_resource_bytes
            ));
        }
        if r.identifier.is_empty() {
            return Err("its identifier is empty".into());
        }
        let dirty = |s: &str| s.chars().any(char::is_control);
        if dirty(&r.identifier) || dirty(&r.arn) || dirty(&r.resource_type) {
            return Err("its identifier, ARN or type holds control characters".into());
        }
        if !self.declared_types.contains(&r.resource_type) {
            return Err(format!(
                "its type {} is not one the plugin declares in describe()",
                gate::shown(&r.resource_type)
            ));
        }
        if r.region != self.region && r.region != "global" {
            return Err(format!(
                "its region {} is not the scanned region `{}`",
                gate::shown(&r.region),
                self.region
            ));
        }
        if !r.arn.starts_with("arn:") {
            return Err(format!(
                "its ARN {} does not start with `arn:`",
                gate::shown(&r.arn)
            ));
        }
        if r.metadata.len() > limits.max_metadata_bytes {
            return Err(format!(
                "its metadata is {} bytes, over the {}-byte limit",
                r.metadata.len(),
                limits.max_metadata_bytes
            ));
        }
        let metadata = match serde_json::from_str::<serde_json::Value>(&r.metadata) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => return Err("its metadata is JSON but not an object".into()),
            Err(e) => return Err(format!("its metadata is not valid JSON ({e})")),
        };
        let clean = |s: &str| clean_text(s, limits.max_log_line_bytes);
        Ok(resource::Resource {
            resource_type: r.resource_type,
            identifier: r.identifier,
            arn: r.arn,
            name: clean(&r.name),
            account_id: self.account_id.clone(),
            region: r.region,
            state: r.state.as_deref().map(clean),
            tags: r
                .tags
                .iter()
                .map(|t| resource::Tag {
                    key: clean(&t.key),
                    value: clean(&t.value),
                })
                .collect(),
            relations: r
                .relations
                .into_iter()
                .map(|rel| resource::Relation {
                    kind: clean(&rel.kind),
                    target_arn: rel.target_arn,
                })
                .collect(),
            metadata,
        })
    }

    /// Records a warning for the scan's report (de-duplicated, capped) and logs it.
    fn warn(&mut self, plugin: &str, warning: String) {
        if let Some(line) = self.warnings.admit(&warning) {
            tracing::warn!(plugin, "{line}");
            self.warning_lines.push(line);
        }
    }

    /// Charges `n` requests to the scan's budget; `false` when it is spent.
    fn charge(&mut self, n: u32) -> bool {
        self.requests = self.requests.saturating_add(n);
        self.requests <= self.limits.max_requests_per_scan
    }

    /// The checks that need the scan's context: the request must stay in the scanned
    /// account. S3 requests go only to buckets the account owns, and carry the host's
    /// `x-amz-expected-bucket-owner` so S3 itself refuses any other owner's bucket.
    fn keep_in_account(&mut self, classified: &mut gate::Classified) -> Result<(), Refusal> {
        if let Some(arn) = gate::foreign_arn(&classified.request, &self.account_id) {
            return Err(Refusal::OtherAccount { what: arn });
        }
        if classified.operation.service != "s3" {
            return Ok(());
        }
        let Some((_, bucket)) = classified.labels.iter().find(|(l, _)| *l == "Bucket") else {
            return Ok(());
        };
        if self.owned_buckets.is_none() {
            self.owned_buckets = Some(self.list_own_buckets());
        }
        match self.owned_buckets.as_ref().expect("set above") {
            Ok(owned) if owned.contains(bucket) => {}
            Ok(_) => {
                return Err(Refusal::OtherAccount {
                    what: format!("bucket {}", gate::shown(bucket)),
                })
            }
            Err(why) => {
                return Err(Refusal::OtherAccount {
                    what: format!(
                        "bucket {} (the host could not list the account's buckets: {why})",
                        gate::shown(bucket)
                    ),
                })
            }
        }
        classified.request.headers.push((
            "x-amz-expected-bucket-owner".into(),
            self.account_id.clone(),
        ));
        Ok(())
    }

    /// The host's own ListBuckets (not the plugin's), charged to the plugin's budget.
    fn list_own_buckets(&mut self) -> Result<BTreeSet<String>, String> {
        let request = AwsRequest {
            service: "s3".into(),
            method: "GET".into(),
            path: "/".into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let mut attempts = 0;
        let response = self.runtime.block_on(self.client.send_counted(
            &request,
            &self.region,
            self.limits.max_response_bytes,
            &mut attempts,
        ));
        self.charge(attempts);
        let response = response.map_err(|e| e.to_string())?;
        if !response.is_success() {
            let (code, message) = crate::aws::xml::error_of(response.status, &response.body);
            return Err(format!("{code}: {message}"));
        }
        Ok(crate::aws::xml::texts(&response.body, "Name")
            .into_iter()
            .collect())
    }
}

/// Bytes of every string of a resource: what holding it costs the host.
fn resource_bytes(r: &latest::types::Resource) -> usize {
    r.resource_type.len()
        + r.identifier.len()
        + r.arn.len()
        + r.name.len()
        + r.region.len()
        + r.state.as_ref().map_or(0, String::len)
        + r.tags
            .iter()
            .map(|t| t.key.len() + t.value.len() + 16)
            .sum::<usize>()
        + r.relations
            .iter()
            .map(|x| x.kind.len() + x.target_arn.len() + 16)
            .sum::<usize>()
        + r.metadata.len()
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
        // Every call is charged before anything else, refused ones included, so a plugin
        // cannot make the host work (or log) without bound by sending what it may not.
        if !call.charge(1) {
            let refusal = Refusal::BudgetSpent {
                limit: call.limits.max_requests_per_scan,
            };
            call.warn(&plugin, format!("plugin `{plugin}`: {refusal}"));
            return Err(refusal.to_string());
        }
        let request = AwsRequest {
            service: req.service,
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            body: req.body,
        };
        let checked = call.grant.check(&request).and_then(|mut classified| {
            call.keep_in_account(&mut classified)?;
            Ok(classified)
        });
        let classified = match checked {
            Ok(classified) => classified,
            Err(refusal) => {
                call.warn(
                    &plugin,
                    format!("plugin `{plugin}` refused in {}: {refusal}", call.region),
                );
                return Err(refusal.to_string());
            }
        };
        tracing::trace!(plugin = %plugin, operation = %classified.operation, "aws.send");
        // The request sent is the one the gate rebuilt, never the plugin's bytes. The first
        // attempt was charged above; retries are charged as they happen.
        let mut attempts = 0;
        let response = call.runtime.block_on(call.client.send_counted(
            &classified.request,
            &call.region,
            call.limits.max_response_bytes,
            &mut attempts,
        ));
        call.charge(attempts.saturating_sub(1));
        let response = response.map_err(|e| {
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

impl latest::cloudops::scanner::host::Host for PluginState {
    fn log(&mut self, level: latest::cloudops::scanner::host::Level, message: String) {
        use latest::cloudops::scanner::host::Level;
        let plugin = &*self.plugin;
        let Some(message) = self.log.admit(&message) else {
            if self.log.dropped == 1 || self.log.dropped.is_power_of_two() {
                tracing::debug!(
                    plugin,
                    dropped = self.log.dropped,
                    "plugin log lines dropped (repeats or over the limit)"
                );
            }
            return;
        };
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
        let mut over = false;
        for r in batch {
            // A dropped resource still exists: its type must not count as completely seen.
            // Only declared types are kept; nothing of an undeclared one is stored anyway.
            let reject = |call: &mut ScanCall, resource_type: String| {
                if call.declared_types.contains(&resource_type) {
                    call.rejected_types.insert(resource_type);
                }
            };
            if over
                || call.emitted >= call.limits.max_resources_per_scan
                || call.emitted_bytes >= call.limits.max_scan_bytes
            {
                if !over {
                    call.warn(
                        &plugin,
                        format!(
                            "plugin `{plugin}` emitted more than {} resources or {} bytes; the rest were dropped",
                            call.limits.max_resources_per_scan, call.limits.max_scan_bytes
                        ),
                    );
                    over = true;
                }
                reject(call, r.resource_type);
                continue;
            }
            let id = gate::shown(&r.identifier);
            let bytes = resource_bytes(&r);
            let resource_type = r.resource_type.clone();
            match call.accept(r) {
                Ok(resource) => {
                    call.emitted += 1;
                    call.emitted_bytes += bytes;
                    accepted.push(resource);
                }
                Err(why) => {
                    call.warn(
                        &plugin,
                        format!(
                            "plugin `{plugin}` emitted an invalid resource {id}: {why}; skipped, \
                             so nothing of its type is removed this sync"
                        ),
                    );
                    reject(call, resource_type);
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
