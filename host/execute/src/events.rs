//! What a run reports while it runs, and where it goes.
//!
//! The engine sends every [`Event`] to each [`EventSink`] of the run and to the audit log. A
//! terminal with progress bars (the CLI, later), [`JsonLinesSink`] for `--json` and
//! [`ChannelSink`] for the desktop app are sinks; a sink must not block for long, because
//! events are delivered in order from the run's own task.

use std::io::Write;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every step finished.
    Succeeded,
    /// A step failed; the steps that depend on it did not run.
    Failed,
    /// Cancelled: the call in flight finished, nothing after it started.
    Cancelled,
}

/// One thing that happened in a run. Serialised with `type` naming the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The run began.
    RunStarted {
        /// The execution id.
        run: String,
        /// The plan's hash.
        plan_id: String,
        /// The approval consumed for it.
        approval_id: String,
        /// The step ids, in plan order.
        steps: Vec<String>,
    },
    /// A step passed its preflight (before any step of the run started).
    PreflightPassed {
        /// The execution id.
        run: String,
        /// The step.
        step: String,
        /// What was checked, in words.
        checks: Vec<String>,
    },
    /// A step's preflight refused it: nothing of the run is sent.
    PreflightRefused {
        /// The execution id.
        run: String,
        /// The step.
        step: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A step began.
    StepStarted {
        /// The execution id.
        run: String,
        /// The step.
        step: String,
    },
    /// A line of a step's output.
    Output {
        /// The execution id.
        run: String,
        /// The step.
        step: String,
        /// The line, without its newline.
        line: String,
    },
    /// A waiter read the target's state.
    WaiterProgress {
        /// The execution id.
        run: String,
        /// The step that waits.
        step: String,
        /// The state read (`None` when the target was not found).
        state: Option<String>,
        /// The state waited for.
        until: String,
        /// Seconds since the wait began.
        elapsed_s: u64,
    },
    /// A step (and its wait) finished.
    StepFinished {
        /// The execution id.
        run: String,
        /// The step.
        step: String,
        /// How long it took, in milliseconds.
        ms: u64,
    },
    /// A step failed.
    StepFailed {
        /// The execution id.
        run: String,
        /// The step.
        step: String,
        /// Why.
        error: String,
    },
    /// A step did not run because the run was cancelled.
    StepCancelled {
        /// The execution id.
        run: String,
        /// The step.
        step: String,
    },
    /// A step did not run because a step it depends on failed.
    StepSkipped {
        /// The execution id.
        run: String,
        /// The step.
        step: String,
        /// The failed step it depends on.
        because: String,
    },
    /// The run ended.
    RunFinished {
        /// The execution id.
        run: String,
        /// How.
        outcome: RunOutcome,
        /// The steps that finished.
        completed: Vec<String>,
    },
}

impl Event {
    /// The execution id the event belongs to.
    pub fn run(&self) -> &str {
        match self {
            Event::RunStarted { run, .. }
            | Event::PreflightPassed { run, .. }
            | Event::PreflightRefused { run, .. }
            | Event::StepStarted { run, .. }
            | Event::Output { run, .. }
            | Event::WaiterProgress { run, .. }
            | Event::StepFinished { run, .. }
            | Event::StepFailed { run, .. }
            | Event::StepCancelled { run, .. }
            | Event::StepSkipped { run, .. }
            | Event::RunFinished { run, .. } => run,
        }
    }
}

/// Somewhere events go.
pub trait EventSink: Send + Sync {
    /// Takes one event. Must return quickly (see the module docs).
    fn emit(&self, event: &Event);
}

/// Sends events into a Tokio channel (the desktop app's subscription); events sent after the
/// receiver is dropped are discarded, because a closed window must not stop a run.
pub struct ChannelSink {
    sender: mpsc::UnboundedSender<Event>,
}

impl ChannelSink {
    /// A sink and the receiver of its events.
    pub fn new() -> (ChannelSink, mpsc::UnboundedReceiver<Event>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (ChannelSink { sender }, receiver)
    }
}

impl EventSink for ChannelSink {
    fn emit(&self, event: &Event) {
        let _ = self.sender.send(event.clone());
    }
}

/// Writes each event as one JSON line (`--json`) and flushes it, so a reader of a pipe sees
/// it at once. A write error (a closed pipe) is ignored for the same reason as above.
pub struct JsonLinesSink<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> JsonLinesSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> Self {
        JsonLinesSink {
            out: Mutex::new(out),
        }
    }

    /// The writer back (for tests that write to a `Vec`).
    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<W: Write + Send> EventSink for JsonLinesSink<W> {
    fn emit(&self, event: &Event) {
        let mut line = serde_json::to_string(event).expect("an event is always JSON");
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(line.as_bytes()).and_then(|_| out.flush());
    }
}
