//! What the user has accepted to run: the hashes of each plugin's manifest and component
//! when it was first used (or built, or explicitly trusted).
//!
//! The component hash in `plugin.toml` catches a damaged or swapped component, but not an
//! edited manifest: someone could widen `capabilities` by hand. Recording both hashes on
//! first use and refusing any later change (until `cloudops plugin trust NAME`) closes that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::runtime::MANIFEST_FILE;
use super::{Plugin, PluginError};

/// The recorded hashes of one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustEntry {
    /// sha256 of `plugin.toml`.
    pub manifest_sha256: String,
    /// sha256 of the component (as the manifest states and the loader verified).
    pub component_sha256: String,
}

/// The trust file, `<data dir>/trusted-plugins.toml`.
#[derive(Debug)]
pub struct TrustStore {
    path: PathBuf,
    entries: BTreeMap<String, TrustEntry>,
}

/// What [`TrustStore::check`] concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Seen before, unchanged.
    Known,
    /// Never seen: recorded now.
    FirstUse,
}

impl TrustStore {
    /// Opens (or starts) the trust file at `path`.
    pub fn open(path: &Path) -> Result<Self, PluginError> {
        let entries = match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| PluginError::Invalid {
                plugin: "*".into(),
                reason: format!(
                    "{} is not a valid trust file ({e}); remove it to trust the installed plugins again",
                    path.display()
                ),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(PluginError::Io {
                    plugin: "*".into(),
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    /// Accepts `plugin` if it matches what was recorded, records it on first use, and
    /// refuses it if its manifest or component changed since.
    pub fn check(&mut self, plugin: &Plugin) -> Result<Verdict, PluginError> {
        let entry = entry_for(plugin)?;
        match self.entries.get(plugin.name()) {
            Some(known) if *known == entry => Ok(Verdict::Known),
            Some(known) => {
                let what = if known.component_sha256 != entry.component_sha256 {
                    "component"
                } else {
                    "plugin.toml"
                };
                Err(PluginError::Untrusted {
                    plugin: plugin.name().to_owned(),
                    dir: plugin.dir().to_owned(),
                    what,
                    trust_file: self.path.clone(),
                })
            }
            None => {
                self.entries.insert(plugin.name().to_owned(), entry);
                self.save()?;
                tracing::info!(plugin = plugin.name(), dir = %plugin.dir().display(), "trusting a new plugin on first use");
                Ok(Verdict::FirstUse)
            }
        }
    }

    /// Records `plugin` as it is now, replacing what was recorded.
    pub fn trust(&mut self, plugin: &Plugin) -> Result<(), PluginError> {
        self.entries
            .insert(plugin.name().to_owned(), entry_for(plugin)?);
        self.save()
    }

    fn save(&self) -> Result<(), PluginError> {
        let io = |source| PluginError::Io {
            plugin: "*".into(),
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let text = toml::to_string_pretty(&self.entries).expect("string maps serialize");
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(io)
    }
}

fn entry_for(plugin: &Plugin) -> Result<TrustEntry, PluginError> {
    let path = plugin.dir().join(MANIFEST_FILE);
    let bytes = std::fs::read(&path).map_err(|source| PluginError::Io {
        plugin: plugin.name().to_owned(),
        path,
        source,
    })?;
    Ok(TrustEntry {
        manifest_sha256: hex::encode(Sha256::digest(&bytes)),
        component_sha256: plugin
            .manifest()
            .component
            .as_ref()
            .map(|c| c.sha256.to_ascii_lowercase())
            .unwrap_or_default(),
    })
}
