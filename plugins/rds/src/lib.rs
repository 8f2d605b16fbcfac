//! The first-party RDS scanner: DB instances, DB clusters (Aurora and Multi-AZ), and the
//! manual and automated snapshots of both.

mod analyze;
mod parse;

use cloudops_scanner_sdk::query::{self, QueryRequest};
use cloudops_scanner_sdk::{
    resource_type, run_scan, settings, Constraints, Emitter, Error, Page, PluginInfo, Resource,
    ScanContext, ScanSummary, Scanner, Scope,
};

const API_VERSION: &str = "2014-10-31";

struct Rds;

impl Scanner for Rds {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "rds".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            services: vec!["rds".into()],
            resource_types: vec![
                resource_type(
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
                resource_type(
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
                resource_type(
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
        run_scan(&ctx, QueryRequest::send, scan_with)
    }

    fn analyze(r: Resource) -> Constraints {
        analyze::constraints(&r)
    }
}

/// The whole scan over any `send`, so tests can replay recorded responses. The first
/// failed listing fails the scan with a message naming the call.
fn scan_with(
    ctx: &ScanContext,
    mut send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
    out: &mut Emitter,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let scope = Scope::of(ctx);
    // For users behind slow links or strict throttling.
    let page = settings::page_size(ctx, MIN_PAGE, MAX_PAGE, MAX_PAGE, warnings);
    let listings: [(&str, ParsePage); 4] = [
        ("DescribeDBInstances", parse::instances_page),
        ("DescribeDBClusters", parse::clusters_page),
        ("DescribeDBSnapshots", parse::snapshots_page),
        ("DescribeDBClusterSnapshots", parse::cluster_snapshots_page),
    ];
    for (action, parse) in listings {
        query::list(
            &mut send,
            |marker| request(action, page, marker),
            |body| parse(body, &scope),
            out,
            warnings,
        )?;
    }
    Ok(())
}

/// Reads one page of a listing into resources.
type ParsePage = fn(&[u8], &Scope) -> Result<Page<Resource>, Error>;

/// RDS accepts `MaxRecords` from 20 to 100.
const MAX_PAGE: u32 = 100;
const MIN_PAGE: u32 = 20;

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
    use cloudops_scanner_sdk::testing::{self, context, fixture};

    /// Answers like the moto emulator did when these fixtures were recorded.
    fn moto(req: &QueryRequest) -> Result<Vec<u8>, Error> {
        let name = match (req.action(), req.param_value("Marker")) {
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
        testing::scan(&context("us-west-2", settings), send, scan_with)
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
                req.param_value("MaxRecords").map(str::to_owned),
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
    fn a_page_size_below_what_rds_accepts_is_a_warning_and_the_maximum() {
        let mut sent = Vec::new();
        let (result, _) = run(&[("page_size", "5")], |req| {
            sent.push(req.param_value("MaxRecords").map(str::to_owned));
            moto(req)
        });
        assert_eq!(
            result.unwrap(),
            ["setting page_size = \"5\" is not a number from 20 to 100; using 100"]
        );
        assert!(sent.iter().all(|m| m.as_deref() == Some("100")), "{sent:?}");
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
