//! `cloudops backup`, `cloudops restore` and `cloudops key export|import`, and the daily
//! backup after a sync.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use cloudops_host::aws::{self, AwsClient, Endpoints, HttpTransport};
use cloudops_host::backup::keyfile::{self, KdfParams};
use cloudops_host::backup::retention::{self, LOCAL_DAYS, S3_DAYS};
use cloudops_host::backup::s3::{self, Bucket, Location};
use cloudops_host::backup::{self, ConfigOutcome};
use cloudops_host::config::Config;
use cloudops_host::seal::{KeyStore, KeyStoreChoice, Sealer};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

/// The passphrase for `key export|import` in scripts (else `--passphrase-file`, else asked).
const PASSPHRASE_ENV: &str = "CLOUDOPS_KEY_PASSPHRASE";

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    command: Option<BackupCommand>,
    /// Also upload the backup here (default: `[backup] s3` of the config file).
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    to: Option<String>,
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// List local and S3 backups with their age, size and what they hold.
    List {
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Check a backup completely (every chunk and checksum) without restoring it.
    Verify {
        /// A backup file, or s3://BUCKET/KEY.
        archive: String,
    },
    /// Set a lifecycle rule on the S3 bucket that expires backups after 30 days and cleans up
    /// interrupted uploads (other rules of the bucket are kept).
    Lifecycle {
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup file, or s3://BUCKET/KEY (`cloudops backup list` shows them).
    archive: String,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write the estate key, wrapped under a passphrase (Argon2id), to FILE for safekeeping.
    Export {
        /// Where to write it (created, mode 0600; never overwritten).
        file: PathBuf,
        /// Read the passphrase from the first line of this file instead of asking
        /// (or set CLOUDOPS_KEY_PASSPHRASE).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Read an exported estate key back into this data dir (never replacing another key).
    Import {
        /// The file `cloudops key export` wrote.
        file: PathBuf,
        /// Read the passphrase from the first line of this file instead of asking
        /// (or set CLOUDOPS_KEY_PASSPHRASE).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn sealer(data_dir: &Path) -> anyhow::Result<Sealer> {
    Sealer::existing(data_dir)
        .map(|(s, _)| s)
        .context("getting the estate key (`cloudops key import FILE` brings back an exported one)")
}

pub async fn run(args: BackupArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load().map_err(anyhow::Error::msg)?;
    match args.command {
        None => {
            let to = args.to.or(config.backup.s3.clone());
            take(data_dir, &config, to.as_deref(), now()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(BackupCommand::List { json }) => list(data_dir, &config, json).await,
        Some(BackupCommand::Verify { archive }) => {
            let sealer = sealer(data_dir)?;
            let (path, _download) = fetch(&archive, data_dir, &config).await?;
            let manifest =
                tokio::task::spawn_blocking(move || backup::verify(&path, &sealer)).await??;
            eprintln!(
                "verified: {} parts, {} ({})",
                manifest.parts.len(),
                manifest.summary.describe(),
                cloudops_host::estate::utc(manifest.created_at)
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(BackupCommand::Lifecycle { yes }) => lifecycle(&config, yes).await,
    }
}

/// Takes a backup into `<data dir>/backups`, prunes local backups, and uploads it to `to`
/// (pruning there too). The local backup is kept whatever happens to the upload.
async fn take(data_dir: &Path, config: &Config, to: Option<&str>, now: i64) -> anyhow::Result<()> {
    if config.qdrant_url().is_some() {
        eprintln!(
            "warning: the store is on a Qdrant server, not in the data dir: back it up with the \
             server's own snapshots; this backup holds everything else"
        );
    }
    let sealer = sealer(data_dir)?;
    let (dir, config_path) = (data_dir.to_owned(), Config::path());
    let started = std::time::Instant::now();
    let created = tokio::task::spawn_blocking(move || {
        let local = backup::local_dir(&dir);
        let created = backup::create(&dir, config_path.as_deref(), &sealer, &local, now)?;
        let pruned = retention::prune_local(&local, now)?;
        anyhow::Ok((created, pruned))
    })
    .await??;
    let (created, pruned) = created;
    eprintln!(
        "backup: {} ({}, {} in {:.1} s)",
        created.path.display(),
        created.manifest.summary.describe(),
        megabytes(created.size),
        started.elapsed().as_secs_f64()
    );
    if !pruned.is_empty() {
        eprintln!(
            "backup: removed {} local backups older than {LOCAL_DAYS} days",
            pruned.len()
        );
    }
    if let Some(url) = to {
        let threshold = threshold(config)?;
        let bucket = bucket(config, url)
            .await
            .with_context(|| format!("the local backup is kept; uploading it to {url}"))?;
        let key = bucket.upload(&created.path, threshold).await?;
        eprintln!("backup: uploaded to {}", bucket.location.url(&key));
        let pruned = bucket.prune(now).await?;
        if !pruned.is_empty() {
            eprintln!(
                "backup: removed {} S3 copies older than {S3_DAYS} days",
                pruned.len()
            );
        }
    }
    Ok(())
}

/// After a sync that stored something: a backup if none was taken in the last day (and
/// `[backup] auto` is not false). Failures are warnings; the sync's outcome stands.
pub async fn after_sync(data_dir: &Path) {
    let Ok(config) = Config::load() else {
        return;
    };
    let now = now();
    if config.backup.auto == Some(false) || !retention::due(&backup::local_dir(data_dir), now) {
        return;
    }
    if let Err(e) = take(data_dir, &config, config.backup.s3.as_deref(), now).await {
        eprintln!("warning: the daily backup failed: {e:#}; `cloudops backup` retries it");
    }
}

fn threshold(config: &Config) -> anyhow::Result<u64> {
    match config.backup.multipart_threshold_mib {
        None => Ok(s3::DEFAULT_THRESHOLD),
        Some(0) => {
            anyhow::bail!("[backup] multipart_threshold_mib = 0 in config.toml: use 5 or more")
        }
        Some(mib) => {
            if mib << 20 < s3::MIN_PART {
                eprintln!(
                    "warning: [backup] multipart_threshold_mib = {mib}: AWS S3 refuses parts \
                     under 5 MiB (only S3-compatible stores accept them); use 5 or more"
                );
            }
            Ok(mib << 20)
        }
    }
}

/// The bucket at `url`, with the `[backup]` credentials and region.
async fn bucket(config: &Config, url: &str) -> anyhow::Result<Bucket> {
    let location = Location::parse(url)?;
    let profile = config.backup.profile.as_deref();
    let region = match &config.backup.region {
        Some(region) => region.clone(),
        None => super::scan::default_region(profile).await?,
    };
    let credentials = aws::load_credentials(profile)
        .await
        .context("loading the credentials for the backup bucket")?;
    let client = AwsClient::new(
        credentials,
        Endpoints::from_env(),
        Arc::new(HttpTransport::new()?),
    );
    Ok(Bucket::connect(client, &region, location).await?)
}

/// A local path for `archive`: itself, or a download of `s3://bucket/key` beside the data
/// dir (removed when the returned guard drops).
async fn fetch(
    archive: &str,
    data_dir: &Path,
    config: &Config,
) -> anyhow::Result<(PathBuf, Option<Download>)> {
    let Some(rest) = archive.strip_prefix("s3://") else {
        return Ok((PathBuf::from(archive), None));
    };
    let (bucket_name, key) = rest
        .split_once('/')
        .with_context(|| format!("{archive}: name the object, s3://BUCKET/KEY"))?;
    let bucket = bucket(config, &format!("s3://{bucket_name}")).await?;
    let data = std::path::absolute(data_dir)?;
    let name = data.file_name().context("the data dir has no name")?;
    let path = data.with_file_name(format!(
        "{}.download-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let guard = Download(path.clone());
    let size = bucket.download(key, &path).await?;
    eprintln!("downloaded {archive} ({})", megabytes(size));
    Ok((path, Some(guard)))
}

/// A downloaded archive, removed when dropped.
struct Download(PathBuf);

impl Drop for Download {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub async fn restore(args: RestoreArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load().map_err(anyhow::Error::msg)?;
    let sealer = sealer(data_dir)?;
    let (path, _download) = fetch(&args.archive, data_dir, &config).await?;
    let dir = data_dir.to_owned();
    let config_path = Config::path();
    let restored = tokio::task::spawn_blocking(move || {
        backup::restore(&path, &dir, &sealer, config_path.as_deref(), now())
    })
    .await?
    .with_context(|| format!("restoring {}", args.archive))?;
    eprintln!(
        "restored {} into {} ({}, taken {})",
        args.archive,
        data_dir.display(),
        restored.manifest.summary.describe(),
        cloudops_host::estate::utc(restored.manifest.created_at)
    );
    match restored.config {
        Some(ConfigOutcome::Written(p)) => eprintln!("restored the config file {}", p.display()),
        Some(ConfigOutcome::KeptCurrent { current, archived }) => eprintln!(
            "kept the current config file {}; the backup's is in {} (compare them)",
            current.display(),
            archived.display()
        ),
        Some(ConfigOutcome::Unchanged(_)) | None => {}
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(data_dir: &Path, config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let now = now();
    let mut rows = Vec::new();
    for b in retention::list(&backup::local_dir(data_dir)) {
        let holds = b.header.map(|h| h.summary.describe()).unwrap_or_else(|e| e);
        rows.push((
            "local",
            b.path.display().to_string(),
            b.created_at,
            b.size,
            holds,
        ));
    }
    if let Some(url) = &config.backup.s3 {
        match bucket(config, url).await {
            Ok(bucket) => {
                for o in bucket.list().await? {
                    let holds = match bucket.header(&o.key).await {
                        Ok(h) => h.summary.describe(),
                        Err(e) => e.to_string(),
                    };
                    rows.push((
                        "s3",
                        bucket.location.url(&o.key),
                        o.created_at,
                        o.size,
                        holds,
                    ));
                }
            }
            Err(e) => eprintln!("warning: cannot list {url}: {e:#}"),
        }
    }
    if json {
        let doc: Vec<_> = rows
            .iter()
            .map(|(place, at, created, size, holds)| {
                serde_json::json!({"where": place, "location": at, "created_at": created,
                    "age_seconds": now - created, "size": size, "holds": holds})
            })
            .collect();
        out!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        out!("no backups yet: run `cloudops backup` (a sync takes one a day)");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["WHERE", "BACKUP", "AGE", "SIZE", "HOLDS"]);
    for (place, at, created, size, holds) in rows {
        table.add_row([
            place.to_owned(),
            at,
            super::sync::humanize(now - created),
            megabytes(size),
            holds,
        ]);
    }
    out!("{table}");
    Ok(ExitCode::SUCCESS)
}

async fn lifecycle(config: &Config, yes: bool) -> anyhow::Result<ExitCode> {
    let url = config
        .backup
        .s3
        .as_deref()
        .context("no `[backup] s3 = \"s3://BUCKET/PREFIX\"` in config.toml")?;
    let bucket = bucket(config, url).await?;
    eprintln!(
        "This sets a lifecycle rule on {} that deletes backups under `{}` {S3_DAYS} days after \
         upload and aborts uploads left incomplete for a day (the bucket's other rules stay):\n{}",
        bucket.location.bucket,
        bucket.location.prefix,
        bucket.lifecycle_rule(S3_DAYS)
    );
    if !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("pass --yes to set it without a terminal");
        }
        eprint!("Set it? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("not set");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let kept = bucket.set_lifecycle(S3_DAYS).await?;
    eprintln!("set (kept {kept} other rules)");
    Ok(ExitCode::SUCCESS)
}

pub fn key(cmd: KeyCommand, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let store = KeyStore::new(data_dir).choice(KeyStoreChoice::from_env()?);
    match cmd {
        KeyCommand::Export {
            file,
            passphrase_file,
        } => {
            let (key, _) = store.load_existing().context("reading the estate key")?;
            let passphrase = passphrase(passphrase_file.as_deref(), true)?;
            let text = keyfile::export(&key, passphrase.as_bytes(), KdfParams::default())?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            use std::io::Write;
            options
                .open(&file)
                .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
                .with_context(|| format!("writing {} (it must not exist yet)", file.display()))?;
            eprintln!(
                "wrote the estate key (id {}) to {}, wrapped under your passphrase; keep both \
                 apart from your backups",
                Sealer::from_key(&key).key_id(),
                file.display()
            );
        }
        KeyCommand::Import {
            file,
            passphrase_file,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let passphrase = passphrase(passphrase_file.as_deref(), false)?;
            let (key, id) = keyfile::import(&text, passphrase.as_bytes())?;
            let source = store.import(&key)?;
            eprintln!("imported the estate key (id {id}) into the {source}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The passphrase: from `file`, else `CLOUDOPS_KEY_PASSPHRASE`, else asked on the terminal
/// without echo (twice when `confirm`).
fn passphrase(file: Option<&Path>, confirm: bool) -> anyhow::Result<zeroize::Zeroizing<String>> {
    if let Some(file) = file {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading the passphrase file {}", file.display()))?,
        );
        return Ok(zeroize::Zeroizing::new(
            text.lines().next().unwrap_or_default().to_owned(),
        ));
    }
    if let Ok(value) = std::env::var(PASSPHRASE_ENV) {
        return Ok(zeroize::Zeroizing::new(value));
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "no terminal to ask for the passphrase: pass --passphrase-file FILE or set \
             {PASSPHRASE_ENV}"
        );
    }
    let first = zeroize::Zeroizing::new(rpassword::prompt_password("Passphrase: ")?);
    if confirm {
        let again = zeroize::Zeroizing::new(rpassword::prompt_password("Again: ")?);
        if *again != *first {
            anyhow::bail!("the two passphrases differ; nothing was written");
        }
    }
    Ok(first)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
