//! What an interrupted restore leaves is finished or undone by the next command: never a
//! half-restored data dir. (host/cli/tests/backup.rs kills a real `cloudops restore`.)

use std::path::Path;

use cloudops_backup::recover;

fn dir_with(path: &Path, file: &str, text: &str) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::write(path.join(file), text).unwrap();
}

/// The state a restore is in when it holds its lock beside the data dir.
fn lock(parent: &Path) {
    std::fs::write(parent.join("data.restore-lock"), "").unwrap();
}

#[test]
fn an_unfinished_restoring_folder_is_removed_and_the_data_dir_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dir_with(&data, "sync-status.json", "old");
    dir_with(
        &tmp.path().join("data.restoring-5"),
        "sync-status.json",
        "half",
    );
    // A download by a process that is gone (pid 0 is never a user process).
    std::fs::write(tmp.path().join("data.download-0"), "partial").unwrap();
    lock(tmp.path());
    let said = recover(&data).unwrap().unwrap();
    assert!(said.contains("as it was"), "{said}");
    assert_eq!(
        std::fs::read_to_string(data.join("sync-status.json")).unwrap(),
        "old"
    );
    assert!(!tmp.path().join("data.restoring-5").exists());
    assert!(!tmp.path().join("data.download-0").exists());
    assert_eq!(recover(&data).unwrap(), None, "nothing left to do");
}

#[test]
fn a_restore_killed_between_its_renames_is_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dir_with(
        &tmp.path().join("data.before-restore-5"),
        "sync-status.json",
        "old",
    );
    let fresh = tmp.path().join("data.restoring-5");
    dir_with(&fresh, "sync-status.json", "new");
    std::fs::write(fresh.join(".restore-complete"), "").unwrap();
    lock(tmp.path());
    let said = recover(&data).unwrap().unwrap();
    assert!(said.contains("finished"), "{said}");
    assert_eq!(
        std::fs::read_to_string(data.join("sync-status.json")).unwrap(),
        "new"
    );
    assert!(!data.join(".restore-complete").exists());
    assert!(!tmp.path().join("data.before-restore-5").exists());
    assert!(!fresh.exists());
}

#[test]
fn a_restore_killed_after_moving_the_data_dir_aside_without_a_whole_copy_is_undone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dir_with(
        &tmp.path().join("data.before-restore-5"),
        "sync-status.json",
        "old",
    );
    dir_with(
        &tmp.path().join("data.restoring-5"),
        "sync-status.json",
        "half",
    );
    lock(tmp.path());
    let said = recover(&data).unwrap().unwrap();
    assert!(said.contains("undid"), "{said}");
    assert_eq!(
        std::fs::read_to_string(data.join("sync-status.json")).unwrap(),
        "old"
    );
    assert!(!tmp.path().join("data.restoring-5").exists());
}

#[test]
fn a_restore_killed_after_its_swap_only_leaves_the_old_copy_to_remove() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dir_with(&data, "sync-status.json", "new");
    std::fs::write(data.join(".restore-complete"), "").unwrap();
    dir_with(
        &tmp.path().join("data.before-restore-5"),
        "sync-status.json",
        "old",
    );
    lock(tmp.path());
    recover(&data).unwrap().unwrap();
    assert_eq!(
        std::fs::read_to_string(data.join("sync-status.json")).unwrap(),
        "new"
    );
    assert!(!data.join(".restore-complete").exists());
    assert!(!tmp.path().join("data.before-restore-5").exists());
}
