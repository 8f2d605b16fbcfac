//! Every refusal of an approval, each with its own error.

use super::*;
use crate::test_plans::{plan, step};

const NOW: u64 = 1_800_000_000;

fn book() -> (tempfile::TempDir, ApprovalBook) {
    let dir = tempfile::tempdir().unwrap();
    let book = ApprovalBook::open(dir.path());
    (dir, book)
}

fn one_db() -> Plan {
    plan(vec![step("stop", "pg-main1", &[])], RiskLevel::Medium)
}

#[test]
fn an_approval_is_consumed_once_and_scoped_to_the_plan() {
    let (_dir, book) = book();
    let plan = one_db();
    let approval = book.grant(&plan, DEFAULT_TTL, NOW).unwrap();
    assert_eq!(approval.expires_at, NOW + 900);
    assert_eq!(approval.plan_id, plan.plan_id);
    let scope = book.consume(&plan, &approval.id, NOW + 10).unwrap();
    assert!(scope.allows(
        "rds:StopDBInstance",
        "arn:aws:rds:eu-west-1:111111111111:db:pg-main1"
    ));
    assert!(!scope.allows(
        "rds:DeleteDBInstance",
        "arn:aws:rds:eu-west-1:111111111111:db:pg-main1"
    ));
    assert!(!scope.allows(
        "rds:StopDBInstance",
        "arn:aws:rds:eu-west-1:111111111111:db:pg-other"
    ));
}

#[test]
fn a_replay_is_refused() {
    let (_dir, book) = book();
    let plan = one_db();
    let approval = book.grant(&plan, DEFAULT_TTL, NOW).unwrap();
    book.consume(&plan, &approval.id, NOW).unwrap();
    let err = book.consume(&plan, &approval.id, NOW + 1).unwrap_err();
    assert!(matches!(err, ApprovalError::Replayed(_)), "{err}");
    assert!(err.to_string().contains("already used"), "{err}");
}

#[test]
fn a_replay_from_another_book_handle_is_refused() {
    // Two processes share the file: the consumed set is on disk, not in memory.
    let (dir, book) = book();
    let plan = one_db();
    let approval = book.grant(&plan, DEFAULT_TTL, NOW).unwrap();
    ApprovalBook::open(dir.path())
        .consume(&plan, &approval.id, NOW)
        .unwrap();
    let err = book.consume(&plan, &approval.id, NOW).unwrap_err();
    assert!(matches!(err, ApprovalError::Replayed(_)), "{err}");
}

#[test]
fn an_expired_approval_is_refused() {
    let (_dir, book) = book();
    let plan = one_db();
    let approval = book.grant(&plan, DEFAULT_TTL, NOW).unwrap();
    let err = book.consume(&plan, &approval.id, NOW + 900).unwrap_err();
    assert!(
        matches!(
            err,
            ApprovalError::Expired {
                ago_s: 0,
                ttl_s: 900,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("expired"), "{err}");
    // A refusal consumes nothing, but the approval stays expired.
    let err = book.consume(&plan, &approval.id, NOW + 901).unwrap_err();
    assert!(
        matches!(err, ApprovalError::Expired { ago_s: 1, .. }),
        "{err}"
    );
}

#[test]
fn an_unknown_approval_is_refused() {
    let (_dir, book) = book();
    let err = book.consume(&one_db(), "no-such-id", NOW).unwrap_err();
    assert!(matches!(err, ApprovalError::Unknown(_)), "{err}");
    assert!(err.to_string().contains("approve the plan again"), "{err}");
}

#[test]
fn an_altered_plan_is_refused() {
    let (_dir, book) = book();
    let plan = one_db();
    let approval = book.grant(&plan, DEFAULT_TTL, NOW).unwrap();
    let mut altered = plan.clone();
    altered.steps[0].action = "rds:DeleteDBInstance".into();
    let err = book.consume(&altered, &approval.id, NOW).unwrap_err();
    assert!(matches!(err, ApprovalError::PlanAltered(_)), "{err}");
    // The refusal consumed nothing: the real plan still runs.
    book.consume(&plan, &approval.id, NOW).unwrap();
}

#[test]
fn an_altered_plan_is_not_granted() {
    let (_dir, book) = book();
    let mut altered = one_db();
    altered.steps[0].target.arn.push('x');
    let err = book.grant(&altered, DEFAULT_TTL, NOW).unwrap_err();
    assert!(matches!(err, ApprovalError::PlanAltered(_)), "{err}");
}

#[test]
fn a_changed_and_resealed_plan_needs_a_new_approval() {
    let (_dir, book) = book();
    let plan = one_db();
    let approval = book.grant(&plan, DEFAULT_TTL, NOW).unwrap();
    let mut changed = plan.clone();
    changed.steps.push(step("stop2", "pg-main2", &[]));
    let changed = changed.sealed();
    let err = book.consume(&changed, &approval.id, NOW).unwrap_err();
    assert!(matches!(err, ApprovalError::OtherPlan { .. }), "{err}");
    assert!(err.to_string().contains("needs a new approval"), "{err}");
}

#[test]
fn an_unrunnable_plan_is_refused() {
    let (_dir, book) = book();
    let empty = plan(Vec::new(), RiskLevel::Low);
    let err = book.grant(&empty, DEFAULT_TTL, NOW).unwrap_err();
    assert!(matches!(err, ApprovalError::NotRunnable { .. }), "{err}");
}

#[test]
fn an_approval_edited_to_a_narrower_scope_refuses_the_wider_plan() {
    // The book on disk is edited so that the approval holds one pair fewer than the plan
    // (same plan id): the scope check still refuses instead of trusting the hash alone.
    let (_dir, book) = book();
    let plan = plan(
        vec![step("a", "pg-main1", &[]), step("b", "pg-main2", &[])],
        RiskLevel::Medium,
    );
    let approval = book.grant(&plan, DEFAULT_TTL, NOW).unwrap();
    let text = std::fs::read_to_string(book.path()).unwrap();
    let mut file: BookFile = serde_json::from_str(&text).unwrap();
    let grants = &mut file.approvals.get_mut(&approval.id).unwrap().grants;
    let last = grants.iter().next_back().unwrap().clone();
    grants.remove(&last);
    std::fs::write(book.path(), serde_json::to_vec(&file).unwrap()).unwrap();
    let err = book.consume(&plan, &approval.id, NOW).unwrap_err();
    assert!(
        matches!(&err, ApprovalError::ScopeWidened { arn, .. } if arn.ends_with("pg-main2")),
        "{err}"
    );
    assert!(err.to_string().contains("narrows, never widens"), "{err}");
}

#[test]
fn risk_tiers_say_how_a_plan_may_be_approved() {
    let low = plan(vec![step("s", "pg-main1", &[])], RiskLevel::Low);
    let medium = plan(vec![step("s", "pg-main1", &[])], RiskLevel::Medium);
    let high = plan(vec![step("s", "pg-main1", &[])], RiskLevel::High);
    let critical = plan(
        vec![step("a", "pg-main1", &[]), step("b", "pg-main2", &[])],
        RiskLevel::Critical,
    );
    let tier = |p: &Plan| Confirmation::for_risk(p.risk.level);
    assert!(tier(&low).accepts(&low, &Given::YesFlag));
    assert!(!tier(&medium).accepts(&medium, &Given::YesFlag));
    assert!(tier(&medium).accepts(&medium, &Given::Typed("yes\n".into())));
    assert!(!tier(&medium).accepts(&medium, &Given::Typed("no".into())));
    assert!(!tier(&high).accepts(&high, &Given::YesFlag));
    assert!(!tier(&high).accepts(&high, &Given::Typed("yes".into())));
    assert!(tier(&high).accepts(&high, &Given::Typed("pg-main1".into())));
    assert_eq!(
        tier(&critical).expected_answer(&critical).as_deref(),
        Some("2")
    );
    assert!(tier(&critical).accepts(&critical, &Given::Typed("2".into())));
}
