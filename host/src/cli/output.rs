//! How results are shown: a table for people, one JSON document for scripts.

use std::process::ExitCode;

use cloudops_host::plugin::Plugin;
use cloudops_host::resource::Resource;
use cloudops_host::scan::RegionScan;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::json;

/// Prints the resources and per-region outcome of a scan; failure when any region failed.
///
/// JSON shape (stable):
/// `{ "service", "plugin": {name, version}, "account_id", "regions": [{region, ok, error,
/// resources, requests, fuel_used, peak_memory_bytes, duration_ms, warnings,
/// incomplete_types}],
/// "resources": [Resource] }`
pub fn print_scan(
    plugin: &Plugin,
    account_id: &str,
    scans: &[RegionScan],
    json_out: bool,
) -> ExitCode {
    let failed = scans.iter().any(|s| s.result.is_err());
    if json_out {
        let regions: Vec<_> = scans
            .iter()
            .map(|s| match &s.result {
                Ok(r) => json!({
                    "region": s.region, "ok": true, "error": null,
                    "resources": r.resources, "requests": r.requests, "fuel_used": r.fuel_used,
                    "peak_memory_bytes": r.peak_memory_bytes,
                    "duration_ms": r.duration.as_millis() as u64, "warnings": r.warnings,
                    "incomplete_types": r.incomplete_types,
                }),
                Err(e) => json!({
                    "region": s.region, "ok": false, "error": e.to_string(),
                    "resources": s.resources.len(), "warnings": [],
                }),
            })
            .collect();
        let resources: Vec<&Resource> = scans.iter().flat_map(|s| &s.resources).collect();
        let doc = json!({
            "service": plugin.name(),
            "plugin": { "name": plugin.name(), "version": plugin.info().version },
            "account_id": account_id,
            "regions": regions,
            "resources": resources,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON values serialize")
        );
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["TYPE", "ID", "NAME", "STATE", "REGION", "TAGS"]);
        for r in scans.iter().flat_map(|s| &s.resources) {
            let tags = r
                .tags
                .iter()
                .filter(|t| t.key != "Name")
                .map(|t| format!("{}={}", t.key, t.value))
                .collect::<Vec<_>>()
                .join(" ");
            table.add_row([
                r.resource_type.as_str(),
                r.identifier.as_str(),
                r.name.as_str(),
                r.state.as_deref().unwrap_or("-"),
                r.region.as_str(),
                tags.as_str(),
            ]);
        }
        println!("{table}");
        for s in scans {
            match &s.result {
                Ok(r) => {
                    eprintln!(
                        "{}: {} resources, {} requests, {:.0} ms",
                        s.region,
                        r.resources,
                        r.requests,
                        r.duration.as_secs_f64() * 1000.0
                    );
                    for w in &r.warnings {
                        eprintln!("  warning: {w}");
                    }
                }
                Err(e) => eprintln!("{}: FAILED: {e}", s.region),
            }
        }
        eprintln!(
            "account {account_id}, plugin {} {}",
            plugin.name(),
            plugin.info().version
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
