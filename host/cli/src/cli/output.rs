//! How results are shown: a table for people, one JSON document for scripts.

use std::process::ExitCode;

use cloudops_host::plugin::Plugin;
use cloudops_host::scan::{AccessReport, RegionScan};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::json;

/// Prints the resources and per-region outcome of a scan; failure when any region failed.
///
/// JSON shape (stable):
/// `{ "service", "plugin": {name, version}, "account_id", "regions": [{region, ok, error,
/// resources, requests, fuel_used, peak_memory_bytes, duration_ms, warnings,
/// incomplete_types}], "resources": [Resource] }`; with `--iam` also `"principal"`,
/// `"permission_errors"`, and per resource `"permissions": {allowed, denied: [{action,
/// explicit}]} | null` and `"constraints"`.
pub fn print_scan(
    plugin: &Plugin,
    account_id: &str,
    scans: &[RegionScan],
    access: Option<&AccessReport>,
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
        let resources: Vec<serde_json::Value> = scans
            .iter()
            .flat_map(|s| &s.resources)
            .map(|r| {
                let mut value = serde_json::to_value(r).expect("resources serialize");
                if let Some(a) = access.and_then(|a| a.resources.get(&r.arn)) {
                    value["permissions"] =
                        serde_json::to_value(&a.permissions).expect("serializable");
                    value["constraints"] =
                        serde_json::to_value(&a.constraints).expect("serializable");
                }
                value
            })
            .collect();
        let mut doc = json!({
            "service": plugin.name(),
            "plugin": { "name": plugin.name(), "version": plugin.info().version },
            "account_id": account_id,
            "regions": regions,
            "resources": resources,
        });
        if let Some(a) = access {
            doc["principal"] = serde_json::to_value(&a.principal).expect("serializable");
            doc["permission_errors"] = json!(a.errors);
        }
        out!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON values serialize")
        );
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        let mut header = vec!["TYPE", "ID", "NAME", "STATE", "REGION", "TAGS"];
        if access.is_some() {
            header.push("YOU MAY");
        }
        table.set_header(header);
        for r in scans.iter().flat_map(|s| &s.resources) {
            let tags = r
                .tags
                .iter()
                .filter(|t| t.key != "Name")
                .map(|t| format!("{}={}", t.key, t.value))
                .collect::<Vec<_>>()
                .join(" ");
            let mut row = vec![
                r.resource_type.clone(),
                r.identifier.clone(),
                r.name.clone(),
                r.state.clone().unwrap_or_else(|| "-".into()),
                r.region.clone(),
                tags,
            ];
            if let Some(a) = access {
                row.push(match a.resources.get(&r.arn) {
                    Some(a) => {
                        let c = &a.constraints;
                        let may: Vec<&str> = [
                            (c.can_stop, "stop"),
                            (c.can_start, "start"),
                            (c.can_delete, "delete"),
                        ]
                        .into_iter()
                        .filter_map(|(ok, what)| ok.then_some(what))
                        .collect();
                        let may = if may.is_empty() {
                            "-".to_owned()
                        } else {
                            may.join(",")
                        };
                        // Without IAM answers this is what the state allows, not what you may do.
                        if a.permissions.is_none() {
                            format!("{may} (IAM unknown)")
                        } else {
                            may
                        }
                    }
                    None => "?".into(),
                });
            }
            table.add_row(row);
        }
        out!("{table}");
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
