//! Backups of the local estate (`cloudops backup`, `cloudops restore`, `cloudops key`).
//!
//! A backup is one archive file, `cloudops-backup-<YYYYMMDDTHHMMSSZ>.cbk`, holding a
//! consistent snapshot of what in the data dir matters: the store (resources, chat history,
//! playbook index) as its last published generation, the audit log, the sync status, the
//! trusted-plugins record and the installed plugins, plus the config file. How the snapshot is
//! taken without stopping readers or a running sync: [`create`]. What stays out and why:
//! [`create::HELD`].
//!
//! **Format** (version 1; [`archive`] has the byte layout):
//!
//! - a magic line and a plaintext JSON [`archive::Header`]: created_at, cloudops version, the
//!   estate key's id (never the key), a fresh random 256-bit **data key sealed under the
//!   estate key** (cloudops-seal's AES-256-GCM, bound to this archive), the chunk nonce prefix,
//!   and a [`Summary`] for listings;
//! - the payload, encrypted with the data key in 1 MiB AES-256-GCM chunks (STREAM: chunk
//!   counter and a final-chunk flag in each nonce, the header's SHA-256 as associated data),
//!   so large stores stream in bounded memory and any edit, reordering or truncation fails;
//! - inside the payload: the length of the [`Manifest`], the manifest (every part's path,
//!   size, data extents, SHA-256 and mode), then each part's bytes in manifest order. Sparse
//!   files (the store's memory-mapped segments) keep only their data extents.
//!
//! [`restore`] verifies every chunk and checksum before it swaps anything in; [`keyfile`]
//! wraps the estate key under a passphrase for safekeeping; [`retention`] decides what to
//! keep; [`s3`] uploads, lists, downloads and prunes copies in a bucket.

#![deny(missing_docs)]

pub mod archive;
pub mod create;
mod fsutil;
pub mod keyfile;
pub mod manifest;
pub mod restore;
pub mod retention;
pub mod s3;

use std::path::{Path, PathBuf};

pub use create::{create, Created};
pub use manifest::{Manifest, Part, Summary};
pub use restore::{recover, restore, verify, ConfigOutcome, Restored};

/// The folder of local backups: `<data dir>/backups`.
pub fn local_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("backups")
}

/// `20261206T101500Z` for a Unix time.
pub fn stamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// The file name of a backup taken at `t`.
pub fn archive_name(t: i64) -> String {
    format!("cloudops-backup-{}.cbk", stamp(t))
}

/// The time in a backup's file name (or object key); `None` for other names.
pub fn time_of(name: &str) -> Option<i64> {
    let name = name.rsplit('/').next().unwrap_or(name);
    let stamp = name
        .strip_prefix("cloudops-backup-")?
        .strip_suffix(".cbk")?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// Why a backup, restore, key export or import failed. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file is not a cloudops backup.
    #[error("this is not a cloudops backup (its first line is not `cloudops-backup v1`)")]
    NotAnArchive,
    /// The archive was sealed for another estate key.
    #[error(
        "this backup was sealed for estate key {archive}, and this data dir's key is {current}: \
         import the key it was made with (`cloudops key import FILE`, from a `cloudops key \
         export` of that machine) into an empty data dir, then restore; nothing was changed"
    )]
    ForeignKey {
        /// Key id in the archive.
        archive: String,
        /// Key id of the current estate key.
        current: String,
    },
    /// Authentication failed: the archive was altered.
    #[error("this backup was altered ({0}); it cannot be trusted and nothing was changed: use another backup")]
    Tampered(String),
    /// The archive was cut short.
    #[error("this backup is truncated ({0}): an interrupted download or upload; nothing was changed: fetch it again or use another backup")]
    Truncated(String),
    /// The archive is malformed in a way authentication does not explain.
    #[error("this backup is damaged ({0}); nothing was changed: use another backup")]
    Corrupt(String),
    /// A part of the data dir changed while it was being read, three times in a row.
    #[error(
        "{0} kept changing while it was backed up (a sync publishing twice?); run the backup again"
    )]
    Changed(String),
    /// The store could not be read.
    #[error("the store: {0}")]
    Store(String),
    /// A sync or another restore is using the data dir.
    #[error(
        "a sync or another restore is using the data dir; wait for it to finish, then restore"
    )]
    Busy,
    /// A passphrase-wrapped key file problem.
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    /// An S3 call failed.
    #[error(transparent)]
    S3(#[from] s3::S3Error),
}

impl BackupError {
    /// `map_err` helper for I/O on `path`.
    pub fn io(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
        move |e| BackupError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }

    /// `map_err` helper for reading part of an archive.
    pub(crate) fn read(what: &'static str) -> impl Fn(std::io::Error) -> BackupError {
        move |e| BackupError::Io {
            path: PathBuf::from("the archive"),
            message: format!("reading {what}: {e}"),
        }
    }
}
