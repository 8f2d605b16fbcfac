//! The first-party VPC scanner: VPCs, subnets and security groups (with their rules
//! summarised).

mod analyze;
mod parse;

use cloudops_scanner_sdk::query::{self, QueryRequest};
use cloudops_scanner_sdk::{
    resource_type, run_scan, settings, Constraints, Emitter, Error, PluginInfo, Resource,
    ScanContext, ScanSummary, Scanner, Scope,
};

const API_VERSION: &str = "2016-11-15";

struct Vpc;

impl Scanner for Vpc {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "vpc".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            services: vec!["ec2".into()],
            resource_types: vec![
                resource_type("vpc", &["ec2:DeleteVpc"]),
                resource_type("vpc_subnet", &["ec2:DeleteSubnet"]),
                resource_type(
                    "vpc_security_group",
                    &[
                        "ec2:DeleteSecurityGroup",
                        "ec2:AuthorizeSecurityGroupIngress",
                        "ec2:RevokeSecurityGroupIngress",
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
    // Read as the ec2 scanner reads it: the same API, the same bounds.
    let page = settings::page_size(ctx, MIN_PAGE, MAX_PAGE, MAX_PAGE, warnings);
    let paged = |action| move |token: Option<&str>| request(action, page, token);
    query::list(
        &mut send,
        paged("DescribeVpcs"),
        |b| parse::vpcs_page(b, &scope),
        out,
        warnings,
    )?;
    query::list(
        &mut send,
        paged("DescribeSubnets"),
        |b| parse::subnets_page(b, &scope),
        out,
        warnings,
    )?;
    query::list(
        &mut send,
        paged("DescribeSecurityGroups"),
        |b| parse::security_groups_page(b, &scope),
        out,
        warnings,
    )
}

/// The most items AWS returns per page of these calls, and the fewest it accepts.
const MAX_PAGE: u32 = 1000;
const MIN_PAGE: u32 = 5;

fn request(action: &str, page: u32, token: Option<&str>) -> QueryRequest {
    QueryRequest::new("ec2", action, API_VERSION)
        .param("MaxResults", page.to_string())
        .param_opt("NextToken", token)
}

cloudops_scanner_sdk::export!(Vpc);

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::{self, context, fixture};

    /// Answers like the moto emulator did when these fixtures were recorded. moto 5.2 does
    /// not page these listings, so paging is tested with a hand-written first page.
    fn moto(req: &QueryRequest) -> Result<Vec<u8>, Error> {
        let name = match (req.action(), req.param_value("NextToken")) {
            ("DescribeVpcs", None) => "moto_describe_vpcs.xml",
            ("DescribeSubnets", None) => "moto_describe_subnets.xml",
            ("DescribeSecurityGroups", None) => "moto_describe_security_groups.xml",
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
        let info = Vpc::describe();
        assert_eq!(info.name, "vpc");
        assert_eq!(info.services, ["ec2"]);
        let names: Vec<_> = info.resource_types.iter().map(|t| &t.name[..]).collect();
        assert_eq!(names, ["vpc", "vpc_subnet", "vpc_security_group"]);
        assert_eq!(info.resource_types[0].actions, ["ec2:DeleteVpc"]);
        assert_eq!(info.resource_types[2].actions.len(), 3);
    }

    #[test]
    fn a_scan_of_the_emulator_reports_everything() {
        let (result, all) = run(&[], moto);
        assert_eq!(result.unwrap(), Vec::<String>::new());
        let count = |t: &str| all.iter().filter(|r| r.resource_type == t).count();
        assert_eq!(count("vpc"), 3, "the default VPC and two more");
        assert_eq!(count("vpc_subnet"), 8, "four default subnets and four more");
        assert_eq!(count("vpc_security_group"), 5);
        for r in &all {
            let meta: serde_json::Value = serde_json::from_str(&r.metadata).unwrap();
            assert!(meta.is_object(), "{}", r.metadata);
            assert!(
                r.arn.starts_with("arn:aws:ec2:us-west-2:123456789012:"),
                "{}",
                r.arn
            );
        }
    }

    #[test]
    fn paging_follows_next_token_and_passes_the_page_size() {
        let mut sent = Vec::new();
        let (result, all) = run(&[("page_size", "5")], |req| {
            sent.push(req.body());
            match (req.action(), req.param_value("NextToken")) {
                ("DescribeVpcs", None) => Ok(fixture("describe_vpcs_page1.xml")),
                ("DescribeVpcs", Some("dnBjLTI=")) => Ok(fixture("moto_describe_vpcs.xml")),
                _ => moto(req),
            }
        });
        result.unwrap();
        assert_eq!(
            sent[..2],
            [
                "Action=DescribeVpcs&Version=2016-11-15&MaxResults=5",
                "Action=DescribeVpcs&Version=2016-11-15&MaxResults=5&NextToken=dnBjLTI%3D",
            ]
        );
        assert_eq!(sent.len(), 4);
        let vpcs = all.iter().filter(|r| r.resource_type == "vpc").count();
        assert_eq!(vpcs, 4, "one from the first page, three from the second");
    }

    #[test]
    fn a_failed_listing_fails_the_scan_and_names_the_call() {
        let (result, all) = run(&[], |req| {
            if req.action() == "DescribeSecurityGroups" {
                Err(Error::from_response(
                    403,
                    b"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors></Response>",
                ))
            } else {
                moto(req)
            }
        });
        assert_eq!(
            result.unwrap_err(),
            "DescribeSecurityGroups failed: UnauthorizedOperation: no (HTTP 403)"
        );
        assert_eq!(all.len(), 11, "VPCs and subnets found before are kept");
        let (result, _) = run(&[], |_| Ok(b"<html>502</html>".to_vec()));
        assert!(result
            .unwrap_err()
            .starts_with("DescribeVpcs failed: cannot parse"));
    }

    #[test]
    fn an_unreadable_page_size_is_a_warning_and_the_maximum() {
        let mut sent = Vec::new();
        let (result, _) = run(&[("page_size", "lots")], |req| {
            sent.push(req.param_value("MaxResults").map(str::to_owned));
            moto(req)
        });
        assert_eq!(
            result.unwrap(),
            ["setting page_size = \"lots\" is not a number from 5 to 1000; using 1000"]
        );
        assert!(
            sent.iter().all(|m| m.as_deref() == Some("1000")),
            "{sent:?}"
        );
    }

    #[test]
    fn the_manifest_agrees_with_describe() {
        let manifest = include_str!("../plugin.toml");
        let info = Vpc::describe();
        assert!(manifest.contains(&format!("name = \"{}\"", info.name)));
        assert!(manifest.contains(&format!("version = \"{}\"", info.version)));
        assert!(manifest.contains(&format!("wit = \"{}\"", cloudops_scanner_sdk::WIT_VERSION)));
        assert!(manifest.contains("services = [\"ec2\"]"));
    }
}
