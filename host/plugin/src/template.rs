//! `cloudops plugin new`: a ready-to-build scanner crate from the template in
//! `plugins/dev/template` (compiled into the binary, so it works outside the repository).

use std::path::{Path, PathBuf};

const LIB_RS: &str = include_str!("../../../plugins/dev/template/src/lib.rs");
const PLUGIN_TOML: &str = include_str!("../../../plugins/dev/template/plugin.toml");
/// Where the SDK was when this binary was built; used when `--sdk` is not given.
const BUILT_SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/sdk");

/// Creating a plugin crate failed.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The name is not usable.
    #[error(
        "`{0}` is not a plugin name: use lowercase letters, digits and '-', starting with a letter"
    )]
    BadName(String),
    /// The target exists.
    #[error("{0} already exists; choose another --dir or remove it")]
    Exists(PathBuf),
    /// The SDK could not be found.
    #[error("cannot find the scanner SDK (plugins/sdk of a cloudops checkout); pass --sdk PATH or set CLOUDOPS_SDK_DIR")]
    NoSdk,
    /// Writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Creates the crate for plugin `name` in `dir`, depending on the SDK at `sdk` (or the
/// one found through `CLOUDOPS_SDK_DIR` or next to this build). Returns the files written.
pub fn create(name: &str, dir: &Path, sdk: Option<&Path>) -> Result<Vec<PathBuf>, TemplateError> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(TemplateError::BadName(name.to_owned()));
    }
    if dir.exists() {
        return Err(TemplateError::Exists(dir.to_owned()));
    }
    let sdk = sdk
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CLOUDOPS_SDK_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(BUILT_SDK_DIR));
    let sdk = sdk.canonicalize().map_err(|_| TemplateError::NoSdk)?;
    if !sdk.join("Cargo.toml").is_file() {
        return Err(TemplateError::NoSdk);
    }
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    let lib_rs = LIB_RS
        .replace("struct Template;", &format!("struct {type_name};"))
        .replace("for Template {", &format!("for {type_name} {{"))
        .replace("export!(Template)", &format!("export!({type_name})"))
        .replace(
            "name: \"template\".into()",
            &format!("name: \"{name}\".into()"),
        );
    let plugin_toml = PLUGIN_TOML
        .replace("name = \"template\"", &format!("name = \"{name}\""))
        .replace(" (the scanner template: rename it and make it yours)", "");
    // A workspace of its own, with the profile every guest needs.
    let cargo_toml = format!(
        r#"[package]
name = "cloudops-plugin-{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
cloudops-scanner-sdk = {{ path = {sdk:?} }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

[workspace]

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true

[profile.dev]
panic = "abort"
"#,
        sdk = sdk.display().to_string()
    );
    let files = [
        (dir.join("Cargo.toml"), cargo_toml),
        (dir.join("plugin.toml"), plugin_toml),
        (dir.join("src/lib.rs"), lib_rs),
        (dir.join(".gitignore"), "/target\n".to_owned()),
    ];
    let mut written = Vec::new();
    for (path, text) in files {
        let parent = path.parent().expect("files are inside dir");
        std::fs::create_dir_all(parent).map_err(|source| TemplateError::Io {
            path: parent.to_owned(),
            source,
        })?;
        std::fs::write(&path, text).map_err(|source| TemplateError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
