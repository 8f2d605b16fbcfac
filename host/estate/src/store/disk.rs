//! Free space, checked before the embedded store grows.
//!
//! The engine writes its files through memory maps. The vendored qdrant-edge now reserves the
//! blocks of a file when it grows it (vendor/README.md), so a full disk is an error rather than
//! SIGBUS; checking free space first turns it into an error that says what to do before any
//! half-written batch, and keeps a margin for the files the engine creates on its own.

use std::path::Path;

use super::StoreError;

/// Free space a writer wants when it opens the store: two write-ahead log files of each
/// collection (`edge::WAL_SEGMENT_BYTES`) and room for a segment to grow.
pub const OPEN_MARGIN: u64 = 64 * 1024 * 1024;

/// Free space wanted before each batch is written, and on top of a copy's size.
pub const WRITE_MARGIN: u64 = 16 * 1024 * 1024;

/// Bytes available to this user in the filesystem holding `path` (or its nearest existing
/// parent); `None` when the filesystem cannot say.
pub fn available(path: &Path) -> Option<u64> {
    let mut probe = path;
    loop {
        if probe.exists() {
            break;
        }
        probe = probe.parent()?;
    }
    let stat = rustix::fs::statvfs(probe).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Fails with [`StoreError::DiskFull`] when fewer than `needed` bytes are free at `path`.
pub fn ensure_free(path: &Path, needed: u64) -> Result<(), StoreError> {
    match available(path) {
        Some(free) if free < needed => Err(StoreError::DiskFull {
            dir: path.to_owned(),
            free_mb: free / (1024 * 1024),
            needed_mb: needed.div_ceil(1024 * 1024),
        }),
        _ => Ok(()),
    }
}

/// The error for a write that the disk refused ("no space left on device").
pub fn full(path: &Path) -> StoreError {
    StoreError::DiskFull {
        dir: path.to_owned(),
        free_mb: available(path).unwrap_or(0) / (1024 * 1024),
        needed_mb: WRITE_MARGIN / (1024 * 1024),
    }
}
