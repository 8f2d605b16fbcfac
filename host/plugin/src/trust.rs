//! What the user has accepted to run, and the only way to get a plugin past that check.
//!
//! A plugin folder is read once into [`PluginFiles`]: the manifest bytes are hashed and
//! parsed from the same buffer, and the component bytes are hashed and later compiled from
//! the same buffer, so nothing can be swapped between the check and the use. The hashes are
//! compared with `<data dir>/trusted-plugins.toml`, which only an explicit act writes:
//! `cloudops plugin trust NAME`, or `cloudops plugin build` installing what it just built
//! from the source the user pointed at. An unknown or changed plugin is refused before any
//! of its code is compiled or run. [`Trusted`] is the proof of a passed check, and
//! [`Plugin::load`] takes nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::manifest::Manifest;
use super::runtime::MANIFEST_FILE;
use super::{Limits, Plugin, PluginEngine, PluginError};

/// The recorded hashes of one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustEntry {
    /// sha256 of `plugin.toml`.
    pub manifest_sha256: String,
    /// sha256 of the component (as the manifest states and the loader verified).
    pub component_sha256: String,
}

/// A built plugin folder read once: the manifest parsed from the bytes that were hashed,
/// and the component bytes, checked against the manifest's sha256. Reading runs no plugin
/// code.
#[derive(Clone)]
pub struct PluginFiles {
    dir: PathBuf,
    manifest: Manifest,
    manifest_sha256: String,
    component: Vec<u8>,
}

impl std::fmt::Debug for PluginFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginFiles")
            .field("dir", &self.dir)
            .field("name", &self.manifest.name)
            .field("manifest_sha256", &self.manifest_sha256)
            .field("component_bytes", &self.component.len())
            .finish()
    }
}

impl PluginFiles {
    /// Reads `dir/plugin.toml` and the component it names, each exactly once.
    pub fn read(dir: &Path) -> Result<Self, PluginError> {
        let path = dir.join(MANIFEST_FILE);
        let manifest_bytes = std::fs::read(&path).map_err(|source| {
            PluginError::Manifest(super::manifest::ManifestError::Io {
                path: path.clone(),
                source,
            })
        })?;
        let manifest = parse_manifest(&manifest_bytes, &path)?;
        let Some(spec) = &manifest.component else {
            return Err(PluginError::NotBuilt {
                plugin: manifest.name,
                dir: dir.to_owned(),
            });
        };
        let file = dir.join(&spec.file);
        let component = std::fs::read(&file).map_err(|source| PluginError::Io {
            plugin: manifest.name.clone(),
            path: file,
            source,
        })?;
        Self::from_bytes(dir, &manifest_bytes, component)
    }

    /// The plugin in `dir` made of these bytes (what `plugin build` just wrote there).
    pub fn from_bytes(
        dir: &Path,
        manifest_bytes: &[u8],
        component: Vec<u8>,
    ) -> Result<Self, PluginError> {
        let path = dir.join(MANIFEST_FILE);
        let manifest = parse_manifest(manifest_bytes, &path)?;
        let Some(spec) = &manifest.component else {
            return Err(PluginError::NotBuilt {
                plugin: manifest.name,
                dir: dir.to_owned(),
            });
        };
        let actual = hex::encode(Sha256::digest(&component));
        if !actual.eq_ignore_ascii_case(&spec.sha256) {
            return Err(PluginError::Tampered {
                plugin: manifest.name.clone(),
                file: dir.join(&spec.file),
                expected: spec.sha256.clone(),
                actual,
            });
        }
        Ok(Self {
            dir: dir.to_owned(),
            manifest,
            manifest_sha256: hex::encode(Sha256::digest(manifest_bytes)),
            component,
        })
    }

    /// The plugin's name, from its manifest.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The folder the files were read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest, parsed from the bytes that were hashed.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The component's bytes, verified against the manifest's sha256.
    pub fn component(&self) -> &[u8] {
        &self.component
    }

    /// The component's sha256 (lowercase hex).
    pub fn component_sha256(&self) -> String {
        self.manifest
            .component
            .as_ref()
            .map(|c| c.sha256.to_ascii_lowercase())
            .expect("PluginFiles holds only built manifests")
    }

    /// What trusting these files records.
    pub fn entry(&self) -> TrustEntry {
        TrustEntry {
            manifest_sha256: self.manifest_sha256.clone(),
            component_sha256: self.component_sha256(),
        }
    }
}

fn parse_manifest(bytes: &[u8], path: &Path) -> Result<Manifest, PluginError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        PluginError::Manifest(super::manifest::ManifestError::Syntax {
            path: path.to_owned(),
            message: format!("not UTF-8 ({e})"),
        })
    })?;
    Ok(Manifest::parse(text, path)?)
}

/// Plugin files whose hashes the trust file records: the only thing [`Plugin::load`]
/// accepts, so no plugin code can run before the check.
#[derive(Debug)]
pub struct Trusted(PluginFiles);

impl Trusted {
    /// The checked files.
    pub fn files(&self) -> &PluginFiles {
        &self.0
    }

    pub(super) fn into_files(self) -> PluginFiles {
        self.0
    }
}

/// How a plugin stands against the trust file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustStatus {
    /// Recorded, and unchanged since.
    Trusted,
    /// Never trusted.
    Unknown,
    /// Trusted once; this part changed since (`component` or `plugin.toml`).
    Changed(&'static str),
}

/// The trust file, `<data dir>/trusted-plugins.toml`.
#[derive(Debug)]
pub struct TrustStore {
    /// `None`: trust lasts for this process only (plugins under development, tests).
    path: Option<PathBuf>,
    entries: BTreeMap<String, TrustEntry>,
}

impl TrustStore {
    /// Opens (or starts) the trust file at `path`.
    pub fn open(path: &Path) -> Result<Self, PluginError> {
        Ok(Self {
            path: Some(path.to_owned()),
            entries: read_entries(path)?,
        })
    }

    /// A store that records nothing on disk: for plugins built from source to be tested
    /// right away (`plugin test`, `plugin record`), which are not installed.
    pub fn in_memory() -> Self {
        Self {
            path: None,
            entries: BTreeMap::new(),
        }
    }

    /// How `files` stands against what was recorded.
    pub fn status(&self, files: &PluginFiles) -> TrustStatus {
        let entry = files.entry();
        match self.entries.get(files.name()) {
            Some(known) if *known == entry => TrustStatus::Trusted,
            Some(known) if known.component_sha256 != entry.component_sha256 => {
                TrustStatus::Changed("component")
            }
            Some(_) => TrustStatus::Changed(MANIFEST_FILE),
            None => TrustStatus::Unknown,
        }
    }

    /// Accepts `files` only if the trust file records exactly these hashes. Never records
    /// anything: an unknown plugin is refused with the command that trusts it.
    pub fn check(&self, files: PluginFiles) -> Result<Trusted, PluginError> {
        let trust_file = self.display_path();
        match self.status(&files) {
            TrustStatus::Trusted => Ok(Trusted(files)),
            TrustStatus::Unknown => Err(PluginError::NotTrusted {
                plugin: files.name().to_owned(),
                dir: files.dir().to_owned(),
                trust_file,
            }),
            TrustStatus::Changed(what) => Err(PluginError::Untrusted {
                plugin: files.name().to_owned(),
                dir: files.dir().to_owned(),
                what,
                trust_file,
            }),
        }
    }

    /// Records `files` as they are, replacing what was recorded for that name, and
    /// returns them as trusted.
    pub fn trust(&mut self, files: PluginFiles) -> Result<Trusted, PluginError> {
        self.entries.insert(files.name().to_owned(), files.entry());
        if let Some(path) = &self.path {
            // Another process may have trusted other plugins since we opened the file.
            let mut on_disk = read_entries(path)?;
            on_disk.insert(files.name().to_owned(), files.entry());
            save(path, &on_disk)?;
            self.entries = on_disk;
        }
        tracing::info!(plugin = files.name(), dir = %files.dir().display(), "trusted plugin");
        Ok(Trusted(files))
    }

    /// Reads the plugin in `dir`, checks it against this store, and only then compiles it
    /// and asks it to describe itself.
    pub fn load(
        &self,
        engine: &PluginEngine,
        dir: &Path,
        limits: Limits,
    ) -> Result<Plugin, PluginError> {
        let trusted = self.check(PluginFiles::read(dir)?)?;
        Plugin::load(engine, trusted, limits)
    }

    fn display_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from("the in-memory trust list"))
    }
}

fn read_entries(path: &Path) -> Result<BTreeMap<String, TrustEntry>, PluginError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| PluginError::Invalid {
            plugin: "*".into(),
            reason: format!(
                "{} is not a valid trust file ({e}); remove it, then trust each plugin again \
                 with `cloudops plugin trust NAME`",
                path.display()
            ),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(source) => Err(PluginError::Io {
            plugin: "*".into(),
            path: path.to_owned(),
            source,
        }),
    }
}

fn save(path: &Path, entries: &BTreeMap<String, TrustEntry>) -> Result<(), PluginError> {
    let io = |source| PluginError::Io {
        plugin: "*".into(),
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let text = toml::to_string_pretty(entries).expect("string maps serialize");
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ComponentSpec;

    /// Not WebAssembly at all: compiling it fails with `Invalid`. A load that returns any
    /// other error therefore never reached the compiler.
    const NOT_WASM: &[u8] = b"this would be compiled if trust were checked too late";

    fn write_plugin(dir: &Path, actions: &str, component: &[u8]) {
        write_named(dir, "probe", actions, component);
    }

    fn write_named(dir: &Path, name: &str, actions: &str, component: &[u8]) {
        let mut manifest = Manifest::parse(
            &format!(
                "name = \"{name}\"\nversion = \"0.1.0\"\nwit = \"0.2.0\"\n\
                 [capabilities]\nservices = [\"ec2\"]\nactions = [{actions}]\n"
            ),
            Path::new(MANIFEST_FILE),
        )
        .unwrap();
        manifest.component = Some(ComponentSpec {
            file: "probe.wasm".into(),
            sha256: hex::encode(Sha256::digest(component)),
        });
        std::fs::write(dir.join("probe.wasm"), component).unwrap();
        std::fs::write(dir.join(MANIFEST_FILE), manifest.to_toml()).unwrap();
    }

    fn engine() -> PluginEngine {
        PluginEngine::new(None).unwrap()
    }

    #[test]
    fn an_unknown_plugin_is_refused_before_it_is_compiled() {
        let plugin = tempfile::tempdir().unwrap();
        write_plugin(plugin.path(), "\"ec2:Describe*\"", NOT_WASM);
        let data = tempfile::tempdir().unwrap();
        let trust_file = data.path().join("trusted-plugins.toml");
        let store = TrustStore::open(&trust_file).unwrap();
        let engine = engine();

        let err = store
            .load(&engine, plugin.path(), Limits::default())
            .unwrap_err();
        assert!(matches!(err, PluginError::NotTrusted { .. }), "{err}");
        assert!(
            err.to_string().contains("cloudops plugin trust probe"),
            "{err}"
        );
        assert_eq!(engine.cache_stats().compiled, 0);
        // Checking is not trusting: nothing was recorded, a second look refuses again.
        assert!(!trust_file.exists());
        let again = TrustStore::open(&trust_file).unwrap();
        assert_eq!(
            again.status(&PluginFiles::read(plugin.path()).unwrap()),
            TrustStatus::Unknown
        );

        // Once trusted, the same files go on to the compiler (which refuses non-wasm).
        let mut store = TrustStore::open(&trust_file).unwrap();
        store
            .trust(PluginFiles::read(plugin.path()).unwrap())
            .unwrap();
        let err = TrustStore::open(&trust_file)
            .unwrap()
            .load(&engine, plugin.path(), Limits::default())
            .unwrap_err();
        assert!(matches!(err, PluginError::Invalid { .. }), "{err}");
        assert_eq!(engine.cache_stats().compiled, 1);
    }

    #[test]
    fn a_changed_manifest_is_refused_with_the_command_that_trusts_it() {
        let plugin = tempfile::tempdir().unwrap();
        write_plugin(plugin.path(), "\"ec2:Describe*\"", NOT_WASM);
        let mut store = TrustStore::in_memory();
        store
            .trust(PluginFiles::read(plugin.path()).unwrap())
            .unwrap();

        write_plugin(
            plugin.path(),
            "\"ec2:Describe*\", \"ec2:TerminateInstances\"",
            NOT_WASM,
        );
        let files = PluginFiles::read(plugin.path()).unwrap();
        assert_eq!(store.status(&files), TrustStatus::Changed(MANIFEST_FILE));
        let err = store.check(files).unwrap_err();
        assert!(matches!(err, PluginError::Untrusted { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("plugin.toml") && text.contains("cloudops plugin trust probe"),
            "{text}"
        );
    }

    #[test]
    fn a_changed_component_is_refused() {
        let plugin = tempfile::tempdir().unwrap();
        write_plugin(plugin.path(), "\"ec2:Describe*\"", NOT_WASM);
        let mut store = TrustStore::in_memory();
        store
            .trust(PluginFiles::read(plugin.path()).unwrap())
            .unwrap();
        write_plugin(plugin.path(), "\"ec2:Describe*\"", b"other bytes");
        let files = PluginFiles::read(plugin.path()).unwrap();
        assert_eq!(store.status(&files), TrustStatus::Changed("component"));
    }

    #[test]
    fn the_trust_entry_is_computed_from_the_parsed_bytes() {
        let plugin = tempfile::tempdir().unwrap();
        write_plugin(plugin.path(), "\"ec2:Describe*\"", NOT_WASM);
        let original = std::fs::read(plugin.path().join(MANIFEST_FILE)).unwrap();
        let files = PluginFiles::read(plugin.path()).unwrap();

        // Swap the manifest after it was read: the files keep what was read, and the hash
        // recorded is the hash of the bytes that were parsed, not of what is on disk now.
        write_plugin(
            plugin.path(),
            "\"ec2:Describe*\", \"ec2:TerminateInstances\"",
            NOT_WASM,
        );
        assert_eq!(
            files.entry().manifest_sha256,
            hex::encode(Sha256::digest(&original))
        );
        assert_eq!(
            files.manifest().capabilities.actions,
            Some(vec!["ec2:Describe*".to_owned()])
        );
        let mut store = TrustStore::in_memory();
        let trusted = store.trust(files).unwrap();
        assert_eq!(
            trusted.files().manifest().capabilities.actions,
            Some(vec!["ec2:Describe*".to_owned()])
        );
        // The widened manifest on disk is not what was trusted.
        let now = PluginFiles::read(plugin.path()).unwrap();
        assert_eq!(store.status(&now), TrustStatus::Changed(MANIFEST_FILE));
    }

    #[test]
    fn a_component_that_does_not_match_its_manifest_is_refused_on_read() {
        let plugin = tempfile::tempdir().unwrap();
        write_plugin(plugin.path(), "\"ec2:Describe*\"", NOT_WASM);
        std::fs::write(plugin.path().join("probe.wasm"), b"swapped").unwrap();
        let err = PluginFiles::read(plugin.path()).unwrap_err();
        assert!(matches!(err, PluginError::Tampered { .. }), "{err}");
    }

    #[test]
    fn trusting_keeps_what_other_processes_recorded() {
        let data = tempfile::tempdir().unwrap();
        let trust_file = data.path().join("trusted-plugins.toml");
        let mut first = TrustStore::open(&trust_file).unwrap();
        let mut second = TrustStore::open(&trust_file).unwrap();
        let a = tempfile::tempdir().unwrap();
        write_plugin(a.path(), "\"ec2:Describe*\"", NOT_WASM);
        let b = tempfile::tempdir().unwrap();
        write_named(b.path(), "other", "\"ec2:Describe*\"", b"b");
        first.trust(PluginFiles::read(a.path()).unwrap()).unwrap();
        // `second` opened the file before `a` was trusted; saving must not drop `a`.
        second.trust(PluginFiles::read(b.path()).unwrap()).unwrap();
        let reopened = TrustStore::open(&trust_file).unwrap();
        for dir in [a.path(), b.path()] {
            let files = PluginFiles::read(dir).unwrap();
            assert_eq!(reopened.status(&files), TrustStatus::Trusted, "{files:?}");
        }
    }
}
