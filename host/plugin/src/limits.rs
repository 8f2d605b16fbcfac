//! Every resource limit a plugin runs under, in one place.
//!
//! A plugin is untrusted code: it gets a bounded amount of memory, CPU (fuel), wall time
//! (epoch deadline), AWS requests and response bytes per scan. Exceeding any of them ends
//! that plugin's call with an error; the host and the other plugins go on.
//!
//! Each limit is enforced where the guest's data enters the host (the store limiter for
//! memory and tables, `aws.send` for requests, `emit` for resources, `log` and the scan's
//! warnings for text), so that what a hostile plugin can make the host hold is bounded by
//! its own memory cap plus these constants, never by how often it calls.

use std::collections::HashSet;
use std::time::Duration;

use wasmtime::{StoreLimits, StoreLimitsBuilder};

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Batches of emitted resources (one per `emit` call) that may wait between a running scan
/// and whoever stores them. A plugin that gets further ahead of the store waits in `emit`
/// (its wall-clock deadline keeps running), so a fast scanner in front of a slow store
/// holds at most this many batches, not its whole scan.
pub const EMITTED_BATCHES_IN_FLIGHT: usize = 32;

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
    /// Largest resource (every string of it, metadata included), in bytes.
    pub max_resource_bytes: usize,
    /// Largest sum of accepted resources' bytes in one scan.
    pub max_scan_bytes: usize,
    /// Largest request path, query string and body a plugin may send, in bytes.
    pub max_request_path_bytes: usize,
    /// See `max_request_path_bytes`.
    pub max_request_query_bytes: usize,
    /// See `max_request_path_bytes`.
    pub max_request_body_bytes: usize,
    /// Log lines one call may write; repeats are not counted again, only tallied.
    pub max_log_lines: u32,
    /// Longest log line or warning kept, in bytes.
    pub max_log_line_bytes: usize,
    /// Warnings one scan keeps for its report; the rest are counted.
    pub max_warnings: usize,
    /// Elements of all tables of one plugin (`table.grow` is memory too).
    pub max_table_elements: usize,
    /// Fuel one playbook component run (`playbook.plan`) may burn: a few reads and a
    /// page of steps, far less than a scan.
    pub component_fuel: u64,
    /// Wall-clock time one playbook component run may take, AWS round trips included.
    pub component_timeout: Duration,
    /// AWS requests one playbook component run may make (refused ones and retries count).
    pub max_component_requests: u32,
    /// Largest result a component may return (every string of every step), in bytes.
    pub max_component_output_bytes: usize,
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
            max_resource_bytes: 256 << 10,
            // The demo's largest scan (2,500 instances) holds ~6 MB of resources.
            max_scan_bytes: 1 << 30,
            max_request_path_bytes: 2048,
            max_request_query_bytes: 8192,
            max_request_body_bytes: 1 << 20,
            max_log_lines: 10_000,
            max_log_line_bytes: 4096,
            max_warnings: 200,
            max_table_elements: 100_000,
            component_fuel: 5_000_000_000,
            component_timeout: Duration::from_secs(120),
            max_component_requests: 200,
            max_component_output_bytes: 1 << 20,
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
            .table_elements(self.max_table_elements)
            .trap_on_grow_failure(true)
            .build()
    }

    /// `timeout` as a number of epoch ticks, at least one.
    pub(crate) fn ticks(timeout: Duration) -> u64 {
        (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    /// The request caps the gate applies.
    pub fn request_caps(&self) -> super::gate::RequestCaps {
        super::gate::RequestCaps {
            path: self.max_request_path_bytes,
            query: self.max_request_query_bytes,
            body: self.max_request_body_bytes,
        }
    }
}

/// Plugin text made safe for a terminal, a log or the app: control characters (escape
/// sequences, carriage returns, OSC clipboard writes) become spaces, and the text is cut
/// to `max_bytes` on a character boundary.
pub fn clean_text(text: &str, max_bytes: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.len() > max_bytes {
        let cut = (0..=max_bytes)
            .rev()
            .find(|&i| out.is_char_boundary(i))
            .unwrap_or(0);
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// A bounded, de-duplicated record of lines (a plugin's log lines, or a scan's warnings):
/// a line seen before is only tallied, and past `max` lines the rest are only counted.
#[derive(Debug)]
pub(crate) struct LineBudget {
    seen: HashSet<u64>,
    kept: usize,
    max: usize,
    line_bytes: usize,
    /// Lines dropped as repeats or over the cap.
    pub dropped: u64,
}

impl LineBudget {
    pub(crate) fn new(max: usize, line_bytes: usize) -> Self {
        Self {
            seen: HashSet::new(),
            kept: 0,
            max,
            line_bytes,
            dropped: 0,
        }
    }

    /// The cleaned line if it is new and within the cap; `None` when it is dropped.
    pub(crate) fn admit(&mut self, line: &str) -> Option<String> {
        use std::hash::{Hash, Hasher};
        let line = clean_text(line, self.line_bytes);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        line.hash(&mut hasher);
        if self.kept >= self.max || !self.seen.insert(hasher.finish()) {
            self.dropped += 1;
            return None;
        }
        self.kept += 1;
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_strips_escapes_and_caps_length() {
        assert_eq!(clean_text("a\u{1b}]52;c;aGk=\u{7}b", 100), "a ]52;c;aGk= b");
        assert_eq!(clean_text("line\r\nforged", 100), "line  forged");
        assert_eq!(clean_text("ééé", 3), "é…");
    }

    /// Runs `export`, a function of the WAT module `wat`, under the default limits.
    fn run_limited(wat: &str, export: &str) -> wasmtime::Result<i32> {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let mut store = wasmtime::Store::new(&engine, Limits::default().store_limits());
        store.limiter(|limits| limits);
        let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
        let f = instance.get_typed_func::<(), i32>(&mut store, export)?;
        f.call(&mut store, ())
    }

    #[test]
    fn table_growth_past_the_cap_traps() {
        let wat = r#"(module (table 1 funcref)
            (func (export "small") (result i32) (table.grow (ref.null func) (i32.const 1000)))
            (func (export "huge") (result i32) (table.grow (ref.null func) (i32.const 100000000))))"#;
        assert_eq!(run_limited(wat, "small").unwrap(), 1);
        let err = run_limited(wat, "huge").unwrap_err();
        assert!(format!("{err:?}").contains("table"), "{err:?}");
    }

    #[test]
    fn memory_growth_past_the_cap_traps() {
        // 4,096 pages of 64 KiB is the 256 MiB cap; one more is refused with a trap.
        let wat = r#"(module (memory 1)
            (func (export "ok") (result i32) (memory.grow (i32.const 4000)))
            (func (export "over") (result i32) (memory.grow (i32.const 4096))))"#;
        assert_eq!(run_limited(wat, "ok").unwrap(), 1);
        let err = run_limited(wat, "over").unwrap_err();
        assert!(format!("{err:?}").contains("memory"), "{err:?}");
    }

    #[test]
    fn table_count_is_capped() {
        // A module with more tables than the cap cannot even be instantiated.
        let tables: String = (0..17).map(|_| "(table 1 funcref)").collect();
        let wat = format!(r#"(module {tables} (func (export "f") (result i32) (i32.const 0)))"#);
        assert!(run_limited(&wat, "f").is_err());
    }

    #[test]
    fn line_budget_deduplicates_and_caps() {
        let mut budget = LineBudget::new(2, 100);
        assert!(budget.admit("a").is_some());
        assert!(budget.admit("a").is_none());
        assert!(budget.admit("b").is_some());
        assert!(budget.admit("c").is_none());
        assert_eq!(budget.dropped, 2);
        // The set of seen lines is bounded by the cap, whatever is sent.
        for i in 0..10_000 {
            budget.admit(&i.to_string());
        }
        assert_eq!(budget.seen.len(), 2);
    }
}
