//! Helpers for a scanner's unit tests, which run natively over recorded responses.
//!
//! ```
//! use cloudops_scanner_sdk::testing;
//! use cloudops_scanner_sdk::{Emitter, ScanContext};
//!
//! fn scan_with(
//!     ctx: &ScanContext,
//!     _send: (),
//!     out: &mut Emitter,
//!     warnings: &mut Vec<String>,
//! ) -> Result<(), String> {
//!     warnings.push(format!("nothing to scan in {}", ctx.region));
//!     Ok(())
//! }
//!
//! let ctx = testing::context("eu-west-1", &[("page_size", "5")]);
//! let (result, found) = testing::scan(&ctx, (), scan_with);
//! assert_eq!(result.unwrap(), ["nothing to scan in eu-west-1"]);
//! assert!(found.is_empty());
//! ```

use std::path::Path;

use crate::{relation, Constraints, Emitter, Resource, ScanContext, ScanSummary};

/// The account every test context scans.
pub const ACCOUNT: &str = "123456789012";

/// A scan context for account [`ACCOUNT`] in `region` of the `aws` partition, with the
/// given plugin settings.
pub fn context(region: &str, settings: &[(&str, &str)]) -> ScanContext {
    ScanContext {
        account_id: ACCOUNT.into(),
        region: region.into(),
        partition: "aws".into(),
        settings: settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// Runs `scan` as [`crate::run_scan`] does, but keeps what it emits instead of sending it
/// to the host. Returns the warnings (or the scan's error) and every resource emitted,
/// including those emitted before a failure.
pub fn scan<S, F>(
    ctx: &ScanContext,
    send: S,
    scan: F,
) -> (Result<Vec<String>, String>, Vec<Resource>)
where
    F: FnOnce(&ScanContext, S, &mut Emitter, &mut Vec<String>) -> Result<(), String>,
{
    let mut found = Vec::new();
    let out = Emitter::with_sink(|b: &[Resource]| found.extend_from_slice(b));
    let result = crate::scan::drive(ctx, send, out, |_| {}, scan);
    (result.map(|summary| summary.warnings), found)
}

/// Runs `scan` as [`crate::run_scan`] does and returns its whole [`ScanSummary`] (with
/// `incomplete_types`) or error, and every resource emitted.
pub fn run<S, F>(
    ctx: &ScanContext,
    send: S,
    scan: F,
) -> (Result<ScanSummary, String>, Vec<Resource>)
where
    F: FnOnce(&ScanContext, S, &mut Emitter, &mut Vec<String>) -> Result<(), String>,
{
    let mut found = Vec::new();
    let out = Emitter::with_sink(|b: &[Resource]| found.extend_from_slice(b));
    let result = crate::scan::drive(ctx, send, out, |_| {}, scan);
    (result, found)
}

/// The bytes of `tests/fixtures/{name}` in the crate under test; panics naming the path
/// when it cannot be read.
pub fn fixture(name: &str) -> Vec<u8> {
    // Cargo sets the variable for the test binaries it runs; the SDK's own compile-time
    // value would name the SDK's folder instead.
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let path = Path::new(&dir).join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A resource of `resource_type` (identifier and name `x`) in `state`, with `relations` as
/// (kind, target ARN) pairs and `metadata`, for `analyze` tests.
pub fn resource(
    resource_type: &str,
    state: Option<&str>,
    relations: &[(&str, &str)],
    metadata: &str,
) -> Resource {
    Resource {
        resource_type: resource_type.into(),
        identifier: "x".into(),
        arn: String::new(),
        name: "x".into(),
        region: "us-west-2".into(),
        state: state.map(Into::into),
        tags: Vec::new(),
        relations: relations.iter().map(|(k, a)| relation(*k, *a)).collect(),
        metadata: metadata.into(),
    }
}

/// The flags of `c` in the record's order: `can_stop`, `can_start`, `can_delete`,
/// `has_backups`, `has_dependencies`.
pub fn flags(c: &Constraints) -> [bool; 5] {
    [
        c.can_stop,
        c.can_start,
        c.can_delete,
        c.has_backups,
        c.has_dependencies,
    ]
}

/// A resource's metadata, parsed; panics when it is not JSON.
pub fn metadata(r: &Resource) -> serde_json::Value {
    serde_json::from_str(&r.metadata).unwrap_or_else(|e| panic!("{}: {e}", r.metadata))
}

/// A resource's relations as (kind, target ARN) pairs, in order.
pub fn relations(r: &Resource) -> Vec<(String, String)> {
    r.relations
        .iter()
        .map(|x| (x.kind.clone(), x.target_arn.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_resources_carry_what_analyze_reads() {
        let r = resource(
            "ec2_volume",
            Some("in-use"),
            &[("instance", "arn:i")],
            "{\"a\":1}",
        );
        assert_eq!(relations(&r), [("instance".to_owned(), "arn:i".to_owned())]);
        assert_eq!(metadata(&r)["a"], 1);
        assert_eq!(flags(&crate::constraints::none()), [false; 5]);
    }
}
