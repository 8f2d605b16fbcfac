//! `cloudops store`: repairing the local store.

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use cloudops_host::config::Config;
use cloudops_host::store::published::WRITING_MARKER;
use cloudops_host::store::{Collection, Location};

use super::{local, sync};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Re-sync everything into a fresh local store, for a store that lost data or cannot be
    /// read. The damaged store is moved aside (not deleted); searches keep answering from
    /// the last good copy until the new store is complete, then switch to it at once.
    ///
    /// Takes the same options as `cloudops sync`. Examples:
    ///   cloudops store rebuild
    ///   cloudops store rebuild --profile prod --region us-west-2
    Rebuild(RebuildArgs),
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    sync: sync::SyncArgs,
}

pub async fn run(cmd: StoreCommand, data_dir: &Path) -> anyhow::Result<ExitCode> {
    match cmd {
        StoreCommand::Rebuild(args) => rebuild(args, data_dir).await,
    }
}

async fn rebuild(args: RebuildArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load_for(data_dir).map_err(anyhow::Error::msg)?;
    let dir = match local::location(data_dir, &config) {
        Location::Embedded(dir) => dir,
        Location::Server { url, .. } => anyhow::bail!(
            "the store is the Qdrant server {url}, which keeps its own data; `store rebuild` \
             repairs the embedded store. To start over there, delete its `aws_estate` \
             collection and run `cloudops sync`"
        ),
    };
    let aside = move_aside(&dir)?;
    if let Some(aside) = &aside {
        eprintln!(
            "moved the damaged store to {} (delete it once the rebuilt store looks right)",
            aside.display()
        );
    }
    // The generations under published/ stay: readers use the last one until the sync below
    // publishes the rebuilt store, which replaces it in one rename.
    let code = sync::run(args.sync, data_dir).await?;
    eprintln!("rebuilt the local store at {}", dir.display());
    Ok(code)
}

/// Moves the live collections into `<dir>/damaged-<unix seconds>/` under the writer's lock (so
/// no sync is writing them), and marks the empty store as ahead of the last generation, which
/// it is not comparable with. `None` when there was nothing to move.
fn move_aside(dir: &Path) -> anyhow::Result<Option<std::path::PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))
        .with_context(|| format!("opening {}", dir.join(".lock").display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => anyhow::bail!(
            "a cloudops sync is writing the store at {}; wait for it to finish, then rebuild",
            dir.display()
        ),
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", dir.display()))
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let aside = dir.join(format!("damaged-{now}"));
    let mut moved = false;
    for collection in Collection::ALL {
        let from = dir.join(collection.name());
        if from.exists() {
            fs::create_dir_all(&aside).with_context(|| format!("creating {}", aside.display()))?;
            fs::rename(&from, aside.join(collection.name()))
                .with_context(|| format!("moving {} aside", from.display()))?;
            moved = true;
        }
    }
    fs::write(dir.join(WRITING_MARKER), b"")
        .with_context(|| format!("marking {} as being rebuilt", dir.display()))?;
    Ok(moved.then_some(aside))
}
