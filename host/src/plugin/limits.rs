//! Every resource limit a plugin runs under, in one place.
//!
//! A plugin is untrusted code: it gets a bounded amount of memory, CPU (fuel), wall time
//! (epoch deadline), AWS requests and response bytes per scan. Exceeding any of them ends
//! that plugin's call with an error; the host and the other plugins go on.

use std::time::Duration;

use wasmtime::{StoreLimits, StoreLimitsBuilder};

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits for one plugin call (`scan`, `describe` or `analyze`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum linear memory of the plugin, in bytes.
    pub memory_bytes: usize,
    /// Fuel (roughly, WebAssembly instructions) one `scan` may burn.
    pub scan_fuel: u64,
    /// Wall-clock time one `scan` may take, AWS round trips included.
    pub scan_timeout: Duration,
    /// Fuel for one `describe` or `analyze` call, which do no I/O.
    pub call_fuel: u64,
    /// Wall-clock time for one `describe` or `analyze` call.
    pub call_timeout: Duration,
    /// Largest AWS response body handed to a plugin, in bytes.
    pub max_response_bytes: usize,
    /// AWS requests one `scan` may make.
    pub max_requests_per_scan: u32,
    /// Resources one `scan` may emit.
    pub max_resources_per_scan: u32,
    /// Largest `metadata` JSON of one resource, in bytes.
    pub max_metadata_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            // A 1,000-instance DescribeInstances page parses in well under 1e9 units.
            scan_fuel: 50_000_000_000,
            scan_timeout: Duration::from_secs(15 * 60),
            call_fuel: 100_000_000,
            call_timeout: Duration::from_secs(5),
            max_response_bytes: 64 << 20,
            max_requests_per_scan: 10_000,
            max_resources_per_scan: 1_000_000,
            max_metadata_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// The memory limiter for one store. Growth past the cap traps (with a clear message)
    /// instead of returning -1, which guest allocators often turn into an obscure abort.
    pub(crate) fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.memory_bytes)
            // A component holds a few core instances (the module plus wit-component's
            // shims); the caps only stop a plugin from multiplying them.
            .instances(16)
            .memories(4)
            .tables(16)
            .trap_on_grow_failure(true)
            .build()
    }

    /// `timeout` as a number of epoch ticks, at least one.
    pub(crate) fn ticks(timeout: Duration) -> u64 {
        (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}
