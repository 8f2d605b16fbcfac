//! The default library (`playbooks/`): it loads, and every playbook's cases pass.

use std::path::PathBuf;

use cloudops_playbook::{cases, Library};

fn library_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../playbooks")
}

#[test]
fn every_playbook_has_cases_and_they_pass() {
    let dir = library_dir();
    let library = Library::load_dir(&dir).unwrap_or_else(|errors| {
        panic!(
            "the default library has errors:\n{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let cases = cases::load_dir(&dir).unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = cases::run(&library, "test", case) {
            failures.push(format!("{} / {}:\n  {e}", case.playbook, case.name));
        }
    }
    // A normal plan and one that is blocked, denied, asks back or raises the risk.
    for p in library.playbooks() {
        let n = cases.iter().filter(|c| c.playbook == p.id).count();
        if n < 2 {
            failures.push(format!(
                "{} has {n} case(s) in playbooks/tests/{}.json: give at least 2",
                p.id, p.id
            ));
        }
    }
    assert!(
        library.len() >= 44,
        "the default library has {} playbooks",
        library.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A plan's first step carries the state the preconditions admit, for the engine's preflight;
/// a plan written before the execution fields reads and keeps its id.
#[test]
fn plans_carry_the_expected_pre_state_and_old_plans_keep_their_id() {
    let dir = library_dir();
    let library = Library::load_dir(&dir).unwrap();
    let cases = cases::load_dir(&dir).unwrap();
    let case = cases
        .iter()
        .find(|c| c.playbook == "rds.stop-instance")
        .unwrap();
    let plan = cases::run(&library, "test", case).unwrap();
    let expects = plan.steps[0].expects.clone().expect("stop expects a state");
    assert_eq!(expects.any_of, ["available"]);
    assert!(expects.admits("available") && !expects.admits("stopped"));
    let json = serde_json::to_value(&plan).unwrap();
    assert!(
        json["steps"][0].get("kind").is_none(),
        "the default kind is left out"
    );

    // The same plan as an older host wrote it: no execution fields at all.
    let mut old = plan.clone();
    for step in &mut old.steps {
        step.expects = None;
        step.iam_actions.clear();
    }
    let old = old.sealed();
    let text = serde_json::to_string(&old).unwrap();
    assert!(!text.contains("expects") && !text.contains("iam_actions"));
    let read: cloudops_playbook::plan::Plan = serde_json::from_str(&text).unwrap();
    assert!(read.is_intact(), "an old plan reads with the same id");
    assert_eq!(read.steps[0].kind, cloudops_playbook::plan::StepKind::Aws);
}
