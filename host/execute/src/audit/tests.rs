//! Each kind of tampering is found and named by its line; unfinished runs are reported.

use super::*;
use crate::test_plans::{plan, step};
use cloudops_playbook::plan::RiskLevel;
use serde_json::json;

fn event(e: Event) -> Entry {
    Entry::Event(e)
}

/// A log of one finished run (7 records) and one killed after its first step (4 records).
fn log_with_two_runs() -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path());
    let p = plan(vec![step("a", "pg-main1", &[])], RiskLevel::Low);
    log.append(&Entry::plan(&p)).unwrap();
    for run in ["run-1", "run-2"] {
        log.append(&event(Event::RunStarted {
            run: run.into(),
            plan_id: p.plan_id.clone(),
            approval_id: "ap".into(),
            steps: vec!["a".into(), "b".into()],
        }))
        .unwrap();
        log.append(&Entry::request(
            run,
            "a",
            "rds:StopDBInstance",
            "arn:x",
            &Map::new(),
        ))
        .unwrap();
        log.append(&event(Event::StepFinished {
            run: run.into(),
            step: "a".into(),
            ms: 3,
        }))
        .unwrap();
        if run == "run-1" {
            log.append(&event(Event::RunFinished {
                run: run.into(),
                outcome: RunOutcome::Succeeded,
                completed: vec!["a".into()],
            }))
            .unwrap();
        }
    }
    (dir, log)
}

fn lines(log: &AuditLog) -> Vec<String> {
    std::fs::read_to_string(log.path())
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write_lines(log: &AuditLog, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(log.path(), text).unwrap();
}

#[test]
fn an_intact_log_verifies_and_reports_the_killed_run_as_interrupted() {
    let (_dir, log) = log_with_two_runs();
    let summary = verify(log.path()).unwrap();
    assert_eq!(summary.records, 8);
    assert_eq!(summary.runs.len(), 2);
    assert_eq!(
        summary.runs[0].status,
        RunStatus::Finished(RunOutcome::Succeeded)
    );
    let interrupted: Vec<_> = summary.interrupted().collect();
    assert_eq!(interrupted.len(), 1);
    assert_eq!(interrupted[0].run, "run-2");
    assert_eq!(interrupted[0].status, RunStatus::Unfinished);
    assert_eq!(interrupted[0].completed, vec!["a".to_string()]);
    assert_eq!(interrupted[0].requests, 1);
}

#[test]
fn closing_interrupted_runs_records_them_once() {
    let (_dir, log) = log_with_two_runs();
    let closed = log.close_interrupted(&[]).unwrap();
    assert_eq!(closed.len(), 1);
    let summary = verify(log.path()).unwrap();
    assert_eq!(summary.runs[1].status, RunStatus::Interrupted);
    assert!(log.close_interrupted(&[]).unwrap().is_empty());
}

#[test]
fn an_edited_record_is_named() {
    let (_dir, log) = log_with_two_runs();
    let mut l = lines(&log);
    l[2] = l[2].replace("rds:StopDBInstance", "rds:StartDBInstance");
    write_lines(&log, &l);
    assert_eq!(verify(log.path()).unwrap_err(), Tamper::Edited { line: 3 });
}

#[test]
fn an_edited_last_record_is_found_through_the_head() {
    let (_dir, log) = log_with_two_runs();
    let mut l = lines(&log);
    let last = l.len() - 1;
    l[last] = l[last].replace("\"ms\":3", "\"ms\":4");
    write_lines(&log, &l);
    assert_eq!(verify(log.path()).unwrap_err(), Tamper::Edited { line: 8 });
}

#[test]
fn an_edit_that_breaks_the_json_is_named() {
    let (_dir, log) = log_with_two_runs();
    let mut l = lines(&log);
    l[4].truncate(10);
    write_lines(&log, &l);
    assert!(matches!(
        verify(log.path()).unwrap_err(),
        Tamper::Malformed { line: 5, .. }
    ));
}

#[test]
fn a_deleted_record_is_named() {
    let (_dir, log) = log_with_two_runs();
    let mut l = lines(&log);
    l.remove(3);
    write_lines(&log, &l);
    let err = verify(log.path()).unwrap_err();
    assert_eq!(
        err,
        Tamper::Deleted {
            line: 4,
            before: 3,
            first: 4,
            last: 4
        }
    );
    assert!(err.to_string().contains("deleted"), "{err}");
}

#[test]
fn reordered_records_are_named() {
    let (_dir, log) = log_with_two_runs();
    let mut l = lines(&log);
    l.swap(2, 3);
    write_lines(&log, &l);
    assert_eq!(
        verify(log.path()).unwrap_err(),
        Tamper::Reordered { line: 3, seq: 4 }
    );
}

#[test]
fn records_cut_off_the_end_are_found() {
    let (_dir, log) = log_with_two_runs();
    let l = lines(&log);
    write_lines(&log, &l[..5]);
    assert_eq!(
        verify(log.path()).unwrap_err(),
        Tamper::Truncated {
            line: 5,
            first: 6,
            last: 8
        }
    );
    // The writer refuses to continue a damaged log rather than hide the gap.
    let err = log.append(&Entry::request("r", "s", "a", "t", &Map::new()));
    assert!(matches!(err, Err(AuditError::Damaged { .. })), "{err:?}");
}

#[test]
fn a_record_cut_mid_line_is_found() {
    let (_dir, log) = log_with_two_runs();
    let text = std::fs::read_to_string(log.path()).unwrap();
    std::fs::write(log.path(), &text[..text.len() - 5]).unwrap();
    assert_eq!(verify(log.path()).unwrap_err(), Tamper::CutOff { line: 8 });
}

#[test]
fn a_writer_that_died_before_its_head_is_caught_up() {
    // A record reached the disk but the head did not: the next append continues the chain.
    let (_dir, log) = log_with_two_runs();
    let head = std::fs::read(head_path(log.path())).unwrap();
    log.append(&Entry::request("run-2", "b", "a", "t", &Map::new()))
        .unwrap();
    std::fs::write(head_path(log.path()), head).unwrap();
    assert_eq!(verify(log.path()).unwrap().records, 9);
    log.append(&Entry::request("run-2", "c", "a", "t", &Map::new()))
        .unwrap();
    assert_eq!(verify(log.path()).unwrap().records, 10);
}

#[test]
fn a_torn_last_line_is_dropped_by_the_next_append() {
    // A crash mid-write leaves half a line that no append acknowledged.
    let (_dir, log) = log_with_two_runs();
    let mut file = OpenOptions::new().append(true).open(log.path()).unwrap();
    file.write_all(b"{\"seq\":9,\"pr").unwrap();
    log.append(&Entry::request("run-2", "b", "a", "t", &Map::new()))
        .unwrap();
    assert_eq!(verify(log.path()).unwrap().records, 9);
}

#[test]
fn no_secret_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path());
    let mut s = step("a", "pg-main1", &[]);
    s.params
        .insert("MasterUserPassword".into(), json!("correct-horse-battery"));
    let p = plan(vec![s.clone()], RiskLevel::Low);
    log.append(&Entry::plan(&p)).unwrap();
    log.append(&Entry::request(
        "r",
        "a",
        &s.action,
        &s.target.arn,
        &s.params,
    ))
    .unwrap();
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(!text.contains("correct-horse-battery"), "{text}");
    assert!(text.contains("pg-main1"), "{text}");
    assert_eq!(verify(log.path()).unwrap().records, 2);
}

#[test]
fn records_round_trip() {
    let (_dir, log) = log_with_two_runs();
    for line in lines(&log) {
        let record: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(serde_json::to_string(&record).unwrap(), line);
    }
}
