//! The user's configuration: `~/.config/cloudops/config.toml` (`CLOUDOPS_CONFIG` overrides).
//!
//! ```toml
//! [store]
//! # A Qdrant server (gRPC) instead of the embedded store; CLOUDOPS_QDRANT_URL overrides.
//! qdrant_url = "http://localhost:6334"
//!
//! [sync]
//! concurrency = 10
//! services = ["ec2", "rds"]          # default: every installed plugin
//!
//! [server]
//! # The plan server `cloudops ask` and `plan` use; unset: the planner runs in process.
//! # CLOUDOPS_SERVER_URL overrides.
//! url = "http://127.0.0.1:8080"
//!
//! [aws]
//! # Where AWS requests go instead of AWS (an emulator); AWS_ENDPOINT_URL overrides.
//! endpoint_url = "http://127.0.0.1:5000"
//! # Sign with AWS's documented example keys, which only an emulator accepts (what
//! # `cloudops demo --keep` writes); needs endpoint_url.
//! example_keys = true
//!
//! [[accounts]]
//! name = "production"                # how queries name it ("in production account")
//! profile = "prod"                   # a profile in ~/.aws/config (role_arn/source_profile work)
//! regions = ["us-west-2", "us-east-1"]
//!
//! [[accounts]]
//! name = "staging"
//! role_arn = "arn:aws:iam::222222222222:role/ReadOnly"   # assumed from the default credentials
//! regions = ["us-west-2"]
//!
//! [backup]
//! s3 = "s3://my-backups/cloudops/laptop"   # also upload each backup here (kept 30 days)
//! profile = "backup"                      # credentials for it; default: the default chain
//! region = "us-west-2"                    # the bucket's region
//! multipart_threshold_mib = 64            # upload in parts from this size (at least 5)
//! auto = true                             # a backup after a sync, at most once a day
//! ```
//!
//! With no `[[accounts]]`, a sync covers the default credentials (or `--profile`s).
//!
//! The file is `CLOUDOPS_CONFIG`, else `config.toml` in the data dir when there is one (what
//! `cloudops demo --keep` writes), else `~/.config/cloudops/config.toml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the estate is stored.
    #[serde(default)]
    pub store: StoreConfig,
    /// How syncs run.
    #[serde(default)]
    pub sync: SyncConfig,
    /// Accounts a sync covers.
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// The plan server.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where AWS requests go.
    #[serde(default)]
    pub aws: AwsConfig,
    /// Backups of the local estate.
    #[serde(default)]
    pub backup: BackupConfig,
}

/// `[server]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The plan server's base URL; unset means planning in process.
    pub url: Option<String>,
}

/// `[aws]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Every service's endpoint (an emulator); `AWS_ENDPOINT_URL` overrides.
    pub endpoint_url: Option<String>,
    /// Sign with AWS's documented example keys instead of the default credentials (an
    /// emulator's; only with `endpoint_url`).
    #[serde(default)]
    pub example_keys: bool,
}

/// `[backup]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// `s3://bucket/prefix` to upload every backup to; unset keeps backups local.
    pub s3: Option<String>,
    /// AWS profile for the bucket; unset means the default credentials.
    pub profile: Option<String>,
    /// The bucket's region; unset means AWS_REGION / the profile's region.
    pub region: Option<String>,
    /// Archives this large (MiB) or larger are uploaded in parts of this size (AWS needs at
    /// least 5; less warns, for S3-compatible stores).
    pub multipart_threshold_mib: Option<u64>,
    /// A backup after each successful sync, at most once a day (default true).
    pub auto: Option<bool>,
}

/// `[store]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// gRPC URL of a Qdrant server; unset means the embedded store in the data dir.
    pub qdrant_url: Option<String>,
    /// Name of the environment variable holding the server's API key.
    pub qdrant_api_key_env: Option<String>,
}

/// `[sync]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// Scans and batches in flight.
    pub concurrency: Option<usize>,
    /// Plugins to run; empty means all installed.
    #[serde(default)]
    pub services: Vec<String>,
}

/// One `[[accounts]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Name used in queries and status.
    pub name: String,
    /// AWS profile for the credentials; unset means the default chain.
    pub profile: Option<String>,
    /// A role to assume with those credentials.
    pub role_arn: Option<String>,
    /// Regions to scan.
    pub regions: Vec<String>,
}

impl Config {
    /// The config file's path: `CLOUDOPS_CONFIG`, else `~/.config/cloudops/config.toml`.
    pub fn path() -> Option<PathBuf> {
        std::env::var_os("CLOUDOPS_CONFIG")
            .map(PathBuf::from)
            .or_else(|| {
                directories::ProjectDirs::from("", "", "cloudops")
                    .map(|d| d.config_dir().join("config.toml"))
            })
    }

    /// Loads the config file; a missing file is the default configuration.
    pub fn load() -> Result<Self, String> {
        match Self::path() {
            Some(path) => Self::load_from(&path),
            None => Ok(Self::default()),
        }
    }

    /// The config file for `data_dir`: `CLOUDOPS_CONFIG`, else `<data_dir>/config.toml`
    /// when it exists, else `~/.config/cloudops/config.toml`.
    pub fn path_for(data_dir: &Path) -> Option<PathBuf> {
        let in_data_dir = data_dir.join("config.toml");
        if std::env::var_os("CLOUDOPS_CONFIG").is_none() && in_data_dir.is_file() {
            return Some(in_data_dir);
        }
        Self::path()
    }

    /// Loads the config file for `data_dir` ([`Config::path_for`]).
    pub fn load_for(data_dir: &Path) -> Result<Self, String> {
        match Self::path_for(data_dir) {
            Some(path) => Self::load_from(&path),
            None => Ok(Self::default()),
        }
    }

    /// Loads `path`; a missing file is the default configuration.
    pub fn load_from(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// The Qdrant server URL, if one is configured (`CLOUDOPS_QDRANT_URL` wins).
    pub fn qdrant_url(&self) -> Option<String> {
        std::env::var("CLOUDOPS_QDRANT_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| self.store.qdrant_url.clone())
    }

    /// The plan server's URL, if one is configured (`CLOUDOPS_SERVER_URL` wins).
    pub fn server_url(&self) -> Option<String> {
        std::env::var("CLOUDOPS_SERVER_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| self.server.url.clone())
    }

    /// Where AWS requests go: the environment's `AWS_ENDPOINT_URL*` variables, else the
    /// config's `[aws] endpoint_url` for every service, else AWS itself.
    pub fn endpoints(&self) -> crate::aws::Endpoints {
        let from_env = crate::aws::Endpoints::from_env();
        match &self.aws.endpoint_url {
            Some(url) if !from_env.is_overridden() => from_env.with_global(url.clone()),
            _ => from_env,
        }
    }

    /// The credentials that replace the default chain: AWS's documented example keys when
    /// `[aws] example_keys` is set together with `endpoint_url` (AWS itself refuses them).
    pub fn base_credentials(&self) -> Option<crate::aws::Credentials> {
        (self.aws.example_keys && self.aws.endpoint_url.is_some()).then(|| {
            crate::aws::Credentials::from_keys(
                crate::aws::EXAMPLE_ACCESS_KEY,
                crate::aws::EXAMPLE_SECRET_KEY,
                None,
            )
        })
    }

    /// The ask flow's options for `data_dir` under this configuration: the store, the plan
    /// server, the accounts and the endpoints.
    pub fn ask_options(&self, data_dir: &Path) -> crate::ask::Options {
        let mut options = crate::ask::Options::new(data_dir);
        if let Some(url) = self.qdrant_url() {
            options.store = crate::store::Location::Server {
                url,
                api_key: self.qdrant_api_key(),
            };
        }
        options.server_url = self.server_url();
        options.endpoints = self.endpoints();
        options.base_credentials = self.base_credentials();
        options.accounts = self
            .accounts
            .iter()
            .map(|a| crate::ask::AccountAccess {
                name: a.name.clone(),
                profile: a.profile.clone(),
                role_arn: a.role_arn.clone(),
            })
            .collect();
        options
    }

    /// The server's API key, read from the environment variable the config names.
    pub fn qdrant_api_key(&self) -> Option<String> {
        let var = self
            .store
            .qdrant_api_key_env
            .as_deref()
            .unwrap_or("QDRANT_API_KEY");
        std::env::var(var).ok().filter(|k| !k.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_example() {
        let text = include_str!("config.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| {
                l.strip_prefix("//! ")
                    .unwrap_or(l.trim_start_matches("//!"))
            })
            .collect::<Vec<_>>()
            .join("\n");
        let config: Config = toml::from_str(&text).unwrap();
        assert_eq!(config.accounts.len(), 2);
        assert_eq!(
            config.accounts[1].role_arn.as_deref(),
            Some("arn:aws:iam::222222222222:role/ReadOnly")
        );
        assert_eq!(config.sync.concurrency, Some(10));
        assert_eq!(config.backup.multipart_threshold_mib, Some(64));
        assert_eq!(config.backup.auto, Some(true));
    }

    #[test]
    fn unknown_keys_are_errors_and_a_missing_file_is_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        assert_eq!(Config::load_from(&path).unwrap(), Config::default());
        std::fs::write(&path, "[store]\nqdrant = 1\n").unwrap();
        let err = Config::load_from(&path).unwrap_err();
        assert!(
            err.contains("qdrant") && err.contains("config.toml"),
            "{err}"
        );
    }
}
