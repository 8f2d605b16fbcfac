//! Restoring a backup: verify and unpack into a fresh folder, then swap it in.
//!
//! 1. A leftover of an interrupted restore is cleaned up or finished first ([`recover`]).
//! 2. The archive is unpacked into `<data dir>.restoring-<time>`, a sibling of the data dir:
//!    every chunk is authenticated, every part's SHA-256 checked against the manifest, the
//!    final chunk must be there and nothing may follow it. Any failure removes the folder and
//!    leaves the data dir as it was.
//! 3. The store's live shards are rebuilt from the restored generation, and what belongs to
//!    this machine rather than to the backup is linked over from the current data dir:
//!    `keys/` (the estate key), `backups/` and `approvals.json` (consumed single-use
//!    approvals stay consumed).
//! 4. A marker `.restore-complete` is written into the new folder, then the data dir is
//!    renamed to `<data dir>.before-restore-<time>`, the new folder renamed into its place,
//!    the marker and the old folder removed.
//!
//! A `kill -9` anywhere leaves either the old data dir or the restored one, plus leftovers
//! that [`recover`] (run by every `cloudops` command) resolves: an unfinished restoring folder
//! is deleted; a complete one whose data dir is gone (killed between the two renames) is
//! moved into place; a `before-restore` folder whose data dir is back is deleted.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};

use cloudops_estate::store::published;
use cloudops_estate::store::Collection;
use cloudops_seal::Sealer;
use sha2::{Digest, Sha256};

use crate::archive::Reader;
use crate::create::{CONFIG_PART, HELD};
use crate::fsutil::{self, create_private_dir, link_tree, remove_tree, sync_dir};
use crate::manifest::{Manifest, Part};
use crate::BackupError;

/// Marker in a restoring folder: it is complete and may replace the data dir.
const COMPLETE: &str = ".restore-complete";
/// Entries of the current data dir that a restore keeps (see the module docs).
const CARRIED: [&str; 3] = ["keys", "backups", "approvals.json"];
/// The longest manifest a reader accepts.
const MAX_MANIFEST: u64 = 256 << 20;

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The archive's manifest.
    pub manifest: Manifest,
    /// What happened to the config file, if the archive held one.
    pub config: Option<ConfigOutcome>,
}

/// What a restore did with the archived config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOutcome {
    /// There was none: the archived one was written there.
    Written(PathBuf),
    /// The current one is the same.
    Unchanged(PathBuf),
    /// The current one differs and was kept; the archived one was written beside it.
    KeptCurrent {
        /// The current config file.
        current: PathBuf,
        /// Where the archived one was written.
        archived: PathBuf,
    },
}

/// Verifies `archive` and replaces `data_dir` with what it holds (see the module docs).
/// `config` is where the config file lives, for the archived one.
pub fn restore(
    archive: &Path,
    data_dir: &Path,
    sealer: &Sealer,
    config: Option<&Path>,
    now: i64,
) -> Result<Restored, BackupError> {
    let (parent, name) = split(data_dir)?;
    let _lock = restore_lock(&parent, &name)?.ok_or(BackupError::Busy)?;
    if let Some(done) = recover_locked(data_dir)? {
        tracing::warn!("{done}");
    }
    refuse_if_busy(data_dir)?;
    let fresh = parent.join(format!("{name}.restoring-{now}"));
    remove_tree(&fresh).map_err(BackupError::io(&fresh))?;
    create_private_dir(&fresh)?;
    tracing::info!(
        "restore: unpacking {} into {}",
        archive.display(),
        fresh.display()
    );
    let unpacked = unpack(archive, sealer, &fresh).and_then(|(manifest, config_bytes)| {
        rebuild_live_store(&fresh, &manifest)?;
        carry_over(data_dir, &fresh)?;
        Ok((manifest, config_bytes))
    });
    let (manifest, config_bytes) = match unpacked {
        Ok(done) => done,
        Err(e) => {
            let _ = remove_tree(&fresh);
            return Err(e);
        }
    };
    write_marker(&fresh)?;
    sync_dir(&parent);
    tracing::info!("restore: verified; swapping it in");
    swap(
        data_dir,
        &fresh,
        &parent.join(format!("{name}.before-restore-{now}")),
    )?;
    let config = match (config_bytes, config) {
        (Some(bytes), Some(path)) => Some(restore_config(&bytes, path, now)?),
        _ => None,
    };
    Ok(Restored { manifest, config })
}

/// Verifies an archive completely without restoring anything: every chunk, the final one,
/// every part's checksum. Returns its manifest.
pub fn verify(archive: &Path, sealer: &Sealer) -> Result<Manifest, BackupError> {
    let file = fs::File::open(archive).map_err(BackupError::io(archive))?;
    let mut reader = Reader::open(io::BufReader::with_capacity(1 << 20, file), sealer)?;
    let manifest = read_manifest(&mut reader)?;
    for part in &manifest.parts {
        check_part(part)?;
        let mut hasher = Sha256::new();
        for_each_piece(&mut reader, part, &mut |_, piece| {
            hasher.update(piece);
            Ok(())
        })?;
        check_digest(part, hasher)?;
    }
    reader.finish()?;
    Ok(manifest)
}

fn split(data_dir: &Path) -> Result<(PathBuf, String), BackupError> {
    let absolute = std::path::absolute(data_dir).map_err(BackupError::io(data_dir))?;
    let name = absolute
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| BackupError::Io {
            path: data_dir.to_owned(),
            message: "a data dir to restore into needs a UTF-8 folder name".to_owned(),
        })?
        .to_owned();
    let parent = absolute.parent().unwrap_or(Path::new("/")).to_owned();
    fs::create_dir_all(&parent).map_err(BackupError::io(&parent))?;
    Ok((parent, name))
}

/// A sync (the store's writer lock, or the run marker held by a live process) would write
/// into the folder being replaced.
fn refuse_if_busy(data_dir: &Path) -> Result<(), BackupError> {
    for lock in [
        data_dir.join("store/.lock"),
        data_dir.join("sync-running.json"),
    ] {
        let Ok(file) = fs::File::open(&lock) else {
            continue;
        };
        if let Err(fs::TryLockError::WouldBlock) = file.try_lock_shared() {
            return Err(BackupError::Busy);
        }
    }
    Ok(())
}

/// Reads the archive into `fresh`; returns the manifest and the archived config file.
fn unpack(
    archive: &Path,
    sealer: &Sealer,
    fresh: &Path,
) -> Result<(Manifest, Option<Vec<u8>>), BackupError> {
    let file = fs::File::open(archive).map_err(BackupError::io(archive))?;
    let mut reader = Reader::open(io::BufReader::with_capacity(1 << 20, file), sealer)?;
    let manifest = read_manifest(&mut reader)?;
    let mut config = None;
    let total = manifest.parts.len();
    for (i, part) in manifest.parts.iter().enumerate() {
        check_part(part)?;
        if (i + 1) % 50 == 0 || i + 1 == total {
            tracing::info!("restore: part {} of {total}", i + 1);
        }
        if part.path == CONFIG_PART {
            let mut bytes = vec![0u8; part.size as usize];
            let mut hasher = Sha256::new();
            for_each_piece(&mut reader, part, &mut |offset, piece| {
                hasher.update(piece);
                bytes[offset as usize..offset as usize + piece.len()].copy_from_slice(piece);
                Ok(())
            })?;
            check_digest(part, hasher)?;
            config = Some(bytes);
            continue;
        }
        unpack_part(&mut reader, part, &fresh.join(&part.path))?;
    }
    reader.finish()?;
    Ok((manifest, config))
}

fn unpack_part(
    reader: &mut Reader<impl Read>,
    part: &Part,
    path: &Path,
) -> Result<(), BackupError> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut file = fsutil::create_private_file(path)?;
    file.set_len(part.size).map_err(BackupError::io(path))?;
    let mut hasher = Sha256::new();
    for_each_piece(reader, part, &mut |offset, piece| {
        hasher.update(piece);
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(piece)
    })
    .map_err(|e| match e {
        BackupError::Io { message, .. } => BackupError::Io {
            path: path.to_owned(),
            message,
        },
        other => other,
    })?;
    check_digest(part, hasher)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(part.mode & 0o777))
        .and_then(|()| file.sync_all())
        .map_err(BackupError::io(path))
}

fn read_manifest(reader: &mut Reader<impl Read>) -> Result<Manifest, BackupError> {
    let mut len = [0u8; 8];
    reader.read_exact_checked(&mut len)?;
    let len = u64::from_be_bytes(len);
    if len > MAX_MANIFEST {
        return Err(BackupError::Corrupt(format!(
            "its manifest claims {len} bytes"
        )));
    }
    let mut json = vec![0u8; len as usize];
    reader.read_exact_checked(&mut json)?;
    let manifest: Manifest = serde_json::from_slice(&json)
        .map_err(|e| BackupError::Corrupt(format!("its manifest does not parse: {e}")))?;
    if manifest.key_id != reader.header.key_id || manifest.created_at != reader.header.created_at {
        return Err(BackupError::Corrupt(
            "its manifest and header disagree on the key or the time".to_owned(),
        ));
    }
    Ok(manifest)
}

/// Calls `each(offset, bytes)` with the part's data, read from the archive in pieces.
fn for_each_piece(
    reader: &mut Reader<impl Read>,
    part: &Part,
    each: &mut dyn FnMut(u64, &[u8]) -> io::Result<()>,
) -> Result<(), BackupError> {
    let mut buf = vec![0u8; (1 << 20).min(part.stored() as usize).max(1)];
    for &[offset, len] in &part.extents {
        let mut done = 0;
        while done < len {
            let n = ((len - done) as usize).min(buf.len());
            reader.read_exact_checked(&mut buf[..n])?;
            each(offset + done, &buf[..n]).map_err(|e| BackupError::Io {
                path: PathBuf::from(&part.path),
                message: e.to_string(),
            })?;
            done += n as u64;
        }
    }
    Ok(())
}

fn check_digest(part: &Part, hasher: Sha256) -> Result<(), BackupError> {
    let got = hex::encode(hasher.finalize());
    if got != part.sha256 {
        return Err(BackupError::Tampered(format!(
            "{}: SHA-256 {got} is not the manifest's {}",
            part.path, part.sha256
        )));
    }
    Ok(())
}

/// A part may only name a file this version backs up, inside the data dir, with extents
/// inside the file in order.
fn check_part(part: &Part) -> Result<(), BackupError> {
    let bad = |why: &str| Err(BackupError::Corrupt(format!("part `{}` {why}", part.path)));
    let path = Path::new(&part.path);
    if part.path.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return bad("is not a plain relative path");
    }
    let top = part.path.split('/').next().unwrap_or_default();
    let allowed = part.path == CONFIG_PART
        || HELD.contains(&top)
        || part
            .path
            .starts_with(&format!("store/{}/gen-", published::PUBLISHED_DIR));
    if !allowed {
        return bad("is not something a backup holds");
    }
    if part.path == CONFIG_PART && part.size > 16 << 20 {
        return bad("is larger than a config file can be");
    }
    let mut end = 0;
    for &[offset, len] in &part.extents {
        if offset < end || offset.checked_add(len).is_none_or(|e| e > part.size) {
            return bad("has extents out of order or beyond its size");
        }
        end = offset + len;
    }
    Ok(())
}

/// Points `store/published/CURRENT` at the restored generation and copies it into the live
/// shard folders the store's writer opens.
fn rebuild_live_store(fresh: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let Some(generation) = &manifest.store_generation else {
        return Ok(());
    };
    let store = fresh.join("store");
    let gen_dir = store.join(published::PUBLISHED_DIR).join(generation);
    let io = BackupError::io(&store);
    fs::write(
        store.join(published::PUBLISHED_DIR).join("CURRENT"),
        generation,
    )
    .map_err(&io)?;
    for collection in Collection::ALL {
        let from = gen_dir.join(collection.name());
        if from.is_dir() {
            published::copy_tree(&from, &store.join(collection.name())).map_err(&io)?;
        }
    }
    // The restored generation must open as the store's readers will open it.
    published::current(&store)
        .map_err(|e| BackupError::Store(e.to_string()))?
        .ok_or_else(|| BackupError::Store("the restored store has no generation".to_owned()))?;
    Ok(())
}

/// Links what belongs to this machine from the current data dir into the new one.
fn carry_over(data_dir: &Path, fresh: &Path) -> Result<(), BackupError> {
    for name in CARRIED {
        let from = data_dir.join(name);
        if fs::symlink_metadata(&from).is_ok() {
            link_tree(&from, &fresh.join(name)).map_err(BackupError::io(&from))?;
        }
    }
    Ok(())
}

fn write_marker(fresh: &Path) -> Result<(), BackupError> {
    let marker = fresh.join(COMPLETE);
    fs::File::create(&marker)
        .and_then(|f| f.sync_all())
        .map_err(BackupError::io(&marker))?;
    sync_dir(fresh);
    Ok(())
}

fn swap(data_dir: &Path, fresh: &Path, before: &Path) -> Result<(), BackupError> {
    let parent = before.parent().expect("a sibling has a parent").to_owned();
    let had_old = fs::symlink_metadata(data_dir).is_ok();
    if had_old {
        fs::rename(data_dir, before).map_err(BackupError::io(data_dir))?;
    }
    fs::rename(fresh, data_dir).map_err(BackupError::io(fresh))?;
    sync_dir(&parent);
    tracing::info!("restore: swapped; removing the previous data dir");
    let _ = fs::remove_file(data_dir.join(COMPLETE));
    if had_old {
        remove_tree(before).map_err(BackupError::io(before))?;
    }
    Ok(())
}

/// Held by a restore for its whole run, beside the data dir: `<name>.restore-lock`. `None`
/// when another process holds it.
fn restore_lock(parent: &Path, name: &str) -> Result<Option<fs::File>, BackupError> {
    let path = parent.join(format!("{name}.restore-lock"));
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(BackupError::io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(BackupError::io(&path)(e)),
    }
}

/// Finishes or undoes an interrupted restore of `data_dir` (see the module docs); says what
/// it did, or `None` when there was nothing to do (or a restore is running right now).
pub fn recover(data_dir: &Path) -> Result<Option<String>, BackupError> {
    let Ok((parent, name)) = split(data_dir) else {
        return Ok(None);
    };
    if !parent.join(format!("{name}.restore-lock")).exists() {
        return Ok(None);
    }
    match restore_lock(&parent, &name)? {
        Some(_lock) => recover_locked(data_dir),
        None => Ok(None),
    }
}

fn recover_locked(data_dir: &Path) -> Result<Option<String>, BackupError> {
    let (parent, name) = split(data_dir)?;
    let Ok(entries) = fs::read_dir(&parent) else {
        return Ok(None);
    };
    let mut restoring = Vec::new();
    let mut before = Vec::new();
    let mut downloads = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&name) else {
            continue;
        };
        if rest.starts_with(".restoring-") {
            restoring.push(entry.path());
        } else if rest.starts_with(".before-restore-") {
            before.push(entry.path());
        } else if let Some(pid) = rest.strip_prefix(".download-") {
            // A download of a restore that is still running is its process's own.
            let running = pid.parse::<u32>().is_ok_and(|pid| {
                pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
            });
            if !running {
                downloads.push(entry.path());
            }
        }
    }
    if restoring.is_empty() && before.is_empty() && downloads.is_empty() {
        return Ok(None);
    }
    let mut said = Vec::new();
    let data_exists = fs::symlink_metadata(data_dir).is_ok();
    let complete = restoring
        .iter()
        .find(|d| d.join(COMPLETE).exists())
        .cloned();
    if !data_exists {
        if let Some(done) = &complete {
            // Killed between the two renames: the restored folder is whole.
            fs::rename(done, data_dir).map_err(BackupError::io(done))?;
            let _ = fs::remove_file(data_dir.join(COMPLETE));
            said.push("finished an interrupted restore (the restored data dir is in place)");
        } else if let Some(old) = before.first().cloned() {
            fs::rename(&old, data_dir).map_err(BackupError::io(&old))?;
            said.push("undid an interrupted restore (the previous data dir is back)");
        }
        sync_dir(&parent);
    } else if data_dir.join(COMPLETE).exists() {
        let _ = fs::remove_file(data_dir.join(COMPLETE));
        said.push("finished an interrupted restore (removed its leftovers)");
    }
    for dir in restoring.iter().chain(&before).chain(&downloads) {
        if fs::symlink_metadata(dir).is_ok() {
            if dir.is_dir() {
                remove_tree(dir).map_err(BackupError::io(dir))?;
            } else {
                fs::remove_file(dir).map_err(BackupError::io(dir))?;
            }
            if said.is_empty() {
                said.push("removed what an interrupted restore left (the data dir is as it was)");
            }
        }
    }
    Ok(Some(format!("restore: {}", said.join("; "))))
}

/// Puts the archived config file in place, never overwriting a different current one.
fn restore_config(bytes: &[u8], path: &Path, now: i64) -> Result<ConfigOutcome, BackupError> {
    match fs::read(path) {
        Ok(current) if current == bytes => Ok(ConfigOutcome::Unchanged(path.to_owned())),
        Ok(_) => {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".from-backup-{}", crate::stamp(now)));
            let archived = PathBuf::from(name);
            fs::write(&archived, bytes).map_err(BackupError::io(&archived))?;
            Ok(ConfigOutcome::KeptCurrent {
                current: path.to_owned(),
                archived,
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).map_err(BackupError::io(dir))?;
            }
            fs::write(path, bytes).map_err(BackupError::io(path))?;
            Ok(ConfigOutcome::Written(path.to_owned()))
        }
        Err(e) => Err(BackupError::io(path)(e)),
    }
}
