//! Executing an approved plan against the real emulator: the `aws` step kind sends an
//! approved `rds:StopDBInstance` through the host's client and the waiter sees `stopped`; a
//! step outside the approved scope is refused and never sent; the audit log verifies.

use std::sync::Arc;
use std::time::Duration;

use cloudops_demo::Emulator;
use cloudops_execute::accounts::{Account, Accounts};
use cloudops_execute::approval::{unix_now, ApprovalBook, DEFAULT_TTL};
use cloudops_execute::audit::{verify, AuditLog, RunStatus};
use cloudops_execute::aws_step::{AwsStateReader, AwsStepRunner};
use cloudops_execute::engine::{
    BoxFuture, Engine, RunRequest, Runners, StepContext, StepError, StepRunner, Strategy,
};
use cloudops_execute::events::{ChannelSink, Event, RunOutcome};
use cloudops_execute::preflight::AwsPreflight;
use cloudops_host::aws::iam::{Principal, PrincipalKind};
use cloudops_host::aws::Credentials;
use cloudops_host::aws::{xml, AwsClient};
use cloudops_playbook::plan::{
    IamVerdict, Intent, IntentKind, Plan, Risk, RiskLevel, Step, Target, Wait,
};
use cloudops_tests::{query, rds_arn, start_emulator};
use serde_json::{json, Map};

const REGION: &str = "us-west-2";

async fn create_instance(client: &AwsClient, id: &str) {
    let params = [
        ("DBInstanceIdentifier", id),
        ("DBInstanceClass", "db.t3.micro"),
        ("Engine", "postgres"),
        ("AllocatedStorage", "20"),
        ("MasterUsername", "admin1"),
        ("MasterUserPassword", "secret123456"),
    ];
    query(client, REGION, "rds", "CreateDBInstance", &params).await;
}

async fn status(client: &AwsClient, id: &str) -> String {
    let body = query(
        client,
        REGION,
        "rds",
        "DescribeDBInstances",
        &[("DBInstanceIdentifier", id)],
    )
    .await;
    xml::first_text(&body, "DBInstanceStatus").expect("a status")
}

/// The step the `rds.stop-instance` playbook makes for `id`.
fn stop_step(id: &str) -> Step {
    let mut params = Map::new();
    params.insert("DBInstanceIdentifier".into(), json!(id));
    Step {
        id: format!("stop@{id}"),
        action: "rds:StopDBInstance".into(),
        target: Target {
            arn: rds_arn(REGION, "db", id),
            id: id.into(),
            resource_type: "rds_instance".into(),
            account: cloudops_demo::DEMO_ACCOUNT.into(),
            region: REGION.into(),
        },
        params,
        cli: format!("aws rds stop-db-instance --db-instance-identifier {id}"),
        depends_on: Vec::new(),
        wait: Some(Wait {
            until: "stopped".into(),
            timeout_s: 60,
        }),
        iam: IamVerdict::Allowed,
        ..Step::default()
    }
}

/// A sealed, medium-risk plan of `steps` that needs approval (execute_kinds uses it too).
pub(crate) fn plan_of(steps: Vec<Step>) -> Plan {
    let mut plan = Plan::nothing(
        Intent {
            kind: IntentKind::Operation,
            service: Some("rds".into()),
            operation: Some("stop".into()),
        },
        "stop the database",
    );
    plan.steps = steps;
    plan.risk = Risk {
        level: RiskLevel::Medium,
        reasons: vec!["an outage of the database".into()],
    };
    plan.approval_required = true;
    plan.sealed()
}

/// Approves `plan`, runs it on the emulator with `steps` and returns the outcome and events.
async fn run(
    emulator: &Emulator,
    dir: &std::path::Path,
    plan: Plan,
    steps: Arc<dyn StepRunner>,
) -> (RunOutcome, Vec<Event>) {
    let book = ApprovalBook::open(dir);
    let approval = book.grant(&plan, DEFAULT_TTL, unix_now()).unwrap();
    let scope = book.consume(&plan, &approval.id, unix_now()).unwrap();
    let engine = Engine::new(AuditLog::open(dir), Duration::from_millis(200));
    let (sink, mut events) = ChannelSink::new();
    let root = Principal {
        arn: format!("arn:aws:iam::{}:root", cloudops_demo::DEMO_ACCOUNT),
        caller_arn: format!("arn:aws:iam::{}:root", cloudops_demo::DEMO_ACCOUNT),
        account_id: cloudops_demo::DEMO_ACCOUNT.into(),
        kind: PrincipalKind::Root,
    };
    let account = Account::new(
        emulator.demo_client(),
        Credentials::from_keys(
            cloudops_demo::DEMO_ACCESS_KEY,
            cloudops_demo::DEMO_SECRET_KEY,
            None,
        ),
    )
    .with_principal(root);
    let accounts = Accounts::new().with(cloudops_demo::DEMO_ACCOUNT, account);
    let runners = Runners::new(
        steps,
        Arc::new(AwsStateReader::new(emulator.demo_client())),
        Arc::new(AwsPreflight::new(accounts, None)),
    );
    let request = RunRequest {
        plan,
        scope,
        principal: Some(format!(
            "arn:aws:iam::{}:user/ops",
            cloudops_demo::DEMO_ACCOUNT
        )),
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
    (outcome, all)
}

#[tokio::test]
async fn an_approved_stop_stops_the_instance_and_the_audit_verifies() {
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    create_instance(&client, "pg-main1").await;
    assert_eq!(status(&client, "pg-main1").await, "available");
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(AwsStepRunner::new(emulator.demo_client()));
    let (outcome, events) = run(
        &emulator,
        dir.path(),
        plan_of(vec![stop_step("pg-main1")]),
        runner,
    )
    .await;
    assert_eq!(outcome, RunOutcome::Succeeded, "{events:#?}");
    assert_eq!(status(&client, "pg-main1").await, "stopped");
    assert!(events.iter().any(|e| matches!(e,
        Event::WaiterProgress { state: Some(s), .. } if s == "stopped")));
    let summary = verify(&dir.path().join("audit.jsonl")).unwrap();
    assert_eq!(summary.runs.len(), 1);
    assert_eq!(
        summary.runs[0].status,
        RunStatus::Finished(RunOutcome::Succeeded)
    );
    assert_eq!(summary.runs[0].requests, 1);
    assert_eq!(summary.runs[0].completed, ["stop@pg-main1"]);
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    for secret in [cloudops_demo::DEMO_SECRET_KEY, "secret123456"] {
        assert!(!audit.contains(secret), "the audit log holds a secret");
    }
}

/// Hands the real runner another target than the approved step's, as a bug or a tampered
/// step source would.
struct Retargeted {
    inner: AwsStepRunner,
    to: Step,
}

impl StepRunner for Retargeted {
    fn run<'a>(
        &'a self,
        _: &'a Step,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        self.inner.run(&self.to, ctx)
    }
}

#[tokio::test]
async fn a_step_outside_the_approved_scope_is_refused_unsent() {
    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    create_instance(&client, "pg-main1").await;
    create_instance(&client, "pg-main2").await;
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(Retargeted {
        inner: AwsStepRunner::new(emulator.demo_client()),
        to: stop_step("pg-main2"),
    });
    let (outcome, events) = run(
        &emulator,
        dir.path(),
        plan_of(vec![stop_step("pg-main1")]),
        runner,
    )
    .await;
    assert_eq!(outcome, RunOutcome::Failed);
    let error = events.iter().find_map(|e| match e {
        Event::StepFailed { error, .. } => Some(error.clone()),
        _ => None,
    });
    let error = error.expect("the step failed");
    assert!(
        error.contains("outside the approved scope") && error.contains("nothing was sent"),
        "{error}"
    );
    for id in ["pg-main1", "pg-main2"] {
        assert_eq!(
            status(&client, id).await,
            "available",
            "{id} was not touched"
        );
    }
    let summary = verify(&dir.path().join("audit.jsonl")).unwrap();
    assert_eq!(summary.runs[0].requests, 0);
}
