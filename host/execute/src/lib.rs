//! Running an approved plan (DESIGN.md § 4 "Execute").
//!
//! - [`approval`]: an approval bound to one plan's hash and its exact (action, target ARN)
//!   pairs, with an expiry, consumed on first use; the risk tiers that say how a plan may be
//!   approved.
//! - [`audit`]: the append-only, hash-chained audit log and [`audit::verify`], which finds an
//!   edited, deleted, reordered or truncated record and reports runs that never ended.
//! - [`engine`] and [`events`]: the execution engine (serial, bounded parallel or DAG; waiters;
//!   cancellation) and the events it streams to pluggable sinks and to the audit log.
//! - [`aws_step`] and [`rest`]: the `aws` step kind, sent by the host's own AWS client
//!   (query, EC2, Lambda's rest-json and S3's rest-xml protocols), and the state reads of
//!   waiters and the preflight.
//! - [`commands`]: the `aws-cli`, `exec` and `script` step kinds (argv, never a shell).
//! - [`preflight`]: before the first write, every step re-checked against the world as it is
//!   (drift, IAM simulation, EC2 dry runs, the script's hash).
//! - [`accounts`] and [`runners`]: a client per account, and the [`engine::Runners`] that
//!   send AWS-backed runs with them.

#![deny(missing_docs)]

pub mod accounts;
pub mod approval;
pub mod audit;
pub mod aws_step;
pub mod commands;
pub mod engine;
pub mod events;
mod files;
pub mod preflight;
pub mod rest;
pub mod runners;
pub mod scrub;
#[cfg(test)]
mod test_plans;
