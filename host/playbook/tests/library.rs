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
