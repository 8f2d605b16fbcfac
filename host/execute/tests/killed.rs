//! A run whose process is killed with SIGKILL mid-run: the audit log still verifies, shows the
//! run unfinished with the step that completed, and closing it records it as interrupted.
//!
//! The run happens in a child process: this test binary again, running only
//! `killed_child_runs_a_plan` (ignored unless asked for) with the data dir in its environment.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudops_execute::approval::{unix_now, ApprovalBook, DEFAULT_TTL};
use cloudops_execute::audit::{verify, AuditLog, RunStatus};
use cloudops_execute::engine::{
    BoxFuture, Engine, Preflight, RunRequest, Runners, StateReader, StepContext, StepError,
    StepRunner, Strategy,
};
use cloudops_playbook::plan::{
    IamVerdict, Intent, IntentKind, Plan, Risk, RiskLevel, Step, Target,
};
use serde_json::Map;

const CHILD_DIR: &str = "CLOUDOPS_EXECUTE_TEST_CHILD_DIR";

/// Step `fast` returns at once; step `slow` outlives the test.
struct Steps;

impl StepRunner for Steps {
    fn run<'a>(
        &'a self,
        step: &'a Step,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            ctx.request(&step.action, &step.target.arn, &step.params)?;
            if step.id == "slow" {
                tokio::time::sleep(Duration::from_secs(600)).await;
            }
            Ok(())
        })
    }
}

struct NoStates;

impl StateReader for NoStates {
    fn state<'a>(&'a self, _: &'a Target) -> BoxFuture<'a, Result<Option<String>, StepError>> {
        Box::pin(async { Ok(None) })
    }
}

/// Every step passes (the preflight has its own tests; this one is about the kill).
struct Passes;

impl Preflight for Passes {
    fn check<'a>(&'a self, _: &'a Step) -> BoxFuture<'a, Result<Vec<String>, StepError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

fn step(id: &str, deps: &[&str]) -> Step {
    Step {
        id: id.into(),
        action: "rds:StopDBInstance".into(),
        target: Target {
            arn: format!("arn:aws:rds:eu-west-1:111111111111:db:{id}"),
            id: id.into(),
            resource_type: "rds_instance".into(),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        },
        params: Map::new(),
        cli: String::new(),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        wait: None,
        iam: IamVerdict::Allowed,
        ..Step::default()
    }
}

fn plan() -> Plan {
    let mut plan = Plan::nothing(
        Intent {
            kind: IntentKind::Operation,
            service: Some("rds".into()),
            operation: Some("stop".into()),
        },
        "stop two databases",
    );
    plan.steps = vec![step("fast", &[]), step("slow", &["fast"])];
    plan.risk = Risk {
        level: RiskLevel::Low,
        reasons: Vec::new(),
    };
    plan.sealed()
}

#[tokio::test]
#[ignore = "the child half of a_killed_run_is_reported_interrupted; runs only in its child"]
async fn killed_child_runs_a_plan() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let book = ApprovalBook::open(&dir);
    let plan = plan();
    let approval = book.grant(&plan, DEFAULT_TTL, unix_now()).unwrap();
    let scope = book.consume(&plan, &approval.id, unix_now()).unwrap();
    let engine = Engine::new(AuditLog::open(&dir), Duration::from_millis(100));
    let runners = Runners::new(Arc::new(Steps), Arc::new(NoStates), Arc::new(Passes));
    let request = RunRequest {
        plan,
        scope,
        principal: None,
        strategy: Strategy::Serial,
    };
    let id = engine.start(request, runners, Vec::new()).unwrap();
    engine.wait(&id).await;
}

#[test]
fn a_killed_run_is_reported_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "killed::killed_child_runs_a_plan"])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let log = dir.path().join("audit.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    // Kill once step `slow` has been recorded as started: `fast` finished before it.
    let slow_started = |text: String| {
        text.lines()
            .any(|l| l.contains("\"step_started\"") && l.contains("\"step\":\"slow\""))
    };
    while !slow_started(std::fs::read_to_string(&log).unwrap_or_default()) {
        assert!(
            Instant::now() < deadline,
            "the child never started step slow"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let summary = verify(&log).unwrap();
    let run = &summary.runs[0];
    assert_eq!(run.status, RunStatus::Unfinished);
    assert_eq!(run.completed, ["fast"]);
    let closed = AuditLog::open(dir.path()).close_interrupted(&[]).unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(verify(&log).unwrap().runs[0].status, RunStatus::Interrupted);
}
