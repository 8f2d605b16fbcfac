//! The single wasmtime [`Engine`] and its compiled-component cache.
//!
//! Deserializing compiled code is running native code without any of wasmtime's checks, so
//! a cache entry is only deserialized after its MAC (HMAC-SHA256 under a random host key,
//! `<data dir>/keys/plugin-cache.key`) verifies. Anything that can write the cache folder
//! but cannot read the key (a plugin's build script under bubblewrap, another user, a
//! restored backup) can at worst make the host compile again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, EngineWeak};
use zeroize::Zeroizing;

use super::limits::EPOCH_TICK;
use crate::seal::key::{create_key_file, read_key_file};

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC at the start of every cache entry.
const MAC_LEN: usize = 32;

/// Where compiled code is cached and the key that authenticates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeCache {
    /// The folder of cache entries.
    pub dir: PathBuf,
    /// The host key file (32 random bytes as hex, mode 0600, created on first use).
    pub key_file: PathBuf,
}

impl CodeCache {
    /// The cache of `data_dir`: `cache/compiled/`, keyed by `keys/plugin-cache.key`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            dir: crate::paths::compiled_cache(data_dir),
            key_file: crate::paths::plugin_cache_key(data_dir),
        }
    }
}

/// What the compiled-code cache did since the engine was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries whose MAC verified and that were deserialized.
    pub hits: u64,
    /// Components compiled from their bytes.
    pub compiled: u64,
    /// Entries deleted unread because their MAC did not verify (tampered, or written
    /// under another key).
    pub rejected: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    compiled: AtomicU64,
    rejected: AtomicU64,
}

struct Cache {
    dir: PathBuf,
    key: Zeroizing<[u8; 32]>,
}

/// The wasmtime engine every plugin runs in, plus the on-disk cache of compiled code.
///
/// Fuel and epoch interruption are engine-wide settings, so they are always on; each
/// store then sets its own budget. A background thread advances the epoch; it holds only
/// a weak reference and ends when the last clone of the engine is dropped.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    cache: Option<Arc<Cache>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("cache_dir", &self.cache.as_ref().map(|c| &c.dir))
            .finish_non_exhaustive()
    }
}

impl PluginEngine {
    /// An engine that caches compiled components in `cache` (folder and key created if
    /// missing), or compiles every time when `None`. A key that cannot be read or created
    /// turns the cache off with a warning that says how to fix it: the cache only saves time.
    pub fn new(cache: Option<CodeCache>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .parallel_compilation(true);
        let engine = Engine::new(&config)?;
        start_epoch_ticker(engine.weak());
        let cache = match cache {
            Some(cache) => {
                std::fs::create_dir_all(&cache.dir).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot create the plugin cache {}: {e}",
                        cache.dir.display()
                    )
                })?;
                match load_or_create_key(&cache.key_file) {
                    Ok(key) => Some(Arc::new(Cache {
                        dir: cache.dir,
                        key,
                    })),
                    Err(e) => {
                        tracing::warn!(
                            "compiled plugin code will not be cached: {e}; remove {} to \
                             start a new cache key",
                            cache.key_file.display()
                        );
                        None
                    }
                }
            }
            None => None,
        };
        Ok(Self {
            engine,
            cache,
            counters: Arc::default(),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// What the compiled-code cache did so far.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            compiled: self.counters.compiled.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
        }
    }

    /// Compiles `bytes` (whose sha256 is `sha256`), or loads the code compiled earlier for
    /// the same bytes and the same engine configuration if its MAC verifies.
    pub fn compile(&self, bytes: &[u8], sha256: &str) -> anyhow::Result<Component> {
        let Some(cache) = &self.cache else {
            return self.compile_fresh(bytes);
        };
        let config = self.config_hash();
        let path = cache.dir.join(format!("{sha256}-{config:016x}.cwasm"));
        // Read once: the bytes authenticated are the bytes deserialized.
        if let Ok(entry) = std::fs::read(&path) {
            match cache.open(&entry, sha256, config) {
                Some(compiled) => {
                    // SAFETY: `compiled` carries a valid MAC under the host key, so it was
                    // written by `compile` below from code this engine configuration
                    // produced for these exact component bytes (the MAC covers the
                    // component hash and the configuration hash too).
                    match unsafe { Component::deserialize(&self.engine, compiled) } {
                        Ok(component) => {
                            self.counters.hits.fetch_add(1, Ordering::Relaxed);
                            return Ok(component);
                        }
                        Err(e) => {
                            tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled plugin cache entry");
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                None => {
                    self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(path = %path.display(), "a compiled plugin cache entry failed authentication (tampered, or written under another key); deleted it unread and compiling again");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = self.compile_fresh(bytes)?;
        match component.serialize() {
            Ok(compiled) => {
                let entry = cache.seal(&compiled, sha256, config);
                // Write-then-rename: a crash never leaves a half-written entry behind.
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                if std::fs::write(&tmp, entry)
                    .and_then(|()| std::fs::rename(&tmp, &path))
                    .is_err()
                {
                    let _ = std::fs::remove_file(&tmp);
                    tracing::debug!(path = %path.display(), "could not write the compiled plugin cache");
                }
            }
            Err(e) => tracing::debug!(error = %e, "could not serialize a compiled plugin"),
        }
        Ok(component)
    }

    fn compile_fresh(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        self.counters.compiled.fetch_add(1, Ordering::Relaxed);
        Ok(Component::new(&self.engine, bytes)?)
    }

    fn config_hash(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        hasher.finish()
    }
}

impl Cache {
    fn mac(&self, compiled: &[u8], sha256: &str, config: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key[..]).expect("HMAC takes any key size");
        // Binding the component hash and the configuration means an entry renamed to
        // another component's name, or kept across an upgrade, does not verify.
        mac.update(sha256.as_bytes());
        mac.update(&config.to_le_bytes());
        mac.update(compiled);
        mac
    }

    /// `MAC || compiled`.
    fn seal(&self, compiled: &[u8], sha256: &str, config: u64) -> Vec<u8> {
        let tag = self.mac(compiled, sha256, config).finalize().into_bytes();
        let mut entry = Vec::with_capacity(MAC_LEN + compiled.len());
        entry.extend_from_slice(&tag);
        entry.extend_from_slice(compiled);
        entry
    }

    /// The compiled code of `entry` if its MAC verifies (compared in constant time).
    fn open<'a>(&self, entry: &'a [u8], sha256: &str, config: u64) -> Option<&'a [u8]> {
        if entry.len() < MAC_LEN {
            return None;
        }
        let (tag, compiled) = entry.split_at(MAC_LEN);
        self.mac(compiled, sha256, config)
            .verify_slice(tag)
            .ok()
            .map(|()| compiled)
    }
}

fn load_or_create_key(path: &Path) -> Result<Zeroizing<[u8; 32]>, crate::seal::key::KeyError> {
    match read_key_file(path)? {
        Some(key) => Ok(key),
        None => create_key_file(path),
    }
}

fn start_epoch_ticker(engine: EngineWeak) {
    std::thread::Builder::new()
        .name("cloudops-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match engine.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        })
        .expect("spawning the epoch thread");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: the preamble of an empty one. Compiling it is real
    /// wasmtime work, and its serialized code is a real cache entry.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    fn sha(bytes: &[u8]) -> String {
        use sha2::Digest;
        hex::encode(Sha256::digest(bytes))
    }

    fn cached_engine(data: &Path) -> PluginEngine {
        PluginEngine::new(Some(CodeCache::in_data_dir(data))).unwrap()
    }

    fn only_entry(data: &Path) -> PathBuf {
        let entries: Vec<PathBuf> = std::fs::read_dir(crate::paths::compiled_cache(data))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries.into_iter().next().unwrap()
    }

    #[test]
    fn a_cached_entry_is_reused_when_its_mac_verifies() {
        let data = tempfile::tempdir().unwrap();
        let engine = cached_engine(data.path());
        let sha256 = sha(EMPTY_COMPONENT);
        engine.compile(EMPTY_COMPONENT, &sha256).unwrap();
        engine.compile(EMPTY_COMPONENT, &sha256).unwrap();
        let stats = engine.cache_stats();
        assert_eq!((stats.compiled, stats.hits, stats.rejected), (1, 1, 0));
        // A second engine (a later run) finds the key and trusts the entry.
        let later = cached_engine(data.path());
        later.compile(EMPTY_COMPONENT, &sha256).unwrap();
        assert_eq!(later.cache_stats().hits, 1);
    }

    #[test]
    fn a_tampered_entry_is_deleted_and_recompiled_never_deserialized() {
        let data = tempfile::tempdir().unwrap();
        let engine = cached_engine(data.path());
        let sha256 = sha(EMPTY_COMPONENT);
        engine.compile(EMPTY_COMPONENT, &sha256).unwrap();
        let entry = only_entry(data.path());
        let mut bytes = std::fs::read(&entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(&entry, &bytes).unwrap();

        engine.compile(EMPTY_COMPONENT, &sha256).unwrap();
        let stats = engine.cache_stats();
        assert_eq!((stats.compiled, stats.hits, stats.rejected), (2, 0, 1));
        // The entry was replaced by a freshly sealed one, which verifies again.
        assert_ne!(std::fs::read(&entry).unwrap(), bytes);
        engine.compile(EMPTY_COMPONENT, &sha256).unwrap();
        assert_eq!(engine.cache_stats().hits, 1);
    }

    #[test]
    fn an_entry_sealed_under_another_key_is_rejected() {
        let data = tempfile::tempdir().unwrap();
        let sha256 = sha(EMPTY_COMPONENT);
        cached_engine(data.path())
            .compile(EMPTY_COMPONENT, &sha256)
            .unwrap();
        std::fs::remove_file(crate::paths::plugin_cache_key(data.path())).unwrap();
        let engine = cached_engine(data.path());
        engine.compile(EMPTY_COMPONENT, &sha256).unwrap();
        assert_eq!(engine.cache_stats().rejected, 1);
    }

    #[test]
    fn an_entry_renamed_to_another_component_is_rejected() {
        let data = tempfile::tempdir().unwrap();
        let engine = cached_engine(data.path());
        engine
            .compile(EMPTY_COMPONENT, &sha(EMPTY_COMPONENT))
            .unwrap();
        let entry = only_entry(data.path());
        let other = "0".repeat(64);
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        let renamed = entry.with_file_name(format!("{other}{}", &name[64..]));
        std::fs::rename(&entry, &renamed).unwrap();
        engine.compile(EMPTY_COMPONENT, &other).unwrap();
        assert_eq!(engine.cache_stats().rejected, 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_cache_key_is_private_to_the_user() {
        use std::os::unix::fs::PermissionsExt;
        let data = tempfile::tempdir().unwrap();
        cached_engine(data.path());
        let key = crate::paths::plugin_cache_key(data.path());
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&key).unwrap().trim().len(), 64);
    }
}
