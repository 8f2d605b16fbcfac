//! `cloudops playbook check` and `cloudops playbook test` as an author runs them.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::cli::command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `cloudops playbook ARGS` run in `cwd`.
fn playbook(cwd: &Path, args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    let mut full = vec!["playbook"];
    full.extend_from_slice(args);
    command(data.path(), &full, &[])
        .env_remove("CLOUDOPS_PLAYBOOKS")
        .current_dir(cwd)
        .output()
        .expect("run cloudops")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The playbook crate's minimal valid playbook.
const REBOOT: &str = include_str!("../../playbook/tests/fixtures/reboot-instance.yaml");

const CASES: &str = r#"[
  {"name": "reboots", "playbook": "ec2.reboot-instance", "prompt": "reboot web-1",
   "resources": [{"resource_type": "ec2_instance", "identifier": "i-0abc", "name": "web-1",
     "arn": "arn:aws:ec2:us-east-1:222222222222:instance/i-0abc", "account_id": "222222222222",
     "region": "us-east-1", "state": "running"}],
   "expect": {"runnable": true, "risk": "RISK",
     "steps": [{"action": "ec2:RebootInstances", "params": {"InstanceIds": ["i-0abc"]}}]}},
  {"name": "asks for a target", "playbook": "ec2.reboot-instance", "prompt": "reboot it",
   "resources": [], "expect": {"runnable": false, "clarify_missing": ["target"]}}
]"#;

/// A one-playbook library whose case expects `risk`.
fn library(playbook: &str, risk: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ec2")).unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("ec2/reboot.yaml"), playbook).unwrap();
    std::fs::write(
        dir.path().join("tests/ec2.reboot-instance.json"),
        CASES.replace("RISK", risk),
    )
    .unwrap();
    dir
}

#[test]
fn the_default_library_checks_clean() {
    let o = playbook(&repo_root(), &["check"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    let count: usize = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(count >= 44, "{out}");
    assert!(out.contains("playbooks: no errors"), "{out}");
}

#[test]
fn a_broken_playbook_names_file_line_and_column() {
    let broken = REBOOT
        .replace(
            "    action: ec2:RebootInstances",
            "    actoin: ec2:RebootInstances",
        )
        .replace("level: low", "level: mild");
    let lib = library(&broken, "low");
    let dir = lib.path().to_str().unwrap();
    let o = playbook(Path::new("/"), &["check", dir]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let first = out.lines().next().unwrap();
    let prefix = format!("{dir}/ec2/reboot.yaml:16:5: ");
    assert!(first.starts_with(&prefix), "{out}");
    assert!(first.contains("actoin"), "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("1 error in 1 file of"),
        "{out}"
    );
    // `test` refuses to run cases on a broken library, and says why.
    let o = playbook(Path::new("/"), &["test", dir]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("no case was run"), "{}", stdout(&o));
}

#[test]
fn the_default_library_passes_its_cases() {
    let o = playbook(&repo_root(), &["test"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains(" passed, 0 failed; 0 playbooks with fewer than 2"),
        "{out}"
    );
    // The recorded cases of the two component playbooks (tests/replay/), replayed offline.
    assert!(out.contains(" and 3 recorded component cases: "), "{out}");
}

#[test]
fn a_failing_case_is_named_with_what_differs() {
    let lib = library(REBOOT, "high");
    let o = playbook(Path::new("/"), &["test", lib.path().to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL ec2.reboot-instance / reboots: risk: expected high, got low"),
        "{out}"
    );
    assert!(
        out.contains("2 cases of 1 playbook: 1 passed, 1 failed"),
        "{out}"
    );
    let lib = library(REBOOT, "low");
    let o = playbook(Path::new("/"), &["test", lib.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stdout(&o));
}

#[test]
fn without_a_library_it_says_where_to_look() {
    let empty = tempfile::tempdir().unwrap();
    let o = playbook(empty.path(), &["check"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("CLOUDOPS_PLAYBOOKS"), "{err}");
}

/// scripts/check-playbook-api: every step's operation and parameters against botocore's
/// models. It needs PyYAML and botocore (the .venv of scripts/setup has both).
#[test]
fn every_step_matches_the_aws_api_models() {
    let script = repo_root().join("scripts/check-playbook-api");
    let o = std::process::Command::new(&script)
        .output()
        .expect("run scripts/check-playbook-api");
    if o.status.code() == Some(2) {
        use std::io::Write;
        let why = String::from_utf8_lossy(&o.stderr);
        let _ = writeln!(
            std::io::stdout().lock(),
            "SKIPPED: playbook::every_step_matches_the_aws_api_models: {}",
            why.trim()
        );
        return;
    }
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("; 0 with problems"), "{out}");
}
