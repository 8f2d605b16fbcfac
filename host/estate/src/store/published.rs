//! Published generations of the embedded store: what readers open.
//!
//! Layout under the store directory:
//!
//! ```text
//! published/CURRENT            name of the newest generation ("gen-000007"), replaced by rename
//! published/gen-000007/        a frozen copy: <collection>/segments/ for each collection, and
//!     manifest.json            how many points each collection held when it was published
//! .writing                     a writer changed the live shards since the last publication
//! ```
//!
//! A generation is written whole in `gen-N.tmp`, synced, renamed, and only then named by
//! `CURRENT`; it is never changed afterwards. So a reader that follows `CURRENT` always finds a
//! complete, consistent copy, whatever a writer is doing or however it died. The previous
//! generation is kept when a new one is published, so a reader that read `CURRENT` just before
//! the switch still finds its generation; a reader that loses even that race retries.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Collection, StoreError};

/// The folder of published generations.
pub const PUBLISHED_DIR: &str = "published";
/// Marker: the live shards hold writes no generation has yet.
pub const WRITING_MARKER: &str = ".writing";
const CURRENT: &str = "CURRENT";
const MANIFEST: &str = "manifest.json";

/// What a generation holds, written last into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Increases by one with every publication.
    pub generation: u64,
    /// Unix seconds of the publication.
    pub published_at: i64,
    /// Points in the estate collection.
    pub estate: u64,
    /// Points in the chat history collection.
    pub chat: u64,
    /// Points in the playbook index (absent from manifests written before it existed).
    #[serde(default)]
    pub playbooks: u64,
}

impl Manifest {
    /// The count recorded for `collection`.
    pub fn count(&self, collection: Collection) -> u64 {
        match collection {
            Collection::Estate => self.estate,
            Collection::ChatHistory => self.chat,
            Collection::Playbooks => self.playbooks,
        }
    }
}

/// A generation found through `CURRENT`.
#[derive(Debug, Clone)]
pub struct Generation {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

fn gen_name(generation: u64) -> String {
    format!("gen-{generation:06}")
}

/// The generation `CURRENT` names, if any.
pub fn current(store_dir: &Path) -> Result<Option<Generation>, StoreError> {
    let published = store_dir.join(PUBLISHED_DIR);
    let name = match fs::read_to_string(published.join(CURRENT)) {
        Ok(name) => name.trim().to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(damaged(store_dir, format!("cannot read {CURRENT}: {e}"))),
    };
    let dir = published.join(&name);
    let manifest_path = dir.join(MANIFEST);
    let manifest = fs::read(&manifest_path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
        .map_err(|e| damaged(store_dir, format!("{}: {e}", manifest_path.display())))?;
    Ok(Some(Generation { dir, manifest }))
}

/// The error for a store that lost data or cannot be read; says how to repair it.
pub fn damaged(store_dir: &Path, message: String) -> StoreError {
    StoreError::Damaged {
        path: store_dir.to_owned(),
        message,
    }
}

/// Writes a new generation from the live shard folders (`<store>/<collection>/segments`, which
/// the caller has flushed and keeps still) and makes it current. Returns its manifest.
pub fn publish(store_dir: &Path, counts: &[(Collection, u64)]) -> Result<Manifest, StoreError> {
    let count = |collection: Collection| {
        counts
            .iter()
            .find(|(c, _)| *c == collection)
            .map_or(0, |(_, n)| *n)
    };
    let published = store_dir.join(PUBLISHED_DIR);
    let io_error = |what: &str, e: io::Error| -> StoreError {
        disk_error(store_dir, &e).unwrap_or_else(|| StoreError::Open {
            path: store_dir.to_owned(),
            message: format!("cannot publish the store for readers ({what}): {e}"),
        })
    };
    fs::create_dir_all(&published).map_err(|e| io_error("create published/", e))?;
    let previous = current(store_dir).ok().flatten();
    let generation = previous.as_ref().map_or(1, |g| g.manifest.generation + 1);
    let needed: u64 = Collection::ALL
        .iter()
        .map(|c| dir_size(&store_dir.join(c.name()).join("segments")))
        .sum();
    super::disk::ensure_free(&published, needed + super::disk::WRITE_MARGIN)?;

    let name = gen_name(generation);
    let tmp = published.join(format!("{name}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    for collection in Collection::ALL {
        let from = store_dir.join(collection.name()).join("segments");
        let to = tmp.join(collection.name()).join("segments");
        fs::create_dir_all(&to).map_err(|e| io_error("create a generation", e))?;
        if from.is_dir() {
            copy_tree(&from, &to).map_err(|e| io_error("copy segments", e))?;
        }
    }
    let manifest = Manifest {
        generation,
        published_at: now(),
        estate: count(Collection::Estate),
        chat: count(Collection::ChatHistory),
        playbooks: count(Collection::Playbooks),
    };
    write_synced(
        &tmp.join(MANIFEST),
        &serde_json::to_vec_pretty(&manifest).expect("manifest serializes"),
    )
    .map_err(|e| io_error("write manifest.json", e))?;
    let dir = published.join(&name);
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&tmp, &dir).map_err(|e| io_error("rename the generation", e))?;
    let current_tmp = published.join(format!("{CURRENT}.tmp"));
    write_synced(&current_tmp, name.as_bytes()).map_err(|e| io_error("write CURRENT", e))?;
    fs::rename(&current_tmp, published.join(CURRENT)).map_err(|e| io_error("switch CURRENT", e))?;
    sync_dir(&published);

    // Keep the new generation and the one before it (a reader may be copying it right now).
    let keep_before = previous
        .map(|g| g.manifest.generation)
        .unwrap_or(generation);
    if let Ok(entries) = fs::read_dir(&published) {
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(n) = file_name
                .to_str()
                .and_then(|s| s.strip_prefix("gen-"))
                .map(|s| s.trim_end_matches(".tmp"))
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            if n < keep_before {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(manifest)
}

/// Copies a generation (or, `with_everything`, a whole live shard) into a reader's scratch
/// folder: the engine writes into what it opens, so readers never open shared files.
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            copy_sparse(&entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Copies a file's data and leaves its holes holes. The engine sizes its memory-mapped files
/// far beyond what they hold (an empty store is ~185 MB of mostly holes); a plain copy would
/// write all those zeros for every generation and every reader.
fn copy_sparse(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::SeekFrom as Whence;
    use std::io::{Read, Seek, SeekFrom};
    let mut src = fs::File::open(from)?;
    let len = src.metadata()?.len();
    let mut dst = fs::File::create(to)?;
    dst.set_len(len)?;
    let mut buf = vec![0u8; 1 << 20];
    let cap = buf.len();
    let mut pos = 0;
    while pos < len {
        let data = match rustix::fs::seek(&src, Whence::Data(pos)) {
            Ok(data) => data,
            // No data after `pos`: the rest is a hole.
            Err(rustix::io::Errno::NXIO) => break,
            // The filesystem cannot tell holes: copy everything.
            Err(rustix::io::Errno::INVAL) => pos,
            Err(e) => return Err(e.into()),
        };
        let hole = rustix::fs::seek(&src, Whence::Hole(data))
            .unwrap_or(len)
            .min(len);
        src.seek(SeekFrom::Start(data))?;
        dst.seek(SeekFrom::Start(data))?;
        let mut left = hole - data;
        while left > 0 {
            let n = src.read(&mut buf[..(left as usize).min(cap)])?;
            if n == 0 {
                break;
            }
            dst.write_all(&buf[..n])?;
            left -= n as u64;
        }
        pos = hole.max(data + 1);
    }
    Ok(())
}

/// Bytes the files under `dir` take on disk (holes not counted; 0 when missing).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_size(&entry.path()),
            Ok(_) => entry
                .metadata()
                .map(|m| {
                    use std::os::unix::fs::MetadataExt;
                    m.len().min(m.blocks() * 512)
                })
                .unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// Maps "no space left" to [`StoreError::DiskFull`]; `None` for other errors.
pub fn disk_error(dir: &Path, e: &io::Error) -> Option<StoreError> {
    (e.raw_os_error() == Some(28)).then(|| super::disk::full(dir))
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What a reader can tell about the store without opening it or taking its lock: for
/// `cloudops status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The generation readers see, if any.
    pub published: Option<Manifest>,
    /// A writer changed the live shards after that generation: a sync is running, or one
    /// stopped (crash, kill, full disk) before publishing. Readers see the older state.
    pub unpublished_writes: bool,
}

/// Reads [`Health`] of the embedded store in `store_dir`. Call it from `cloudops status`
/// (host/cli/src/cli/sync.rs) to report interrupted syncs and the record count readers see.
pub fn health(store_dir: &Path) -> Result<Health, StoreError> {
    Ok(Health {
        published: current(store_dir)?.map(|g| g.manifest),
        unpublished_writes: store_dir.join(WRITING_MARKER).exists(),
    })
}
