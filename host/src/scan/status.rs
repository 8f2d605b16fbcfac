//! Sync status: how the last sync of each (account, region, service) went.
//!
//! Kept as one JSON file in the data dir, replaced atomically (write to a temporary file,
//! then rename), so a killed sync leaves the previous status intact.

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
    /// Texts embedded.
    pub embedded: usize,
    /// Resources whose IAM permissions are known.
    pub iam_known: usize,
    /// Whether the scan saw everything (only then are unseen resources removed).
    pub complete: bool,
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
        let path = Self::path(data_dir);
        let temp = path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(data_dir)?;
            let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
            std::fs::write(&temp, bytes)?;
            std::fs::rename(&temp, &path)
        };
        write().map_err(|e| format!("cannot write {}: {e}", path.display()))
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
    pub fn account_names(&self) -> Vec<crate::search::AccountName> {
        self.accounts
            .values()
            .map(|a| crate::search::AccountName {
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
}
