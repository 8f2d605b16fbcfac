//! Sync status: how the last sync of each (account, region, service) went.
//!
//! Kept as one JSON file in the data dir, replaced atomically (write to a temporary file,
//! then rename), so a killed sync leaves the previous status intact. A marker file written
//! when a sync starts and removed when it ends tells a later `status` that a sync was
//! killed part-way (its records stay in the store, so "nothing synced" would be a lie).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One account as last synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStatus {
    /// 12-digit id.
    pub id: String,
    /// Name used in queries ("production").
    pub name: String,
    /// The principal whose permissions were checked, if STS answered.
    pub principal: Option<String>,
}

/// The last sync of one (account, region, service).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScopeStatus {
    /// Account id.
    pub account_id: String,
    /// Region.
    pub region: String,
    /// Plugin name.
    pub service: String,
    /// When the last sync of this scope started (unix seconds).
    pub last_attempt: i64,
    /// When a scan of it last saw everything (unix seconds).
    pub last_success: Option<i64>,
    /// How long the last sync took.
    pub duration_ms: u64,
    /// Resources the scan reported.
    pub found: usize,
    /// Resources new to the store.
    pub added: usize,
    /// Resources whose content changed.
    pub updated: usize,
    /// Resources left as they were.
    pub unchanged: usize,
    /// Resources deleted because the scan no longer saw them.
    pub removed: u64,
    /// Resources that keep parts from an earlier read because reading them failed this time
    /// (a sub-call such as GetBucketTagging); those parts are marked stale in the store.
    #[serde(default)]
    pub stale: usize,
    /// Texts embedded.
    pub embedded: usize,
    /// Resources whose IAM permissions are known.
    pub iam_known: usize,
    /// Whether the scan saw everything (only then are unseen resources removed).
    pub complete: bool,
    /// Resources the scan no longer saw but that were kept: removing them would have
    /// removed more than half of the scope.
    #[serde(default)]
    pub held_back: u64,
    /// What went wrong.
    pub errors: Vec<String>,
}

impl ScopeStatus {
    /// Share of resources whose permissions are known (1.0 when there are none).
    pub fn iam_success_rate(&self) -> f64 {
        if self.found == 0 {
            1.0
        } else {
            self.iam_known as f64 / self.found as f64
        }
    }
}

/// Everything `cloudops status` shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Accounts by id.
    pub accounts: BTreeMap<String, AccountStatus>,
    /// Scopes, keyed `account/region/service`.
    pub scopes: BTreeMap<String, ScopeStatus>,
    /// Accounts the last sync could not use at all, by name.
    #[serde(default)]
    pub failed_accounts: BTreeMap<String, FailedAccount>,
}

/// An account a sync could not use (credentials, AssumeRole or STS failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAccount {
    /// Its name in the config or the profile.
    pub name: String,
    /// What went wrong.
    pub error: String,
    /// What to do about it.
    pub advice: String,
    /// When (unix seconds).
    pub at: i64,
}

impl FailedAccount {
    /// A failure now, with advice chosen from the error.
    pub fn new(name: &str, error: &str) -> Self {
        Self {
            name: name.to_owned(),
            error: error.to_owned(),
            advice: advice_for(error).to_owned(),
            at: unix_now(),
        }
    }
}

/// What to do about an account that failed, judged from its error.
pub fn advice_for(error: &str) -> &'static str {
    let has = |words: &[&str]| words.iter().any(|w| error.contains(w));
    if has(&["AssumeRole", "assuming"]) && has(&["AccessDenied", "not authorized"]) {
        "let these credentials assume the role: the role's trust policy must name them and \
         their policy must allow sts:AssumeRole on it; then run `cloudops sync` again"
    } else if has(&[
        "ExpiredToken",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClient",
        "AuthFailure",
    ]) {
        "refresh the credentials (`aws sso login`, new keys, or `cloudops credentials set`), \
         then run `cloudops sync` again"
    } else if has(&["timed out", "cannot reach", "did not answer"]) {
        "check the network, proxy and AWS_ENDPOINT_URL settings, then run `cloudops sync` again"
    } else if has(&["credentials", "profile"]) {
        "check the profile in ~/.aws/config (or the config's [[accounts]]) and that \
         `aws sts get-caller-identity` works with it"
    } else {
        "fix the cause above, then run `cloudops sync` again"
    }
}

/// A sync that started and has not ended (or was killed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMarker {
    /// When it started (unix seconds).
    pub started: i64,
    /// Its process id.
    pub pid: u32,
}

/// Held by a running sync: the marker file, locked. The OS drops the lock when the
/// process dies however it dies, so a marker nobody holds is a sync that was interrupted.
#[derive(Debug)]
pub struct RunGuard {
    _file: std::fs::File,
    path: PathBuf,
}

impl RunGuard {
    /// Records that the sync ended.
    pub fn end(self) -> Result<(), String> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot remove {}: {e}", self.path.display())),
        }
    }
}

impl RunMarker {
    /// The marker file in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("sync-running.json")
    }

    /// Records that a sync starts now in this process. The file is locked before it is
    /// renamed into place, so no reader ever sees it unlocked while the sync runs.
    pub fn begin(data_dir: &Path) -> Result<RunGuard, String> {
        let marker = Self {
            started: unix_now(),
            pid: std::process::id(),
        };
        let path = Self::path(data_dir);
        let temp = path.with_extension("json.tmp");
        let write = || -> std::io::Result<std::fs::File> {
            std::fs::create_dir_all(data_dir)?;
            std::fs::write(&temp, serde_json::to_vec(&marker).expect("serializable"))?;
            let file = std::fs::File::open(&temp)?;
            file.lock()?;
            std::fs::rename(&temp, &path)?;
            Ok(file)
        };
        let file = write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(RunGuard { _file: file, path })
    }

    /// The marker of a sync that has not ended, and whether it is still running. An
    /// unreadable marker counts as a sync that started at an unknown time (0).
    pub fn load(data_dir: &Path) -> Option<(Self, bool)> {
        let path = Self::path(data_dir);
        let file = std::fs::File::open(&path).ok()?;
        let running = matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock));
        let bytes = std::fs::read(&path).ok()?;
        let marker = serde_json::from_slice(&bytes).unwrap_or(Self { started: 0, pid: 0 });
        Some((marker, running))
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), String> {
    let temp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(&temp, bytes)?;
        std::fs::rename(&temp, path)
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Seconds since the epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl SyncStatus {
    /// The status file in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("sync-status.json")
    }

    /// Reads the status; a missing file is an empty status.
    pub fn load(data_dir: &Path) -> Result<Self, String> {
        let path = Self::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                format!(
                    "{} is unreadable ({e}); delete it and sync again",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the status atomically.
    pub fn save(&self, data_dir: &Path) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(self).expect("serializable");
        write_atomically(data_dir, &Self::path(data_dir), &bytes)
    }

    /// Records one scope's outcome, replacing its previous one but keeping the time of
    /// its last success when this attempt failed.
    pub fn record(&mut self, mut scope: ScopeStatus) {
        let key = format!("{}/{}/{}", scope.account_id, scope.region, scope.service);
        if scope.last_success.is_none() {
            scope.last_success = self.scopes.get(&key).and_then(|old| old.last_success);
        }
        self.scopes.insert(key, scope);
    }

    /// The account names queries may use.
    pub fn account_names(&self) -> Vec<cloudops_core::AccountName> {
        self.accounts
            .values()
            .map(|a| cloudops_core::AccountName {
                id: a.id.clone(),
                name: a.name.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_atomically_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(SyncStatus::load(dir.path()).unwrap(), SyncStatus::default());
        let mut status = SyncStatus::default();
        status.record(ScopeStatus {
            account_id: "111111111111".into(),
            region: "us-west-2".into(),
            service: "ec2".into(),
            found: 4,
            iam_known: 3,
            ..ScopeStatus::default()
        });
        status.save(dir.path()).unwrap();
        let back = SyncStatus::load(dir.path()).unwrap();
        assert_eq!(back, status);
        assert_eq!(
            back.scopes["111111111111/us-west-2/ec2"].iam_success_rate(),
            0.75
        );
        assert!(!dir.path().join("sync-status.json.tmp").exists());
        std::fs::write(SyncStatus::path(dir.path()), "{").unwrap();
        assert!(SyncStatus::load(dir.path())
            .unwrap_err()
            .contains("delete it"));
    }

    #[test]
    fn a_run_marker_outlives_a_killed_sync_and_ends_with_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(RunMarker::load(dir.path()), None);
        let guard = RunMarker::begin(dir.path()).unwrap();
        let (marker, running) = RunMarker::load(dir.path()).unwrap();
        assert!(running, "the guard holds the lock");
        assert_eq!(marker.pid, std::process::id());
        assert!(marker.started > 0);
        guard.end().unwrap();
        assert_eq!(RunMarker::load(dir.path()), None);

        // A sync killed before `end`: the file stays, nobody holds its lock.
        let guard = RunMarker::begin(dir.path()).unwrap();
        drop(guard);
        let (_, running) = RunMarker::load(dir.path()).unwrap();
        assert!(!running, "the lock died with its holder");
    }

    #[test]
    fn failed_accounts_get_advice_that_fits_the_error() {
        let denied = FailedAccount::new(
            "staging",
            "assuming arn:aws:iam::2:role/R: sts:AssumeRole failed in us-east-1: AccessDenied: no",
        );
        assert!(denied.advice.contains("trust policy"), "{}", denied.advice);
        assert!(advice_for("ExpiredToken: the token expired").contains("refresh"));
        assert!(advice_for("did not answer: timed out after 20 s").contains("network"));
    }
}
