//! The ask flow (DESIGN.md § 4 "Ask" and "Execute") as a library: the `cloudops` command line
//! and the desktop app's chat view both drive it.
//!
//! 1. [`resolve`]: the prompt → the resources it names, with the estate's hybrid search (its
//!    account, region and type words become filters). A plural prompt ("every", "all",
//!    "staging web servers") resolves to every match; a singular one to the best, or to a
//!    list of candidates when it is ambiguous.
//! 2. [`request`]: the [`PlanRequest`](cloudops_playbook::plan::PlanRequest) holding only the
//!    identified resources and, of those, only what planning needs.
//! 3. [`planner`]: the plan server at the configured URL, else the same planner in process.
//! 4. [`Session::finish`]: a component playbook finishes its plan in the host.
//! 5. [`approve`]: the plan's risk tier says what the user must give; a scoped, single-use
//!    approval with an expiry is granted ([`cloudops_execute::approval`]).
//! 6. [`run`]: the engine runs the plan with the host's AWS clients, events go to the
//!    caller's sinks and to `<data dir>/runs/<id>.jsonl`; `cancel` works across processes;
//!    runs whose process died show as interrupted.
//! 7. [`rescan`]: the touched resources' scopes are synced again, so search shows the new
//!    state at once.
//! 8. [`history`]: prompts, plans and outcomes, sealed like the estate, in the store's chat
//!    history collection; the last turns go into the next request as `recent_chat`.
//!
//! [`Session`]'s plain methods that read the store, embed or plan block (call them from a
//! blocking task); its async methods block in place where they must, so they need Tokio's
//! multi-threaded runtime (the CLI's and Tauri's). Nothing here prints; callers show what
//! they get. Events of a run reach the caller's sinks (`cloudops_execute::events::ChannelSink`
//! for a window) and `<data dir>/runs/<id>.jsonl`.
#![deny(missing_docs)]

pub mod accounts;
pub mod approve;
mod error;
pub mod history;
pub mod planner;
pub mod plans;
pub mod request;
pub mod rescan;
pub mod resolve;
pub mod run;
mod session;

pub use accounts::AccountAccess;
pub use error::AskError;
pub use session::{Asked, Options, Session};
