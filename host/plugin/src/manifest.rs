//! `plugin.toml`: what a plugin is and what it may do.
//!
//! ```toml
//! name = "ec2"                      # lowercase letters, digits, '-'
//! version = "0.1.0"                 # the plugin's own semver
//! wit = "0.1.0"                     # the cloudops:scanner WIT version it was built against
//! description = "Amazon EC2: instances, volumes, snapshots"
//!
//! [capabilities]
//! services = ["ec2"]                # SigV4 service names it may call
//! actions = ["ec2:Describe*"]       # operations it may call; see below
//! # methods = [...]                 # accepted from older manifests and ignored
//!
//! [component]                       # written by `cloudops plugin build`
//! file = "ec2.wasm"
//! sha256 = "3f1c…"
//! ```
//!
//! Unknown fields are errors, so a typo never silently widens or narrows a grant.
//!
//! `actions` grants AWS operations (the gate derives each request's operation the way the
//! service does, whatever the request claims):
//! - absent: every non-sensitive `Describe*` and `List*` operation of the services;
//! - a pattern (`s3:GetBucket*`, `rds:Describe*`): the read operations it matches, except
//!   sensitive ones;
//! - an exact name (`lambda:ListFunctions`): that read, sensitive or not. Sensitive reads
//!   (credentials, secrets, decrypted values, customer data: `host/plugin/src/gate/sensitive.rs`)
//!   are granted only this way and shown when the plugin is trusted.
//!
//! Never grantable: a write (a scanner only reads; writes happen inside an approved plan),
//! and the services `sts`, `sso`, `sso-oidc`, `signin`, `cognito-identity`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A parsed, validated `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name; the scanner's `describe()` must report the same.
    pub name: String,
    /// The plugin's own version.
    pub version: semver::Version,
    /// The WIT version of `cloudops:scanner` the component was built against.
    pub wit: semver::Version,
    /// One line for people.
    #[serde(default)]
    pub description: String,
    /// What the plugin may do.
    pub capabilities: CapabilitySpec,
    /// The built component; absent in a source manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentSpec>,
}

/// The `[capabilities]` table, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitySpec {
    /// SigV4 service names (`ec2`, `s3`).
    pub services: Vec<String>,
    /// Granted operations as `service:Operation` or `service:Pattern*`. `None` means the
    /// non-sensitive `Describe*` and `List*` operations of `services`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
    /// Ignored: kept so manifests written for WIT 0.1/0.2 still parse. The gate derives
    /// each REST request's operation from its method and route, so a method grants nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
}

/// The `[component]` table of a built plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSpec {
    /// The component file, relative to the manifest's folder.
    pub file: String,
    /// Lowercase hex sha256 of that file.
    pub sha256: String,
}

/// A manifest that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The manifest's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown/missing fields (the message names the field).
    #[error("{path}: {message}")]
    Syntax {
        /// The manifest's path.
        path: PathBuf,
        /// The parser's message, with line, column and field.
        message: String,
    },
    /// A field has a value that is not allowed.
    #[error("{path}: field `{field}`: {message}")]
    Invalid {
        /// The manifest's path.
        path: PathBuf,
        /// The field, as a dotted path (`capabilities.services[1]`).
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates manifest text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| ManifestError::Syntax {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        manifest.validate(path)?;
        Ok(manifest)
    }

    /// Writes the manifest as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("manifest fields are all TOML-representable")
    }

    fn validate(&self, path: &Path) -> Result<(), ManifestError> {
        let invalid = |field: String, message: String| ManifestError::Invalid {
            path: path.to_owned(),
            field,
            message,
        };
        if !is_name(&self.name) {
            return Err(invalid(
                "name".into(),
                format!("`{}` must be lowercase letters, digits and '-'", self.name),
            ));
        }
        if self.capabilities.services.is_empty() {
            return Err(invalid(
                "capabilities.services".into(),
                "list at least one AWS service the plugin calls".into(),
            ));
        }
        for (i, service) in self.capabilities.services.iter().enumerate() {
            if !is_name(service) {
                return Err(invalid(
                    format!("capabilities.services[{i}]"),
                    format!("`{service}` is not an AWS service name like `ec2`"),
                ));
            }
        }
        for (i, action) in self.capabilities.actions.iter().flatten().enumerate() {
            let Some((service, pattern)) = action.split_once(':') else {
                return Err(invalid(
                    format!("capabilities.actions[{i}]"),
                    format!("`{action}` must be `service:Action`, e.g. `ec2:Describe*`"),
                ));
            };
            if !self.capabilities.services.iter().any(|s| s == service) {
                return Err(invalid(
                    format!("capabilities.actions[{i}]"),
                    format!("`{action}` names service `{service}`, which is not in capabilities.services"),
                ));
            }
            if pattern.is_empty()
                || !pattern
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'*')
            {
                return Err(invalid(
                    format!("capabilities.actions[{i}]"),
                    format!("`{pattern}` must be an action name, optionally with `*` wildcards"),
                ));
            }
        }
        for (i, method) in self.capabilities.methods.iter().flatten().enumerate() {
            if http::Method::from_bytes(method.as_bytes()).is_err()
                || method.to_uppercase() != *method
            {
                return Err(invalid(
                    format!("capabilities.methods[{i}]"),
                    format!("`{method}` must be an uppercase HTTP method like `GET`"),
                ));
            }
        }
        if let Some(component) = &self.component {
            if component.file.contains('/')
                || component.file.contains('\\')
                || component.file.starts_with('.')
            {
                return Err(invalid(
                    "component.file".into(),
                    format!(
                        "`{}` must be a plain file name in the plugin's folder",
                        component.file
                    ),
                ));
            }
            if component.sha256.len() != 64
                || !component.sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(invalid(
                    "component.sha256".into(),
                    "must be 64 lowercase hex digits; rebuild with `cloudops plugin build`".into(),
                ));
            }
        }
        Ok(())
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("plugin.toml"))
    }

    const GOOD: &str = r#"
name = "ec2"
version = "0.1.0"
wit = "0.1.0"
[capabilities]
services = ["ec2"]
"#;

    #[test]
    fn minimal_manifest_parses_with_read_only_defaults() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.name, "ec2");
        assert_eq!(m.capabilities.actions, None);
        assert_eq!(m.component, None);
    }

    #[test]
    fn unknown_fields_are_errors_that_name_the_field() {
        let err = parse(&format!("{GOOD}allow_everything = true\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_everything"), "{err}");
    }

    #[test]
    fn actions_must_belong_to_declared_services() {
        let err = parse(&format!("{GOOD}actions = [\"iam:List*\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("capabilities.actions[0]") && err.contains("iam"),
            "{err}"
        );
    }

    #[test]
    fn component_file_cannot_point_outside_the_folder() {
        let text = format!(
            "{GOOD}[component]\nfile = \"../x.wasm\"\nsha256 = \"{}\"\n",
            "a".repeat(64)
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("component.file"), "{err}");
    }

    #[test]
    fn round_trips_through_toml() {
        let mut m = parse(GOOD).unwrap();
        m.component = Some(ComponentSpec {
            file: "ec2.wasm".into(),
            sha256: "0".repeat(64),
        });
        assert_eq!(parse(&m.to_toml()).unwrap(), m);
    }
}
