//! Building a scanner crate into an installable plugin folder.
//!
//! `cargo build` for `wasm32-unknown-unknown` gives a core module carrying wit-bindgen's
//! component-type section; `wit-component` turns it into a component; the folder gets the
//! component and a `plugin.toml` holding its sha256.
//!
//! Two guest toolchains are supported, tried in this order (or forced with
//! `CLOUDOPS_GUEST_TOOLCHAIN=rustup|debian`):
//! 1. rustup's `wasm32-unknown-unknown` target (`rustup target add wasm32-unknown-unknown`);
//! 2. Debian's `rustc-web` + `rust-web-src` + `lld-22`, building std from source with
//!    `-Zbuild-std`, for machines where rustup cannot download a wasm std.
//!
//! `CLOUDOPS_GUEST_TARGET_DIR` points every plugin build at one target directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::manifest::{ComponentSpec, Manifest, ManifestError};
use super::runtime::MANIFEST_FILE;
use super::trust::PluginFiles;
use super::PluginError;

const TARGET: &str = "wasm32-unknown-unknown";

/// Building a plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The folder has no usable source manifest.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// No way to compile Rust to WebAssembly was found.
    #[error(
        "no WebAssembly toolchain found: run `rustup target add wasm32-unknown-unknown`, or on \
         Debian `apt-get install rustc-web cargo-web rust-web-src lld-22`"
    )]
    NoToolchain,
    /// `cargo` failed; its output was shown on stderr.
    #[error("building {dir} failed: {message}")]
    Cargo {
        /// The crate.
        dir: PathBuf,
        /// What failed.
        message: String,
    },
    /// The core module could not be made into a component.
    #[error("turning {module} into a component failed: {reason}")]
    Componentize {
        /// The core module.
        module: PathBuf,
        /// wit-component's message.
        reason: String,
    },
    /// The built files do not make a plugin (they are re-read for trust as written).
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// Reading or writing files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// How guest code gets compiled on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestToolchain {
    /// rustup's wasm32-unknown-unknown target.
    Rustup,
    /// Debian's rustc-web with `-Zbuild-std`.
    DebianBuildStd,
}

impl GuestToolchain {
    /// Finds a usable toolchain, honouring `CLOUDOPS_GUEST_TOOLCHAIN`.
    pub fn detect() -> Result<Self, BuildError> {
        match std::env::var("CLOUDOPS_GUEST_TOOLCHAIN").as_deref() {
            Ok("rustup") => return Ok(Self::Rustup),
            Ok("debian") => return Ok(Self::DebianBuildStd),
            _ => {}
        }
        let rustup_has_target = Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .is_some_and(|sysroot| {
                sysroot
                    .join("lib/rustlib")
                    .join(TARGET)
                    .join("lib")
                    .is_dir()
            });
        if rustup_has_target {
            return Ok(Self::Rustup);
        }
        let debian = Path::new("/usr/bin/rustc").exists()
            && Path::new("/usr/bin/cargo").exists()
            && Path::new("/usr/lib/rustlib/src/rust/library").is_dir()
            && which("wasm-ld-22").is_some();
        if debian {
            return Ok(Self::DebianBuildStd);
        }
        Err(BuildError::NoToolchain)
    }

    fn cargo_command(self, crate_dir: &Path) -> Command {
        let mut cmd = match self {
            Self::Rustup => {
                let mut cmd =
                    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
                cmd.args(["build", "--release", "--target", TARGET]);
                cmd
            }
            Self::DebianBuildStd => {
                let mut cmd = Command::new("/usr/bin/cargo");
                // rustup's variables would make Debian's cargo pick rustup's rustc, whose
                // version does not match the std sources.
                cmd.env_remove("RUSTUP_TOOLCHAIN")
                    .env("RUSTC", "/usr/bin/rustc")
                    .env("RUSTDOC", "/usr/bin/rustdoc")
                    .env("RUSTC_BOOTSTRAP", "1")
                    .args([
                        "build",
                        "--release",
                        "-Zbuild-std=std,panic_abort",
                        "--target",
                        TARGET,
                    ])
                    .args([
                        "--config",
                        &format!("target.{TARGET}.linker=\"wasm-ld-22\""),
                    ]);
                cmd
            }
        };
        // The host's own build settings must not leak into the guest build.
        for var in [
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTC_WRAPPER",
        ] {
            cmd.env_remove(var);
        }
        // Several plugin crates can share one target directory, and so one build of std.
        if let Some(dir) = std::env::var_os("CLOUDOPS_GUEST_TARGET_DIR") {
            cmd.arg("--target-dir").arg(dir);
        }
        cmd.current_dir(crate_dir);
        cmd
    }
}

/// A built plugin folder.
#[derive(Debug, Clone)]
pub struct BuiltPlugin {
    /// The folder holding `plugin.toml` and the component.
    pub dir: PathBuf,
    /// The final manifest.
    pub manifest: Manifest,
    /// Size of the component in bytes.
    pub component_bytes: usize,
    /// The manifest and component exactly as written, ready to trust without re-reading.
    pub files: PluginFiles,
}

/// Builds the scanner crate in `crate_dir` into `out_root/<name>/`, replacing what was there.
pub fn build_plugin(crate_dir: &Path, out_root: &Path) -> Result<BuiltPlugin, BuildError> {
    let source_manifest_path = crate_dir.join(MANIFEST_FILE);
    let mut manifest = Manifest::load(&source_manifest_path)?;
    let package = package_name(crate_dir)?;
    let toolchain = GuestToolchain::detect()?;
    let module = cargo_build(toolchain, crate_dir, &package)?;
    let core = std::fs::read(&module).map_err(|source| BuildError::Io {
        path: module.clone(),
        source,
    })?;
    let component = componentize(&core).map_err(|reason| BuildError::Componentize {
        module: module.clone(),
        reason,
    })?;
    let file = format!("{}.wasm", manifest.name);
    manifest.component = Some(ComponentSpec {
        file: file.clone(),
        sha256: hex::encode(Sha256::digest(&component)),
    });
    let dir = out_root.join(&manifest.name);
    std::fs::create_dir_all(&dir).map_err(|source| BuildError::Io {
        path: dir.clone(),
        source,
    })?;
    // Component first, manifest last, each via rename: a crash leaves either the old
    // plugin or a hash mismatch that the loader refuses, never a half-written file.
    let manifest_text = manifest.to_toml();
    write_atomically(&dir.join(&file), &component)?;
    write_atomically(&dir.join(MANIFEST_FILE), manifest_text.as_bytes())?;
    let component_bytes = component.len();
    let files = PluginFiles::from_bytes(&dir, manifest_text.as_bytes(), component)?;
    Ok(BuiltPlugin {
        dir,
        manifest,
        component_bytes,
        files,
    })
}

/// Wraps a core module built with wit-bindgen into a component.
pub fn componentize(core: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| format!("{e:#}"))
}

fn cargo_build(
    toolchain: GuestToolchain,
    crate_dir: &Path,
    package: &str,
) -> Result<PathBuf, BuildError> {
    let mut cmd = toolchain.cargo_command(crate_dir);
    cmd.args(["--message-format=json-render-diagnostics", "-p", package]);
    cmd.stderr(std::process::Stdio::inherit());
    let output = cmd.output().map_err(|e| BuildError::Cargo {
        dir: crate_dir.to_owned(),
        message: format!("cannot run cargo ({toolchain:?} toolchain): {e}"),
    })?;
    if !output.status.success() {
        return Err(BuildError::Cargo {
            dir: crate_dir.to_owned(),
            message: format!("cargo exited with {} (errors above)", output.status),
        });
    }
    // The last `compiler-artifact` for our package lists the .wasm it produced.
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| {
            msg["reason"] == "compiler-artifact"
                && msg["target"]["name"].as_str().map(|n| n.replace('-', "_"))
                    == Some(package.replace('-', "_"))
        })
        .flat_map(|msg| {
            msg["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| BuildError::Cargo {
            dir: crate_dir.to_owned(),
            message: format!("cargo produced no .wasm for `{package}`: is it a `cdylib` crate?"),
        })
}

fn package_name(crate_dir: &Path) -> Result<String, BuildError> {
    let path = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|source| BuildError::Io {
        path: path.clone(),
        source,
    })?;
    let value: toml::Value = toml::from_str(&text).map_err(|e| BuildError::Cargo {
        dir: crate_dir.to_owned(),
        message: format!("{}: {e}", path.display()),
    })?;
    value
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .ok_or_else(|| BuildError::Cargo {
            dir: crate_dir.to_owned(),
            message: format!("{} has no [package] name", path.display()),
        })
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    // Unique per process: parallel test processes may build the same plugin at once.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| BuildError::Io {
            path: path.to_owned(),
            source,
        })
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}
