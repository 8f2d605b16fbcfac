//! Where cloudops keeps its files (DESIGN § 7).

use std::path::PathBuf;

/// The data directory: `--data-dir`, else `CLOUDOPS_DATA_DIR`, else the XDG data dir
/// (`~/.local/share/cloudops` on Linux).
pub fn data_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os("CLOUDOPS_DATA_DIR").map(PathBuf::from))
        .or_else(|| {
            directories::ProjectDirs::from("", "", "cloudops").map(|d| d.data_dir().to_owned())
        })
        .unwrap_or_else(|| PathBuf::from(".cloudops"))
}

/// Folders searched for plugins: `<data dir>/plugins`, then each entry of
/// `CLOUDOPS_PLUGIN_PATH` (separated like `PATH`).
pub fn plugin_roots(data_dir: &std::path::Path) -> Vec<PathBuf> {
    let mut roots = vec![data_dir.join("plugins")];
    if let Some(extra) = std::env::var_os("CLOUDOPS_PLUGIN_PATH") {
        roots.extend(std::env::split_paths(&extra).filter(|p| !p.as_os_str().is_empty()));
    }
    roots
}

/// Where compiled plugin code is cached.
pub fn compiled_cache(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("cache").join("compiled")
}

/// The host key that authenticates compiled plugin code in the cache.
pub fn plugin_cache_key(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("keys").join("plugin-cache.key")
}

/// The record of plugins the user has accepted (see `plugin::trust`).
pub fn trust_file(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("trusted-plugins.toml")
}
