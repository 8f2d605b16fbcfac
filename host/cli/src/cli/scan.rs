//! `cloudops scan` and `cloudops credentials`.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use cloudops_host::aws::{self, AwsClient, Endpoints, HttpTransport, StoredKeys};
use cloudops_host::plugin::trust::TrustStore;
use cloudops_host::plugin::{self, CodeCache, Limits, Plugin, PluginEngine};
use cloudops_host::{paths, scan};

use super::output;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The service (plugin name) to scan: ec2, ...
    #[arg(long, short)]
    service: String,
    /// AWS profile from ~/.aws/config; default: AWS_PROFILE or the default chain.
    #[arg(long, env = "AWS_PROFILE")]
    profile: Option<String>,
    /// Region to scan; repeat for several. Default: AWS_REGION / AWS_DEFAULT_REGION / the
    /// profile's region.
    #[arg(long = "region", short, value_name = "REGION")]
    regions: Vec<String>,
    /// Regions scanned at the same time.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Also learn what you may do with each resource: STS identifies you, IAM
    /// SimulatePrincipalPolicy checks the actions the plugin declares, and the plugin's
    /// state-based constraints are narrowed by the result.
    #[arg(long)]
    iam: bool,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Store an access key in the OS keychain for a profile. The key id and secret are
    /// read from stdin (one per line, then an optional session token), never from
    /// arguments, so they stay out of shell history and process lists.
    Set {
        /// Profile the keys are for.
        #[arg(long, default_value = "default")]
        profile: String,
    },
    /// Remove the keys stored in the OS keychain for a profile.
    Delete {
        /// Profile whose keys to remove.
        #[arg(long, default_value = "default")]
        profile: String,
    },
}

pub async fn run(args: ScanArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let credentials = aws::load_credentials(args.profile.as_deref()).await?;
    let regions = if args.regions.is_empty() {
        vec![default_region(args.profile.as_deref()).await?]
    } else {
        args.regions.clone()
    };
    let regions = aws::regions::checked_regions(&regions).map_err(anyhow::Error::msg)?;
    let client = AwsClient::new(
        credentials,
        Endpoints::from_env(),
        Arc::new(HttpTransport::new()?),
    );
    let plugin = load_plugin(data_dir, &args.service)?;
    // With --iam the principal is needed anyway, and it carries the account id: one STS
    // call either way.
    let principal = if args.iam {
        Some(aws::iam::identify(&client, &regions[0]).await)
    } else {
        None
    };
    let account_id = match &principal {
        Some(Ok(p)) => p.account_id.clone(),
        _ => client.account_id(&regions[0]).await.context(
            "cannot identify the AWS account (STS GetCallerIdentity); check the credentials",
        )?,
    };
    let scans = scan::scan_regions(
        &plugin,
        &client,
        &account_id,
        &regions,
        &[],
        args.concurrency,
    )
    .await;
    let access = match principal {
        Some(principal) => {
            let found: Vec<_> = scans
                .iter()
                .flat_map(|s| s.resources.iter().cloned())
                .collect();
            let principal = principal
                .map_err(|e| format!("permissions unknown: cannot identify the caller: {e}"));
            Some(scan::access_as(&plugin, &client, &regions[0], principal, &found).await)
        }
        None => None,
    };
    Ok(output::print_scan(
        &plugin,
        &account_id,
        &scans,
        access.as_ref(),
        args.json,
    ))
}

/// Loads the plugin named `name` from the plugin folders, with a message that says how to
/// get it when it is missing.
pub fn load_plugin(data_dir: &Path, name: &str) -> anyhow::Result<Plugin> {
    let roots = paths::plugin_roots(data_dir);
    let dir = plugin::find(&roots, name).with_context(|| {
        format!(
            "no `{name}` plugin in {}: build one with `cloudops plugin build plugins/{name}` \
             (or drop a built plugin folder there)",
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let engine = PluginEngine::new(Some(CodeCache::in_data_dir(data_dir)))?;
    let trust = TrustStore::open(&paths::trust_file(data_dir))?;
    Ok(trust.load(&engine, &dir, Limits::default())?)
}

pub(super) async fn default_region(profile: Option<&str>) -> anyhow::Result<String> {
    aws::default_region(profile).await.context(
        "no region given: pass --region, or set AWS_REGION, or set `region` in the profile",
    )
}

pub fn credentials(cmd: CredentialsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CredentialsCommand::Set { profile } => {
            eprintln!("Paste the access key id, then the secret access key (and optionally a session token), one per line; end with Ctrl-D:");
            let lines: Vec<String> = std::io::stdin()
                .lock()
                .lines()
                .map_while(Result::ok)
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect();
            let (Some(access_key_id), Some(secret_access_key)) = (lines.first(), lines.get(1))
            else {
                anyhow::bail!("expected the access key id and the secret access key on two lines");
            };
            let keys = StoredKeys {
                access_key_id: access_key_id.clone(),
                secret_access_key: secret_access_key.clone(),
                session_token: lines.get(2).cloned(),
            };
            aws::store_keys_in_keyring(&profile, &keys)?;
            eprintln!(
                "Stored keys for profile `{profile}` in the OS keychain (entry `{}`).",
                aws::keyring_entry_name(&profile)
            );
            Ok(ExitCode::SUCCESS)
        }
        CredentialsCommand::Delete { profile } => {
            aws::delete_keys_from_keyring(&profile)?;
            eprintln!("Removed any keys stored for profile `{profile}` from the OS keychain.");
            Ok(ExitCode::SUCCESS)
        }
    }
}
