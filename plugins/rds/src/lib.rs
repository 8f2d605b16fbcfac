//! The first-party RDS scanner: DB instances, DB clusters (Aurora and Multi-AZ), and the
//! manual and automated snapshots of both.

mod analyze;
mod parse;

use cloudops_scanner_sdk::query::{paginate_with, QueryRequest};
use cloudops_scanner_sdk::{
    log, setting, Constraints, Emitter, Error, PluginInfo, Resource, ResourceTypeInfo, ScanContext,
    ScanSummary, Scanner,
};

use parse::{Page, Scope};

const API_VERSION: &str = "2014-10-31";

struct Rds;

impl Scanner for Rds {
    fn describe() -> PluginInfo {
        let kind = |name: &str, actions: &[&str]| ResourceTypeInfo {
            name: name.to_owned(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        };
        PluginInfo {
            name: "rds".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            services: vec!["rds".into()],
            resource_types: vec![
                kind(
                    "rds_instance",
                    &[
                        "rds:StopDBInstance",
                        "rds:StartDBInstance",
                        "rds:RebootDBInstance",
                        "rds:DeleteDBInstance",
                        "rds:CreateDBSnapshot",
                        "rds:ModifyDBInstance",
                    ],
                ),
                kind(
                    "rds_cluster",
                    &[
                        "rds:StopDBCluster",
                        "rds:StartDBCluster",
                        "rds:DeleteDBCluster",
                        "rds:CreateDBClusterSnapshot",
                        "rds:FailoverDBCluster",
                    ],
                ),
                // Cluster snapshots are rds_snapshots too; their actions have their own names.
                kind(
                    "rds_snapshot",
                    &[
                        "rds:DeleteDBSnapshot",
                        "rds:CopyDBSnapshot",
                        "rds:RestoreDBInstanceFromDBSnapshot",
                        "rds:DeleteDBClusterSnapshot",
                        "rds:CopyDBClusterSnapshot",
                        "rds:RestoreDBClusterFromSnapshot",
                    ],
                ),
            ],
        }
    }

    fn scan(ctx: ScanContext) -> Result<ScanSummary, String> {
        let mut out = Emitter::new();
        let warnings = scan_with(&ctx, QueryRequest::send, &mut out)?;
        for w in &warnings {
            log::warn(w);
        }
        Ok(ScanSummary {
            resources: out.finish(),
            warnings,
        })
    }

    fn analyze(r: Resource) -> Constraints {
        analyze::constraints(&r)
    }
}

/// The whole scan over any `send`, so tests can replay recorded responses. Returns the
/// warnings; the first failed listing fails the scan with a message naming the call.
fn scan_with(
    ctx: &ScanContext,
    mut send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
    out: &mut Emitter,
) -> Result<Vec<String>, String> {
    let scope = Scope::of(ctx);
    let mut warnings = Vec::new();
    let page = page_size(ctx, &mut warnings);
    let mut list = |action: &str, parse: &dyn Fn(&[u8]) -> Result<Page, Error>| {
        let pages = paginate_with(
            &mut send,
            |marker| request(action, page, marker),
            |body| {
                let page = parse(body)?;
                out.extend(page.resources);
                warnings.extend(page.warnings);
                Ok((Vec::<()>::new(), page.marker))
            },
        )
        .map_err(|e| format!("{action} failed: {e}"))?;
        warnings.extend(pages.warnings);
        Ok::<(), String>(())
    };
    list("DescribeDBInstances", &|b| parse::instances_page(b, &scope))?;
    list("DescribeDBClusters", &|b| parse::clusters_page(b, &scope))?;
    list("DescribeDBSnapshots", &|b| parse::snapshots_page(b, &scope))?;
    list("DescribeDBClusterSnapshots", &|b| {
        parse::cluster_snapshots_page(b, &scope)
    })?;
    Ok(warnings)
}

/// RDS accepts `MaxRecords` from 20 to 100.
const MAX_PAGE: u32 = 100;
const MIN_PAGE: u32 = 20;

/// The `page_size` setting (20 to 100), for users behind slow links or strict throttling;
/// out-of-range or unparsable values fall back to the maximum with a warning.
fn page_size(ctx: &ScanContext, warnings: &mut Vec<String>) -> u32 {
    let Some(value) = setting(ctx, "page_size") else {
        return MAX_PAGE;
    };
    match value.parse::<u32>() {
        Ok(n) if (MIN_PAGE..=MAX_PAGE).contains(&n) => n,
        _ => {
            warnings.push(format!(
                "setting page_size = {value:?} is not a number from {MIN_PAGE} to {MAX_PAGE}; using {MAX_PAGE}"
            ));
            MAX_PAGE
        }
    }
}

/// Every listing pages the same way. Without `SnapshotType`, DescribeDBSnapshots returns
/// both manual and automated snapshots and leaves out shared and public ones, which
/// belong to other accounts.
fn request(action: &str, page: u32, marker: Option<&str>) -> QueryRequest {
    QueryRequest::new("rds", action, API_VERSION)
        .param("MaxRecords", page.to_string())
        .param_opt("Marker", marker)
}

cloudops_scanner_sdk::export!(Rds);

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(settings: &[(&str, &str)]) -> ScanContext {
        ScanContext {
            account_id: "123456789012".into(),
            region: "us-west-2".into(),
            partition: "aws".into(),
            settings: settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn param<'a>(req: &'a QueryRequest, key: &str) -> Option<&'a str> {
        req.params()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Answers like the moto emulator did when these fixtures were recorded.
    fn moto(req: &QueryRequest) -> Result<Vec<u8>, Error> {
        let name = match (req.action(), param(req, "Marker")) {
            ("DescribeDBInstances", None) => "moto_describe_db_instances_page1.xml",
            ("DescribeDBInstances", Some(_)) => "moto_describe_db_instances_page2.xml",
            ("DescribeDBClusters", None) => "moto_describe_db_clusters.xml",
            ("DescribeDBSnapshots", None) => "moto_describe_db_snapshots.xml",
            ("DescribeDBClusterSnapshots", None) => "moto_describe_db_cluster_snapshots.xml",
            other => panic!("unexpected request {other:?}"),
        };
        Ok(fixture(name))
    }

    fn run(
        settings: &[(&str, &str)],
        send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
    ) -> (Result<Vec<String>, String>, Vec<Resource>) {
        let mut batches = Vec::new();
        let result = {
            let mut out = Emitter::with_sink(|b: &[Resource]| batches.push(b.to_vec()));
            scan_with(&ctx(settings), send, &mut out)
        };
        (result, batches.concat())
    }

    #[test]
    fn describe_lists_three_types_with_their_actions() {
        let info = Rds::describe();
        assert_eq!(info.name, "rds");
        assert_eq!(info.services, ["rds"]);
        let names: Vec<_> = info.resource_types.iter().map(|t| &t.name[..]).collect();
        assert_eq!(names, ["rds_instance", "rds_cluster", "rds_snapshot"]);
        assert!(info.resource_types[0]
            .actions
            .contains(&"rds:StopDBInstance".to_owned()));
        assert!(info.resource_types[1]
            .actions
            .contains(&"rds:FailoverDBCluster".to_owned()));
    }

    #[test]
    fn a_scan_of_the_emulator_follows_markers_and_reports_everything() {
        let (result, all) = run(&[], moto);
        assert_eq!(result.unwrap(), Vec::<String>::new());
        let ids = |t: &str| -> Vec<&str> {
            all.iter()
                .filter(|r| r.resource_type == t)
                .map(|r| &r.identifier[..])
                .collect()
        };
        assert_eq!(
            ids("rds_instance"),
            [
                "pg-main",
                "pg-main-replica",
                "mysql-dev",
                "aurora-main-1",
                "aurora-main-2"
            ]
        );
        assert_eq!(ids("rds_cluster"), ["aurora-main"]);
        assert_eq!(
            ids("rds_snapshot"),
            [
                "rds:pg-main-2026-11-27-17-05",
                "rds:mysql-dev-2026-11-27-17-05",
                "rds:aurora-main-1-2026-11-27-17-05",
                "rds:aurora-main-2-2026-11-27-17-05",
                "pg-main-before-upgrade",
                "rds:aurora-main-2026-11-27-17-05",
                "aurora-main-manual",
            ]
        );
        for r in &all {
            let meta: serde_json::Value = serde_json::from_str(&r.metadata).unwrap();
            assert!(meta.is_object(), "{}", r.metadata);
            assert!(
                r.arn.starts_with("arn:aws:rds:us-west-2:123456789012:"),
                "{}",
                r.arn
            );
        }
    }

    #[test]
    fn requests_carry_the_page_size_and_the_marker() {
        let req = request("DescribeDBSnapshots", 20, Some("m/1="));
        assert_eq!(
            req.body(),
            "Action=DescribeDBSnapshots&Version=2014-10-31&MaxRecords=20&Marker=m%2F1%3D"
        );
        let mut sent = Vec::new();
        let (result, _) = run(&[("page_size", "20")], |req| {
            sent.push((
                req.action().to_owned(),
                param(req, "MaxRecords").map(str::to_owned),
            ));
            moto(req)
        });
        result.unwrap();
        assert_eq!(sent.len(), 5, "two pages of instances, one of each other");
        assert!(sent.iter().all(|(_, m)| m.as_deref() == Some("20")));
    }

    #[test]
    fn a_failed_listing_fails_the_scan_and_names_the_call() {
        let (result, all) = run(&[], |req| {
            if req.action() == "DescribeDBSnapshots" {
                Err(Error::from_response(
                    403,
                    b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>",
                ))
            } else {
                moto(req)
            }
        });
        assert_eq!(
            result.unwrap_err(),
            "DescribeDBSnapshots failed: AccessDenied: not allowed (HTTP 403)"
        );
        assert_eq!(all.len(), 6, "instances and clusters found before are kept");
    }

    #[test]
    fn an_html_page_fails_the_scan_instead_of_emptying_it() {
        let (result, _) = run(&[], |_| Ok(b"<html><body>502</body></html>".to_vec()));
        let err = result.unwrap_err();
        assert!(
            err.starts_with("DescribeDBInstances failed: cannot parse"),
            "{err}"
        );
    }

    #[test]
    fn page_size_setting_is_honoured_within_rds_bounds() {
        let mut warnings = Vec::new();
        assert_eq!(page_size(&ctx(&[("page_size", "20")]), &mut warnings), 20);
        assert_eq!(page_size(&ctx(&[]), &mut warnings), MAX_PAGE);
        assert!(warnings.is_empty());
        assert_eq!(
            page_size(&ctx(&[("page_size", "5")]), &mut warnings),
            MAX_PAGE
        );
        assert_eq!(
            warnings,
            ["setting page_size = \"5\" is not a number from 20 to 100; using 100"]
        );
    }

    #[test]
    fn the_manifest_agrees_with_describe() {
        let manifest = include_str!("../plugin.toml");
        let info = Rds::describe();
        assert!(manifest.contains(&format!("name = \"{}\"", info.name)));
        assert!(manifest.contains(&format!("version = \"{}\"", info.version)));
        assert!(manifest.contains(&format!("wit = \"{}\"", cloudops_scanner_sdk::WIT_VERSION)));
        assert!(manifest.contains("services = [\"rds\"]"));
    }
}
