//! `cloudops playbook new`: a YAML playbook and its component crate, ready to check and
//! build, from the template in `plugins/dev/playbook-template` (compiled into the binary).

use std::path::{Path, PathBuf};

use crate::template::TemplateError;

const LIB_RS: &str = include_str!("../../../../plugins/dev/playbook-template/src/lib.rs");
/// Where the playbook SDK was when this binary was built; used when `--sdk` is not given.
const BUILT_SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/playbook-sdk");

/// Creates `DIR/NAME.yaml` (playbook `custom.NAME`, with `component: NAME`) and the crate
/// `DIR/NAME/`, depending on the playbook SDK at `sdk` (or `CLOUDOPS_PLAYBOOK_SDK_DIR`, or
/// the one next to this build). Returns the files written.
pub fn create(name: &str, dir: &Path, sdk: Option<&Path>) -> Result<Vec<PathBuf>, TemplateError> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(TemplateError::BadName(name.to_owned()));
    }
    let yaml_path = dir.join(format!("{name}.yaml"));
    let crate_dir = dir.join(name);
    for path in [&yaml_path, &crate_dir] {
        if path.exists() {
            return Err(TemplateError::Exists(path.clone()));
        }
    }
    let sdk = sdk
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CLOUDOPS_PLAYBOOK_SDK_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(BUILT_SDK_DIR));
    let sdk = sdk.canonicalize().map_err(|_| TemplateError::NoSdk)?;
    if !sdk.join("Cargo.toml").is_file() {
        return Err(TemplateError::NoSdk);
    }
    // A workspace of its own, with the profile every guest needs.
    let cargo_toml = format!(
        r#"[package]
name = "playbook-{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
cloudops-playbook-sdk = {{ path = {sdk:?} }}
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
    let lib_rs = LIB_RS.replace(
        " (the template `cloudops playbook new` copies: rename it and make\n//! it yours)",
        "",
    );
    let files = [
        (yaml_path, yaml(name)),
        (crate_dir.join("Cargo.toml"), cargo_toml),
        (crate_dir.join("src/lib.rs"), lib_rs),
        (
            crate_dir.join(".gitignore"),
            "/target\n/component.wasm\n".to_owned(),
        ),
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

/// A playbook that checks as written: reboot EC2 instances, finished by the component.
fn yaml(name: &str) -> String {
    format!(
        r#"id: custom.{name}
version: 0.1.0
title: {name} (describe what it does in one line)
description: >
  What this playbook does, for people and for retrieval. Its component ({name}/) finishes
  the plan: see playbooks/COMPONENTS.md.
utterances:
  - reboot the web server
  - restart the instance
  - bounce the web box
keywords: [reboot]
service: ec2
operation: reboot
applies_to: [ec2_instance]
max_targets: 1
parameters:
  - name: instance_id
    from: identifier
    description: the instance id
risk:
  level: medium
  reasons:
    - "{{name}} is unavailable while it reboots"
steps:
  - id: reboot
    action: ec2:RebootInstances
    params:
      InstanceIds: ["{{params.instance_id}}"]
component: {name}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_playbook_checks_and_names_its_crate() {
        let dir = tempfile::tempdir().unwrap();
        let files = create("reboot-web", dir.path(), None).unwrap();
        assert_eq!(files.len(), 4);
        let library =
            cloudops_playbook::Library::load_dir(dir.path()).unwrap_or_else(|e| panic!("{e:?}"));
        let p = library.get("custom.reboot-web").unwrap();
        assert_eq!(library.component_dir(p).as_deref(), Some("reboot-web"));
        assert!(
            create("reboot-web", dir.path(), None).is_err(),
            "never overwrites"
        );
        assert!(create("Bad_Name", dir.path(), None).is_err());
    }
}
