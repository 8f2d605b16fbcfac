//! What to keep: local backups 7 days, S3 copies 30 days, at most one automatic backup a day.
//!
//! Every decision takes the time as a parameter (`now`, Unix seconds) instead of reading the
//! clock, so tests can run a month in a moment. A backup's age comes from the UTC time in its
//! name (`cloudops-backup-20261206T101500Z.cbk`), not from file or object dates, which copies
//! and uploads change. The newest backup is always kept, however old: pruning never leaves
//! none.

use std::fs;
use std::path::{Path, PathBuf};

use crate::archive::{read_header, Header};
use crate::{time_of, BackupError};

/// Days a local backup is kept.
pub const LOCAL_DAYS: i64 = 7;
/// Days a copy in S3 is kept.
pub const S3_DAYS: i64 = 30;
/// The least time between two automatic backups.
pub const AUTO_INTERVAL_SECS: i64 = 86_400;

/// Of the backups named in `names`, those older than `days` at `now`, except the newest.
/// Names that are not backups are never chosen.
pub fn expired(names: &[String], now: i64, days: i64) -> Vec<&str> {
    let dated: Vec<(i64, &str)> = names
        .iter()
        .filter_map(|n| time_of(n).map(|t| (t, n.as_str())))
        .collect();
    let newest = dated.iter().map(|(t, _)| *t).max();
    dated
        .into_iter()
        .filter(|(t, _)| Some(*t) != newest && now - t > days * 86_400)
        .map(|(_, n)| n)
        .collect()
}

/// Whether an automatic backup is due at `now`: none of the backups in `dir` is younger than
/// [`AUTO_INTERVAL_SECS`].
pub fn due(dir: &Path, now: i64) -> bool {
    list(dir)
        .iter()
        .all(|b| now - b.created_at >= AUTO_INTERVAL_SECS)
}

/// Deletes local backups in `dir` older than [`LOCAL_DAYS`]; returns what it deleted.
pub fn prune_local(dir: &Path, now: i64) -> Result<Vec<PathBuf>, BackupError> {
    let names: Vec<String> = list(dir).into_iter().map(|b| b.name).collect();
    let mut deleted = Vec::new();
    for name in expired(&names, now, LOCAL_DAYS) {
        let path = dir.join(name);
        fs::remove_file(&path).map_err(BackupError::io(&path))?;
        deleted.push(path);
    }
    Ok(deleted)
}

/// A backup in the local folder.
#[derive(Debug, Clone)]
pub struct LocalBackup {
    /// Its file name.
    pub name: String,
    /// Its path.
    pub path: PathBuf,
    /// When it was taken (from its name).
    pub created_at: i64,
    /// Its size in bytes.
    pub size: u64,
    /// Its header (what it holds), or why it could not be read.
    pub header: Result<Header, String>,
}

/// The backups in `dir`, oldest first; a missing folder has none.
pub fn list(dir: &Path) -> Vec<LocalBackup> {
    let mut found: Vec<LocalBackup> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            let created_at = time_of(&name)?;
            let path = entry.path();
            let size = entry.metadata().ok()?.len();
            let header = fs::File::open(&path)
                .map_err(|e| e.to_string())
                .and_then(|mut f| {
                    read_header(&mut f)
                        .map(|(h, _)| h)
                        .map_err(|e| e.to_string())
                });
            Some(LocalBackup {
                name,
                path,
                created_at,
                size,
                header,
            })
        })
        .collect();
    found.sort_by_key(|b| b.created_at);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive_name;

    const DAY: i64 = 86_400;

    #[test]
    fn backups_older_than_the_window_expire_but_the_newest_stays() {
        let now = 1_800_000_000;
        let names: Vec<String> = [0, 3, 8, 40]
            .iter()
            .map(|d| archive_name(now - d * DAY))
            .chain(["notes.txt".to_owned()])
            .collect();
        let gone = expired(&names, now, LOCAL_DAYS);
        assert_eq!(gone, vec![names[2].as_str(), names[3].as_str()]);
        assert_eq!(expired(&names, now, S3_DAYS), vec![names[3].as_str()]);
        // Only old backups: the newest of them is kept.
        let old = vec![archive_name(now - 40 * DAY), archive_name(now - 50 * DAY)];
        assert_eq!(expired(&old, now, LOCAL_DAYS), vec![old[1].as_str()]);
    }

    #[test]
    fn names_carry_their_time() {
        assert_eq!(time_of(&archive_name(1_800_000_000)), Some(1_800_000_000));
        assert_eq!(time_of("prefix/".to_owned().as_str()), None);
        assert_eq!(
            time_of(&format!("backups/{}", archive_name(1_800_000_001))),
            Some(1_800_000_001)
        );
        assert_eq!(time_of("cloudops-backup-garbage.cbk"), None);
    }
}
