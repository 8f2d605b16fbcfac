//! The playbook library from a Git repository: a folder or a URL, and a ref.
//!
//! Everything goes through the `git` command with an argument vector (never a shell string)
//! and `GIT_TERMINAL_PROMPT=0`, so a URL that wants a password fails instead of waiting on a
//! terminal. A URL is cloned bare into a cache folder once and fetched on every reload; a folder
//! is read in place (its working tree is never looked at: only the commit the ref names).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use cloudops_playbook::library::MAX_FILE_BYTES;
use cloudops_playbook::Diagnostic;

/// How long one `git` command may take (a clone or fetch of a slow remote included).
const GIT_TIMEOUT: Duration = Duration::from_secs(120);

/// Why the library could not be read from Git (not: why it is broken; that is a
/// [`Diagnostic`] list).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `git` itself failed.
    #[error("git {args} failed: {message}")]
    Git {
        /// The arguments, for the reader to run again.
        args: String,
        /// What git said.
        message: String,
    },
    /// The ref names no commit.
    #[error("`{reference}` names no commit in {repo}: give an existing branch, tag or commit with --ref")]
    NoSuchRef {
        /// The ref.
        reference: String,
        /// The repository.
        repo: String,
    },
    /// The folder is no repository.
    #[error("{0} is not a Git repository (or a URL): give a folder with a .git, a bare repository or a URL to --playbooks")]
    NotARepository(String),
}

/// Where the library comes from.
#[derive(Debug)]
pub struct Source {
    /// The repository as given (for messages).
    pub given: String,
    /// The Git directory or work tree git runs in.
    repo: PathBuf,
    /// Fetched before resolving when the library is a URL.
    remote: bool,
    /// The ref to follow.
    reference: String,
    /// Only files under this folder of the repository, the prefix stripped (empty: all).
    subdir: String,
}

/// True when `repo` is a URL (`scheme://...` or scp-like `user@host:path`), not a folder.
pub fn is_url(repo: &str) -> bool {
    if repo.contains("://") {
        return true;
    }
    // scp-like: `host:path` with no slash before the colon; a folder never has one on Linux
    // in practice, and `./a:b` is still a folder.
    match repo.split_once(':') {
        Some((host, _)) => !host.is_empty() && !host.contains('/'),
        None => false,
    }
}

impl Source {
    /// Opens the repository: a folder as is, a URL cloned bare into `cache` (under a folder
    /// named after the URL's hash, reused when it is already there).
    pub async fn open(
        given: &str,
        reference: &str,
        subdir: &str,
        cache: &Path,
    ) -> Result<Source, SourceError> {
        let subdir = subdir.trim_matches('/').to_owned();
        let (repo, remote) = if is_url(given) {
            let name = hex::encode(&Sha256::digest(given.as_bytes())[..8]);
            let dir = cache.join(format!("playbooks-{name}.git"));
            if !dir.join("HEAD").exists() {
                let target = dir.to_string_lossy().into_owned();
                git(cache, &["clone", "--bare", "--quiet", "--", given, &target]).await?;
            }
            (dir, true)
        } else {
            let dir = PathBuf::from(given);
            let inside = git(&dir, &["rev-parse", "--git-dir"]).await;
            if !dir.is_dir() || inside.is_err() {
                return Err(SourceError::NotARepository(given.to_owned()));
            }
            (dir, false)
        };
        Ok(Source {
            given: given.to_owned(),
            repo,
            remote,
            reference: reference.to_owned(),
            subdir,
        })
    }

    /// The commit the ref names now (after a fetch, for a URL).
    pub async fn resolve(&self) -> Result<String, SourceError> {
        if self.remote {
            // Branches and tags as the remote has them now, deleted ones pruned.
            git(
                &self.repo,
                &[
                    "fetch",
                    "--quiet",
                    "--prune",
                    "--force",
                    "origin",
                    "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*",
                ],
            )
            .await?;
        }
        let spec = format!("{}^{{commit}}", self.reference);
        match git(&self.repo, &["rev-parse", "--verify", "--quiet", &spec]).await {
            Ok(out) => Ok(String::from_utf8_lossy(&out).trim().to_owned()),
            Err(_) => Err(SourceError::NoSuchRef {
                reference: self.reference.clone(),
                repo: self.given.clone(),
            }),
        }
    }

    /// The library's files at `commit` (paths relative to the library folder): playbooks
    /// (`.yaml`, `.yml`), components (`.wasm`) and component crates' `Cargo.toml` (as
    /// `cloudops_playbook::library::is_library_file` says), hidden folders and `target/` skipped as
    /// [`cloudops_playbook::Library::load_dir`] does. A file over the library's size limit is
    /// reported, not read.
    pub async fn files(&self, commit: &str) -> Result<Files, SourceError> {
        let listing = git(
            &self.repo,
            &["ls-tree", "-r", "-z", "-l", "--full-tree", commit],
        )
        .await?;
        let mut wanted = Vec::new();
        let mut too_big = Vec::new();
        for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            // `<mode> SP <type> SP <object> SP+ <size> TAB <path>`
            let Some((meta, path)) = entry.split_once('\t') else {
                continue;
            };
            let fields: Vec<&str> = meta.split_whitespace().collect();
            let [_, "blob", object, size] = fields[..] else {
                continue;
            };
            let Some(relative) = self.relative(path) else {
                continue;
            };
            let size: usize = size.parse().unwrap_or(usize::MAX);
            if size > MAX_FILE_BYTES && !relative.ends_with(".wasm") {
                too_big.push(Diagnostic {
                    file: relative,
                    line: 0,
                    column: 0,
                    message: format!("{size} bytes: a playbook may be at most {MAX_FILE_BYTES}"),
                });
            } else {
                wanted.push((relative, object.to_owned()));
            }
        }
        if !too_big.is_empty() {
            return Ok(Files::Refused(too_big));
        }
        let objects: Vec<&str> = wanted.iter().map(|(_, o)| o.as_str()).collect();
        let contents = cat_blobs(&self.repo, &objects).await?;
        let files = wanted.into_iter().map(|(path, _)| path).zip(contents);
        Ok(Files::Read(files.collect()))
    }

    /// `path` relative to the library folder when it is a library file.
    fn relative(&self, path: &str) -> Option<String> {
        let inside = if self.subdir.is_empty() {
            path
        } else {
            path.strip_prefix(&self.subdir)?.strip_prefix('/')?
        };
        let hidden = inside
            .split('/')
            .any(|part| part.starts_with('.') || part == "target");
        let wanted = cloudops_playbook::library::is_library_file(inside);
        (wanted && !hidden).then(|| inside.to_owned())
    }
}

/// A commit's library files, or why they were not read.
#[derive(Debug)]
pub enum Files {
    /// (path, bytes), for [`cloudops_playbook::Library::from_files`].
    Read(Vec<(String, Vec<u8>)>),
    /// Files too big to be playbooks.
    Refused(Vec<Diagnostic>),
}

/// Runs `git args...` in `dir` and returns its standard output.
async fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, SourceError> {
    let failed = |message: String| SourceError::Git {
        args: args.join(" "),
        message,
    };
    let mut command = base_command(dir);
    command.args(args).stdin(Stdio::null());
    let output = tokio::time::timeout(GIT_TIMEOUT, command.output())
        .await
        .map_err(|_| failed(format!("no answer after {} s", GIT_TIMEOUT.as_secs())))?
        .map_err(|e| failed(format!("cannot run git ({e}); install Git")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(failed(format!("{} ({})", stderr, output.status)));
    }
    Ok(output.stdout)
}

fn base_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        // The server's own settings only: no pager, no editor, no askpass helper.
        .env("GIT_PAGER", "cat")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .kill_on_drop(true);
    command
}

/// The contents of `objects`, in order, through one `git cat-file --batch`.
async fn cat_blobs(repo: &Path, objects: &[&str]) -> Result<Vec<Vec<u8>>, SourceError> {
    let failed = |message: String| SourceError::Git {
        args: "cat-file --batch".into(),
        message,
    };
    let mut child = base_command(repo)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failed(format!("cannot run git ({e}); install Git")))?;
    let mut stdin = child.stdin.take().expect("piped");
    let input: String = objects.iter().map(|o| format!("{o}\n")).collect();
    // Written while the output is read: git answers as it reads, and a full pipe would block.
    let writer = tokio::spawn(async move {
        let result = stdin.write_all(input.as_bytes()).await;
        drop(stdin);
        result
    });
    let mut output = Vec::new();
    let mut stdout = child.stdout.take().expect("piped");
    let read = stdout.read_to_end(&mut output);
    tokio::time::timeout(GIT_TIMEOUT, read)
        .await
        .map_err(|_| failed("no answer".into()))?
        .map_err(|e| failed(e.to_string()))?;
    let _ = writer.await;
    let _ = child.wait().await;
    split_batch(&output, objects.len()).ok_or_else(|| failed("unexpected output".into()))
}

/// Splits `<object> blob <size>\n<bytes>\n` records.
fn split_batch(mut output: &[u8], count: usize) -> Option<Vec<Vec<u8>>> {
    let mut contents = Vec::with_capacity(count);
    for _ in 0..count {
        let newline = output.iter().position(|b| *b == b'\n')?;
        let header = std::str::from_utf8(&output[..newline]).ok()?;
        let size: usize = header.rsplit(' ').next()?.parse().ok()?;
        let body = output.get(newline + 1..newline + 1 + size)?;
        contents.push(body.to_vec());
        output = output.get(newline + 2 + size..).unwrap_or_default();
    }
    Some(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_folders_are_told_apart() {
        assert!(is_url("https://github.com/org/playbooks.git"));
        assert!(is_url("file:///srv/playbooks"));
        assert!(is_url("git@github.com:org/playbooks.git"));
        assert!(!is_url("/srv/playbooks"));
        assert!(!is_url("playbooks"));
        assert!(!is_url("./a:b"));
    }

    #[test]
    fn batch_output_is_split_by_sizes() {
        let out = b"aa blob 3\nabc\nbb blob 0\n\ncc blob 2\n\n\n\n";
        let parts = split_batch(out, 3).unwrap();
        assert_eq!(parts, vec![b"abc".to_vec(), vec![], b"\n\n".to_vec()]);
        assert_eq!(split_batch(b"aa missing\n", 1), None);
    }
}
