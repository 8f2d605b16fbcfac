//! The AWS accounts a sync from the app covers: the config's `[[accounts]]`, else the default
//! credentials, each with its regions (configured, else `AWS_REGION`/`AWS_DEFAULT_REGION`).
//! `cloudops sync` takes the same accounts (plus `--profile`/`--region`, which the app has no
//! use for).

use std::path::Path;
use std::sync::Arc;

use cloudops_host::aws::{self, iam, AwsClient, HttpTransport};
use cloudops_host::config::{AccountConfig, Config};
use cloudops_host::scan::sync::SyncAccount;

use crate::error::{CommandError, CommandResult};

/// The configured accounts, ready to sync. An account that cannot be set up fails the whole
/// request with its name and what to do: in the app the user fixes it and presses Sync again.
pub async fn configured(data_dir: &Path) -> CommandResult<Vec<SyncAccount>> {
    let config = Config::load_for(data_dir).map_err(CommandError::Host)?;
    let entries = if config.accounts.is_empty() {
        vec![AccountConfig {
            name: std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into()),
            profile: None,
            role_arn: None,
            regions: Vec::new(),
        }]
    } else {
        config.accounts.clone()
    };
    let transport = Arc::new(HttpTransport::new().map_err(CommandError::host)?);
    let mut accounts = Vec::new();
    for entry in entries {
        let fail = |what: String| CommandError::Host(format!("account `{}`: {what}", entry.name));
        let regions = if entry.regions.is_empty() {
            let env = std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION"));
            env.map(|r| vec![r]).map_err(|_| {
                fail(
                    "no regions: list them as `regions = [...]` under its [[accounts]] in \
                      config.toml, or set AWS_REGION"
                        .into(),
                )
            })?
        } else {
            entry.regions.clone()
        };
        let regions = aws::regions::checked_regions(&regions).map_err(fail)?;
        // A kept demo's config signs with the emulator's keys, as `cloudops sync` does.
        let credentials = match (config.base_credentials(), &entry.profile) {
            (Some(example), None) => example,
            _ => aws::load_credentials(entry.profile.as_deref())
                .await
                .map_err(|e| fail(format!("loading its credentials: {e}")))?,
        };
        let mut client = AwsClient::new(credentials, config.endpoints(), transport.clone());
        if let Some(role) = &entry.role_arn {
            client = iam::assume_role(&client, &regions[0], role, "cloudops-app")
                .await
                .map_err(|e| fail(format!("assuming {role}: {e}")))?;
        }
        accounts.push(SyncAccount {
            name: entry.name.clone(),
            client,
            regions,
        });
    }
    Ok(accounts)
}
