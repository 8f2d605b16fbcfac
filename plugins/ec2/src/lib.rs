//! The first-party EC2 scanner: instances, EBS volumes and the snapshots the account owns.

mod analyze;
mod parse;

use cloudops_scanner_sdk::query::{self, QueryRequest};
use cloudops_scanner_sdk::{
    resource_type, run_scan, settings, Constraints, Emitter, Error, PluginInfo, Resource,
    ScanContext, ScanSummary, Scanner, Scope,
};

const API_VERSION: &str = "2016-11-15";

struct Ec2;

impl Scanner for Ec2 {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "ec2".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            services: vec!["ec2".into()],
            resource_types: vec![
                resource_type(
                    "ec2_instance",
                    &[
                        "ec2:StartInstances",
                        "ec2:StopInstances",
                        "ec2:RebootInstances",
                        "ec2:TerminateInstances",
                        "ec2:CreateImage",
                    ],
                ),
                resource_type(
                    "ec2_volume",
                    &["ec2:CreateSnapshot", "ec2:DeleteVolume", "ec2:DetachVolume"],
                ),
                resource_type("ec2_snapshot", &["ec2:DeleteSnapshot", "ec2:CopySnapshot"]),
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
    query::list(
        &mut send,
        |t| instances_request(page, t),
        |b| parse::instances_page(b, &scope),
        out,
        warnings,
    )?;
    query::list(
        &mut send,
        |t| volumes_request(page, t),
        |b| parse::volumes_page(b, &scope),
        out,
        warnings,
    )?;
    query::list(
        &mut send,
        |t| snapshots_request(&ctx.account_id, page, t),
        |b| parse::snapshots_page(b, &scope),
        out,
        warnings,
    )
}

/// The most items AWS returns per page of these calls, and the fewest it accepts.
const MAX_PAGE: u32 = 1000;
const MIN_PAGE: u32 = 5;

fn ec2(action: &str, token: Option<&str>) -> QueryRequest {
    QueryRequest::new("ec2", action, API_VERSION).param_opt("NextToken", token)
}

/// MaxResults counts reservations on some emulators and instances on AWS; following
/// NextToken is right either way.
fn instances_request(page: u32, token: Option<&str>) -> QueryRequest {
    ec2("DescribeInstances", token).param("MaxResults", page.to_string())
}

/// DescribeVolumes pages hold at most 500.
fn volumes_request(page: u32, token: Option<&str>) -> QueryRequest {
    ec2("DescribeVolumes", token).param("MaxResults", page.min(500).to_string())
}

/// Without `Owner=self` the listing would hold every public snapshot in the region. The
/// `owner-id` filter says the same for emulators that ignore `Owner`; it also keeps their
/// responses small.
fn snapshots_request(account: &str, page: u32, token: Option<&str>) -> QueryRequest {
    ec2("DescribeSnapshots", token)
        .param_list("Owner", ["self"])
        .filter(1, "owner-id", [account])
        .param("MaxResults", page.to_string())
}

cloudops_scanner_sdk::export!(Ec2);

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::{self, context, fixture};

    #[test]
    fn describe_lists_three_types_with_their_actions() {
        let info = Ec2::describe();
        assert_eq!(info.name, "ec2");
        assert_eq!(info.version, "0.1.0");
        assert_eq!(info.services, ["ec2"]);
        let names: Vec<_> = info.resource_types.iter().map(|t| &t.name[..]).collect();
        assert_eq!(names, ["ec2_instance", "ec2_volume", "ec2_snapshot"]);
        assert!(info.resource_types[0]
            .actions
            .contains(&"ec2:StopInstances".to_owned()));
    }

    /// Answers like the moto emulator did when these fixtures were recorded.
    fn moto(req: &QueryRequest) -> Result<Vec<u8>, Error> {
        let name = match (req.action(), req.param_value("NextToken")) {
            ("DescribeInstances", None) => "moto_describe_instances_page1.xml",
            ("DescribeInstances", Some("r-90234f73a76db99e6")) => {
                "moto_describe_instances_page2.xml"
            }
            ("DescribeVolumes", None) => "moto_describe_volumes.xml",
            ("DescribeSnapshots", None) => "moto_describe_snapshots.xml",
            other => panic!("unexpected request {other:?}"),
        };
        Ok(fixture(name))
    }

    fn run(
        settings: &[(&str, &str)],
        send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
    ) -> (Result<Vec<String>, String>, Vec<Resource>) {
        testing::scan(&context("eu-west-1", settings), send, scan_with)
    }

    #[test]
    fn an_unreadable_volume_makes_volumes_incomplete_and_an_odd_size_is_unread() {
        let send = |req: &QueryRequest| {
            if req.action() != "DescribeVolumes" {
                return moto(req);
            }
            let body = String::from_utf8(fixture("moto_describe_volumes.xml")).unwrap();
            // The first volume loses its id; the second one's size does not read.
            let body = body
                .replacen(
                    "<volumeId>vol-28ea6127d01ba1b0f</volumeId><size>",
                    "<size>",
                    1,
                )
                .replacen(
                    "<volumeId>vol-da19d1cbfa657b159</volumeId><size>8</size>",
                    "<volumeId>vol-da19d1cbfa657b159</volumeId><size>eight</size>",
                    1,
                );
            Ok(body.into_bytes())
        };
        let (result, all) = testing::run(&context("eu-west-1", &[]), send, scan_with);
        let summary = result.unwrap();
        assert_eq!(summary.incomplete_types, ["ec2_volume"]);
        let volumes: Vec<_> = all
            .iter()
            .filter(|r| r.resource_type == "ec2_volume")
            .collect();
        assert_eq!(volumes.len(), 5, "the other volumes are still reported");
        let odd = volumes
            .iter()
            .find(|r| r.identifier == "vol-da19d1cbfa657b159")
            .unwrap();
        let meta = testing::metadata(odd);
        assert_eq!(meta["_unread"], serde_json::json!(["size_gib"]), "{meta}");
        assert!(meta.get("size_gib").is_none(), "never a default: {meta}");
    }

    #[test]
    fn a_scan_of_the_emulator_follows_paging_and_reports_everything() {
        let (result, all) = run(&[], moto);
        assert_eq!(result.unwrap(), Vec::<String>::new());
        let count = |t: &str| all.iter().filter(|r| r.resource_type == t).count();
        assert_eq!(count("ec2_instance"), 4, "both pages of instances");
        assert_eq!(
            count("ec2_volume"),
            6,
            "four root volumes, one data, one spare"
        );
        assert_eq!(count("ec2_snapshot"), 1, "only the account's own snapshot");

        let web: Vec<_> = all.iter().filter(|r| r.name == "web").collect();
        assert_eq!(web.len(), 3);
        let kinds: Vec<_> = web[0].relations.iter().map(|r| &r.kind[..]).collect();
        assert_eq!(
            kinds,
            ["subnet", "vpc", "security_group", "volume", "volume"]
        );

        let data = all.iter().find(|r| r.name == "data").unwrap();
        assert_eq!(data.state.as_deref(), Some("in-use"));
        assert_eq!(data.relations[0].kind, "instance");
        let snap = all
            .iter()
            .find(|r| r.resource_type == "ec2_snapshot")
            .unwrap();
        assert_eq!(snap.relations[0].target_arn, data.arn);
        for r in &all {
            let meta: serde_json::Value = serde_json::from_str(&r.metadata).unwrap();
            assert!(meta.is_object(), "{}", r.metadata);
            assert!(r.arn.starts_with("arn:aws:ec2:eu-west-1:"), "{}", r.arn);
        }
    }

    #[test]
    fn requests_ask_for_own_snapshots_and_pass_the_token() {
        let req = snapshots_request("123456789012", MAX_PAGE, Some("tok"));
        assert_eq!(
            req.body(),
            "Action=DescribeSnapshots&Version=2016-11-15&NextToken=tok&Owner.1=self\
             &Filter.1.Name=owner-id&Filter.1.Value.1=123456789012&MaxResults=1000"
        );
        assert_eq!(
            instances_request(MAX_PAGE, None).param_value("MaxResults"),
            Some("1000")
        );
        assert_eq!(
            instances_request(MAX_PAGE, None).param_value("NextToken"),
            None
        );
    }

    #[test]
    fn a_failed_listing_fails_the_scan_and_names_the_call() {
        let (result, batches) = run(&[], |req| {
            if req.action() == "DescribeVolumes" {
                Err(Error::from_response(
                    401,
                    b"<Response><Errors><Error><Code>AuthFailure</Code><Message>denied</Message></Error></Errors></Response>",
                ))
            } else {
                moto(req)
            }
        });
        assert_eq!(
            result.unwrap_err(),
            "DescribeVolumes failed: AuthFailure: denied (HTTP 401)"
        );
        assert_eq!(
            batches.len(),
            4,
            "instances found before the failure are kept"
        );
    }

    #[test]
    fn a_host_refusal_is_passed_through() {
        let (result, _) = run(&[], |_| Err(Error::Refused("request budget spent".into())));
        assert_eq!(
            result.unwrap_err(),
            "DescribeInstances failed: request budget spent"
        );
    }

    #[test]
    fn an_html_page_from_a_proxy_fails_the_scan_instead_of_emptying_it() {
        let (result, _) = run(&[], |_| {
            Ok(b"<html><body>502 Bad Gateway</body></html>".to_vec())
        });
        let err = result.unwrap_err();
        assert!(
            err.starts_with("DescribeInstances failed: cannot parse"),
            "{err}"
        );
    }

    #[test]
    fn a_repeating_token_ends_paging_with_a_warning() {
        let (result, batches) = run(&[], |req| match req.action() {
            "DescribeInstances" => Ok(fixture("describe_instances_page1.xml")),
            _ => moto(req),
        });
        let warnings = result.unwrap();
        assert_eq!(
            warnings,
            ["DescribeInstances returned a NextToken it had already returned; stopped paging after 2 pages"]
        );
        let instances = batches
            .iter()
            .filter(|r| r.resource_type == "ec2_instance")
            .count();
        assert_eq!(
            instances, 2,
            "the same page, read twice before the repeat was seen"
        );
    }

    #[test]
    fn the_manifest_agrees_with_describe() {
        let manifest = include_str!("../plugin.toml");
        let info = Ec2::describe();
        assert!(manifest.contains(&format!("name = \"{}\"", info.name)));
        assert!(manifest.contains(&format!("version = \"{}\"", info.version)));
        assert!(manifest.contains(&format!("wit = \"{}\"", cloudops_scanner_sdk::WIT_VERSION)));
        assert!(manifest.contains("services = [\"ec2\"]"));
    }

    #[test]
    fn page_size_setting_is_honoured_within_aws_bounds() {
        let mut sent = Vec::new();
        let (result, _) = run(&[("page_size", "5")], |req| {
            sent.push(req.param_value("MaxResults").map(str::to_owned));
            moto(req)
        });
        assert_eq!(result.unwrap(), Vec::<String>::new());
        let five = Some("5".to_owned());
        assert_eq!(sent, [five.clone(), five.clone(), five.clone(), five]);
        let (result, _) = run(&[("page_size", "2")], moto);
        assert_eq!(
            result.unwrap(),
            ["setting page_size = \"2\" is not a number from 5 to 1000; using 1000"]
        );
        assert_eq!(
            volumes_request(MAX_PAGE, None).param_value("MaxResults"),
            Some("500")
        );
    }
}
