//! A plan as people read it: what happens, each step with its AWS CLI line and IAM verdict,
//! the risk and why, and what stops it from running.

use cloudops_host::ask::approve;
use cloudops_host::playbook::plan::{IamVerdict, Plan};

/// Prints `plan` to stdout.
pub fn print(plan: &Plan, planner: &str) {
    let source = plan
        .playbook
        .as_ref()
        .map(|p| format!("playbook {}@{}, library {}", p.id, p.version, p.commit))
        .unwrap_or_else(|| "no playbook".into());
    out!("plan {}  ({source}; {planner})", plan.plan_id);
    out!("  {}", plan.explain);
    steps(plan);
    if plan.playbook.is_some() {
        out!("risk: {}", plan.risk.level.as_str());
        for reason in &plan.risk.reasons {
            out!("  - {reason}");
        }
    }
    problems(plan);
    if let Some(rollback) = &plan.rollback {
        out!("undo: {} ({})", rollback.playbook, rollback.explain);
    }
}

fn steps(plan: &Plan) {
    if plan.steps.is_empty() {
        return;
    }
    out!("steps:");
    for (i, step) in plan.steps.iter().enumerate() {
        let t = &step.target;
        let iam = match step.iam {
            IamVerdict::Allowed => "IAM: allowed",
            IamVerdict::Denied => "IAM: DENIED",
            IamVerdict::Unknown => "IAM: unknown (not synced with IAM)",
        };
        out!(
            "  {}. {}  {} on {} ({}, {}, {})  {iam}",
            i + 1,
            step.id,
            step.action,
            t.id,
            t.resource_type,
            t.account,
            t.region
        );
        out!("     $ {}", step.cli);
        if let Some(wait) = &step.wait {
            out!(
                "     then wait until {} (up to {} s)",
                wait.until,
                wait.timeout_s
            );
        }
    }
}

fn problems(plan: &Plan) {
    for d in &plan.denied {
        out!(
            "denied: {} ({} on {}){}",
            d.step,
            d.action,
            d.arn,
            if d.explicit {
                ": a policy denies it explicitly"
            } else {
                ": no policy allows it"
            }
        );
    }
    for b in &plan.blocked {
        out!("blocked: {}: {}", b.step, b.reason);
    }
    if let Some(clarify) = &plan.clarify {
        out!("question: {}", clarify.question);
        for c in &clarify.candidates {
            out!("  - {}  {}", c.label, c.id);
        }
    }
}

/// The line saying whether and how the plan can be approved.
pub fn approval_line(plan: &Plan) -> String {
    if !plan.runnable {
        return format!(
            "not runnable, nothing will run: {}",
            if plan.clarify.is_some() {
                "answer the question above in a new prompt"
            } else if !plan.denied.is_empty() {
                "IAM denies a step; ask your administrator, or change the plan"
            } else if !plan.blocked.is_empty() {
                "a precondition blocks a step (see above)"
            } else {
                "there is nothing to do"
            }
        );
    }
    match approve::question(plan) {
        None => format!(
            "low risk: `--yes` approves it (`cloudops approve {}`)",
            short(&plan.plan_id)
        ),
        Some(q) => format!("{q} (`cloudops approve {}`)", short(&plan.plan_id)),
    }
}

/// The first 12 characters of an id: enough to name it (`approve` takes a prefix).
pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
