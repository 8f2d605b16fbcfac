//! The ELB plugin against the real emulator: exact ARNs, names, tags, states, relations
//! and paging.

use cloudops_host::aws::xml::first_text;
use cloudops_host::aws::AwsClient;
use cloudops_host::demo;
use cloudops_host::plugin::Limits;
use cloudops_host::resource::Resource;
use cloudops_tests::{demo_client, load_plugin, scan, start_emulator};

const REGION: &str = "eu-west-1";

fn ec2_arn(kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{REGION}:{}:{kind}/{id}", demo::DEMO_ACCOUNT)
}

async fn call(client: &AwsClient, service: &str, action: &str, params: &[(&str, &str)]) -> Vec<u8> {
    let version = if service == "ec2" {
        "2016-11-15"
    } else {
        "2015-12-01"
    };
    client
        .query(REGION, service, action, version, params)
        .await
        .unwrap_or_else(|e| panic!("{action}: {e}"))
}

fn text(body: &[u8], tag: &str) -> String {
    first_text(body, tag).unwrap_or_else(|| panic!("no <{tag}> in the response"))
}

struct Network {
    vpc: String,
    subnets: [String; 2],
    sg: String,
}

async fn seed_network(client: &AwsClient) -> Network {
    let body = call(client, "ec2", "CreateVpc", &[("CidrBlock", "10.4.0.0/16")]).await;
    let vpc = text(&body, "vpcId");
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.4.1.0/24", "a"), ("10.4.2.0/24", "b")] {
        let az = format!("{REGION}{az}");
        let params = [
            ("VpcId", vpc.as_str()),
            ("CidrBlock", cidr),
            ("AvailabilityZone", &az),
        ];
        subnets.push(text(
            &call(client, "ec2", "CreateSubnet", &params).await,
            "subnetId",
        ));
    }
    let params = [
        ("GroupName", "web"),
        ("GroupDescription", "web tier"),
        ("VpcId", &vpc),
    ];
    let sg = text(
        &call(client, "ec2", "CreateSecurityGroup", &params).await,
        "groupId",
    );
    Network {
        vpc,
        subnets: [subnets[0].clone(), subnets[1].clone()],
        sg,
    }
}

/// Creates a load balancer and returns its ARN.
async fn create_lb(client: &AwsClient, params: &[(&str, &str)]) -> String {
    text(
        &call(client, "elasticloadbalancing", "CreateLoadBalancer", params).await,
        "LoadBalancerArn",
    )
}

fn of_type(resources: &[Resource]) -> Vec<&Resource> {
    let mut found: Vec<&Resource> = resources
        .iter()
        .filter(|r| r.resource_type == "elb_load_balancer")
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

fn relations(r: &Resource) -> Vec<(String, String)> {
    r.relations
        .iter()
        .map(|x| (x.kind.clone(), x.target_arn.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_reports_the_seeded_load_balancers_exactly() {
    let emulator = start_emulator().await;
    let admin = demo_client(&emulator);
    let net = seed_network(&admin).await;
    let web = create_lb(
        &admin,
        &[
            ("Name", "web-alb"),
            ("Type", "application"),
            ("Scheme", "internet-facing"),
            ("Subnets.member.1", &net.subnets[0]),
            ("Subnets.member.2", &net.subnets[1]),
            ("SecurityGroups.member.1", &net.sg),
            ("Tags.member.1.Key", "env"),
            ("Tags.member.1.Value", "production"),
            ("Tags.member.2.Key", "Name"),
            ("Tags.member.2.Value", "Public web"),
        ],
    )
    .await;
    let internal = create_lb(
        &admin,
        &[
            ("Name", "orders-nlb"),
            ("Type", "network"),
            ("Scheme", "internal"),
            ("Subnets.member.1", &net.subnets[0]),
        ],
    )
    .await;
    let plugin = load_plugin("elb", Limits::default()).unwrap();

    let (resources, result) = scan(&plugin, &admin, REGION, &[]).await;
    let report = result.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        report.requests, 2,
        "one page of load balancers, one DescribeTags"
    );
    let found = of_type(&resources);
    let names: Vec<_> = found
        .iter()
        .map(|r| (r.name.as_str(), r.identifier.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("Public web", web.as_str()),
            ("orders-nlb", internal.as_str())
        ]
    );

    let alb = found[0];
    assert_eq!(alb.arn, web);
    assert_eq!(alb.account_id, demo::DEMO_ACCOUNT);
    assert_eq!(alb.region, REGION);
    assert_eq!(alb.state.as_deref(), Some("active"));
    let tags: Vec<_> = alb
        .tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    assert_eq!(tags, [("env", "production"), ("Name", "Public web")]);
    let expected = [
        ("vpc", ec2_arn("vpc", &net.vpc)),
        ("subnet", ec2_arn("subnet", &net.subnets[0])),
        ("subnet", ec2_arn("subnet", &net.subnets[1])),
        ("security_group", ec2_arn("security-group", &net.sg)),
    ];
    assert_eq!(relations(alb), expected.map(|(k, v)| (k.to_owned(), v)));
    assert_eq!(alb.metadata["type"], "application");
    assert_eq!(alb.metadata["scheme"], "internet-facing");
    assert_eq!(alb.metadata["vpc_id"], net.vpc.as_str());
    assert_eq!(
        alb.metadata["availability_zones"],
        serde_json::json!(["eu-west-1a", "eu-west-1b"])
    );
    assert!(
        alb.metadata["dns_name"]
            .as_str()
            .unwrap()
            .starts_with("web-alb-"),
        "{:?}",
        alb.metadata
    );

    let nlb = found[1];
    assert!(nlb.tags.is_empty());
    assert_eq!(nlb.metadata["type"], "network");
    assert_eq!(nlb.metadata["scheme"], "internal");
    assert_eq!(relations(nlb).len(), 2, "{nlb:?}");

    let c = plugin.analyze(alb).unwrap();
    assert!(c.can_delete && !c.can_stop && !c.can_start, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_follow_markers_and_tags_come_twenty_at_a_time() {
    let emulator = start_emulator().await;
    let admin = demo_client(&emulator);
    let net = seed_network(&admin).await;
    let mut expected = Vec::new();
    // moto pages DescribeLoadBalancers by 50 when no PageSize is sent (AWS: 400).
    for i in 0..55 {
        let name = format!("lb-{i:02}");
        let params = [
            ("Name", name.as_str()),
            ("Subnets.member.1", &net.subnets[0]),
            ("Subnets.member.2", &net.subnets[1]),
            ("Tags.member.1.Key", "index"),
            ("Tags.member.1.Value", &i.to_string()),
        ];
        expected.push((name.clone(), create_lb(&admin, &params).await));
    }
    let plugin = load_plugin("elb", Limits::default()).unwrap();

    let (resources, result) = scan(&plugin, &admin, REGION, &[]).await;
    let report = result.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let found = of_type(&resources);
    let got: Vec<_> = found
        .iter()
        .map(|r| (r.name.clone(), r.identifier.clone()))
        .collect();
    assert_eq!(
        got, expected,
        "every load balancer exactly once across pages"
    );
    for r in &found {
        let index: usize = r.name[3..].parse().unwrap();
        assert_eq!(r.tag("index"), Some(index.to_string().as_str()), "{r:?}");
    }
    // Two pages of load balancers, then tags for 20 + 20 + 15 of them.
    assert_eq!(report.requests, 5);
}
