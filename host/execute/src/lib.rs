//! Running an approved plan (DESIGN.md § 4 "Execute").
//!
//! - [`approval`]: an approval bound to one plan's hash and its exact (action, target ARN)
//!   pairs, with an expiry, consumed on first use; the risk tiers that say how a plan may be
//!   approved.
//! - [`audit`]: the append-only, hash-chained audit log and [`audit::verify`], which finds an
//!   edited, deleted, reordered or truncated record and reports runs that never ended.
//! - [`engine`] and [`events`]: the execution engine (serial, bounded parallel or DAG; waiters;
//!   cancellation) and the events it streams to pluggable sinks and to the audit log.
//! - [`aws_step`]: the `aws` step kind, sent by the host's own AWS client (query and EC2
//!   protocols so far), and the waiters' state reads.
//!
//! There is no command line for any of this yet; `cloudops ask` and friends will drive it.

#![deny(missing_docs)]

pub mod approval;
pub mod audit;
pub mod aws_step;
pub mod engine;
pub mod events;
mod files;
pub mod scrub;
#[cfg(test)]
mod test_plans;
