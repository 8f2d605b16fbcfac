//! Small file-system helpers: private folders and files, durable renames, linked copies.

use std::fs;
use std::io;
use std::path::Path;

use crate::BackupError;

/// Creates `dir` and its parents, mode 0700 for the ones it creates.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), BackupError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(BackupError::io(dir))
}

/// Creates a new file, mode 0600; fails if it exists.
pub(crate) fn create_private_file(path: &Path) -> Result<fs::File, BackupError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(BackupError::io(path))
}

/// Fsyncs a directory so that entries created or renamed in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Makes `to` hold what `from` holds: hard links where the file system allows (no data is
/// copied, and `from` is left as it is), copies elsewhere.
pub(crate) fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    let kind = fs::symlink_metadata(from)?.file_type();
    if kind.is_file() {
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        return fs::hard_link(from, to).or_else(|_| fs::copy(from, to).map(drop));
    }
    if !kind.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(to)?;
    let mode = fs::metadata(from)?.permissions();
    fs::set_permissions(to, mode)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        link_tree(&entry.path(), &to.join(entry.file_name()))?;
    }
    Ok(())
}

/// Removes a folder tree; a missing one is fine.
pub(crate) fn remove_tree(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
