//! Taking a backup: a consistent snapshot of the data dir, written as one archive.
//!
//! Nothing is stopped or locked. Each part is read the way its writer keeps it consistent:
//!
//! - **The store**: the generation `store/published/CURRENT` names, the frozen copy readers
//!   open (cloudops-estate's `published`). A sync never changes a published generation; it
//!   writes a new one and keeps the one before, so the files read are immutable. If a sync
//!   publishes twice while a backup reads (the generation is dropped), the backup starts over.
//! - **The audit log**: its head (`audit.jsonl.head`, replaced atomically) is read first, then
//!   the log up to the length the head records, so the copy is exactly the chain the head
//!   vouches for; records appended meanwhile belong to the next backup.
//! - **Small files** (sync status, trusted plugins, config, plugins) are replaced atomically
//!   by their writers and read whole, once.
//!
//! Every part is hashed as it is snapshotted, and hashed again as it is written; a part that
//! changed in between (a plugin rebuilt mid-backup) makes the backup start over, up to three
//! times.

use std::fs;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use cloudops_estate::store::published;
use cloudops_estate::store::Collection;
use cloudops_seal::Sealer;
use sha2::{Digest, Sha256};

use crate::archive::Writer;
use crate::manifest::{Manifest, Part, Summary};
use crate::{archive_name, BackupError};

/// Archive path of the config file (it lives outside the data dir).
pub const CONFIG_PART: &str = "config/config.toml";

/// Entries of the data dir that a backup holds. Everything else stays out: `keys/` (the
/// estate key is never in an archive), `backups/`, `cache/` (compiled plugin code, rebuilt
/// on use), `approvals.json` (single-use approvals must not come back once consumed),
/// `sync-running.json` (a marker of a live process), `dev-builds/`, and the store's live
/// shards and locks (rebuilt from the published generation on restore).
pub const HELD: [&str; 5] = [
    "sync-status.json",
    "trusted-plugins.toml",
    "plugins",
    "audit.jsonl",
    "audit.jsonl.head",
];

/// Where a part's bytes come from.
enum Origin {
    /// A file whose extents are read when the archive is written.
    Disk(PathBuf),
    /// Bytes read once while snapshotting.
    Memory(Vec<u8>),
}

struct Source {
    part: Part,
    origin: Origin,
}

/// A backup written to disk.
#[derive(Debug, Clone)]
pub struct Created {
    /// The archive.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its manifest.
    pub manifest: Manifest,
}

/// Writes a backup of `data_dir` (and the config file `config`, if given and present) into
/// `out_dir` as `cloudops-backup-<UTC time>.cbk`, sealed for `sealer`'s estate key.
pub fn create(
    data_dir: &Path,
    config: Option<&Path>,
    sealer: &Sealer,
    out_dir: &Path,
    now: i64,
) -> Result<Created, BackupError> {
    let mut last = None;
    for _ in 0..3 {
        match create_once(data_dir, config, sealer, out_dir, now) {
            Err(BackupError::Changed(what)) => {
                tracing::info!("backup: {what} changed while it was read; starting over");
                last = Some(BackupError::Changed(what));
            }
            other => return other,
        }
    }
    Err(last.expect("three attempts"))
}

fn create_once(
    data_dir: &Path,
    config: Option<&Path>,
    sealer: &Sealer,
    out_dir: &Path,
    now: i64,
) -> Result<Created, BackupError> {
    let (sources, store_generation, summary) = snapshot(data_dir, config)?;
    let manifest = Manifest {
        created_at: now,
        cloudops_version: env!("CARGO_PKG_VERSION").to_owned(),
        key_id: sealer.key_id().to_owned(),
        store_generation,
        parts: sources.iter().map(|s| s.part.clone()).collect(),
        summary: summary.clone(),
    };
    crate::fsutil::create_private_dir(out_dir)?;
    let path = out_dir.join(archive_name(now));
    if path.exists() {
        return Err(BackupError::Io {
            path,
            message: "a backup taken in the same second already has this name; try again"
                .to_owned(),
        });
    }
    let tmp = out_dir.join(format!(".{}.{}.tmp", archive_name(now), std::process::id()));
    let written = write_archive(&tmp, &sources, &manifest, sealer, now, summary);
    let size = match written {
        Ok(size) => size,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    fs::rename(&tmp, &path).map_err(BackupError::io(&path))?;
    crate::fsutil::sync_dir(out_dir);
    Ok(Created {
        path,
        size,
        manifest,
    })
}

fn write_archive(
    tmp: &Path,
    sources: &[Source],
    manifest: &Manifest,
    sealer: &Sealer,
    now: i64,
    summary: Summary,
) -> Result<u64, BackupError> {
    let file = crate::fsutil::create_private_file(tmp)?;
    let out = BufWriter::with_capacity(1 << 20, file);
    let json = serde_json::to_vec(manifest).expect("a manifest is always JSON");
    let payload = 8 + json.len() as u64 + manifest.parts.iter().map(Part::stored).sum::<u64>();
    let mut writer =
        Writer::new(out, sealer, now, payload, summary).map_err(BackupError::io(tmp))?;
    writer
        .write_all(&(json.len() as u64).to_be_bytes())
        .and_then(|()| writer.write_all(&json))
        .map_err(BackupError::io(tmp))?;
    for source in sources {
        let digest = copy_part(source, &mut writer, tmp)?;
        if digest != source.part.sha256 {
            return Err(BackupError::Changed(source.part.path.clone()));
        }
    }
    let (out, size) = writer.finish().map_err(BackupError::io(tmp))?;
    let file = out
        .into_inner()
        .map_err(|e| BackupError::io(tmp)(e.into_error()))?;
    file.sync_all().map_err(BackupError::io(tmp))?;
    Ok(size)
}

/// Writes a part's archived bytes to `out` and returns their SHA-256 (hex).
fn copy_part(source: &Source, out: &mut impl Write, tmp: &Path) -> Result<String, BackupError> {
    let mut hasher = Sha256::new();
    match &source.origin {
        Origin::Memory(bytes) => {
            hasher.update(bytes);
            out.write_all(bytes).map_err(BackupError::io(tmp))?;
        }
        Origin::Disk(path) => {
            let mut file = match fs::File::open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(BackupError::Changed(source.part.path.clone()))
                }
                Err(e) => return Err(BackupError::io(path)(e)),
            };
            read_extents(&mut file, &source.part.extents, &mut |chunk| {
                hasher.update(chunk);
                out.write_all(chunk)
            })
            .map_err(BackupError::io(path))?;
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Calls `each` with the data of every extent, in pieces of at most 1 MiB.
fn read_extents(
    file: &mut fs::File,
    extents: &[[u64; 2]],
    each: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    for &[offset, len] in extents {
        file.seek(SeekFrom::Start(offset))?;
        let mut left = len;
        while left > 0 {
            let want = (left as usize).min(buf.len());
            file.read_exact(&mut buf[..want])?;
            each(&buf[..want])?;
            left -= want as u64;
        }
    }
    Ok(())
}

/// The parts of a backup of `data_dir`, hashed; the store generation; the summary.
fn snapshot(
    data_dir: &Path,
    config: Option<&Path>,
) -> Result<(Vec<Source>, Option<String>, Summary), BackupError> {
    let mut sources = Vec::new();
    let mut summary = Summary::default();
    let store_dir = data_dir.join("store");
    let generation =
        published::current(&store_dir).map_err(|e| BackupError::Store(e.to_string()))?;
    let store_generation = match &generation {
        Some(g) => {
            summary.estate = g.manifest.count(Collection::Estate);
            summary.chat = g.manifest.count(Collection::ChatHistory);
            summary.playbooks = g.manifest.count(Collection::Playbooks);
            let name = g
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let prefix = format!("store/{}/{name}", published::PUBLISHED_DIR);
            walk(&g.dir, &prefix, &mut sources).map_err(|e| match e.kind() {
                // The generation was dropped under us: a sync published twice.
                io::ErrorKind::NotFound => BackupError::Changed("the store".to_owned()),
                _ => BackupError::io(&g.dir)(e),
            })?;
            Some(name)
        }
        None => None,
    };
    audit_parts(data_dir, &mut sources, &mut summary)?;
    for name in ["sync-status.json", "trusted-plugins.toml"] {
        if let Some(bytes) = read_optional(&data_dir.join(name))? {
            sources.push(memory_part(name, bytes, 0o600));
            match name {
                "sync-status.json" => summary.sync_status = true,
                _ => summary.trust = true,
            }
        }
    }
    let plugins = data_dir.join("plugins");
    if plugins.is_dir() {
        summary.plugins = plugin_names(&plugins);
        walk(&plugins, "plugins", &mut sources).map_err(BackupError::io(&plugins))?;
    }
    if let Some(path) = config {
        if let Some(bytes) = read_optional(path)? {
            sources.push(memory_part(CONFIG_PART, bytes, 0o600));
            summary.config = true;
        }
    }
    for source in &mut sources {
        if let Origin::Disk(path) = &source.origin {
            let mut sink = io::sink();
            source.part.sha256 = copy_part(source, &mut sink, path)?;
        }
    }
    summary.files = sources.len() as u64;
    summary.bytes = sources.iter().map(|s| s.part.stored()).sum();
    Ok((sources, store_generation, summary))
}

/// The audit log as its head vouches for it (see the module docs), and its head.
fn audit_parts(
    data_dir: &Path,
    sources: &mut Vec<Source>,
    summary: &mut Summary,
) -> Result<(), BackupError> {
    #[derive(serde::Deserialize)]
    struct Head {
        len: u64,
    }
    let head_path = data_dir.join("audit.jsonl.head");
    let head = read_optional(&head_path)?;
    let Some(mut log) = read_optional(&data_dir.join("audit.jsonl"))? else {
        return Ok(());
    };
    let keep = match &head {
        Some(bytes) => {
            let head: Head = serde_json::from_slice(bytes).map_err(|e| {
                BackupError::Corrupt(format!(
                    "{} does not parse ({e}); run `cloudops audit verify`",
                    head_path.display()
                ))
            })?;
            head.len as usize
        }
        // No head yet: every whole line (a torn last line was never acknowledged).
        None => log.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1),
    };
    if keep > log.len() {
        return Err(BackupError::Corrupt(format!(
            "the audit log is shorter ({} bytes) than its head records ({keep}); run `cloudops \
             audit verify`",
            log.len()
        )));
    }
    log.truncate(keep);
    summary.audit_records = log.iter().filter(|b| **b == b'\n').count() as u64;
    sources.push(memory_part("audit.jsonl", log, 0o600));
    if let Some(head) = head {
        sources.push(memory_part("audit.jsonl.head", head, 0o600));
    }
    Ok(())
}

fn memory_part(path: &str, bytes: Vec<u8>, mode: u32) -> Source {
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Source {
        part: Part {
            path: path.to_owned(),
            size: bytes.len() as u64,
            extents: if bytes.is_empty() {
                Vec::new()
            } else {
                vec![[0, bytes.len() as u64]]
            },
            sha256,
            mode,
        },
        origin: Origin::Memory(bytes),
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, BackupError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BackupError::io(path)(e)),
    }
}

fn plugin_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Adds every regular file under `dir` as a disk part named `<prefix>/<relative path>`, in
/// name order (so two backups of the same state list the same parts).
fn walk(dir: &Path, prefix: &str, sources: &mut Vec<Source>) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            tracing::warn!("backup: skipped {} (not UTF-8)", entry.path().display());
            continue;
        };
        let path = entry.path();
        let archived = format!("{prefix}/{name}");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, &archived, sources)?;
        } else if kind.is_file() {
            let file = fs::File::open(&path)?;
            let meta = file.metadata()?;
            use std::os::unix::fs::PermissionsExt;
            sources.push(Source {
                part: Part {
                    path: archived,
                    size: meta.len(),
                    extents: data_extents(&file, meta.len())?,
                    sha256: String::new(),
                    mode: meta.permissions().mode() & 0o777,
                },
                origin: Origin::Disk(path),
            });
        }
    }
    Ok(())
}

/// The ranges of `file` that hold data (SEEK_DATA/SEEK_HOLE); the whole file where the
/// filesystem cannot tell holes.
fn data_extents(file: &fs::File, len: u64) -> io::Result<Vec<[u64; 2]>> {
    use rustix::fs::SeekFrom as Whence;
    let mut extents = Vec::new();
    let mut pos = 0;
    while pos < len {
        let data = match rustix::fs::seek(file, Whence::Data(pos)) {
            Ok(data) => data,
            Err(rustix::io::Errno::NXIO) => break,
            Err(rustix::io::Errno::INVAL) => return Ok(vec![[0, len]]),
            Err(e) => return Err(e.into()),
        };
        if data >= len {
            break;
        }
        let hole = rustix::fs::seek(file, Whence::Hole(data))
            .unwrap_or(len)
            .min(len);
        extents.push([data, hole - data]);
        pos = hole.max(data + 1);
    }
    Ok(extents)
}
