//! Where AWS credentials come from.
//!
//! Resolution order, first match wins:
//!
//! 1. With `--profile P`: keys stored for `P` in the OS keychain, then the profile `P` in
//!    `~/.aws/config` / `~/.aws/credentials` (static keys, `role_arn` + `source_profile`
//!    AssumeRole, SSO, `credential_process`).
//! 2. Without a profile: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//!    `AWS_SESSION_TOKEN`; keys stored in the OS keychain for `AWS_PROFILE` (or `default`);
//!    then the SDK's default chain (profile files, web identity, container and instance
//!    metadata).
//!
//! Secrets stay inside [`Credentials`], whose `Debug` output is redacted, and are never
//! formatted into errors or logs.

use std::fmt;

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_config::provider_config::ProviderConfig;
use aws_config::Region;
use aws_credential_types::provider::{self, future, ProvideCredentials};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use serde::{Deserialize, Serialize};

/// The keychain service name under which cloudops keeps AWS keys.
const KEYRING_SERVICE: &str = "cloudops";

/// Credentials could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// No provider had credentials.
    #[error(
        "no AWS credentials found{for_profile}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
         configure a profile in ~/.aws/credentials, or store keys with \
         `cloudops credentials set`"
    )]
    NotFound {
        /// `" for profile X"` or empty.
        for_profile: String,
    },
    /// A provider had credentials but failed to produce them (bad profile, AssumeRole denied).
    #[error("loading AWS credentials{for_profile} failed: {reason}")]
    Provider {
        /// `" for profile X"` or empty.
        for_profile: String,
        /// What went wrong, as the provider reported it.
        reason: String,
    },
    /// The OS keychain refused the operation.
    #[error("OS keychain: {0}")]
    Keyring(String),
}

/// Long-term keys as kept in the OS keychain. `Debug` never shows the secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredKeys {
    /// The access key id (`AKIA...`); not a secret on its own.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// A session token, for temporary keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

impl fmt::Debug for StoredKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKeys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// The keychain account name for a profile's keys.
pub fn keyring_entry_name(profile: &str) -> String {
    format!("aws-profile:{profile}")
}

/// Stores `keys` in the OS keychain for `profile`, replacing what was there.
pub fn store_keys_in_keyring(profile: &str, keys: &StoredKeys) -> Result<(), CredentialsError> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, &keyring_entry_name(profile))
        .map_err(|e| CredentialsError::Keyring(e.to_string()))?;
    let json = serde_json::to_string(keys).expect("plain strings serialize");
    entry.set_password(&json).map_err(|e| {
        // Seen on headless Linux: with no login session keyring, the kernel refuses to link
        // the new key into the persistent keyring.
        CredentialsError::Keyring(format!(
            "cannot store keys for profile `{profile}`: {e}. On Linux without a desktop login \
             session, run cloudops under `keyctl session` (keyutils) or keep the keys in \
             ~/.aws/credentials instead"
        ))
    })
}

/// Removes the keys stored for `profile`, if any.
pub fn delete_keys_from_keyring(profile: &str) -> Result<(), CredentialsError> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, &keyring_entry_name(profile))
        .map_err(|e| CredentialsError::Keyring(e.to_string()))?;
    match entry.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(CredentialsError::Keyring(e.to_string())),
    }
}

/// Reads keys for a profile from the OS keychain; a missing entry or an unavailable
/// keychain means "not here, try the next provider".
#[derive(Debug)]
struct KeyringProvider {
    profile: String,
}

impl KeyringProvider {
    fn load(&self) -> provider::Result {
        let entry = keyring::Entry::new(KEYRING_SERVICE, &keyring_entry_name(&self.profile))
            .map_err(provider::error::CredentialsError::not_loaded)?;
        let json = match entry.get_password() {
            Ok(json) => json,
            Err(keyring::Error::NoEntry) => {
                return Err(provider::error::CredentialsError::not_loaded_no_source())
            }
            Err(e) => {
                tracing::debug!(profile = %self.profile, error = %e, "OS keychain unavailable");
                return Err(provider::error::CredentialsError::not_loaded(e));
            }
        };
        // The error names the entry, never its content.
        let keys: StoredKeys = serde_json::from_str(&json).map_err(|_| {
            provider::error::CredentialsError::provider_error(format!(
                "the keychain entry `{}` is not valid cloudops JSON; store the keys again \
                 with `cloudops credentials set --profile {}`",
                keyring_entry_name(&self.profile),
                self.profile
            ))
        })?;
        Ok(Credentials::new(
            keys.access_key_id,
            keys.secret_access_key,
            keys.session_token,
            None,
            "cloudops-keyring",
        ))
    }
}

impl ProvideCredentials for KeyringProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(self.load())
    }
}

/// What aws-config's providers send their requests with (a profile's `role_arn` AssumeRole,
/// SSO, web identity, container and instance metadata): the SDK's own HTTP client on rustls
/// with ring, the crypto the host's reqwest already uses. aws-config's default client is
/// the same client on AWS-LC, a C library the build would compile for this alone.
fn provider_config() -> ProviderConfig {
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    ProviderConfig::default().with_http_client(client)
}

/// The region of `profile` (or of the environment's default profile): `AWS_REGION`, then
/// the profile's `region`, then the instance's (its metadata service); `None` when none
/// has one.
pub async fn default_region(profile: Option<&str>) -> Option<String> {
    let config = provider_config();
    configured_region(&config, profile)
        .or_else(ImdsRegionProvider::builder().configure(&config).build())
        .region()
        .await
        .map(|r| r.to_string())
}

/// `AWS_REGION`, then the profile's `region`.
fn configured_region(config: &ProviderConfig, profile: Option<&str>) -> RegionProviderChain {
    let mut from_profile = ProfileFileRegionProvider::builder().configure(config);
    if let Some(p) = profile {
        from_profile = from_profile.profile_name(p);
    }
    RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(from_profile.build())
}

/// Loads credentials for `profile` (or the environment's default) in the order described
/// in the module documentation.
pub async fn load_credentials(profile: Option<&str>) -> Result<Credentials, CredentialsError> {
    let for_profile = profile
        .map(|p| format!(" for profile `{p}`"))
        .unwrap_or_default();
    let config = provider_config();
    let chain = match profile {
        Some(p) => {
            // The profile's `role_arn` is assumed through STS in the profile's region, or
            // in us-east-1 (where STS's global endpoint is) when it names none.
            let region = configured_region(&config, Some(p))
                .region()
                .await
                .unwrap_or_else(|| Region::from_static("us-east-1"));
            CredentialsProviderChain::first_try(
                "Keyring",
                KeyringProvider {
                    profile: p.to_owned(),
                },
            )
            .or_else(
                "Profile",
                ProfileFileCredentialsProvider::builder()
                    .configure(&config.with_region(Some(region)))
                    .profile_name(p)
                    .build(),
            )
        }
        None => {
            let env_profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
            CredentialsProviderChain::first_try(
                "Environment",
                EnvironmentVariableCredentialsProvider::new(),
            )
            .or_else(
                "Keyring",
                KeyringProvider {
                    profile: env_profile,
                },
            )
            .or_else(
                "Default",
                DefaultCredentialsChain::builder()
                    .configure(config)
                    .build()
                    .await,
            )
        }
    };
    match chain.provide_credentials().await {
        Ok(credentials) => Ok(credentials),
        Err(provider::error::CredentialsError::CredentialsNotLoaded(_)) => {
            Err(CredentialsError::NotFound { for_profile })
        }
        Err(e) => Err(CredentialsError::Provider {
            for_profile,
            reason: error_chain(&e),
        }),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_debug_is_redacted() {
        let keys = StoredKeys {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("token-secret".into()),
        };
        let shown = format!("{keys:?}");
        assert!(shown.contains("AKIAEXAMPLE"));
        assert!(
            !shown.contains("very-secret") && !shown.contains("token-secret"),
            "{shown}"
        );
    }
}
