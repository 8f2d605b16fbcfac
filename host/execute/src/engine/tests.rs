//! The engine with a test step runner (real tasks, real timers, a real audit log): DAG order,
//! the parallel bound, waiters, cancellation, failures stopping dependants, the scope.

use super::*;
use crate::approval::{unix_now, ApprovalBook, DEFAULT_TTL};
use crate::audit::{verify, RunStatus};
use crate::events::{ChannelSink, JsonLinesSink};
use crate::test_plans::{plan, step, wait};
use cloudops_playbook::plan::RiskLevel;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc::UnboundedReceiver;

/// Sleeps `delay` per step, fails the steps named in `fail`, and keeps what happened.
#[derive(Default)]
struct TestRunner {
    delay: Duration,
    fail: Vec<String>,
    /// (step, "start" | "end") in the order they happened.
    log: Mutex<Vec<(String, &'static str)>>,
    running: AtomicUsize,
    most: AtomicUsize,
    /// A request outside the scope, for the step named first.
    stray: Option<(String, String, String)>,
}

impl StepRunner for TestRunner {
    fn run<'a>(
        &'a self,
        step: &'a Step,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.log.lock().unwrap().push((step.id.clone(), "start"));
            let (action, arn) = match &self.stray {
                Some((id, action, arn)) if *id == step.id => (action.as_str(), arn.as_str()),
                _ => (step.action.as_str(), step.target.arn.as_str()),
            };
            let sent = ctx.request(action, arn, &step.params);
            ctx.output(&format!("{} sent", step.id));
            tokio::time::sleep(self.delay).await;
            self.log.lock().unwrap().push((step.id.clone(), "end"));
            self.running.fetch_sub(1, Ordering::SeqCst);
            sent?;
            if self.fail.contains(&step.id) {
                return Err(StepError::new(format!("{} failed on purpose", step.id)));
            }
            Ok(())
        })
    }
}

/// Answers each state read with the next of `states`, repeating the last.
struct TestStates {
    states: Mutex<Vec<&'static str>>,
}

impl StateReader for TestStates {
    fn state<'a>(&'a self, _: &'a Target) -> BoxFuture<'a, Result<Option<String>, StepError>> {
        Box::pin(async move {
            let mut states = self.states.lock().unwrap();
            let state = if states.len() > 1 {
                states.remove(0)
            } else {
                states[0]
            };
            // `gone`: the resource is not found any more.
            Ok((state != "gone").then(|| state.to_owned()))
        })
    }
}

/// Passes every step but those in `refuse`, which it refuses with their reason.
#[derive(Default)]
struct TestPreflight {
    refuse: Vec<(String, String)>,
}

impl Preflight for TestPreflight {
    fn check<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Vec<String>, StepError>> {
        Box::pin(async move {
            match self.refuse.iter().find(|(id, _)| *id == step.id) {
                Some((_, reason)) => Err(StepError::new(reason.clone())),
                None => Ok(vec![format!("{} checked", step.id)]),
            }
        })
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    engine: Engine,
    audit: AuditLog,
    book: ApprovalBook,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let audit = AuditLog::open(dir.path());
    Setup {
        engine: Engine::new(audit.clone(), Duration::from_millis(20)),
        book: ApprovalBook::open(dir.path()),
        audit,
        _dir: dir,
    }
}

/// Approves `plan`, runs it with `runner` and `states`, and returns the outcome and events.
async fn run(
    s: &Setup,
    plan: Plan,
    strategy: Strategy,
    runner: Arc<TestRunner>,
    states: Vec<&'static str>,
) -> (RunOutcome, Vec<Event>) {
    let approval = s.book.grant(&plan, DEFAULT_TTL, unix_now()).unwrap();
    let scope = s.book.consume(&plan, &approval.id, unix_now()).unwrap();
    let (sink, mut events) = ChannelSink::new();
    let runners = Runners {
        steps: runner,
        states: Arc::new(TestStates {
            states: Mutex::new(states),
        }),
        preflight: Arc::new(TestPreflight::default()),
    };
    let request = RunRequest {
        plan,
        scope,
        principal: Some("arn:aws:iam::111111111111:role/ops".into()),
        strategy,
    };
    let id = s
        .engine
        .start(request, runners, vec![Arc::new(sink)])
        .unwrap();
    let outcome = s.engine.wait(&id).await.unwrap();
    (outcome, drain(&mut events))
}

fn drain(events: &mut UnboundedReceiver<Event>) -> Vec<Event> {
    let mut all = Vec::new();
    while let Ok(e) = events.try_recv() {
        all.push(e);
    }
    all
}

fn position(log: &[(String, &str)], step: &str, what: &str) -> usize {
    log.iter()
        .position(|(s, w)| s == step && *w == what)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_runs_each_step_after_its_dependencies_and_independent_ones_together() {
    let s = setup();
    let p = plan(
        vec![
            step("d", "db-d", &["b", "c"]),
            step("b", "db-b", &["a"]),
            step("c", "db-c", &["a"]),
            step("a", "db-a", &[]),
        ],
        RiskLevel::Low,
    );
    let runner = Arc::new(TestRunner {
        delay: Duration::from_millis(50),
        ..Default::default()
    });
    let (outcome, _) = run(&s, p, Strategy::Dag, runner.clone(), vec!["x"]).await;
    assert_eq!(outcome, RunOutcome::Succeeded);
    let log = runner.log.lock().unwrap().clone();
    assert!(position(&log, "a", "end") < position(&log, "b", "start"));
    assert!(position(&log, "a", "end") < position(&log, "c", "start"));
    assert!(position(&log, "b", "end") < position(&log, "d", "start"));
    assert!(position(&log, "c", "end") < position(&log, "d", "start"));
    assert_eq!(
        runner.most.load(Ordering::SeqCst),
        2,
        "b and c run together"
    );
    let summary = verify(s.audit.path()).unwrap();
    assert_eq!(summary.runs[0].completed.len(), 4);
    assert_eq!(summary.runs[0].requests, 4);
}

// On a multi-threaded runtime, where audit appends leave the worker (`block_in_place`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_runs_at_most_its_limit_and_serial_one() {
    for (strategy, most) in [
        (Strategy::Parallel { limit: 2 }, 2),
        (Strategy::Serial, 1),
        (Strategy::Dag, 6),
    ] {
        let s = setup();
        let steps = (0..6)
            .map(|i| step(&format!("s{i}"), &format!("db-{i}"), &[]))
            .collect();
        let runner = Arc::new(TestRunner {
            delay: Duration::from_millis(150),
            ..Default::default()
        });
        let (outcome, _) = run(
            &s,
            plan(steps, RiskLevel::Low),
            strategy,
            runner.clone(),
            vec!["x"],
        )
        .await;
        assert_eq!(outcome, RunOutcome::Succeeded);
        // The bound is exact; a DAG's six at once may be staggered by audit fsyncs on a busy
        // machine, so it only has to exceed the parallel bound.
        let seen = runner.most.load(Ordering::SeqCst);
        match strategy {
            Strategy::Dag => assert!(seen > 2 && seen <= most, "{strategy:?}: {seen}"),
            _ => assert_eq!(seen, most, "{strategy:?}"),
        }
    }
}

#[tokio::test]
async fn a_waiter_polls_until_the_state_is_reached() {
    let s = setup();
    let mut st = step("stop", "pg-main1", &[]);
    st.wait = wait("stopped", 5);
    let runner = Arc::new(TestRunner::default());
    let (outcome, events) = run(
        &s,
        plan(vec![st], RiskLevel::Low),
        Strategy::Serial,
        runner,
        vec!["stopping", "stopping", "stopped"],
    )
    .await;
    assert_eq!(outcome, RunOutcome::Succeeded);
    let progress: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::WaiterProgress { state, .. } => state.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(progress, ["stopping", "stopping", "stopped"]);
}

#[tokio::test]
async fn waiting_for_deleted_ends_when_the_resource_is_not_found() {
    let s = setup();
    let mut st = step("delete", "pg-main1", &[]);
    st.wait = wait("deleted", 5);
    let runner = Arc::new(TestRunner::default());
    let states = vec!["deleting", "gone"];
    let (outcome, _) = run(
        &s,
        plan(vec![st], RiskLevel::Low),
        Strategy::Serial,
        runner,
        states,
    )
    .await;
    assert_eq!(outcome, RunOutcome::Succeeded);
}

#[tokio::test]
async fn a_waiter_times_out_and_fails_the_step() {
    let s = setup();
    let mut st = step("stop", "pg-main1", &[]);
    st.wait = wait("stopped", 1);
    let started = Instant::now();
    let (outcome, events) = run(
        &s,
        plan(vec![st], RiskLevel::Low),
        Strategy::Serial,
        Arc::new(TestRunner::default()),
        vec!["stopping"],
    )
    .await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let error = events.iter().find_map(|e| match e {
        Event::StepFailed { error, .. } => Some(error.clone()),
        _ => None,
    });
    let error = error.expect("the step failed");
    assert!(
        error.contains("did not become stopped within 1 s (last state: stopping)"),
        "{error}"
    );
}

#[tokio::test]
async fn cancelling_lets_the_call_in_flight_finish_and_starts_nothing_more() {
    let s = setup();
    let p = plan(
        vec![
            step("a", "db-a", &[]),
            step("b", "db-b", &[]),
            step("c", "db-c", &[]),
        ],
        RiskLevel::Low,
    );
    let approval = s.book.grant(&p, DEFAULT_TTL, unix_now()).unwrap();
    let scope = s.book.consume(&p, &approval.id, unix_now()).unwrap();
    let runner = Arc::new(TestRunner {
        delay: Duration::from_millis(300),
        ..Default::default()
    });
    let runners = Runners {
        steps: runner.clone(),
        states: Arc::new(TestStates {
            states: Mutex::new(vec!["x"]),
        }),
        preflight: Arc::new(TestPreflight::default()),
    };
    let (sink, mut events) = ChannelSink::new();
    let request = RunRequest {
        plan: p,
        scope,
        principal: None,
        strategy: Strategy::Serial,
    };
    let id = s
        .engine
        .start(request, runners, vec![Arc::new(sink)])
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(s.engine.cancel(&id));
    assert_eq!(s.engine.wait(&id).await, Some(RunOutcome::Cancelled));
    assert_eq!(
        *runner.log.lock().unwrap(),
        [("a".to_string(), "start"), ("a".to_string(), "end")]
    );
    let events = drain(&mut events);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::StepFinished { step, .. } if step == "a")));
    for name in ["b", "c"] {
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::StepCancelled { step, .. } if step == name)),
            "{name}"
        );
    }
    let summary = verify(s.audit.path()).unwrap();
    assert_eq!(
        summary.runs[0].status,
        RunStatus::Finished(RunOutcome::Cancelled)
    );
    assert_eq!(summary.runs[0].completed, ["a"]);
}

#[tokio::test]
async fn a_failing_step_stops_its_dependants_only() {
    let s = setup();
    let p = plan(
        vec![
            step("a", "db-a", &[]),
            step("b", "db-b", &["a"]),
            step("e", "db-e", &["b"]),
            step("c", "db-c", &[]),
        ],
        RiskLevel::Low,
    );
    let runner = Arc::new(TestRunner {
        fail: vec!["a".into()],
        ..Default::default()
    });
    let (outcome, events) = run(&s, p, Strategy::Dag, runner.clone(), vec!["x"]).await;
    assert_eq!(outcome, RunOutcome::Failed);
    let ran: Vec<String> = runner
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|(s, _)| s.clone())
        .collect();
    assert!(
        !ran.contains(&"b".to_string()) && !ran.contains(&"e".to_string()),
        "{ran:?}"
    );
    assert!(ran.contains(&"c".to_string()));
    assert!(events.iter().any(
        |e| matches!(e, Event::StepSkipped { step, because, .. } if step == "b" && because == "a")
    ));
    assert!(events.iter().any(
        |e| matches!(e, Event::StepSkipped { step, because, .. } if step == "e" && because == "b")
    ));
    match events.last() {
        Some(Event::RunFinished { completed, .. }) => assert_eq!(completed, &["c"]),
        other => panic!("the run ends with RunFinished, not {other:?}"),
    }
}

#[tokio::test]
async fn a_serial_run_stops_at_the_first_failure() {
    let s = setup();
    let p = plan(
        vec![step("a", "db-a", &[]), step("b", "db-b", &[])],
        RiskLevel::Low,
    );
    let runner = Arc::new(TestRunner {
        fail: vec!["a".into()],
        ..Default::default()
    });
    let (outcome, events) = run(&s, p, Strategy::Serial, runner.clone(), vec!["x"]).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert!(events.iter().any(
        |e| matches!(e, Event::StepSkipped { step, because, .. } if step == "b" && because == "a")
    ));
}

#[tokio::test]
async fn a_request_outside_the_scope_is_refused_unsent_and_unrecorded() {
    let s = setup();
    let p = plan(vec![step("a", "db-a", &[])], RiskLevel::Low);
    let runner = Arc::new(TestRunner {
        stray: Some((
            "a".into(),
            "rds:DeleteDBInstance".into(),
            p.steps[0].target.arn.clone(),
        )),
        ..Default::default()
    });
    let (outcome, events) = run(&s, p, Strategy::Serial, runner, vec!["x"]).await;
    assert_eq!(outcome, RunOutcome::Failed);
    let error = events.iter().find_map(|e| match e {
        Event::StepFailed { error, .. } => Some(error.clone()),
        _ => None,
    });
    assert!(error.unwrap().contains("outside the approved scope"));
    assert_eq!(verify(s.audit.path()).unwrap().runs[0].requests, 0);
}

#[tokio::test]
async fn a_plan_outside_its_scope_or_altered_does_not_start() {
    let s = setup();
    let p = plan(vec![step("a", "db-a", &[])], RiskLevel::Low);
    let approval = s.book.grant(&p, DEFAULT_TTL, unix_now()).unwrap();
    let scope = s.book.consume(&p, &approval.id, unix_now()).unwrap();
    let runners = || Runners {
        steps: Arc::new(TestRunner::default()),
        states: Arc::new(TestStates {
            states: Mutex::new(vec!["x"]),
        }),
        preflight: Arc::new(TestPreflight::default()),
    };
    let mut altered = p.clone();
    altered.steps[0].target.arn = "arn:aws:rds:eu-west-1:111111111111:db:other".into();
    let request = RunRequest {
        plan: altered,
        scope: scope.clone(),
        principal: None,
        strategy: Strategy::Serial,
    };
    let err = s.engine.start(request, runners(), Vec::new()).unwrap_err();
    assert!(err.to_string().contains("altered"), "{err}");
    let wider = plan(
        vec![step("a", "db-a", &[]), step("b", "db-b", &[])],
        RiskLevel::Low,
    );
    let mut scope = scope;
    scope.plan_id = wider.plan_id.clone();
    let request = RunRequest {
        plan: wider,
        scope,
        principal: None,
        strategy: Strategy::Serial,
    };
    let err = s.engine.start(request, runners(), Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains("outside the approved scope"),
        "{err}"
    );
    assert_eq!(
        verify(s.audit.path()).unwrap().records,
        0,
        "nothing recorded, nothing run"
    );
}

#[tokio::test]
async fn a_dependency_cycle_does_not_start() {
    let s = setup();
    let p = plan(
        vec![step("a", "db-a", &["b"]), step("b", "db-b", &["a"])],
        RiskLevel::Low,
    );
    let approval = s.book.grant(&p, DEFAULT_TTL, unix_now()).unwrap();
    let scope = s.book.consume(&p, &approval.id, unix_now()).unwrap();
    let runners = Runners {
        steps: Arc::new(TestRunner::default()),
        states: Arc::new(TestStates {
            states: Mutex::new(vec!["x"]),
        }),
        preflight: Arc::new(TestPreflight::default()),
    };
    let request = RunRequest {
        plan: p,
        scope,
        principal: None,
        strategy: Strategy::Dag,
    };
    let err = s.engine.start(request, runners, Vec::new()).unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
}

#[tokio::test]
async fn events_reach_the_json_lines_sink_and_the_audit_log_in_order() {
    let s = setup();
    let p = plan(
        vec![step("a", "db-a", &[]), step("b", "db-b", &["a"])],
        RiskLevel::Low,
    );
    let approval = s.book.grant(&p, DEFAULT_TTL, unix_now()).unwrap();
    let scope = s.book.consume(&p, &approval.id, unix_now()).unwrap();
    let json = Arc::new(JsonLinesSink::new(Vec::new()));
    let runners = Runners {
        steps: Arc::new(TestRunner::default()),
        states: Arc::new(TestStates {
            states: Mutex::new(vec!["x"]),
        }),
        preflight: Arc::new(TestPreflight::default()),
    };
    let request = RunRequest {
        plan: p,
        scope,
        principal: None,
        strategy: Strategy::Dag,
    };
    let id = s
        .engine
        .start(request, runners, vec![json.clone()])
        .unwrap();
    s.engine.wait(&id).await.unwrap();
    drop(s.engine);
    let bytes = Arc::try_unwrap(json).ok().unwrap().into_inner();
    let types: Vec<String> = String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "run_started",
            "preflight_passed",
            "preflight_passed",
            "step_started",
            "output",
            "step_finished",
            "step_started",
            "output",
            "step_finished",
            "run_finished"
        ]
    );
    // The plan, the approval, 2 requests and the 10 events.
    let log = std::fs::read_to_string(s.audit.path()).unwrap();
    assert_eq!(verify(s.audit.path()).unwrap().records, 14);
    assert!(log
        .lines()
        .nth(1)
        .unwrap()
        .contains(r#""record":"approval""#));
}

#[tokio::test]
async fn a_preflight_refusal_sends_nothing_and_the_audit_says_why() {
    let s = setup();
    let p = plan(
        vec![
            step("a", "db1", &[]),
            step("b", "db2", &["a"]),
            step("c", "db3", &[]),
        ],
        RiskLevel::Low,
    );
    let approval = s.book.grant(&p, DEFAULT_TTL, unix_now()).unwrap();
    let scope = s.book.consume(&p, &approval.id, unix_now()).unwrap();
    let runner = Arc::new(TestRunner::default());
    let runners = Runners::new(
        runner.clone(),
        Arc::new(TestStates {
            states: Mutex::new(vec!["x"]),
        }),
        Arc::new(TestPreflight {
            refuse: vec![("c".into(), "db3 is already stopped".into())],
        }),
    );
    let request = RunRequest {
        plan: p,
        scope,
        principal: None,
        strategy: Strategy::Dag,
    };
    let (sink, mut events) = ChannelSink::new();
    let id = s
        .engine
        .start(request, runners, vec![Arc::new(sink)])
        .unwrap();
    assert_eq!(s.engine.wait(&id).await, Some(RunOutcome::Failed));
    assert!(runner.log.lock().unwrap().is_empty(), "no step ran");
    let events = drain(&mut events);
    assert!(events.iter().any(|e| matches!(e,
        Event::PreflightRefused { step, reason, .. } if step == "c" && reason.contains("already stopped"))));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::PreflightPassed { .. }))
            .count(),
        2,
        "every step is checked, so all that stands in the way shows"
    );
    let summary = verify(s.audit.path()).unwrap();
    assert_eq!(summary.runs[0].requests, 0);
    assert_eq!(summary.runs[0].failed, ["c"]);
    let log = std::fs::read_to_string(s.audit.path()).unwrap();
    assert!(
        log.contains("db3 is already stopped"),
        "the audit records the refusal"
    );
}
