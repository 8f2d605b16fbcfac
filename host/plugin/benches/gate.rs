//! The gate's cost per request: `cargo bench -p cloudops-plugin-host --bench gate`.
//!
//! Classifying a request by the service's routing rules and rebuilding it must stay small
//! beside the round trip it guards (target: ≤ 5 µs per request). The baseline in the same
//! run is cloning the request, the least any check must do.

use std::hint::black_box;
use std::time::Instant;

use cloudops_aws::AwsRequest;
use cloudops_plugin_host::gate::Grant;
use cloudops_plugin_host::manifest::CapabilitySpec;
use cloudops_plugin_host::Limits;

const ROUNDS: u32 = 200_000;

fn rest(service: &str, path: &str, query: &[(&str, &str)]) -> AwsRequest {
    AwsRequest {
        service: service.into(),
        method: "GET".into(),
        path: path.into(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: vec![("accept".into(), "application/json".into())],
        body: Vec::new(),
    }
}

fn main() {
    let spec = CapabilitySpec {
        services: vec![
            "ec2".into(),
            "s3".into(),
            "lambda".into(),
            "dynamodb".into(),
        ],
        actions: Some(vec![
            "ec2:Describe*".into(),
            "s3:List*".into(),
            "s3:Get*".into(),
            "lambda:ListFunctions".into(),
            "lambda:List*".into(),
            "dynamodb:List*".into(),
        ]),
        methods: None,
    };
    let started = Instant::now();
    let grant = Grant::new(&spec, Limits::default().request_caps()).unwrap();
    println!(
        "grant compiled (table parsed on first use) in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let mut describe = AwsRequest::query_protocol(
        "ec2",
        "DescribeInstances",
        "2016-11-15",
        &[
            ("MaxResults", "1000"),
            ("Filter.1.Name", "instance-state-name"),
            ("Filter.1.Value.1", "running"),
        ],
    );
    describe.headers.clear();
    let mut list_tables = AwsRequest::query_protocol("dynamodb", "x", "y", &[]);
    list_tables.headers = vec![("x-amz-target".into(), "DynamoDB_20120810.ListTables".into())];
    list_tables.body = br#"{"Limit":100}"#.to_vec();
    let cases = [
        ("ec2 DescribeInstances (query)", describe),
        (
            "s3 GetBucketTagging (rest-xml)",
            rest("s3", "/my-bucket", &[("tagging", "")]),
        ),
        (
            "s3 ListObjectsV2 (rest-xml)",
            rest(
                "s3",
                "/my-bucket",
                &[("list-type", "2"), ("prefix", "logs/")],
            ),
        ),
        (
            "lambda ListFunctions (rest-json)",
            rest("lambda", "/2015-03-31/functions", &[("MaxItems", "50")]),
        ),
        ("dynamodb ListTables (json)", list_tables),
    ];
    println!(
        "{:<36} {:>12} {:>14} {:>8}",
        "request", "gate µs", "baseline µs", "ratio"
    );
    for (name, request) in &cases {
        assert!(grant.check(request).is_ok(), "{name}");
        let started = Instant::now();
        for _ in 0..ROUNDS {
            black_box(black_box(request).clone());
        }
        let baseline = started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
        let started = Instant::now();
        for _ in 0..ROUNDS {
            black_box(grant.check(black_box(request)).ok());
        }
        let gate = started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
        println!(
            "{name:<36} {gate:>12.2} {baseline:>14.3} {:>8.1}",
            gate / baseline
        );
    }
}
