//! The single wasmtime [`Engine`] and its compiled-component cache.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::Component;
use wasmtime::{Config, Engine, EngineWeak};

use super::limits::EPOCH_TICK;

/// The wasmtime engine every plugin runs in, plus the on-disk cache of compiled code.
///
/// Fuel and epoch interruption are engine-wide settings, so they are always on; each
/// store then sets its own budget. A background thread advances the epoch; it holds only
/// a weak reference and ends when the last clone of the engine is dropped.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    cache_dir: Option<Arc<PathBuf>>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

impl PluginEngine {
    /// An engine that caches compiled components in `cache_dir` (created if missing), or
    /// compiles every time when `None`.
    pub fn new(cache_dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .parallel_compilation(true);
        let engine = Engine::new(&config)?;
        start_epoch_ticker(engine.weak());
        let cache_dir = match cache_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("cannot create the plugin cache {}: {e}", dir.display())
                })?;
                Some(Arc::new(dir.to_owned()))
            }
            None => None,
        };
        Ok(Self { engine, cache_dir })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles `bytes` (whose sha256 is `sha256`), or loads the code compiled earlier for
    /// the same bytes and the same engine configuration.
    pub fn compile(&self, bytes: &[u8], sha256: &str) -> anyhow::Result<Component> {
        let Some(dir) = &self.cache_dir else {
            return Ok(Component::new(&self.engine, bytes)?);
        };
        let path = dir.join(format!("{sha256}-{:016x}.cwasm", self.config_hash()));
        if path.exists() {
            // SAFETY: files in the cache are written only by `compile` below, from code
            // this engine produced; the cache lives in the user's own data directory, and
            // whoever can write there can already change what cloudops runs. The name
            // binds both the component hash and the engine configuration.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled plugin cache entry");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(&self.engine, bytes)?;
        match component.serialize() {
            Ok(compiled) => {
                // Write-then-rename: a crash never leaves a half-written entry behind.
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                if std::fs::write(&tmp, compiled)
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

    fn config_hash(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        hasher.finish()
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
