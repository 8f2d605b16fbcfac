//! What an archive holds: the manifest at the start of its payload, and the summary in its
//! header.

use serde::{Deserialize, Serialize};

/// The first thing in an archive's (encrypted) payload: every part, in payload order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Unix seconds when the backup was taken.
    pub created_at: i64,
    /// The cloudops version that wrote it.
    pub cloudops_version: String,
    /// Id of the estate key its data key is sealed under.
    pub key_id: String,
    /// The store generation it holds (`gen-000007`), if the data dir had a published store.
    pub store_generation: Option<String>,
    /// The parts, in the order their bytes follow the manifest.
    pub parts: Vec<Part>,
    /// Counts, also in the header.
    pub summary: Summary,
}

/// One file of the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Where it goes, relative to the data dir and `/`-separated (`config/config.toml` is the
    /// config file, which lives outside the data dir).
    pub path: String,
    /// Its length on disk, holes included.
    pub size: u64,
    /// `[offset, length]` of each range that holds data; the rest of the file is a hole
    /// (the store's memory-mapped files are mostly holes, and only data is archived).
    pub extents: Vec<[u64; 2]>,
    /// Hex SHA-256 of the archived bytes (the extents' data, in order).
    pub sha256: String,
    /// Unix permission bits.
    pub mode: u32,
}

impl Part {
    /// Bytes of this part in the payload.
    pub fn stored(&self) -> u64 {
        self.extents.iter().map(|[_, len]| len).sum()
    }
}

/// What a backup holds, in numbers: shown by `cloudops backup list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Resources in the store's estate collection (as its published manifest counted).
    pub estate: u64,
    /// Chat history entries.
    pub chat: u64,
    /// Playbook index entries.
    pub playbooks: u64,
    /// Records in the audit log.
    pub audit_records: u64,
    /// Installed plugins (folder names).
    pub plugins: Vec<String>,
    /// Whether the sync status is included.
    pub sync_status: bool,
    /// Whether the trusted-plugins record is included.
    pub trust: bool,
    /// Whether the config file is included.
    pub config: bool,
    /// Files in the archive.
    pub files: u64,
    /// Bytes of file data in the archive (before encryption).
    pub bytes: u64,
}

impl Summary {
    /// One line: `6512 resources, 3 chat, 40 playbooks, 12 audit records, 6 plugins, ...`.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("{} resources", self.estate),
            format!("{} chat", self.chat),
            format!("{} playbook entries", self.playbooks),
            format!("{} audit records", self.audit_records),
            format!("{} plugins", self.plugins.len()),
        ];
        for (on, what) in [
            (self.sync_status, "sync status"),
            (self.trust, "trust"),
            (self.config, "config"),
        ] {
            if on {
                parts.push(what.to_owned());
            }
        }
        parts.join(", ")
    }
}
