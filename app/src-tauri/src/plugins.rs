//! The Plugins view: installed scanners with what they may call (sensitive operations
//! marked), their trust state, drop-in installation of a built plugin folder, and the same
//! explicit trust step as `cloudops plugin trust`: nothing of a plugin runs until the user has
//! seen its grant and accepted it as it is now.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cloudops_host::paths;
use cloudops_host::plugin::gate::Grant;
use cloudops_host::plugin::limits::clean_text;
use cloudops_host::plugin::trust::TrustStatus;
use cloudops_host::plugin::{self, Limits, PluginFiles, TrustStore};
use serde::Serialize;
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// One operation a plugin may call.
#[derive(Debug, Serialize)]
pub struct Operation {
    /// `ec2:DescribeInstances`.
    pub name: String,
    /// Why it is sensitive, when it is (credentials, secrets, customer data...).
    pub sensitive: Option<&'static str>,
}

/// One installed plugin, as the trust step shows it.
#[derive(Debug, Serialize)]
pub struct PluginView {
    /// Its name (from plugin.toml).
    pub name: String,
    /// Its version.
    pub version: String,
    /// The WIT version it was built against.
    pub wit: String,
    /// Its description, stripped of control characters.
    pub description: String,
    /// Where it is installed.
    pub dir: String,
    /// The component's SHA-256.
    pub sha256: String,
    /// `trusted`, `unknown` (never trusted) or `changed: <what>`.
    pub trust: String,
    /// The AWS services it may call.
    pub services: Vec<String>,
    /// Every operation its grant allows; sensitive ones carry their reason.
    pub operations: Vec<Operation>,
    /// Why it cannot be granted at all, if so (it then never runs).
    pub refused: Option<String>,
}

/// A plugin folder that could not even be read.
#[derive(Debug, Serialize)]
pub struct Broken {
    /// The folder.
    pub dir: String,
    /// What is wrong.
    pub error: String,
}

/// The Plugins view's content.
#[derive(Debug, Serialize)]
pub struct Plugins {
    /// Readable plugins.
    pub plugins: Vec<PluginView>,
    /// Unreadable folders.
    pub broken: Vec<Broken>,
    /// Where a drop-in installation copies to.
    pub install_dir: String,
}

fn clean(s: &str) -> String {
    clean_text(s, 512)
}

fn view(files: &PluginFiles, trust: &TrustStore) -> PluginView {
    let m = files.manifest();
    let (operations, refused) = match Grant::new(&m.capabilities, Limits::default().request_caps())
    {
        Ok(grant) => (
            grant
                .operations()
                .map(|(op, why)| Operation {
                    name: op.to_string(),
                    sensitive: why,
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(clean(&e.to_string()))),
    };
    PluginView {
        name: clean(&m.name),
        version: m.version.to_string(),
        wit: m.wit.to_string(),
        description: clean(&m.description),
        dir: files.dir().display().to_string(),
        sha256: files.component_sha256(),
        trust: match trust.status(files) {
            TrustStatus::Trusted => "trusted".into(),
            TrustStatus::Unknown => "unknown".into(),
            TrustStatus::Changed(what) => {
                format!("changed: its {what} changed since it was trusted")
            }
        },
        services: m.capabilities.services.iter().map(|s| clean(s)).collect(),
        operations,
        refused,
    }
}

/// Every installed plugin, read from its files (no plugin code runs here).
#[tauri::command]
pub fn list_plugins(state: State<'_, Arc<AppState>>) -> CommandResult<Plugins> {
    let data_dir = state.data_dir();
    let trust = TrustStore::open(&paths::trust_file(data_dir)).map_err(CommandError::host)?;
    let mut out = Plugins {
        plugins: Vec::new(),
        broken: Vec::new(),
        install_dir: data_dir.join("plugins").display().to_string(),
    };
    for dir in plugin::discover(&paths::plugin_roots(data_dir)) {
        match PluginFiles::read(&dir) {
            Ok(files) => out.plugins.push(view(&files, &trust)),
            Err(e) => out.broken.push(Broken {
                dir: dir.display().to_string(),
                error: clean(&e.to_string()),
            }),
        }
    }
    Ok(out)
}

/// Copies a built plugin folder (plugin.toml and its component) into the data dir's plugin
/// folder. It arrives untrusted: the view then shows its grant for the trust step.
#[tauri::command]
pub fn install_plugin(state: State<'_, Arc<AppState>>, path: String) -> CommandResult<PluginView> {
    let source = PathBuf::from(path.trim());
    let files = PluginFiles::read(&source).map_err(|e| {
        CommandError::Invalid(format!(
            "{} is not a built plugin folder ({e}); build one with `cloudops plugin build DIR --out OUT`",
            source.display()
        ))
    })?;
    let name = files.manifest().name.clone();
    let data_dir = state.data_dir();
    let dest = data_dir.join("plugins").join(&name);
    if dest.exists() {
        return Err(CommandError::Invalid(format!(
            "a plugin `{name}` is already installed in {}: remove that folder first to replace it",
            dest.display()
        )));
    }
    copy_dir(&source, &dest).map_err(|e| {
        CommandError::Host(format!(
            "copying {} to {}: {e}",
            source.display(),
            dest.display()
        ))
    })?;
    let trust = TrustStore::open(&paths::trust_file(data_dir)).map_err(CommandError::host)?;
    let installed = PluginFiles::read(&dest).map_err(CommandError::host)?;
    Ok(view(&installed, &trust))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Trusts the installed plugin `name` as its files are now (the bytes hashed are the bytes
/// that will be loaded). The view asks first, showing the grant.
#[tauri::command]
pub fn trust_plugin(state: State<'_, Arc<AppState>>, name: String) -> CommandResult<PluginView> {
    let data_dir = state.data_dir();
    let dir = plugin::find(&paths::plugin_roots(data_dir), &name)
        .ok_or_else(|| CommandError::NotFound(format!("no plugin `{name}` is installed")))?;
    let files = PluginFiles::read(&dir).map_err(CommandError::host)?;
    let mut trust = TrustStore::open(&paths::trust_file(data_dir)).map_err(CommandError::host)?;
    trust.trust(files).map_err(CommandError::host)?;
    let files = PluginFiles::read(&dir).map_err(CommandError::host)?;
    Ok(view(&files, &trust))
}
