use super::*;
use cloudops_scanner_sdk::testing::{self, context, fixture};

const WEB: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/web-alb/9c7e01ea1468e5c6";
const NLB: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/int-nlb/436d85200fdda9e1";
const EC2: &str = "arn:aws:ec2:us-west-2:123456789012:";

/// Answers like the moto emulator did when these fixtures were recorded: it pages
/// DescribeLoadBalancers by load balancer name.
fn moto(req: &QueryRequest) -> Result<Vec<u8>, Error> {
    let name = match (req.action(), req.param_value("Marker")) {
        ("DescribeLoadBalancers", None) => "moto_describe_load_balancers_page1.xml",
        ("DescribeLoadBalancers", Some("web-alb")) => "moto_describe_load_balancers_page2.xml",
        ("DescribeTags", None) => "moto_describe_tags.xml",
        other => panic!("unexpected request {other:?}"),
    };
    Ok(fixture(name))
}

fn run(
    send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
) -> (Result<Vec<String>, String>, Vec<Resource>) {
    testing::scan(&context("us-west-2", &[]), send, scan_with)
}

fn relations(r: &Resource) -> Vec<(&str, String)> {
    r.relations.iter().map(|x| (&x.kind[..], x.target_arn.clone())).collect()
}

#[test]
fn describe_and_the_manifest_agree() {
    let info = Elb::describe();
    assert_eq!(info.name, "elb");
    assert_eq!(info.services, ["elasticloadbalancing"]);
    assert_eq!(info.resource_types[0].name, "elb_load_balancer");
    assert_eq!(
        info.resource_types[0].actions,
        [
            "elasticloadbalancing:DeleteLoadBalancer",
            "elasticloadbalancing:ModifyLoadBalancerAttributes"
        ]
    );
    let manifest = include_str!("../plugin.toml");
    assert!(manifest.contains(&format!("name = \"{}\"", info.name)));
    assert!(manifest.contains(&format!("version = \"{}\"", info.version)));
    assert!(manifest.contains(&format!("wit = \"{}\"", cloudops_scanner_sdk::WIT_VERSION)));
    assert!(manifest.contains("services = [\"elasticloadbalancing\"]"));
}

#[test]
fn a_scan_of_the_emulator_follows_markers_and_tags_each_load_balancer() {
    let mut sent = Vec::new();
    let (result, all) = run(|req| {
        sent.push(req.body());
        moto(req)
    });
    assert_eq!(result.unwrap(), Vec::<String>::new());
    assert_eq!(
        sent,
        [
            "Action=DescribeLoadBalancers&Version=2015-12-01".to_owned(),
            "Action=DescribeLoadBalancers&Version=2015-12-01&Marker=web-alb".to_owned(),
            format!(
                "Action=DescribeTags&Version=2015-12-01&ResourceArns.member.1={}&ResourceArns.member.2={}",
                cloudops_scanner_sdk::query::percent_encode(WEB),
                cloudops_scanner_sdk::query::percent_encode(NLB)
            ),
        ]
    );
    let [web, nlb] = &all[..] else { panic!("expected two load balancers, got {all:?}") };
    assert_eq!(web.resource_type, "elb_load_balancer");
    assert_eq!((&web.identifier[..], &web.arn[..]), (WEB, WEB));
    assert_eq!(web.name, "Web ALB", "the Name tag wins over the load balancer's name");
    assert_eq!(web.state.as_deref(), Some("active"));
    let tags: Vec<_> = web.tags.iter().map(|t| (&t.key[..], &t.value[..])).collect();
    assert_eq!(tags, [("env", "prod"), ("Name", "Web ALB")]);
    assert_eq!(
        relations(web),
        [
            ("vpc", format!("{EC2}vpc/vpc-200246049dcf3d480")),
            ("subnet", format!("{EC2}subnet/subnet-1d6a1a6eb532b596b")),
            ("subnet", format!("{EC2}subnet/subnet-d7928ce511445fd30")),
            ("security_group", format!("{EC2}security-group/sg-fa87153328109089c")),
        ]
    );
    let meta: serde_json::Value = serde_json::from_str(&web.metadata).unwrap();
    assert_eq!(
        meta,
        serde_json::json!({
            "type": "application",
            "scheme": "internet-facing",
            "dns_name": "web-alb-1.us-west-2.elb.amazonaws.com",
            "vpc_id": "vpc-200246049dcf3d480",
            "availability_zones": ["us-west-2a", "us-west-2b"],
            "created_time": "2026-11-27T17:06:07.829000Z",
        })
    );
    assert_eq!(nlb.name, "int-nlb");
    assert!(nlb.tags.is_empty());
    let meta: serde_json::Value = serde_json::from_str(&nlb.metadata).unwrap();
    assert_eq!((&meta["type"], &meta["scheme"]), (&"network".into(), &"internal".into()));
    assert_eq!(relations(nlb).len(), 2, "a VPC and one subnet, no security groups");
}

#[test]
fn tags_are_asked_for_twenty_load_balancers_at_a_time() {
    let member = |i: usize| {
        format!("<member><LoadBalancerArn>arn:lb/{i}</LoadBalancerArn><LoadBalancerName>lb-{i}</LoadBalancerName></member>")
    };
    let page: String = (0..45).map(member).collect();
    let page = format!("<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancers>{page}</LoadBalancers></DescribeLoadBalancersResult></DescribeLoadBalancersResponse>");
    let mut asked = Vec::new();
    let (result, all) = run(|req| {
        if req.action() == "DescribeLoadBalancers" {
            return Ok(page.clone().into_bytes());
        }
        asked.push(req.params().len());
        let tagged = "<member><ResourceArn>arn:lb/44</ResourceArn><Tags><member><Key>team</Key><Value>edge</Value></member></Tags></member>";
        Ok(format!("<DescribeTagsResponse><DescribeTagsResult><TagDescriptions>{tagged}</TagDescriptions></DescribeTagsResult></DescribeTagsResponse>").into_bytes())
    });
    result.unwrap();
    assert_eq!(asked, [20, 20, 5]);
    assert_eq!(all.len(), 45);
    assert_eq!(all[44].tags, [tag("team", "edge")]);
    for lb in &all[..44] {
        let meta: serde_json::Value = serde_json::from_str(&lb.metadata).unwrap();
        assert_eq!(meta["_unread"], serde_json::json!(["tags", "name"]), "missing is not none");
    }
}

#[test]
fn an_item_without_an_arn_is_a_warning_and_the_rest_is_kept() {
    let (result, all) = run(|req| match req.param_value("Marker") {
        _ if req.action() == "DescribeTags" => moto(req),
        None => Ok(fixture("describe_load_balancers_odd.xml")),
        Some(_) => Ok(fixture("moto_describe_load_balancers_page2.xml")),
    });
    assert_eq!(
        result.unwrap(),
        ["DescribeLoadBalancers: skipped an item: a load balancer without an ARN"]
    );
    let names: Vec<_> = all.iter().map(|r| &r.name[..]).collect();
    assert_eq!(names, ["gwlb-inspect", "int-nlb"]);
    let gwlb = &all[0];
    assert_eq!(gwlb.state.as_deref(), Some("provisioning"));
    let meta: serde_json::Value = serde_json::from_str(&gwlb.metadata).unwrap();
    assert_eq!(meta["type"], "gateway");
    assert_eq!(meta["scheme"], serde_json::Value::Null, "absent fields are null");
    assert_eq!(meta["availability_zones"], serde_json::json!(["eu-west-1a"]));
}

#[test]
fn failed_calls_fail_the_scan_and_name_the_call() {
    let denied = || {
        let body = b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>";
        Err(Error::from_response(403, body))
    };
    let (result, all) =
        run(|req| if req.action() == "DescribeTags" { denied() } else { moto(req) });
    assert_eq!(result.unwrap(), ["DescribeTags failed: AccessDenied: no (HTTP 403)"]);
    assert!(!all.is_empty());
    for lb in &all {
        let meta: serde_json::Value = serde_json::from_str(&lb.metadata).unwrap();
        assert_eq!(meta["_unread"], serde_json::json!(["tags", "name"]), "kept, not emptied");
    }

    let (result, _) = run(|_| Ok(b"<html><body>502 Bad Gateway</body></html>".to_vec()));
    let err = result.unwrap_err();
    assert!(err.starts_with("DescribeLoadBalancers failed: cannot parse"), "{err}");
    let (result, _) = run(|_| Err(Error::Refused("request budget spent".into())));
    assert_eq!(result.unwrap_err(), "DescribeLoadBalancers failed: request budget spent");
}

#[test]
fn only_settled_load_balancers_can_be_deleted_and_none_stopped() {
    let lb = |state: Option<&str>| Resource {
        resource_type: "elb_load_balancer".into(),
        identifier: WEB.into(),
        arn: WEB.into(),
        name: "web-alb".into(),
        region: "us-west-2".into(),
        state: state.map(Into::into),
        tags: Vec::new(),
        relations: Vec::new(),
        metadata: "{}".into(),
    };
    let c = Elb::analyze(lb(Some("active")));
    assert!(c.can_delete && !c.can_stop && !c.can_start && !c.has_dependencies);
    assert_eq!(c.notes, ["not scanned: listeners, target groups, deletion protection"]);
    for state in [Some("provisioning"), None] {
        let c = Elb::analyze(lb(state));
        assert!(!c.can_delete, "{state:?}");
        assert!(c.notes[1].starts_with("load balancer is"), "{:?}", c.notes);
    }
}

/// The code blocks of the tutorial, by the file their info string names, in order.
fn tutorial_blocks(file: &str) -> Vec<String> {
    let tutorial = include_str!("../../../docs/tutorial-elb-scanner.md");
    let mut blocks = Vec::new();
    let mut lines = tutorial.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("```") && line.ends_with(&format!(" file={file}")) {
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            blocks.push(body.iter().map(|l| format!("{l}\n")).collect());
        }
    }
    blocks
}

#[test]
fn the_tutorial_shows_exactly_this_code() {
    assert_eq!(tutorial_blocks("src/lib.rs").join("\n"), include_str!("lib.rs"));
    assert_eq!(tutorial_blocks("plugin.toml"), [include_str!("../plugin.toml")]);
    assert_eq!(tutorial_blocks("Cargo.toml"), [include_str!("../Cargo.toml")]);
    assert_eq!(tutorial_blocks("rustfmt.toml"), [include_str!("../rustfmt.toml")]);
    let excerpts = tutorial_blocks("src/tests.rs");
    assert_eq!(excerpts.len(), 2);
    for excerpt in excerpts {
        assert!(include_str!("tests.rs").contains(&excerpt), "{excerpt}");
    }
}
