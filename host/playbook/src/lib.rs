//! Playbooks and plans.
//!
//! A **playbook** is a YAML file in the playbook library (a Git repository; `playbooks/` is
//! the default one) that knows one operation: what it applies to, its parameters, the
//! preconditions, the risk, and the AWS API calls. `playbooks/SCHEMA.md` is the authors'
//! reference. A **plan** is what the planner makes of a playbook for the resources a prompt
//! identified: exact calls with every parameter filled, IAM verdicts, risk and an
//! explanation. The host shows it, takes an approval and executes it.
//!
//! - [`check::check`] reads one file; [`library::Library`] a whole library;
//! - [`planning::plan`] plans a chosen playbook over the identified resources;
//! - [`component`] checks what a playbook component returned and rebuilds the plan from it;
//! - [`plan`] holds the plan's JSON types and the request's ([`plan::PlanRequest`]).
//!
//! This crate does no I/O beyond reading a library folder, and links neither the AWS stack
//! nor wasmtime: the plan server and the host both use it.

pub mod cases;
pub mod check;
pub mod cli_line;
pub mod component;
mod format;
pub mod library;
pub mod model;
pub mod plan;
pub mod planning;
pub mod values;

pub use check::Diagnostic;
pub use library::Library;
pub use model::Playbook;
pub use plan::{Plan, PlanRequest, ResourceContext};
