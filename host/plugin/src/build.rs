//! Building a scanner crate into an installable plugin folder, and a playbook component
//! crate into its component file ([`build_component`]).
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
//!
//! A plugin crate's build scripts and proc macros run natively, so cargo gets none of the
//! user's environment: only `PATH`, a scratch `HOME`, the real `CARGO_HOME` and
//! `RUSTUP_HOME` (so the registry cache and toolchains resolve), proxies, and the toolchain
//! variables below. No `AWS_*` variable reaches it. Cargo writes only to its target
//! directory, which must be outside the data dir; the host then reads the module and writes
//! the plugin folder itself. When `bwrap` (bubblewrap) works, the build also runs with the
//! data dir and `~/.aws` hidden behind empty tmpfs mounts; otherwise a warning says the build
//! is not filesystem-isolated.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

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
    /// The build would write inside the data dir.
    #[error(
        "{path} is inside the cloudops data dir {data_dir}: plugin builds may not write there; \
         {fix}"
    )]
    InsideDataDir {
        /// The source or target folder.
        path: PathBuf,
        /// The data dir.
        data_dir: PathBuf,
        /// What to do.
        fix: &'static str,
    },
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

    /// The cargo build of `crate_dir`, with an environment made from `parent` (the user's
    /// environment) that keeps only what the toolchain needs.
    fn cargo_command(
        self,
        crate_dir: &Path,
        data_dir: &Path,
        parent: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<GuestCommand, BuildError> {
        let program = match self {
            Self::Rustup => parent("CARGO").unwrap_or_else(|| "cargo".into()),
            Self::DebianBuildStd => "/usr/bin/cargo".into(),
        };
        let mut cmd = GuestCommand::new(program, crate_dir, data_dir, parent)?;
        match self {
            Self::Rustup => {
                if let Some(toolchain) = parent("RUSTUP_TOOLCHAIN") {
                    cmd.env("RUSTUP_TOOLCHAIN", toolchain);
                }
                cmd.args(["build", "--release", "--target", TARGET]);
            }
            Self::DebianBuildStd => {
                // No RUSTUP_TOOLCHAIN: rustup's rustc does not match Debian's std sources.
                cmd.env("RUSTC", "/usr/bin/rustc")
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
            }
        }
        Ok(cmd)
    }
}

/// A command for building untrusted guest code: a cleared environment plus what it needs,
/// a scratch `HOME` (removed when this is dropped), and the paths to hide from it.
struct GuestCommand {
    program: OsString,
    args: Vec<OsString>,
    env: BTreeMap<OsString, OsString>,
    dir: PathBuf,
    hide: Vec<PathBuf>,
    _home: tempfile::TempDir,
}

/// Proxy settings cargo honours when it fetches crates; they carry no AWS credentials.
const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

impl GuestCommand {
    fn new(
        program: OsString,
        dir: &Path,
        data_dir: &Path,
        parent: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Self, BuildError> {
        let home = tempfile::Builder::new()
            .prefix("cloudops-plugin-build-home")
            .tempdir()
            .map_err(|source| BuildError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let user_home = parent("HOME").map(PathBuf::from);
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".into(),
            parent("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        );
        env.insert("HOME".into(), home.path().as_os_str().to_owned());
        for (var, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
            let value = parent(var)
                .or_else(|| user_home.as_ref().map(|h| h.join(default).into_os_string()));
            if let Some(value) = value {
                env.insert(var.into(), value);
            }
        }
        for var in PROXY_VARS {
            if let Some(value) = parent(var) {
                env.insert(var.into(), value);
            }
        }
        let data_dir = canonical(data_dir);
        if canonical(dir).starts_with(&data_dir) {
            return Err(BuildError::InsideDataDir {
                path: dir.to_owned(),
                data_dir,
                fix: "move the plugin's source out of it",
            });
        }
        // Several plugin crates can share one target directory, and so one build of std.
        if let Some(target) = parent("CLOUDOPS_GUEST_TARGET_DIR") {
            if canonical(Path::new(&target)).starts_with(&data_dir) {
                return Err(BuildError::InsideDataDir {
                    path: target.into(),
                    data_dir,
                    fix: "point CLOUDOPS_GUEST_TARGET_DIR somewhere else",
                });
            }
            env.insert("CARGO_TARGET_DIR".into(), target);
        }
        let mut hide = vec![data_dir];
        if let Some(h) = &user_home {
            hide.push(canonical(&h.join(".aws")));
        }
        hide.retain(|p| p.exists());
        Ok(Self {
            program,
            args: Vec::new(),
            env,
            dir: dir.to_owned(),
            hide,
            _home: home,
        })
    }

    fn env(&mut self, key: &str, value: impl Into<OsString>) -> &mut Self {
        self.env.insert(key.into(), value.into());
        self
    }

    fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(&mut self, args: I) -> &mut Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The process to run: under bubblewrap with the hidden paths behind empty tmpfs
    /// mounts when `bwrap` works here, else plainly (with a warning, once).
    fn command(&self) -> Command {
        let mut cmd = match bwrap() {
            Some(bwrap) => {
                let mut cmd = Command::new(bwrap);
                cmd.args(["--die-with-parent", "--dev-bind", "/", "/"]);
                for path in &self.hide {
                    cmd.arg("--tmpfs").arg(path);
                }
                cmd.arg("--chdir")
                    .arg(&self.dir)
                    .arg("--")
                    .arg(&self.program);
                cmd
            }
            None => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!(
                        "bubblewrap (`bwrap`) is not available here, so plugin builds are not \
                         filesystem-isolated: a plugin's build script could read or write the \
                         cloudops data dir and ~/.aws. Install bubblewrap to isolate them, and \
                         build only plugins whose source you trust"
                    );
                });
                Command::new(&self.program)
            }
        };
        cmd.args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.dir);
        cmd
    }
}

/// `bwrap` if it is on PATH and can set up a sandbox here (user namespaces may be off).
fn bwrap() -> Option<&'static Path> {
    static BWRAP: OnceLock<Option<PathBuf>> = OnceLock::new();
    BWRAP
        .get_or_init(|| {
            let path = which("bwrap")?;
            let works = Command::new(&path)
                .args(["--die-with-parent", "--dev-bind", "/", "/", "--", "true"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            works.then_some(path)
        })
        .as_deref()
}

/// `path` with symlinks resolved as far as it exists, so `starts_with` compares real places.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
            canonical(parent).join(name)
        }
        _ => std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_owned()),
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
/// Cargo runs without the user's environment and may not write inside `data_dir` (which it
/// does not see at all under bubblewrap); only this process writes `out_root`.
pub fn build_plugin(
    crate_dir: &Path,
    out_root: &Path,
    data_dir: &Path,
) -> Result<BuiltPlugin, BuildError> {
    // Absolute: bubblewrap resolves `--chdir` inside its sandbox, where a relative path
    // (`cloudops plugin build plugins/`) names nothing.
    let crate_dir = &canonical(crate_dir);
    let source_manifest_path = crate_dir.join(MANIFEST_FILE);
    let mut manifest = Manifest::load(&source_manifest_path)?;
    let package = package_name(crate_dir)?;
    let toolchain = GuestToolchain::detect()?;
    let module = cargo_build(toolchain, crate_dir, data_dir, &package)?;
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

/// Builds the playbook component crate in `crate_dir` (a `cdylib` targeting
/// `cloudops:playbook`) the way [`build_plugin`] builds a scanner: same toolchain, same
/// stripped environment and sandbox, no write inside `data_dir`. Writes the component to
/// `out_file` (atomically) and returns its bytes.
pub fn build_component(
    crate_dir: &Path,
    out_file: &Path,
    data_dir: &Path,
) -> Result<Vec<u8>, BuildError> {
    let crate_dir = &canonical(crate_dir);
    let package = package_name(crate_dir)?;
    let toolchain = GuestToolchain::detect()?;
    let module = cargo_build(toolchain, crate_dir, data_dir, &package)?;
    let core = std::fs::read(&module).map_err(|source| BuildError::Io {
        path: module.clone(),
        source,
    })?;
    let component = componentize(&core).map_err(|reason| BuildError::Componentize {
        module: module.clone(),
        reason,
    })?;
    write_atomically(out_file, &component)?;
    Ok(component)
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
    data_dir: &Path,
    package: &str,
) -> Result<PathBuf, BuildError> {
    let mut guest = toolchain.cargo_command(crate_dir, data_dir, &|var| std::env::var_os(var))?;
    guest.args(["--message-format=json-render-diagnostics", "-p", package]);
    let mut cmd = guest.command();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A user's environment holding AWS credentials and a real home.
    fn user_env(home: &Path, var: &str) -> Option<OsString> {
        match var {
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret-value".into()),
            "AWS_PROFILE" => Some("prod".into()),
            "HOME" => Some(home.into()),
            "PATH" => std::env::var_os("PATH"),
            "RUSTUP_TOOLCHAIN" => Some("stable".into()),
            "CLOUDOPS_GUEST_TARGET_DIR" => Some(home.join("guest-target").into()),
            _ => None,
        }
    }

    #[test]
    fn the_cargo_build_gets_no_aws_variables_and_a_scratch_home() {
        let home = tempfile::tempdir().unwrap();
        let data = home.path().join("data");
        let crate_dir = tempfile::tempdir().unwrap();
        for toolchain in [GuestToolchain::Rustup, GuestToolchain::DebianBuildStd] {
            let cmd = toolchain
                .cargo_command(crate_dir.path(), &data, &|v| user_env(home.path(), v))
                .unwrap();
            assert!(
                cmd.env
                    .keys()
                    .all(|k| !k.to_string_lossy().starts_with("AWS_")),
                "{:?}",
                cmd.env
            );
            assert_ne!(
                cmd.env[std::ffi::OsStr::new("HOME")],
                home.path().as_os_str()
            );
            assert_eq!(
                cmd.env[std::ffi::OsStr::new("CARGO_HOME")],
                home.path().join(".cargo").as_os_str()
            );
            assert_eq!(
                cmd.env[std::ffi::OsStr::new("RUSTUP_HOME")],
                home.path().join(".rustup").as_os_str()
            );
            assert_eq!(
                cmd.env[std::ffi::OsStr::new("CARGO_TARGET_DIR")],
                home.path().join("guest-target").as_os_str()
            );
            assert_eq!(
                cmd.env
                    .contains_key(std::ffi::OsStr::new("RUSTUP_TOOLCHAIN")),
                toolchain == GuestToolchain::Rustup
            );
            // The process's own environment is not inherited either.
            let built = cmd.command();
            assert!(built.get_envs().all(|(k, _)| cmd.env.contains_key(k)));
        }
    }

    #[test]
    fn a_guest_process_sees_only_the_environment_it_was_given() {
        let home = tempfile::tempdir().unwrap();
        let data = home.path().join("data");
        let dir = tempfile::tempdir().unwrap();
        let cmd = GuestCommand::new("env".into(), dir.path(), &data, &|v| {
            user_env(home.path(), v)
        })
        .unwrap();
        // A real process (under bwrap where it works) would inherit this process's variables
        // (AWS_EC2_METADATA_DISABLED among them under scripts/env.sh) were the environment
        // not cleared: only the given ones may show.
        let out = cmd.command().output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let seen: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(!seen.keys().any(|k| k.starts_with("AWS_")), "{seen:?}");
        assert_eq!(
            seen.get("HOME").map(String::as_str),
            cmd.env[std::ffi::OsStr::new("HOME")].to_str()
        );
        let allowed = [
            "PATH",
            "HOME",
            "CARGO_HOME",
            "RUSTUP_HOME",
            "CARGO_TARGET_DIR",
            "PWD",
            "SHLVL",
            "_",
        ];
        assert!(
            seen.keys().all(|k| allowed.contains(&k.as_str())),
            "{seen:?}"
        );
    }

    #[test]
    fn under_bubblewrap_the_build_cannot_see_the_data_dir() {
        if bwrap().is_none() {
            use std::io::Write;
            // Counted by scripts/test as skipped; libtest swallows `println!`.
            let _ = writeln!(
                std::io::stdout().lock(),
                "SKIPPED: under_bubblewrap_the_build_cannot_see_the_data_dir: bwrap does not work here"
            );
            return;
        }
        let home = tempfile::tempdir().unwrap();
        let data = home.path().join("data");
        std::fs::create_dir_all(data.join("keys")).unwrap();
        std::fs::write(data.join("keys/plugin-cache.key"), "secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = GuestCommand::new("sh".into(), dir.path(), &data, &|v| {
            user_env(home.path(), v)
        })
        .unwrap();
        // Reads the key and tries to leave a file behind in the data dir.
        cmd.args([
            "-c",
            "cat \"$0/keys/plugin-cache.key\"; touch \"$0/planted\"",
        ]);
        cmd.args([data.as_os_str()]);
        let out = cmd.command().output().unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains("secret"));
        assert!(!data.join("planted").exists());
        assert!(data.join("keys/plugin-cache.key").exists());
    }

    #[test]
    fn a_build_may_not_target_the_data_dir() {
        let home = tempfile::tempdir().unwrap();
        let crate_dir = tempfile::tempdir().unwrap();
        // The guest target directory of `user_env` lives under home: make home the data dir.
        let err = GuestToolchain::Rustup
            .cargo_command(crate_dir.path(), home.path(), &|v| user_env(home.path(), v))
            .err()
            .expect("refused");
        assert!(matches!(err, BuildError::InsideDataDir { .. }), "{err}");
        assert!(
            err.to_string().contains("CLOUDOPS_GUEST_TARGET_DIR"),
            "{err}"
        );
        let source_inside = home.path().join("src");
        std::fs::create_dir_all(&source_inside).unwrap();
        let err = GuestCommand::new("cargo".into(), &source_inside, home.path(), &|_| None)
            .err()
            .expect("refused");
        assert!(
            err.to_string().contains("move the plugin's source"),
            "{err}"
        );
    }
}
