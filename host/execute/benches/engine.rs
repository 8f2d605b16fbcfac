//! The execution engine's figures on the emulator, printed (not asserted), in one run:
//! - a bare signed call of `ec2:RebootInstances` through the host's client: p50/p99 over N,
//!   the baseline;
//! - the same operation as N serial steps of one run: each step's time from `StepStarted` to
//!   `StepFinished` (the scope check, the request's audit record, the call, the output and
//!   end records, each fsynced), p50/p99, and the engine's overhead per step over the bare
//!   call's p50;
//! - the audit log's append (lock, write, fsync), which each event and request pays;
//! - from approval to the first API call: consuming the approval, starting the run (plan,
//!   approval and start recorded) and the preflight (state read and EC2 dry run), p50/p99 over
//!   M one-step runs.
//!
//! The emulator is moto with the project's IAM extension (`tests/emulator/moto_server`),
//! started here rather than through cloudops-demo's `Emulator`, whose dependencies (the
//! estate's store and embedder) would add their release build to this bench's.
//!
//! Run: `source scripts/env.sh && cargo bench -p cloudops-execute` (`EXEC_BENCH_N`,
//! `EXEC_BENCH_M` change N = 300 and M = 40).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudops_aws::iam::{Principal, PrincipalKind};
use cloudops_aws::{xml, AwsClient, Credentials, Endpoints, HttpTransport};
use cloudops_execute::accounts::{Account, Accounts};
use cloudops_execute::approval::{unix_now, ApprovalBook, DEFAULT_TTL};
use cloudops_execute::audit::{AuditLog, Entry};
use cloudops_execute::engine::{
    BoxFuture, Engine, RunRequest, Runners, StepContext, StepError, StepRunner, Strategy,
};
use cloudops_execute::events::{Event, EventSink, RunOutcome};
use cloudops_playbook::plan::{
    IamVerdict, Intent, IntentKind, Plan, PreState, Risk, RiskLevel, Step, Target,
};
use serde_json::json;

const REGION: &str = "us-west-2";
const ACCOUNT: &str = "123456789012";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// moto server on a free loopback port; killed when dropped.
struct Moto(Child, String);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto() -> Option<Moto> {
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/emulator/moto_server");
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let moto = Moto(child, format!("http://127.0.0.1:{port}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let Some(moto) = start_moto() else {
        println!("SKIPPED: engine bench: the emulator (tests/emulator/moto_server) did not start; run scripts/setup");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(&moto.1));
}

fn client(url: &str) -> AwsClient {
    AwsClient::new(
        Credentials::from_keys(KEY, SECRET, None),
        Endpoints::default().with_global(url),
        Arc::new(HttpTransport::new().unwrap()),
    )
}

async fn run(url: &str) {
    let (n, m) = (
        env_usize("EXEC_BENCH_N", 300),
        env_usize("EXEC_BENCH_M", 40),
    );
    let client = client(url);
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
        .expect("the emulator answers");
    let instance = xml::first_text(&body, "instanceId").unwrap();
    let reboot = [("InstanceId.1", instance.as_str())];
    for _ in 0..20 {
        client
            .query(REGION, "ec2", "RebootInstances", "2016-11-15", &reboot)
            .await
            .unwrap();
    }
    let mut bare = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        client
            .query(REGION, "ec2", "RebootInstances", "2016-11-15", &reboot)
            .await
            .unwrap();
        bare.push(started.elapsed());
    }
    let dir = tempfile::tempdir().unwrap();
    let accounts = Accounts::new().with(
        ACCOUNT,
        Account::new(client.clone(), Credentials::from_keys(KEY, SECRET, None)).with_principal(
            Principal {
                arn: format!("arn:aws:iam::{ACCOUNT}:root"),
                caller_arn: format!("arn:aws:iam::{ACCOUNT}:root"),
                account_id: ACCOUNT.into(),
                kind: PrincipalKind::Root,
            },
        ),
    );
    let steps: Vec<Step> = (0..n)
        .map(|i| reboot_step(&format!("r{i}"), &instance))
        .collect();
    let (per_step, wall) = per_step_times(dir.path(), &accounts, plan_of(steps)).await;
    let mut to_first = Vec::with_capacity(m);
    for i in 0..m {
        to_first.push(approval_to_first_call(dir.path(), &accounts, &instance, i).await);
    }
    let appends = audit_appends(n);
    report(&bare, &per_step, wall, n, &to_first);
    println!(
        "audit log append (lock, write, fsync; a step makes 4), N={n}: p50 {} p99 {}",
        ms(pct(&appends, 50.0)),
        ms(pct(&appends, 99.0))
    );
}

/// The audit log's own cost: appending one small record, fsynced, as each event does.
fn audit_appends(n: usize) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path());
    (0..n)
        .map(|i| {
            let entry = Entry::Event(Event::Output {
                run: "bench".into(),
                step: format!("s{i}"),
                line: "done".into(),
            });
            let started = Instant::now();
            log.append(&entry).unwrap();
            started.elapsed()
        })
        .collect()
}

fn report(
    bare: &[Duration],
    per_step: &[Duration],
    wall: Duration,
    n: usize,
    to_first: &[Duration],
) {
    let (b50, b99) = (pct(bare, 50.0), pct(bare, 99.0));
    let (s50, s99) = (pct(per_step, 50.0), pct(per_step, 99.0));
    println!(
        "bare signed ec2:RebootInstances, N={n}: p50 {} p99 {}",
        ms(b50),
        ms(b99)
    );
    println!(
        "engine step (same call), N={n}: p50 {} p99 {}",
        ms(s50),
        ms(s99)
    );
    println!(
        "engine overhead per step: p50 {} ({:.2}x the bare call), p99 {}; whole run {} = {} per step",
        ms(s50.saturating_sub(b50)),
        s50.as_secs_f64() / b50.as_secs_f64(),
        ms(s99.saturating_sub(b99)),
        ms(wall),
        ms(wall / n as u32)
    );
    println!(
        "approval consumed -> first API call (start, audit, preflight: state read + EC2 dry run), M={}: p50 {} p99 {}",
        to_first.len(),
        ms(pct(to_first, 50.0)),
        ms(pct(to_first, 99.0))
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn pct(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn reboot_step(id: &str, instance: &str) -> Step {
    Step {
        id: id.into(),
        action: "ec2:RebootInstances".into(),
        target: Target {
            arn: format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance}"),
            id: instance.into(),
            resource_type: "ec2_instance".into(),
            account: ACCOUNT.into(),
            region: REGION.into(),
        },
        params: json!({"InstanceIds": [instance]})
            .as_object()
            .unwrap()
            .clone(),
        iam: IamVerdict::Allowed,
        expects: Some(PreState {
            any_of: vec!["running".into()],
            not_in: Vec::new(),
        }),
        ..Step::default()
    }
}

fn plan_of(steps: Vec<Step>) -> Plan {
    let mut plan = Plan::nothing(
        Intent {
            kind: IntentKind::Operation,
            service: Some("ec2".into()),
            operation: Some("reboot".into()),
        },
        "reboot",
    );
    plan.steps = steps;
    plan.risk = Risk {
        level: RiskLevel::Medium,
        reasons: vec!["a reboot".into()],
    };
    plan.approval_required = true;
    plan.sealed()
}

/// Each step's StepStarted → StepFinished, as a sink sees them.
#[derive(Default)]
struct Clock {
    started: Mutex<Vec<(String, Instant)>>,
    spans: Mutex<Vec<Duration>>,
}

impl EventSink for Clock {
    fn emit(&self, event: &Event) {
        let now = Instant::now();
        match event {
            Event::StepStarted { step, .. } => {
                self.started.lock().unwrap().push((step.clone(), now))
            }
            Event::StepFinished { step, .. } => {
                let started = self.started.lock().unwrap();
                if let Some((_, at)) = started.iter().find(|(s, _)| s == step) {
                    self.spans.lock().unwrap().push(now - *at);
                }
            }
            _ => {}
        }
    }
}

async fn start(
    dir: &Path,
    accounts: &Accounts,
    plan: Plan,
    steps: Option<Arc<dyn StepRunner>>,
    sinks: Vec<Arc<dyn EventSink>>,
) -> (Engine, cloudops_execute::engine::ExecutionId, Instant) {
    let book = ApprovalBook::open(dir);
    let approval = book.grant(&plan, DEFAULT_TTL, unix_now()).unwrap();
    let engine = Engine::new(AuditLog::open(dir), Duration::from_millis(100));
    let mut runners = Runners::aws(accounts.clone(), None);
    if let Some(steps) = steps {
        runners.steps = steps;
    }
    let t0 = Instant::now();
    let scope = book.consume(&plan, &approval.id, unix_now()).unwrap();
    let request = RunRequest {
        plan,
        scope,
        principal: None,
        strategy: Strategy::Serial,
    };
    let id = engine.start(request, runners, sinks).unwrap();
    (engine, id, t0)
}

async fn per_step_times(dir: &Path, accounts: &Accounts, plan: Plan) -> (Vec<Duration>, Duration) {
    let clock = Arc::new(Clock::default());
    let (engine, id, _) = start(dir, accounts, plan, None, vec![clock.clone()]).await;
    let first = Instant::now();
    let outcome = engine.wait(&id).await;
    assert_eq!(outcome, Some(RunOutcome::Succeeded));
    let spans = clock.spans.lock().unwrap().clone();
    let started = clock
        .started
        .lock()
        .unwrap()
        .first()
        .map(|(_, at)| *at)
        .unwrap_or(first);
    (spans, started.elapsed())
}

/// Notes when the first step is handed to the real runner: its call is sent right after.
struct Timed {
    inner: Arc<dyn StepRunner>,
    first: Mutex<Option<Instant>>,
}

impl StepRunner for Timed {
    fn run<'a>(
        &'a self,
        step: &'a Step,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        self.first.lock().unwrap().get_or_insert_with(Instant::now);
        self.inner.run(step, ctx)
    }
}

async fn approval_to_first_call(
    dir: &Path,
    accounts: &Accounts,
    instance: &str,
    i: usize,
) -> Duration {
    let timed = Arc::new(Timed {
        inner: Runners::aws(accounts.clone(), None).steps,
        first: Mutex::new(None),
    });
    // A distinct plan each time: an approval is single-use and bound to its plan.
    let plan = plan_of(vec![reboot_step(&format!("first{i}"), instance)]);
    let (engine, id, t0) = start(dir, accounts, plan, Some(timed.clone()), Vec::new()).await;
    assert_eq!(engine.wait(&id).await, Some(RunOutcome::Succeeded));
    let first = timed.first.lock().unwrap().expect("the step ran");
    first - t0
}
