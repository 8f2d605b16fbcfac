//! Playbook components against the real emulator: the two first-party components finish
//! their plans from what AWS says now, and a hostile component's widenings, writes and
//! resource abuse each end as an error for that run alone.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use cloudops_demo as demo;
use cloudops_host::aws::AwsClient;
use cloudops_host::plugin::build::build_component;
use cloudops_host::plugin::playbook::{finish_plan, Component, ComponentError, RunReport};
use cloudops_host::plugin::Limits;
use cloudops_playbook::plan::{Plan, ResourceContext};
use cloudops_playbook::planning::{plan, Selection};
use cloudops_playbook::{Library, Playbook};
use cloudops_tests::{ec2_arn, element_text, engine, query, rds_arn, repo_root, start_emulator};
use serde_json::{json, Map, Value};

const REGION: &str = "us-west-2";

/// Builds the component crate at `crate_dir` (relative to the repository) once per test
/// process and returns its bytes.
fn built(crate_dir: &str) -> Vec<u8> {
    static BUILT: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(bytes) = built.get(crate_dir) {
        return bytes.clone();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let out = target.join("test-components");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join(format!("{}.wasm", crate_dir.replace('/', "_")));
    let bytes = build_component(
        &repo_root().join(crate_dir),
        &file,
        &out.join("no-data-dir"),
    )
    .unwrap_or_else(|e| panic!("building component {crate_dir} failed: {e}"));
    built.insert(crate_dir.to_owned(), bytes.clone());
    bytes
}

fn library_playbook(id: &str) -> Playbook {
    let library = Library::load_dir(&repo_root().join("playbooks"))
        .unwrap_or_else(|e| panic!("the default library has errors: {e:?}"));
    library
        .get(id)
        .cloned()
        .expect("the playbook is in the library")
}

fn load(playbook: &Playbook, crate_dir: &str, limits: Limits) -> Component {
    Component::load(&engine(), &playbook.id, &built(crate_dir), limits)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Plans `playbook` from its YAML, then finishes the plan with `component`, as the host does.
async fn run(
    component: &Component,
    playbook: &Playbook,
    client: &AwsClient,
    targets: Vec<ResourceContext>,
    values: Value,
) -> (Plan, Result<(Plan, RunReport), ComponentError>) {
    let (component, playbook, client) = (component.clone(), playbook.clone(), client.clone());
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let values: Map<String, Value> = values.as_object().cloned().unwrap_or_default();
        let selection = Selection {
            commit: "test",
            prompt: "",
            targets: &targets,
            user_values: &values,
        };
        let base = plan(&playbook, selection);
        assert!(base.runnable, "the YAML plan runs: {}", base.explain);
        let clients = |_: &str| Ok(client.clone());
        let finished = finish_plan(&component, &playbook, selection, &base, &clients, &handle);
        (base, finished)
    })
    .await
    .unwrap()
}

async fn ec2(client: &AwsClient, action: &str, params: &[(&str, &str)]) -> Vec<u8> {
    query(client, REGION, "ec2", action, params).await
}

/// Security group `web` open to the world on 22 (IPv4) and 3389 (IPv6), and to 10.0.0.0/8
/// on 5432.
async fn seed_group(client: &AwsClient, name: &str) -> ResourceContext {
    let body = ec2(
        client,
        "CreateSecurityGroup",
        &[("GroupName", name), ("GroupDescription", "web servers")],
    )
    .await;
    let id = element_text(&body, "groupId");
    ec2(
        client,
        "AuthorizeSecurityGroupIngress",
        &[
            ("GroupId", &id),
            ("IpPermissions.1.IpProtocol", "tcp"),
            ("IpPermissions.1.FromPort", "22"),
            ("IpPermissions.1.ToPort", "22"),
            ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"),
            ("IpPermissions.2.IpProtocol", "tcp"),
            ("IpPermissions.2.FromPort", "3389"),
            ("IpPermissions.2.ToPort", "3389"),
            ("IpPermissions.2.Ipv6Ranges.1.CidrIpv6", "::/0"),
            ("IpPermissions.3.IpProtocol", "tcp"),
            ("IpPermissions.3.FromPort", "5432"),
            ("IpPermissions.3.ToPort", "5432"),
            ("IpPermissions.3.IpRanges.1.CidrIp", "10.0.0.0/8"),
        ],
    )
    .await;
    target(
        "vpc_security_group",
        &id,
        ec2_arn(REGION, "security-group", &id),
    )
}

fn target(kind: &str, id: &str, arn: String) -> ResourceContext {
    serde_json::from_value(json!({
        "resource_type": kind, "identifier": id, "arn": arn, "name": id,
        "account_id": demo::DEMO_ACCOUNT, "region": REGION, "state": "available",
        "metadata": {"read_replicas": []}
    }))
    .unwrap()
}

/// Every ingress CIDR of the group, as `port cidr`.
async fn ingress(client: &AwsClient, group: &str) -> Vec<String> {
    let body = ec2(client, "DescribeSecurityGroups", &[("GroupId.1", group)]).await;
    let text = String::from_utf8(body).unwrap();
    let mut out = Vec::new();
    let perms = text
        .split("<ipPermissions>")
        .nth(1)
        .and_then(|s| s.split("</ipPermissions>").next())
        .unwrap_or("");
    for item in perms.split("<ipProtocol>").skip(1) {
        let port = item
            .split("<fromPort>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or("-");
        for tag in ["cidrIp", "cidrIpv6"] {
            for cidr in item.split(&format!("<{tag}>")).skip(1) {
                out.push(format!("{port} {}", cidr.split('<').next().unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_world_open_ports_returns_exactly_one_revoke_per_world_open_rule() {
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    let sg = seed_group(&client, "web").await;
    let playbook = library_playbook("vpc.close-world-open-ports");
    let component = load(
        &playbook,
        "playbooks/vpc/close-world-open-ports",
        Limits::default(),
    );
    let (base, finished) = run(&component, &playbook, &client, vec![sg.clone()], json!({})).await;
    let (plan, report) = finished.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.runs, 1);
    assert_eq!(report.requests, 1, "one DescribeSecurityGroups");
    let permissions: Vec<&Value> = plan
        .steps
        .iter()
        .map(|s| &s.params["IpPermissions"])
        .collect();
    assert_eq!(
        permissions,
        [
            &json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                     "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            &json!([{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389,
                     "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]),
        ]
    );
    for step in &plan.steps {
        assert_eq!(step.action, "ec2:RevokeSecurityGroupIngress");
        assert_eq!(step.params["GroupId"], json!(sg.identifier));
        assert_eq!(step.target.arn, sg.arn);
    }
    assert!(plan.is_intact() && plan.plan_id != base.plan_id);
    assert!(plan.runnable && plan.approval_required, "{}", plan.explain);
    assert!(
        plan.steps[1].cli.contains("--ip-permissions"),
        "{}",
        plan.steps[1].cli
    );
    // Nothing was revoked by planning: the component only read.
    assert_eq!(
        ingress(&client, &sg.identifier).await,
        ["22 0.0.0.0/0", "3389 ::/0", "5432 10.0.0.0/8"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_final_snapshot_names_the_snapshot_and_refuses_an_instance_with_replicas() {
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    for id in ["pg-alone", "pg-primary"] {
        query(
            &client,
            REGION,
            "rds",
            "CreateDBInstance",
            &[
                ("DBInstanceIdentifier", id),
                ("DBInstanceClass", "db.t3.micro"),
                ("Engine", "postgres"),
                ("AllocatedStorage", "20"),
                ("MasterUsername", "admin1"),
                ("MasterUserPassword", "secret123456"),
            ],
        )
        .await;
    }
    query(
        &client,
        REGION,
        "rds",
        "CreateDBInstanceReadReplica",
        &[
            ("DBInstanceIdentifier", "pg-primary-replica"),
            ("SourceDBInstanceIdentifier", "pg-primary"),
        ],
    )
    .await;
    let playbook = library_playbook("rds.stop-with-final-snapshot");
    let component = load(
        &playbook,
        "playbooks/rds/stop-with-final-snapshot",
        Limits::default(),
    );
    let db = |id: &str| target("rds_instance", id, rds_arn(REGION, "db", id));
    let date = json!({"snapshot_date": "20261206"});

    let (_, finished) = run(
        &component,
        &playbook,
        &client,
        vec![db("pg-alone")],
        date.clone(),
    )
    .await;
    let (plan, _) = finished.unwrap_or_else(|e| panic!("{e}"));
    let actions: Vec<&str> = plan.steps.iter().map(|s| s.action.as_str()).collect();
    assert_eq!(actions, ["rds:CreateDBSnapshot", "rds:StopDBInstance"]);
    assert_eq!(
        plan.steps[0].params["DBSnapshotIdentifier"],
        json!("pg-alone-final-20261206")
    );
    assert_eq!(plan.steps[1].depends_on, ["snapshot"]);

    // The synced record says no replicas; the component re-reads RDS and learns otherwise.
    let (_, finished) = run(&component, &playbook, &client, vec![db("pg-primary")], date).await;
    let err = finished.expect_err("an instance with read replicas is refused");
    assert!(matches!(err, ComponentError::Refused { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("read replicas (pg-primary-replica)"),
        "{err}"
    );
}

/// The hostile component's playbook: one revoke of a security group, and the attack as a
/// user value.
fn hostile_playbook() -> Playbook {
    let yaml = r#"
id: dev.hostile
version: 0.1.0
title: Misbehave (tests only)
description: A playbook whose component misbehaves on purpose.
utterances: [misbehave, misbehave again, misbehave once more]
keywords: [misbehave]
service: ec2
operation: misbehave
applies_to: [vpc_security_group]
parameters:
  - name: group_id
    from: identifier
  - name: attack
    type: string
    max_length: 40
risk:
  level: low
  reasons: ["attack {params.attack}"]
steps:
  - id: revoke
    action: ec2:RevokeSecurityGroupIngress
    params:
      GroupId: "{params.group_id}"
      IpPermissions: null
"#;
    cloudops_playbook::check::check("dev/hostile.yaml", yaml).unwrap()
}

fn test_limits() -> Limits {
    Limits {
        memory_bytes: 64 << 20,
        component_fuel: 2_000_000_000,
        component_timeout: Duration::from_secs(60),
        max_component_requests: 5,
        ..Limits::default()
    }
}

/// Runs `attack` and returns the error; then checks the same component still plans
/// honestly, so one bad run never spoils the next.
async fn attack(
    client: &AwsClient,
    sg: &ResourceContext,
    limits: Limits,
    attack: &str,
) -> ComponentError {
    let playbook = hostile_playbook();
    let component = load(&playbook, "plugins/dev/hostile-playbook", limits);
    let (_, result) = run(
        &component,
        &playbook,
        client,
        vec![sg.clone()],
        json!({"attack": attack}),
    )
    .await;
    let err = result.expect_err("the attack must fail");
    let (_, after) = run(
        &component,
        &playbook,
        client,
        vec![sg.clone()],
        json!({"attack": "none"}),
    )
    .await;
    let (plan, _) = after.unwrap_or_else(|e| panic!("an honest run after `{attack}` failed: {e}"));
    assert_eq!(plan.steps.len(), 1);
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_component_cannot_widen_the_plan() {
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    let sg = seed_group(&client, "web").await;
    for (name, expected) in [
        (
            "write-step",
            "action \"ec2:TerminateInstances\" is not one of the playbook's steps",
        ),
        ("other-target", "is not one of the identified resources"),
        ("widen-param", "parameter \"GroupId\" must be"),
        (
            "extra-param",
            "parameter \"DryRun\" is not one the playbook declares",
        ),
        ("cycle", "make a cycle"),
    ] {
        let err = attack(&client, &sg, test_limits(), name).await;
        assert!(
            matches!(err, ComponentError::Widened { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
    let err = attack(&client, &sg, test_limits(), "bad-json").await;
    assert!(matches!(err, ComponentError::BadOutput { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_component_cannot_write_or_read_beyond_its_grant() {
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    let sg = seed_group(&client, "web").await;
    for (name, expected) in [
        (
            "send-write",
            "`ec2:RevokeSecurityGroupIngress` is not granted",
        ),
        ("send-other-service", "service `\"rds\"` is not in"),
        ("send-secret", "`ec2:GetPasswordData` is not granted"),
    ] {
        let err = attack(&client, &sg, test_limits(), name).await;
        assert!(
            matches!(err, ComponentError::Refused { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
    // The write never reached AWS.
    assert_eq!(
        ingress(&client, &sg.identifier).await,
        ["22 0.0.0.0/0", "3389 ::/0", "5432 10.0.0.0/8"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuel_memory_and_panics_end_only_that_run() {
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    let sg = seed_group(&client, "web").await;
    let err = attack(&client, &sg, test_limits(), "loop").await;
    assert!(matches!(err, ComponentError::Trapped { .. }), "{err}");
    assert!(err.to_string().contains("CPU budget"), "{err}");
    let err = attack(&client, &sg, test_limits(), "alloc").await;
    assert!(err.to_string().contains("64 MiB limit"), "{err}");
    let err = attack(&client, &sg, test_limits(), "panic").await;
    assert!(err.to_string().contains("crashed"), "{err}");
    let slow = Limits {
        component_fuel: u64::MAX / 2,
        component_timeout: Duration::from_secs(1),
        ..test_limits()
    };
    let err = attack(&client, &sg, slow, "loop").await;
    assert!(err.to_string().contains("time limit"), "{err}");
}
