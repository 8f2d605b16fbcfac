//! Executing plans against the real emulator (moto with the project's IAM simulation, tests/emulator/):
//! Lambda and S3 round trips, the preflight refusing drift (already stopped; vanished), an
//! IAM denial, an unknown account and an unauthorized EC2 dry run, EC2 steps dry-run first,
//! and the `aws-cli`, `exec` and `script` step kinds, with no secret in argv or audit.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cloudops_demo::{Emulator, DEMO_ACCESS_KEY, DEMO_ACCOUNT, DEMO_SECRET_KEY};
use cloudops_execute::accounts::{Account, Accounts};
use cloudops_execute::approval::{unix_now, ApprovalBook, DEFAULT_TTL};
use cloudops_execute::audit::{verify, AuditLog};
use cloudops_execute::commands::{aws_cli, aws_cli_args};
use cloudops_execute::engine::{Engine, RunRequest, Runners, Strategy};
use cloudops_execute::events::{ChannelSink, Event, RunOutcome};
use cloudops_execute::rest;
use cloudops_host::aws::iam::{Principal, PrincipalKind};
use cloudops_host::aws::{xml, AwsClient, AwsRequest, Credentials};
use cloudops_playbook::plan::{
    IamVerdict, Plan, PreState, ScriptRef, Step, StepKind, Target, Wait,
};
use serde_json::{json, Map, Value};

use crate::execute::plan_of;

const REGION: &str = "us-west-2";

/// The project's emulator (moto with IAM simulation); fails the test when it cannot start.
async fn emulator(_test: &str) -> Option<Emulator> {
    Some(cloudops_tests::start_emulator().await)
}

/// Prints a `SKIPPED:` line straight to stdout, where scripts/test counts it.
fn skipped(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The demo account, acting as its root user (IAM simulation is not asked for root).
fn root_accounts(emulator: &Emulator) -> Accounts {
    Accounts::new().with(
        DEMO_ACCOUNT,
        demo_account(emulator, principal("root", PrincipalKind::Root)),
    )
}

fn demo_account(emulator: &Emulator, principal: Principal) -> Account {
    Account::new(
        emulator.demo_client(),
        Credentials::from_keys(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, None),
    )
    .with_principal(principal)
}

fn principal(name: &str, kind: PrincipalKind) -> Principal {
    let arn = match kind {
        PrincipalKind::Root => format!("arn:aws:iam::{DEMO_ACCOUNT}:root"),
        _ => format!("arn:aws:iam::{DEMO_ACCOUNT}:user/{name}"),
    };
    Principal {
        caller_arn: arn.clone(),
        arn,
        account_id: DEMO_ACCOUNT.into(),
        kind,
    }
}

async fn create_db(client: &AwsClient, id: &str) {
    client
        .query(
            REGION,
            "rds",
            "CreateDBInstance",
            "2014-10-31",
            &[
                ("DBInstanceIdentifier", id),
                ("DBInstanceClass", "db.t3.micro"),
                ("Engine", "postgres"),
                ("AllocatedStorage", "20"),
                ("MasterUsername", "admin1"),
                ("MasterUserPassword", "secret123456"),
            ],
        )
        .await
        .unwrap();
}

async fn db_status(client: &AwsClient, id: &str) -> String {
    let body = client
        .query(
            REGION,
            "rds",
            "DescribeDBInstances",
            "2014-10-31",
            &[("DBInstanceIdentifier", id)],
        )
        .await
        .unwrap();
    xml::first_text(&body, "DBInstanceStatus").unwrap()
}

fn target(resource_type: &str, id: &str, arn: String) -> Target {
    Target {
        arn,
        id: id.into(),
        resource_type: resource_type.into(),
        account: DEMO_ACCOUNT.into(),
        region: REGION.into(),
    }
}

fn db_target(id: &str) -> Target {
    target(
        "rds_instance",
        id,
        format!("arn:aws:rds:{REGION}:{DEMO_ACCOUNT}:db:{id}"),
    )
}

/// The step `rds.stop-instance` makes for `id`: expects `available`, waits for `stopped`.
fn stop_db(id: &str) -> Step {
    Step {
        id: format!("stop@{id}"),
        action: "rds:StopDBInstance".into(),
        target: db_target(id),
        params: params(json!({"DBInstanceIdentifier": id})),
        cli: format!("aws rds stop-db-instance --db-instance-identifier {id}"),
        wait: Some(Wait {
            until: "stopped".into(),
            timeout_s: 60,
        }),
        iam: IamVerdict::Allowed,
        expects: Some(PreState {
            any_of: vec!["available".into()],
            not_in: Vec::new(),
        }),
        ..Step::default()
    }
}

fn params(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// Approves and runs `plan` with `runners`; the outcome, the events and the audit text.
async fn run(dir: &Path, plan: Plan, runners: Runners) -> (RunOutcome, Vec<Event>, String) {
    let book = ApprovalBook::open(dir);
    let approval = book.grant(&plan, DEFAULT_TTL, unix_now()).unwrap();
    let scope = book.consume(&plan, &approval.id, unix_now()).unwrap();
    let engine = Engine::new(AuditLog::open(dir), Duration::from_millis(100));
    let (sink, mut events) = ChannelSink::new();
    let request = RunRequest {
        plan,
        scope,
        principal: None,
        strategy: Strategy::Serial,
    };
    let id = engine
        .start(request, runners, vec![Arc::new(sink)])
        .unwrap();
    let outcome = engine.wait(&id).await.unwrap();
    let mut all = Vec::new();
    while let Ok(e) = events.try_recv() {
        all.push(e);
    }
    verify(&dir.join("audit.jsonl")).expect("the audit log verifies");
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    for secret in [DEMO_SECRET_KEY, "secret123456"] {
        assert!(!audit.contains(secret), "the audit log holds a secret");
    }
    (outcome, all, audit)
}

fn refusal(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| match e {
        Event::PreflightRefused { reason, .. } => Some(reason.clone()),
        _ => None,
    })
}

fn requests(dir: &Path) -> usize {
    verify(&dir.join("audit.jsonl")).unwrap().runs[0].requests
}

async fn rest_get(client: &AwsClient, service: &str, path: &str, query: &str) -> Vec<u8> {
    let request = AwsRequest {
        service: service.into(),
        method: "GET".into(),
        path: path.into(),
        query: if query.is_empty() {
            Vec::new()
        } else {
            vec![(query.into(), String::new())]
        },
        headers: Vec::new(),
        body: Vec::new(),
    };
    let response = client.send(&request, REGION, 1 << 20).await.unwrap();
    assert!(
        response.is_success(),
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_and_s3_steps_round_trip() {
    let Some(emulator) = emulator("lambda_and_s3_steps_round_trip").await else {
        return;
    };
    let client = emulator.demo_client();
    // A role for the function, then the function (as the demo seeder makes them).
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    client
        .query(
            "us-east-1",
            "iam",
            "CreateRole",
            "2010-05-08",
            &[("RoleName", "fn-role"), ("AssumeRolePolicyDocument", trust)],
        )
        .await
        .unwrap();
    let create = json!({"FunctionName": "orders-api", "Runtime": "python3.12", "Handler": "lambda_function.lambda_handler",
        "Role": format!("arn:aws:iam::{DEMO_ACCOUNT}:role/fn-role"), "MemorySize": 128,
        "Code": {"ZipFile": cloudops_demo::deployment_package("lambda_function.py", "def lambda_handler(e, c):\n    return 1\n")}});
    let mut request = rest::request(
        rest::rest_op("lambda", "UpdateFunctionConfiguration").unwrap(),
        &params(json!({"FunctionName": "x"})),
    )
    .unwrap();
    request.method = "POST".into();
    request.path = "/2015-03-31/functions".into();
    request.body = create.to_string().into_bytes();
    request.headers = vec![("content-type".into(), "application/json".into())];
    let created = client.send(&request, REGION, 1 << 20).await.unwrap();
    assert!(
        created.is_success(),
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let mut bucket = AwsRequest { service: "s3".into(), method: "PUT".into(), path: "/logs-bucket".into(), query: Vec::new(), headers: Vec::new(),
        body: format!(r#"<CreateBucketConfiguration><LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"#).into_bytes() };
    bucket
        .headers
        .push(("content-type".into(), "application/xml".into()));
    assert!(client
        .send(&bucket, REGION, 1 << 20)
        .await
        .unwrap()
        .is_success());

    let function = target(
        "lambda_function",
        "orders-api",
        format!("arn:aws:lambda:{REGION}:{DEMO_ACCOUNT}:function:orders-api"),
    );
    let bucket = Target {
        region: REGION.into(),
        ..target(
            "s3_bucket",
            "logs-bucket",
            "arn:aws:s3:::logs-bucket".into(),
        )
    };
    let step = |id: &str, action: &str, target: &Target, p: Value| Step {
        id: id.into(),
        action: action.into(),
        target: target.clone(),
        params: params(p),
        iam: IamVerdict::Allowed,
        depends_on: Vec::new(),
        ..Step::default()
    };
    let mut steps = vec![
        step(
            "memory",
            "lambda:UpdateFunctionConfiguration",
            &function,
            json!({"FunctionName": "orders-api", "MemorySize": 512}),
        ),
        step(
            "concurrency",
            "lambda:PutFunctionConcurrency",
            &function,
            json!({"FunctionName": "orders-api", "ReservedConcurrentExecutions": 7}),
        ),
        step(
            "versioning",
            "s3:PutBucketVersioning",
            &bucket,
            json!({"Bucket": "logs-bucket", "VersioningConfiguration": {"Status": "Enabled"}}),
        ),
        step(
            "public",
            "s3:PutPublicAccessBlock",
            &bucket,
            json!({"Bucket": "logs-bucket", "PublicAccessBlockConfiguration":
            {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}}),
        ),
        step(
            "encryption",
            "s3:PutBucketEncryption",
            &bucket,
            json!({"Bucket": "logs-bucket", "ServerSideEncryptionConfiguration":
            {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}),
        ),
        step(
            "lifecycle",
            "s3:PutBucketLifecycleConfiguration",
            &bucket,
            json!({"Bucket": "logs-bucket", "LifecycleConfiguration":
            {"Rules": [{"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": ""}, "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]}}),
        ),
        step(
            "tags",
            "s3:PutBucketTagging",
            &bucket,
            json!({"Bucket": "logs-bucket", "Tagging": {"TagSet": [{"Key": "env", "Value": "prod"}]}}),
        ),
    ];
    steps[0].expects = Some(PreState {
        any_of: Vec::new(),
        not_in: vec!["Failed".into(), "Inactive".into()],
    });
    let dir = tempfile::tempdir().unwrap();
    let (outcome, events, _) = run(
        dir.path(),
        plan_of(steps),
        Runners::aws(root_accounts(&emulator), None),
    )
    .await;
    assert_eq!(outcome, RunOutcome::Succeeded, "{events:#?}");
    assert_eq!(requests(dir.path()), 7);

    let config: Value = serde_json::from_slice(
        &rest_get(
            &client,
            "lambda",
            "/2015-03-31/functions/orders-api/configuration",
            "",
        )
        .await,
    )
    .unwrap();
    assert_eq!(config["MemorySize"], 512);
    let concurrency: Value = serde_json::from_slice(
        &rest_get(
            &client,
            "lambda",
            "/2019-09-30/functions/orders-api/concurrency",
            "",
        )
        .await,
    )
    .unwrap();
    assert_eq!(concurrency["ReservedConcurrentExecutions"], 7);
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    assert!(
        text(rest_get(&client, "s3", "/logs-bucket", "versioning").await)
            .contains("<Status>Enabled</Status>")
    );
    assert!(
        text(rest_get(&client, "s3", "/logs-bucket", "publicAccessBlock").await)
            .contains("<RestrictPublicBuckets>true</RestrictPublicBuckets>")
    );
    assert!(text(rest_get(&client, "s3", "/logs-bucket", "encryption").await).contains("AES256"));
    assert!(
        text(rest_get(&client, "s3", "/logs-bucket", "lifecycle").await)
            .contains("<NoncurrentDays>30</NoncurrentDays>")
    );
    assert!(
        text(rest_get(&client, "s3", "/logs-bucket", "tagging").await)
            .contains("<Value>prod</Value>")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_refused_before_anything_is_sent() {
    let Some(emulator) = emulator("drift_is_refused_before_anything_is_sent").await else {
        return;
    };
    let client = emulator.demo_client();
    create_db(&client, "pg-main1").await;
    create_db(&client, "pg-main2").await;
    // pg-main1 was stopped by someone else after the plan was made.
    client
        .query(
            REGION,
            "rds",
            "StopDBInstance",
            "2014-10-31",
            &[("DBInstanceIdentifier", "pg-main1")],
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(vec![stop_db("pg-main2"), stop_db("pg-main1")]);
    let (outcome, events, audit) = run(
        dir.path(),
        plan,
        Runners::aws(root_accounts(&emulator), None),
    )
    .await;
    assert_eq!(outcome, RunOutcome::Failed);
    let reason = refusal(&events).unwrap();
    assert!(reason.contains("pg-main1 is already stopped"), "{reason}");
    assert!(
        audit.contains("pg-main1 is already stopped"),
        "the audit records why"
    );
    assert_eq!(requests(dir.path()), 0, "nothing was sent");
    assert_eq!(
        db_status(&client, "pg-main2").await,
        "available",
        "the first step did not run either"
    );

    // A target deleted since the plan.
    let dir = tempfile::tempdir().unwrap();
    let (outcome, events, _) = run(
        dir.path(),
        plan_of(vec![stop_db("pg-gone")]),
        Runners::aws(root_accounts(&emulator), None),
    )
    .await;
    assert_eq!(outcome, RunOutcome::Failed);
    let reason = refusal(&events).unwrap();
    assert!(reason.contains("pg-gone no longer exists"), "{reason}");
    assert_eq!(requests(dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iam_denial_and_an_unknown_account_are_refused() {
    let Some(emulator) = emulator("an_iam_denial_and_an_unknown_account_are_refused").await else {
        return;
    };
    let client = emulator.demo_client();
    create_db(&client, "pg-main1").await;
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"rds:*","Resource":"*"},
        {"Effect":"Deny","Action":"rds:StopDBInstance","Resource":"*"}]}"#;
    cloudops_demo::create_iam_user(&client, "developer", policy)
        .await
        .unwrap();
    let accounts = Accounts::new().with(
        DEMO_ACCOUNT,
        demo_account(&emulator, principal("developer", PrincipalKind::User)),
    );
    let dir = tempfile::tempdir().unwrap();
    let (outcome, events, _) = run(
        dir.path(),
        plan_of(vec![stop_db("pg-main1")]),
        Runners::aws(accounts, None),
    )
    .await;
    assert_eq!(outcome, RunOutcome::Failed);
    let reason = refusal(&events).unwrap();
    assert!(
        reason.contains("IAM explicitly denies rds:StopDBInstance")
            && reason.contains("user/developer"),
        "{reason}"
    );
    assert_eq!(requests(dir.path()), 0);
    assert_eq!(db_status(&client, "pg-main1").await, "available");

    // A target in an account the run has no credentials for.
    let mut other = stop_db("pg-main1");
    other.target.account = "111111111111".into();
    let dir = tempfile::tempdir().unwrap();
    let (outcome, events, _) = run(
        dir.path(),
        plan_of(vec![other]),
        Runners::aws(root_accounts(&emulator), None),
    )
    .await;
    assert_eq!(outcome, RunOutcome::Failed);
    let reason = refusal(&events).unwrap();
    assert!(
        reason.contains("no credentials for account 111111111111"),
        "{reason}"
    );
    assert_eq!(requests(dir.path()), 0);
}

async fn run_instance(client: &AwsClient) -> String {
    let body = client
        .query(
            REGION,
            "ec2",
            "RunInstances",
            "2016-11-15",
            &[
                ("ImageId", "ami-12c6146b"),
                ("MinCount", "1"),
                ("MaxCount", "1"),
                ("InstanceType", "t3.micro"),
            ],
        )
        .await
        .unwrap();
    xml::first_text(&body, "instanceId").unwrap()
}

fn stop_instance(id: &str) -> Step {
    Step {
        id: format!("stop@{id}"),
        action: "ec2:StopInstances".into(),
        target: target(
            "ec2_instance",
            id,
            format!("arn:aws:ec2:{REGION}:{DEMO_ACCOUNT}:instance/{id}"),
        ),
        params: params(json!({"InstanceIds": [id]})),
        wait: Some(Wait {
            until: "stopped".into(),
            timeout_s: 60,
        }),
        iam: IamVerdict::Allowed,
        expects: Some(PreState {
            any_of: vec!["running".into()],
            not_in: Vec::new(),
        }),
        ..Step::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_steps_are_dry_run_first() {
    let Some(emulator) = emulator("ec2_steps_are_dry_run_first").await else {
        return;
    };
    let client = emulator.demo_client();
    let id = run_instance(&client).await;
    let dir = tempfile::tempdir().unwrap();
    let (outcome, events, _) = run(
        dir.path(),
        plan_of(vec![stop_instance(&id)]),
        Runners::aws(root_accounts(&emulator), None),
    )
    .await;
    assert_eq!(outcome, RunOutcome::Succeeded, "{events:#?}");
    let checks = events.iter().find_map(|e| match e {
        Event::PreflightPassed { checks, .. } => Some(checks.clone()),
        _ => None,
    });
    let checks = checks.unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c.contains("dry run of StopInstances would succeed")),
        "{checks:?}"
    );
    assert!(
        checks.iter().any(|c| c.contains("is running")),
        "{checks:?}"
    );

    // With authentication on, a user IAM does not let stop instances: the dry run answers
    // UnauthorizedOperation (AWS) or AccessDenied (moto). (The principal is given as root, so the IAM simulation, which
    // would refuse first, is not what refuses here.)
    let id = run_instance(&client).await;
    let (key, secret) = cloudops_demo::create_iam_user(&client, "viewer",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","sts:GetCallerIdentity"],"Resource":"*"}]}"#)
        .await
        .unwrap();
    emulator.enable_auth().await.unwrap();
    let viewer = Account::new(
        emulator.client(&key, &secret),
        Credentials::from_keys(&key, &secret, None),
    )
    .with_principal(principal("root", PrincipalKind::Root));
    let dir = tempfile::tempdir().unwrap();
    let (outcome, events, audit) = run(
        dir.path(),
        plan_of(vec![stop_instance(&id)]),
        Runners::aws(Accounts::new().with(DEMO_ACCOUNT, viewer), None),
    )
    .await;
    assert_eq!(outcome, RunOutcome::Failed);
    let reason = refusal(&events).unwrap();
    assert!(
        reason.contains("dry run of StopInstances") && reason.contains("unauthorized"),
        "{reason}"
    );
    assert!(
        !audit.contains(&secret),
        "the viewer's secret is not in the audit"
    );
    assert_eq!(requests(dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_kind_runs_with_credentials_only_in_its_environment() {
    let name = "the_aws_cli_kind_runs_with_credentials_only_in_its_environment";
    if aws_cli().is_none() {
        return skipped(&format!(
            "SKIPPED: {name}: the AWS CLI is not installed (pip install awscli)"
        ));
    }
    let Some(emulator) = emulator(name).await else {
        return;
    };
    let client = emulator.demo_client();
    create_db(&client, "pg-main1").await;
    let mut step = stop_db("pg-main1");
    step.kind = StepKind::AwsCli;
    let args = aws_cli_args(&step, Some(emulator.url()));
    assert_eq!(
        args[..4],
        [
            "rds",
            "stop-db-instance",
            "--db-instance-identifier",
            "pg-main1"
        ]
    );
    for arg in &args {
        assert!(
            !arg.contains(DEMO_SECRET_KEY) && !arg.contains(DEMO_ACCESS_KEY),
            "a key in argv: {args:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (outcome, events, audit) = run(
        dir.path(),
        plan_of(vec![step]),
        Runners::aws(root_accounts(&emulator), None),
    )
    .await;
    assert_eq!(outcome, RunOutcome::Succeeded, "{events:#?}");
    assert_eq!(db_status(&client, "pg-main1").await, "stopped");
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Output { line, .. } if line.contains("DBInstanceIdentifier"))
        ),
        "{events:#?}"
    );
    assert!(
        !audit.contains(DEMO_ACCESS_KEY),
        "the access key id is not in the audit"
    );
    assert_eq!(requests(dir.path()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_and_script_steps_run_their_argv_and_a_changed_script_is_refused() {
    let Some(emulator) =
        emulator("exec_and_script_steps_run_their_argv_and_a_changed_script_is_refused").await
    else {
        return;
    };
    let client = emulator.demo_client();
    create_db(&client, "pg-main1").await;
    let library = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(library.path().join("rds/scripts")).unwrap();
    let script = b"#!/bin/sh\necho \"flushing $1 with HOME=$HOME\"\nenv | grep -c -E 'AWS_(ACCESS|SECRET|SESSION)' || true\n";
    std::fs::write(library.path().join("rds/scripts/flush.sh"), script).unwrap();
    use sha2::Digest;
    let pinned = ScriptRef {
        path: "rds/scripts/flush.sh".into(),
        sha256: hex::encode(sha2::Sha256::digest(script)),
    };
    let base = Step {
        action: "rds:ModifyDBInstance".into(),
        target: db_target("pg-main1"),
        iam: IamVerdict::Allowed,
        ..Step::default()
    };
    let exec = Step {
        id: "echo".into(),
        kind: StepKind::Exec,
        argv: vec!["echo".into(), "hello; rm -rf /".into()],
        ..base.clone()
    };
    let script_step = Step {
        id: "flush".into(),
        kind: StepKind::Script,
        script: Some(pinned),
        argv: vec!["pg-main1".into()],
        depends_on: vec!["echo".into()],
        ..base
    };
    let plan = plan_of(vec![exec, script_step]);
    let dir = tempfile::tempdir().unwrap();
    let runners = || Runners::aws(root_accounts(&emulator), Some(library.path().to_owned()));
    let (outcome, events, audit) = run(dir.path(), plan.clone(), runners()).await;
    assert_eq!(outcome, RunOutcome::Succeeded, "{events:#?}");
    let lines: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Output { line, .. } => Some(line.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        lines.contains(&"hello; rm -rf /"),
        "the argument reached echo as one word, no shell: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("flushing pg-main1 with HOME=/")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"0"),
        "no credential reaches a script: {lines:?}"
    );
    assert!(
        audit.contains(&hex::encode(sha2::Sha256::digest(script))),
        "the audit records the script's hash"
    );

    std::fs::write(
        library.path().join("rds/scripts/flush.sh"),
        b"#!/bin/sh\necho changed\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (outcome, events, _) = run(dir.path(), plan, runners()).await;
    assert_eq!(outcome, RunOutcome::Failed);
    let reason = refusal(&events).unwrap();
    assert!(
        reason.contains("changed since the plan was approved"),
        "{reason}"
    );
    assert_eq!(requests(dir.path()), 0, "not even the exec step ran");
}
