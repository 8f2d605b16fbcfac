//! A library of playbooks: every file checked, then what spans files (unique ids, inverses
//! that exist, components that are there). A library with any error is refused whole, so a
//! planner never serves half of a broken commit.

use std::collections::BTreeMap;
use std::path::Path;

use crate::check::{check, Diagnostic};
use crate::model::Playbook;

/// Checked playbooks, by id.
#[derive(Debug, Clone, Default)]
pub struct Library {
    playbooks: BTreeMap<String, Playbook>,
    files: BTreeMap<String, Vec<u8>>,
}

/// The built component in a component crate's folder. It is built from the crate's source
/// (`cloudops playbook build`), never committed: a library holds reviewable source, and the
/// planner, which never runs components, needs only to know the crate is there.
pub const COMPONENT_FILE: &str = "component.wasm";

/// Files bigger than this are refused: a playbook is a page of YAML.
pub const MAX_FILE_BYTES: usize = 256 * 1024;

impl Library {
    /// Checks playbook files given as (path relative to the library, bytes). `.yaml` and
    /// `.yml` files are playbooks; every other file is kept for playbooks that reference it
    /// (a component crate's `Cargo.toml` and its built [`COMPONENT_FILE`]). Returns every error of every file.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Result<Library, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let mut playbooks: BTreeMap<String, Playbook> = BTreeMap::new();
        let mut others = BTreeMap::new();
        for (path, bytes) in files {
            if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
                others.insert(path, bytes);
                continue;
            }
            let at_top = |message: String| Diagnostic {
                file: path.clone(),
                line: 0,
                column: 0,
                message,
            };
            if bytes.len() > MAX_FILE_BYTES {
                errors.push(at_top(format!(
                    "{} bytes: a playbook may be at most {MAX_FILE_BYTES}",
                    bytes.len()
                )));
                continue;
            }
            let Ok(text) = std::str::from_utf8(&bytes) else {
                errors.push(at_top("not UTF-8 text".into()));
                continue;
            };
            match check(&path, text) {
                Ok(p) => {
                    if let Some(first) = playbooks.get(&p.id) {
                        errors.push(at_top(format!(
                            "id `{}` is also the id of {}: ids are unique",
                            p.id, first.file
                        )));
                    } else {
                        playbooks.insert(p.id.clone(), p);
                    }
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        for p in playbooks.values_mut() {
            pin_scripts(p, &others, &mut errors);
        }
        for p in playbooks.values() {
            let at_top = |message: String| Diagnostic {
                file: p.file.clone(),
                line: 0,
                column: 0,
                message,
            };
            if let Some(inverse) = &p.inverse {
                if !playbooks.contains_key(inverse) {
                    errors.push(at_top(format!(
                        "inverse `{inverse}` is no playbook of this library"
                    )));
                }
            }
            if let Some(component) = &p.component {
                let path = format!("{}/Cargo.toml", relative_to(&p.file, component));
                if !others.contains_key(&path) {
                    errors.push(at_top(format!(
                        "component `{component}` is not in the library (looked for its crate's \
                         {path}; `cloudops playbook new` makes one)"
                    )));
                }
            }
        }
        if errors.is_empty() {
            Ok(Library {
                playbooks,
                files: others,
            })
        } else {
            errors.sort();
            Err(errors)
        }
    }

    /// Reads and checks every file under `dir` (hidden folders and `target/` skipped).
    pub fn load_dir(dir: &Path) -> Result<Library, Vec<Diagnostic>> {
        Library::from_files(read_dir(dir)?)
    }

    /// The playbook with this id.
    pub fn get(&self, id: &str) -> Option<&Playbook> {
        self.playbooks.get(id)
    }

    /// Every playbook, by id.
    pub fn playbooks(&self) -> impl ExactSizeIterator<Item = &Playbook> {
        self.playbooks.values()
    }

    /// How many playbooks.
    pub fn len(&self) -> usize {
        self.playbooks.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.playbooks.is_empty()
    }

    /// The folder of a playbook's component crate, relative to the library, when it has one.
    pub fn component_dir(&self, playbook: &Playbook) -> Option<String> {
        Some(relative_to(&playbook.file, playbook.component.as_deref()?))
    }

    /// The bytes of a playbook's built component (`COMPONENT_FILE` in its crate folder, which
    /// `cloudops playbook build` writes), when it has one and it was built.
    pub fn component(&self, playbook: &Playbook) -> Option<&[u8]> {
        let path = format!("{}/{COMPONENT_FILE}", self.component_dir(playbook)?);
        self.files.get(&path).map(Vec::as_slice)
    }
}

/// The files a library folder holds, as [`Library::from_files`] takes them (relative path,
/// bytes; hidden folders and `target/` skipped, only what [`is_library_file`] keeps).
pub fn read_dir(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, Vec<Diagnostic>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    walk(dir, dir, &mut files, &mut errors);
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

/// Whether a file (its path relative to the library, `/`-separated) is one a library reads:
/// playbooks (`.yaml`, `.yml`), built components (`.wasm`), the `Cargo.toml` that marks a
/// component crate (its sources are the builder's business) and the files of `scripts/`
/// folders (what `script` steps run). Every reader of a library — a folder, a Git commit —
/// asks this one function.
pub fn is_library_file(relative: &str) -> bool {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    relative.ends_with(".yaml")
        || relative.ends_with(".yml")
        || relative.ends_with(".wasm")
        || name == "Cargo.toml"
        || is_script_file(relative)
}

/// Whether a library path is a script a `script` step may run: a file in a folder named
/// `scripts` (at any depth).
pub fn is_script_file(relative: &str) -> bool {
    relative
        .rsplit_once('/')
        .is_some_and(|(dir, name)| !name.is_empty() && dir.split('/').any(|d| d == "scripts"))
}

/// Fills in the SHA-256 of each of `playbook`'s scripts from the library's files; a script
/// that is not there is an error at the top of the playbook.
fn pin_scripts(
    playbook: &mut Playbook,
    files: &BTreeMap<String, Vec<u8>>,
    errors: &mut Vec<Diagnostic>,
) {
    use sha2::{Digest, Sha256};
    for step in &mut playbook.steps {
        let Some(script) = &mut step.script else {
            continue;
        };
        match files.get(&script.path) {
            Some(bytes) => script.sha256 = hex::encode(Sha256::digest(bytes)),
            None => errors.push(Diagnostic {
                file: playbook.file.clone(),
                line: 0,
                column: 0,
                message: format!(
                    "step `{}`: script `{}` is not in the library (a script lives in a scripts/ folder)",
                    step.id, script.path
                ),
            }),
        }
    }
}

/// `reference` resolved against the folder of `file` (both relative to the library).
fn relative_to(file: &str, reference: &str) -> String {
    match file.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{reference}"),
        None => reference.to_owned(),
    }
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>, errors: &mut Vec<Diagnostic>) {
    let io_error = |path: &Path, e: std::io::Error| Diagnostic {
        file: path.display().to_string(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return errors.push(io_error(dir, e)),
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(root, &path, files, errors);
        } else if kind.is_file() {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            if !is_library_file(&relative) {
                continue;
            }
            match std::fs::read(&path) {
                Ok(bytes) => files.push((relative, bytes)),
                Err(e) => errors.push(io_error(&path, e)),
            }
        }
    }
}
