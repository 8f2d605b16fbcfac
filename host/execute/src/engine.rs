//! The execution engine: runs an approved plan's steps in a Tokio task.
//!
//! [`Engine::start`] checks the plan against its [`Scope`], records the plan, the consumed
//! approval, the principal and the run's start in the audit log, and returns an
//! [`ExecutionId`] at once; the run goes on in the background. Steps run by [`Strategy`]:
//! serially, up to a bound at a time, or as a DAG, and a step never starts before the steps
//! it `depends_on` finished. A [`StepRunner`] executes a step (the `aws` kind sends its action
//! through the host's client); afterwards, a step with a `wait` polls a [`StateReader`] until
//! the target reaches `wait.until` or the timeout passes. Cancelling ([`Engine::cancel`]) lets
//! the call in flight finish and starts nothing more. Every [`Event`] goes to the run's sinks
//! and to the audit log; a step's requests are checked against the scope and recorded
//! *before* they are sent, and if the log cannot be written nothing more is sent.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudops_playbook::plan::{Plan, Step, Target, Wait};
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::approval::Scope;
use crate::audit::{AuditLog, Entry};
use crate::events::{Event, EventSink, RunOutcome};

/// A boxed, sendable future: what the runner traits return, so that they can be `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A run's id (UUID v4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutionId(pub String);

impl std::fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the steps of a run are scheduled. Dependencies are honoured by all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One step at a time in plan order; the first failure stops the run.
    Serial,
    /// Up to `limit` steps at once; a failure stops only the steps that depend on it.
    Parallel {
        /// At most this many steps run at once (at least 1).
        limit: usize,
    },
    /// Every step whose dependencies finished starts at once; a failure stops its dependants.
    Dag,
}

impl Strategy {
    fn limit(self) -> usize {
        match self {
            Strategy::Serial => 1,
            Strategy::Parallel { limit } => limit.max(1),
            Strategy::Dag => usize::MAX,
        }
    }
}

/// Why a step failed, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StepError(pub String);

impl StepError {
    /// A step error saying `message`.
    pub fn new(message: impl Into<String>) -> StepError {
        StepError(message.into())
    }
}

/// Executes one step. Before each API request it calls [`StepContext::request`], which
/// refuses anything outside the approved scope and records the request in the audit log.
pub trait StepRunner: Send + Sync {
    /// Runs `step` once; its output lines go through `ctx.output`.
    fn run<'a>(
        &'a self,
        step: &'a Step,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<(), StepError>>;
}

/// Reads a target's current state for waiters (`available`, `stopped`, ...).
pub trait StateReader: Send + Sync {
    /// The target's state; `None` when it no longer exists.
    fn state<'a>(&'a self, target: &'a Target) -> BoxFuture<'a, Result<Option<String>, StepError>>;
}

/// Checks a step before anything of its run is sent (DESIGN.md § 4 "Execute", preflight):
/// the target is still as the plan found it, the principal may act on it, the command the
/// step runs is the one approved. The engine asks it for every step, in plan order, before
/// the first step starts; one refusal and nothing is sent.
pub trait Preflight: Send + Sync {
    /// The checks `step` passed, in words for the audit, or why it is refused.
    fn check<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Vec<String>, StepError>>;
}

/// What a step sees of its run.
pub struct StepContext {
    run: String,
    step: String,
    scope: Arc<Scope>,
    emitter: Arc<Emitter>,
}

impl StepContext {
    /// The execution id.
    pub fn run_id(&self) -> &str {
        &self.run
    }

    /// The approved scope.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Reports a line of the step's output.
    pub fn output(&self, line: &str) {
        self.emitter.emit(Event::Output {
            run: self.run.clone(),
            step: self.step.clone(),
            line: line.to_owned(),
        });
    }

    /// Asks to send `operation` on `target` with `params`: refused unless the scope holds
    /// exactly that pair; otherwise recorded (parameters scrubbed) before the caller sends.
    pub fn request(
        &self,
        operation: &str,
        target: &str,
        params: &Map<String, Value>,
    ) -> Result<(), StepError> {
        if !self.scope.allows(operation, target) {
            return Err(StepError::new(format!(
                "refused {operation} on {target}: it is outside the approved scope (approval {}); nothing was sent",
                self.scope.approval_id
            )));
        }
        let entry = Entry::request(&self.run, &self.step, operation, target, params);
        blocking(|| self.emitter.audit.append(&entry)).map_err(|e| {
            self.emitter
                .broken
                .lock()
                .expect("not poisoned")
                .get_or_insert(e.to_string());
            StepError::new(format!("not sent, the request could not be recorded: {e}"))
        })?;
        Ok(())
    }
}

/// Sends events to the sinks and the audit log, and remembers an audit failure.
struct Emitter {
    sinks: Vec<Arc<dyn EventSink>>,
    audit: AuditLog,
    broken: Mutex<Option<String>>,
}

impl Emitter {
    fn emit(&self, event: Event) {
        if let Err(e) = blocking(|| self.audit.append(&Entry::Event(event.clone()))) {
            self.broken
                .lock()
                .expect("not poisoned")
                .get_or_insert(e.to_string());
        }
        for sink in &self.sinks {
            sink.emit(&event);
        }
    }

    fn is_broken(&self) -> bool {
        self.broken.lock().expect("not poisoned").is_some()
    }
}

/// Runs an audit append (a lock and an fsync) without stalling the other tasks of a
/// multi-threaded runtime; on a current-thread runtime (tests) it simply runs.
fn blocking<T>(append: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(append),
        _ => append(),
    }
}

/// What a run needs besides its plan.
pub struct Runners {
    /// Executes steps.
    pub steps: Arc<dyn StepRunner>,
    /// Reads states for waiters.
    pub states: Arc<dyn StateReader>,
    /// Checks every step before the first one runs.
    pub preflight: Arc<dyn Preflight>,
}

impl Runners {
    /// Runners from their parts.
    pub fn new(
        steps: Arc<dyn StepRunner>,
        states: Arc<dyn StateReader>,
        preflight: Arc<dyn Preflight>,
    ) -> Runners {
        Runners {
            steps,
            states,
            preflight,
        }
    }
}

/// One run to start.
pub struct RunRequest {
    /// The plan (intact, runnable).
    pub plan: Plan,
    /// What its consumed approval allows.
    pub scope: Scope,
    /// The principal's ARN, recorded in the audit log when known.
    pub principal: Option<String>,
    /// How to schedule its steps.
    pub strategy: Strategy,
}

/// Why a run was not started. Nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The plan or scope does not allow the run.
    #[error("not started: {0}")]
    Refused(String),
    /// The audit log could not record the start.
    #[error("not started: {0}")]
    Audit(#[from] crate::audit::AuditError),
}

struct RunHandle {
    cancel: watch::Sender<bool>,
    done: watch::Receiver<Option<RunOutcome>>,
}

/// Runs plans in the background; one engine per process.
pub struct Engine {
    audit: AuditLog,
    poll: Duration,
    runs: Mutex<HashMap<ExecutionId, RunHandle>>,
}

impl Engine {
    /// An engine recording to `audit`; waiters poll every `poll` (AWS waiters use 5–30 s).
    pub fn new(audit: AuditLog, poll: Duration) -> Engine {
        Engine {
            audit,
            poll,
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a run and returns its id at once. Refuses (sending nothing) a plan that is
    /// altered, not the scope's, holds a step outside the scope, or has a bad dependency.
    /// Must be called inside a Tokio runtime.
    pub fn start(
        &self,
        request: RunRequest,
        runners: Runners,
        sinks: Vec<Arc<dyn EventSink>>,
    ) -> Result<ExecutionId, StartError> {
        check_request(&request).map_err(StartError::Refused)?;
        let id = ExecutionId(uuid::Uuid::new_v4().to_string());
        self.audit.append(&Entry::plan(&request.plan))?;
        self.audit.append(&Entry::scope(&request.scope))?;
        if let Some(arn) = &request.principal {
            self.audit.append(&Entry::Principal {
                run: id.0.clone(),
                arn: arn.clone(),
            })?;
        }
        let emitter = Arc::new(Emitter {
            sinks,
            audit: self.audit.clone(),
            broken: Mutex::new(None),
        });
        emitter.emit(Event::RunStarted {
            run: id.0.clone(),
            plan_id: request.plan.plan_id.clone(),
            approval_id: request.scope.approval_id.clone(),
            steps: request.plan.steps.iter().map(|s| s.id.clone()).collect(),
        });
        let (cancel, cancel_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(None);
        let run = Run {
            id: id.0.clone(),
            steps: request.plan.steps,
            strategy: request.strategy,
            scope: Arc::new(request.scope),
            runners,
            emitter,
            cancel: cancel_rx,
            poll: self.poll,
        };
        tokio::spawn(async move {
            let outcome = run.execute().await;
            let _ = done_tx.send(Some(outcome));
        });
        self.runs
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), RunHandle { cancel, done });
        Ok(id)
    }

    /// Cancels a run: the call in flight finishes, nothing after it starts. False when the
    /// run is unknown to this engine.
    pub fn cancel(&self, id: &ExecutionId) -> bool {
        match self.runs.lock().expect("not poisoned").get(id) {
            Some(handle) => {
                handle.cancel.send_replace(true);
                true
            }
            None => false,
        }
    }

    /// Waits for a run to end and returns how; `None` when the run is unknown.
    pub async fn wait(&self, id: &ExecutionId) -> Option<RunOutcome> {
        let mut done = self
            .runs
            .lock()
            .expect("not poisoned")
            .get(id)?
            .done
            .clone();
        let outcome = done.wait_for(|o| o.is_some()).await.ok()?;
        *outcome
    }
}

/// The checks that keep a run inside its approval.
fn check_request(request: &RunRequest) -> Result<(), String> {
    let plan = &request.plan;
    if !plan.is_intact() {
        return Err(format!(
            "plan {} was altered after it was approved: ask for the plan again",
            plan.plan_id
        ));
    }
    if request.scope.plan_id != plan.plan_id {
        return Err(format!(
            "the approval is for plan {}, not {}: approve this plan",
            request.scope.plan_id, plan.plan_id
        ));
    }
    let mut ids = HashSet::new();
    for step in &plan.steps {
        if !ids.insert(step.id.as_str()) {
            return Err(format!("step id {} appears twice in the plan", step.id));
        }
        if !request.scope.allows(&step.action, &step.target.arn) {
            return Err(format!(
                "step {} ({} on {}) is outside the approved scope",
                step.id, step.action, step.target.arn
            ));
        }
    }
    for step in &plan.steps {
        if let Some(dep) = step.depends_on.iter().find(|d| !ids.contains(d.as_str())) {
            return Err(format!(
                "step {} depends on {dep}, which the plan does not have",
                step.id
            ));
        }
    }
    check_acyclic(&plan.steps)
}

/// Refuses a dependency cycle, which would never run (Kahn's algorithm).
fn check_acyclic(steps: &[Step]) -> Result<(), String> {
    let mut done: HashSet<&str> = HashSet::new();
    while done.len() < steps.len() {
        let ready: Vec<&str> = steps
            .iter()
            .filter(|s| !done.contains(s.id.as_str()))
            .filter(|s| s.depends_on.iter().all(|d| done.contains(d.as_str())))
            .map(|s| s.id.as_str())
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = steps
                .iter()
                .map(|s| s.id.as_str())
                .filter(|id| !done.contains(id))
                .collect();
            return Err(format!(
                "steps {} depend on each other in a cycle",
                stuck.join(", ")
            ));
        }
        done.extend(ready);
    }
    Ok(())
}

/// Where a step is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    Pending,
    Running,
    Finished,
    Failed,
    Stopped,
}

/// How a step's task ended.
enum StepEnd {
    Finished(u64),
    Failed(String),
    Cancelled,
}

/// One run in its task.
struct Run {
    id: String,
    steps: Vec<Step>,
    strategy: Strategy,
    scope: Arc<Scope>,
    runners: Runners,
    emitter: Arc<Emitter>,
    cancel: watch::Receiver<bool>,
    poll: Duration,
}

impl Run {
    async fn execute(self) -> RunOutcome {
        let mut status: HashMap<String, Status> = self
            .steps
            .iter()
            .map(|s| (s.id.clone(), Status::Pending))
            .collect();
        if let Some(refused) = self.preflight().await {
            return self.refuse(&mut status, refused);
        }
        let mut tasks: JoinSet<(String, StepEnd)> = JoinSet::new();
        let mut cancelled = false;
        let mut cancel = self.cancel.clone();
        loop {
            let halted = cancelled
                || self.emitter.is_broken()
                || (self.strategy == Strategy::Serial
                    && status.values().any(|s| *s == Status::Failed));
            if !halted {
                self.start_ready(&mut status, &mut tasks);
            }
            self.skip_dependants(&mut status);
            if tasks.is_empty() {
                break;
            }
            tokio::select! {
                joined = tasks.join_next() => {
                    let (step, end) = joined.expect("not empty").expect("step tasks do not panic");
                    self.record_end(&mut status, step, end);
                }
                _ = cancel_requested(&mut cancel), if !cancelled => cancelled = true,
            }
        }
        self.finish(&mut status, cancelled)
    }

    /// Runs the preflight of every step, recording each verdict; the first refused step's
    /// id, if any. Every step is checked, so the audit shows all that stands in the way.
    async fn preflight(&self) -> Option<String> {
        let mut refused = None;
        for step in &self.steps {
            let (run, id) = (self.id.clone(), step.id.clone());
            match self.runners.preflight.check(step).await {
                Ok(checks) => self.emitter.emit(Event::PreflightPassed {
                    run,
                    step: id,
                    checks,
                }),
                Err(e) => {
                    refused.get_or_insert_with(|| id.clone());
                    self.emitter.emit(Event::PreflightRefused {
                        run,
                        step: id,
                        reason: e.0,
                    });
                }
            }
            if self.emitter.is_broken() {
                refused.get_or_insert_with(|| step.id.clone());
                break;
            }
        }
        refused
    }

    /// Ends a run the preflight refused: no step started, each is skipped because of the
    /// first refused step, and the run failed.
    fn refuse(&self, status: &mut HashMap<String, Status>, refused: String) -> RunOutcome {
        for step in &self.steps {
            status.insert(step.id.clone(), Status::Stopped);
            self.emitter.emit(Event::StepSkipped {
                run: self.id.clone(),
                step: step.id.clone(),
                because: refused.clone(),
            });
        }
        self.emitter.emit(Event::RunFinished {
            run: self.id.clone(),
            outcome: RunOutcome::Failed,
            completed: Vec::new(),
        });
        RunOutcome::Failed
    }

    /// Starts pending steps whose dependencies finished, in plan order, up to the limit.
    fn start_ready(
        &self,
        status: &mut HashMap<String, Status>,
        tasks: &mut JoinSet<(String, StepEnd)>,
    ) {
        for step in &self.steps {
            if tasks.len() >= self.strategy.limit() {
                break;
            }
            let ready = status[&step.id] == Status::Pending
                && step
                    .depends_on
                    .iter()
                    .all(|d| status[d] == Status::Finished);
            if !ready {
                continue;
            }
            status.insert(step.id.clone(), Status::Running);
            self.emitter.emit(Event::StepStarted {
                run: self.id.clone(),
                step: step.id.clone(),
            });
            let ctx = StepContext {
                run: self.id.clone(),
                step: step.id.clone(),
                scope: self.scope.clone(),
                emitter: self.emitter.clone(),
            };
            let (steps, states) = (self.runners.steps.clone(), self.runners.states.clone());
            let (step, cancel, poll) = (step.clone(), self.cancel.clone(), self.poll);
            tasks.spawn(async move {
                let end =
                    run_step(&step, &ctx, steps.as_ref(), states.as_ref(), cancel, poll).await;
                (step.id, end)
            });
        }
    }

    /// Marks pending steps that depend on a failed or stopped step as skipped, transitively.
    fn skip_dependants(&self, status: &mut HashMap<String, Status>) {
        loop {
            let next = self.steps.iter().find_map(|s| {
                let blocker = s
                    .depends_on
                    .iter()
                    .find(|d| matches!(status[*d], Status::Failed | Status::Stopped))?;
                (status[&s.id] == Status::Pending).then(|| (s.id.clone(), blocker.clone()))
            });
            let Some((step, because)) = next else { return };
            status.insert(step.clone(), Status::Stopped);
            self.emitter.emit(Event::StepSkipped {
                run: self.id.clone(),
                step,
                because,
            });
        }
    }

    fn record_end(&self, status: &mut HashMap<String, Status>, step: String, end: StepEnd) {
        let run = self.id.clone();
        let (new, event) = match end {
            StepEnd::Finished(ms) => (
                Status::Finished,
                Event::StepFinished {
                    run,
                    step: step.clone(),
                    ms,
                },
            ),
            StepEnd::Failed(error) => (
                Status::Failed,
                Event::StepFailed {
                    run,
                    step: step.clone(),
                    error,
                },
            ),
            StepEnd::Cancelled => (
                Status::Stopped,
                Event::StepCancelled {
                    run,
                    step: step.clone(),
                },
            ),
        };
        status.insert(step, new);
        self.emitter.emit(event);
    }

    /// Records the steps that never started and the run's end.
    fn finish(&self, status: &mut HashMap<String, Status>, cancelled: bool) -> RunOutcome {
        let failed = self
            .steps
            .iter()
            .find(|s| status[&s.id] == Status::Failed)
            .map(|s| s.id.clone());
        for step in &self.steps {
            if status[&step.id] != Status::Pending {
                continue;
            }
            let (run, id) = (self.id.clone(), step.id.clone());
            self.emitter.emit(match (&failed, cancelled) {
                (Some(because), false) => Event::StepSkipped {
                    run,
                    step: id,
                    because: because.clone(),
                },
                _ => Event::StepCancelled { run, step: id },
            });
        }
        let outcome = if cancelled {
            RunOutcome::Cancelled
        } else if failed.is_some() || self.emitter.is_broken() {
            RunOutcome::Failed
        } else {
            RunOutcome::Succeeded
        };
        let completed = self
            .steps
            .iter()
            .filter(|s| status[&s.id] == Status::Finished)
            .map(|s| s.id.clone())
            .collect();
        self.emitter.emit(Event::RunFinished {
            run: self.id.clone(),
            outcome,
            completed,
        });
        outcome
    }
}

/// Resolves when the run is cancelled; never, if the engine (the sender) is gone.
async fn cancel_requested(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Runs one step and its wait.
async fn run_step(
    step: &Step,
    ctx: &StepContext,
    steps: &dyn StepRunner,
    states: &dyn StateReader,
    cancel: watch::Receiver<bool>,
    poll: Duration,
) -> StepEnd {
    let started = Instant::now();
    // The call in flight is never interrupted: cancellation takes effect after it.
    if let Err(e) = steps.run(step, ctx).await {
        return StepEnd::Failed(e.0);
    }
    if let Some(wait) = &step.wait {
        match wait_for(step, wait, ctx, states, cancel, poll).await {
            Ok(true) => {}
            Ok(false) => return StepEnd::Cancelled,
            Err(e) => return StepEnd::Failed(e.0),
        }
    }
    StepEnd::Finished(started.elapsed().as_millis() as u64)
}

/// Polls the target's state until `wait.until` (true), a cancel (false) or the timeout.
async fn wait_for(
    step: &Step,
    wait: &Wait,
    ctx: &StepContext,
    states: &dyn StateReader,
    mut cancel: watch::Receiver<bool>,
    poll: Duration,
) -> Result<bool, StepError> {
    let started = Instant::now();
    let timeout = Duration::from_secs(wait.timeout_s.into());
    loop {
        let state = states.state(&step.target).await?;
        ctx.emitter.emit(Event::WaiterProgress {
            run: ctx.run.clone(),
            step: step.id.clone(),
            state: state.clone(),
            until: wait.until.clone(),
            elapsed_s: started.elapsed().as_secs(),
        });
        // A deleted resource is not found: that is what waiting for `deleted` waits for.
        let reached = match state.as_deref() {
            Some(state) => state == wait.until,
            None => wait.until == "deleted",
        };
        if reached {
            return Ok(true);
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(StepError::new(format!(
                "{} did not become {} within {} s (last state: {}); check it in the console before retrying",
                step.target.id,
                wait.until,
                wait.timeout_s,
                state.as_deref().unwrap_or("not found")
            )));
        }
        tokio::select! {
            _ = tokio::time::sleep(poll.min(left)) => {}
            _ = cancel_requested(&mut cancel) => return Ok(false),
        }
    }
}

#[cfg(test)]
mod tests;
