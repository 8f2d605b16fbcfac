//! The Lambda plugin against the real emulator: functions, aliases and layer versions with
//! their identifiers, tags and relations, region by region.

use cloudops_demo as demo;
use cloudops_host::aws::{AwsClient, AwsRequest};
use cloudops_host::plugin::Limits;
use cloudops_tests::{
    element_text, ids, load_plugin, of_type, query, relations, scan, seed_network, start_emulator,
};
use serde_json::{json, Value};

const REGION: &str = "us-west-2";

/// Sends one Lambda REST-JSON call and returns the parsed answer; fails the test on a
/// non-2xx. moto labels its JSON `text/html`, so the body is parsed whatever the label.
async fn lambda(client: &AwsClient, region: &str, method: &str, path: &str, body: Value) -> Value {
    let request = AwsRequest {
        service: "lambda".into(),
        method: method.into(),
        path: path.into(),
        query: Vec::new(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    };
    let response = client.send(&request, region, 1 << 20).await.unwrap();
    assert!(
        response.is_success(),
        "{method} {path}: HTTP {}: {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    serde_json::from_slice(&response.body).unwrap()
}

/// An IAM role Lambda may assume; CreateFunction checks that it exists.
async fn create_role(client: &AwsClient) -> String {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let body = query(
        client,
        "us-east-1",
        "iam",
        "CreateRole",
        &[("RoleName", "fn-role"), ("AssumeRolePolicyDocument", trust)],
    )
    .await;
    element_text(&body, "Arn")
}

/// Deployment package: a zip holding one stored `index.py`, base64-encoded.
fn zip_package() -> String {
    demo::deployment_package(
        "index.py",
        "def handler(event, context):\n    return {\"ok\": True}\n",
    )
}

async fn create_function(client: &AwsClient, region: &str, spec: Value) -> Value {
    let mut body = json!({
        "Runtime": "python3.12",
        "Handler": "index.handler",
        "Code": {"ZipFile": zip_package()},
    });
    body.as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    lambda(client, region, "POST", "/2015-03-31/functions", body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_aliases_and_layers_are_reported_with_their_relations() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    let role = create_role(&admin).await;
    let net = seed_network(&admin, REGION, "10.0", ("fn", "functions")).await;
    let (subnet, group) = (net.subnets[0].clone(), net.sg);
    let layer_body = json!({"Content": {"ZipFile": zip_package()}, "CompatibleRuntimes": ["python3.12"], "Description": "shared code"});
    lambda(
        &admin,
        REGION,
        "POST",
        "/2018-10-31/layers/shared-libs/versions",
        layer_body.clone(),
    )
    .await;
    let v2 = lambda(
        &admin,
        REGION,
        "POST",
        "/2018-10-31/layers/shared-libs/versions",
        layer_body,
    )
    .await;
    let layer_v2 = v2["LayerVersionArn"].as_str().unwrap().to_owned();
    let api = create_function(
        &admin,
        REGION,
        json!({
            "FunctionName": "orders-api",
            "Role": role,
            "MemorySize": 256,
            "Timeout": 30,
            "Architectures": ["arm64"],
            "Tags": {"env": "production", "team": "orders"},
            "VpcConfig": {"SubnetIds": [subnet], "SecurityGroupIds": [group]},
            "Layers": [layer_v2],
        }),
    )
    .await;
    let api_arn = api["FunctionArn"].as_str().unwrap().to_owned();
    create_function(
        &admin,
        REGION,
        json!({"FunctionName": "orders-worker", "Role": role}),
    )
    .await;
    create_function(
        &admin,
        "eu-west-1",
        json!({"FunctionName": "eu-only", "Role": role}),
    )
    .await;
    let version = lambda(
        &admin,
        REGION,
        "POST",
        "/2015-03-31/functions/orders-api/versions",
        json!({}),
    )
    .await;
    lambda(
        &admin,
        REGION,
        "POST",
        "/2015-03-31/functions/orders-api/aliases",
        json!({"Name": "live", "FunctionVersion": version["Version"], "Description": "production traffic"}),
    )
    .await;
    let plugin = load_plugin("lambda", Limits::default()).unwrap();

    let (resources, result) = scan(&plugin, &admin, REGION, &[]).await;
    let report = result.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.resources as usize, resources.len());

    let functions = of_type(&resources, "lambda_function");
    assert_eq!(
        ids(&functions),
        ["orders-api", "orders-worker"],
        "eu-only stays in its region"
    );
    let f = functions[0];
    let account = demo::DEMO_ACCOUNT;
    assert_eq!(f.arn, api_arn);
    assert_eq!(
        f.arn,
        format!("arn:aws:lambda:{REGION}:{account}:function:orders-api")
    );
    assert_eq!(f.name, "orders-api");
    assert_eq!(f.region, REGION);
    assert_eq!(f.account_id, account);
    assert_eq!(f.tag("env"), Some("production"));
    assert_eq!(f.tag("team"), Some("orders"));
    assert_eq!(
        relations(f),
        [
            ("role".to_owned(), role.clone()),
            (
                "subnet".to_owned(),
                format!("arn:aws:ec2:{REGION}:{account}:subnet/{subnet}")
            ),
            (
                "security_group".to_owned(),
                format!("arn:aws:ec2:{REGION}:{account}:security-group/{group}")
            ),
            ("layer".to_owned(), layer_v2.clone()),
        ]
    );
    assert_eq!(f.metadata["runtime"], "python3.12");
    assert_eq!(f.metadata["memory_size"], 256);
    assert_eq!(f.metadata["timeout"], 30);
    assert_eq!(f.metadata["handler"], "index.handler");
    assert_eq!(f.metadata["role"], role.as_str());
    assert_eq!(f.metadata["package_type"], "Zip");
    assert_eq!(f.metadata["architectures"], json!(["arm64"]));
    assert_eq!(f.metadata["subnet_ids"], json!([subnet]));
    assert_eq!(f.metadata["security_group_ids"], json!([group]));
    assert!(f.metadata["code_size"].as_u64().unwrap() > 0);
    assert!(f.metadata["last_modified"].is_string());
    let worker = functions[1];
    assert!(worker.tags.is_empty());
    assert_eq!(relations(worker), [("role".to_owned(), role.clone())]);

    let aliases = of_type(&resources, "lambda_alias");
    assert_eq!(ids(&aliases), ["orders-api:live"]);
    let live = aliases[0];
    assert_eq!(live.arn, format!("{api_arn}:live"));
    assert_eq!(relations(live), [("function".to_owned(), api_arn.clone())]);
    assert_eq!(live.metadata["function_version"], version["Version"]);
    assert_eq!(live.metadata["description"], "production traffic");

    let layers = of_type(&resources, "lambda_layer");
    assert_eq!(ids(&layers), ["shared-libs:1", "shared-libs:2"]);
    assert_eq!(layers[1].arn, layer_v2);
    assert_eq!(layers[1].metadata["latest"], true);
    assert_eq!(layers[0].metadata["latest"], false);
    assert_eq!(layers[0].metadata["description"], "shared code");

    let c = plugin.analyze(f).unwrap();
    assert!(c.can_delete && !c.can_stop && !c.can_start);
    assert!(
        c.notes.iter().any(|n| n.contains("concurrency to 0")),
        "{:?}",
        c.notes
    );

    let (eu, result) = scan(&plugin, &admin, "eu-west-1", &[]).await;
    result.unwrap();
    assert_eq!(ids(&of_type(&eu, "lambda_function")), ["eu-only"]);
    assert!(of_type(&eu, "lambda_layer").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_page_size_reports_every_function_exactly_once() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    let role = create_role(&admin).await;
    let mut expected = Vec::new();
    for i in 0..7 {
        let name = format!("batch-{i:02}");
        create_function(&admin, REGION, json!({"FunctionName": name, "Role": role})).await;
        expected.push(name);
    }
    let plugin = load_plugin("lambda", Limits::default()).unwrap();

    let (resources, result) = scan(&plugin, &admin, REGION, &[("page_size", "2")]).await;
    let report = result.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(ids(&of_type(&resources, "lambda_function")), expected);
    // moto 5.2 (pinned) ignores MaxItems and Marker and answers every Lambda listing in
    // one page, so paging over several pages is covered by the plugin's unit tests over
    // AWS-shaped pages. Here: one ListFunctions, ListTags and ListAliases per function,
    // one ListLayers.
    assert_eq!(report.requests, 1 + 2 * 7 + 1);

    let (_, result) = scan(&plugin, &admin, REGION, &[("page_size", "500")]).await;
    let report = result.unwrap();
    assert_eq!(
        report.warnings,
        ["setting page_size = \"500\" is not a number from 1 to 50; using 50"]
    );
}
