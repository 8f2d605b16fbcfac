//! Approving a plan: its risk tier ([`Confirmation`]) says what the user must give — `--yes`
//! for a low-risk plan, an interactive `yes` for a medium one, the target's name (several
//! targets: their number) for a high or critical one — and a scoped, single-use approval
//! with an expiry is granted in the data dir's [`ApprovalBook`].

use std::path::Path;
use std::time::Duration;

use cloudops_execute::approval::{unix_now, Approval, ApprovalBook, Confirmation, Given};
use cloudops_execute::audit::{AuditLog, Entry};
use cloudops_playbook::plan::Plan;

use crate::AskError;

/// What the user must give to approve `plan`, in words for a prompt: `None` when `--yes` is
/// enough.
pub fn question(plan: &Plan) -> Option<String> {
    let confirmation = Confirmation::for_risk(plan.risk.level);
    let answer = confirmation.expected_answer(plan)?;
    Some(match confirmation {
        Confirmation::YesFlag => String::new(),
        Confirmation::InteractiveYes => {
            format!("{} risk: type `yes` to run it", plan.risk.level.as_str())
        }
        Confirmation::TypeTargetName if answer.chars().all(|c| c.is_ascii_digit()) => format!(
            "{} risk: type the number of targets ({answer}) to run it",
            plan.risk.level.as_str()
        ),
        Confirmation::TypeTargetName => format!(
            "{} risk: type the target's name ({answer}) to run it",
            plan.risk.level.as_str()
        ),
    })
}

/// Why `given` does not approve `plan`, or `None` when it does.
pub fn refusal(plan: &Plan, given: &Given) -> Option<String> {
    let confirmation = Confirmation::for_risk(plan.risk.level);
    if confirmation.accepts(plan, given) {
        return None;
    }
    Some(match given {
        Given::YesFlag => format!(
            "`--yes` approves low-risk plans only; this one is {} risk: run `cloudops approve {}` \
             in a terminal and answer its question",
            plan.risk.level.as_str(),
            plan.plan_id
        ),
        Given::Typed(_) => format!(
            "not approved: {}; nothing ran",
            question(plan).unwrap_or_else(|| "the answer did not match".into())
        ),
    })
}

/// Checks `given` against the plan's tier, then grants an approval lasting `ttl` and records
/// it in the audit log.
pub fn approve(
    data_dir: &Path,
    plan: &Plan,
    given: &Given,
    ttl: Duration,
) -> Result<Approval, AskError> {
    if !plan.runnable {
        return Err(AskError::Confirmation(format!(
            "plan {} is not runnable, so it cannot be approved: {}",
            plan.plan_id, plan.explain
        )));
    }
    if let Some(why) = refusal(plan, given) {
        return Err(AskError::Confirmation(why));
    }
    let approval = ApprovalBook::open(data_dir).grant(plan, ttl, unix_now())?;
    AuditLog::open(data_dir)
        .append(&Entry::approval(&approval))
        .map_err(|e| AskError::Audit(e.to_string()))?;
    Ok(approval)
}
