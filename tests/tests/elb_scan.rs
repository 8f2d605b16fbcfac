//! The ELB plugin against the real emulator: exact ARNs, names, tags, states, relations
//! and paging.

use cloudops_demo as demo;
use cloudops_host::aws::AwsClient;
use cloudops_host::plugin::Limits;
use cloudops_tests::{
    ec2_arn, element_text, load_plugin, of_type, query, relations, scan, start_emulator, Network,
};

const REGION: &str = "eu-west-1";

async fn seed_network(client: &AwsClient) -> Network {
    cloudops_tests::seed_network(client, REGION, "10.4", ("web", "web tier")).await
}

/// Creates a load balancer and returns its ARN.
async fn create_lb(client: &AwsClient, params: &[(&str, &str)]) -> String {
    let body = query(
        client,
        REGION,
        "elasticloadbalancing",
        "CreateLoadBalancer",
        params,
    )
    .await;
    element_text(&body, "LoadBalancerArn")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_reports_the_seeded_load_balancers_exactly() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
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
    let found = of_type(&resources, "elb_load_balancer");
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
        ("vpc", ec2_arn(REGION, "vpc", &net.vpc)),
        ("subnet", ec2_arn(REGION, "subnet", &net.subnets[0])),
        ("subnet", ec2_arn(REGION, "subnet", &net.subnets[1])),
        ("security_group", ec2_arn(REGION, "security-group", &net.sg)),
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
    let admin = emulator.demo_client();
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
    let found = of_type(&resources, "elb_load_balancer");
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
