//! What the app keeps between commands: the data dir, the estate as readers see it (opened
//! once, reopened after a sync publishes), and the demo emulator while it runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cloudops_demo::{Emulator, SeededAccount};
use cloudops_host::ask::AccountAccess;
use cloudops_host::aws::{Credentials, Endpoints, EXAMPLE_ACCESS_KEY, EXAMPLE_SECRET_KEY};
use cloudops_host::config::Config;
use cloudops_host::estate::Estate;
use cloudops_host::local;
use cloudops_host::scan::status::SyncStatus;
use cloudops_host::search::AccountName;

use crate::error::{CommandError, CommandResult};

/// The estate as a reader sees it, with the account names queries may use.
pub struct Reader {
    /// The opened estate (never waits for a writer).
    pub estate: Estate,
    /// Account names from the sync status ("in production account").
    pub accounts: Vec<AccountName>,
}

/// The demo estate's emulator and the accounts seeded in it, kept while the app runs so that
/// syncs and executions reach it; dropping it stops the emulator.
pub struct Demo {
    /// The running emulator.
    pub emulator: Emulator,
    /// The seeded accounts with their regions.
    pub accounts: Vec<(SeededAccount, Vec<String>)>,
}

impl Demo {
    /// Every AWS request to the emulator.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints::default().with_global(self.emulator.url())
    }

    /// How the ask flow reaches each demo account: the role the seed made there, assumed
    /// with the emulator's keys ([`Demo::base_credentials`]), as a kept `cloudops demo`'s
    /// config.toml says.
    pub fn access(&self) -> Vec<AccountAccess> {
        self.accounts
            .iter()
            .map(|(a, _)| AccountAccess {
                name: a.name.clone(),
                profile: None,
                role_arn: Some(a.role_arn.clone()),
            })
            .collect()
    }

    /// The keys the demo signs with: AWS's documented example keys, which only an emulator
    /// accepts.
    pub fn base_credentials(&self) -> Credentials {
        Credentials::from_keys(EXAMPLE_ACCESS_KEY, EXAMPLE_SECRET_KEY, None)
    }
}

/// The app's state, managed by Tauri.
pub struct AppState {
    /// `CLOUDOPS_DATA_DIR` or the XDG data dir.
    pub data_dir: PathBuf,
    reader: Mutex<Option<Arc<Reader>>>,
    /// The demo, once started.
    pub demo: tokio::sync::Mutex<Option<Demo>>,
    /// True while a sync (or the demo's seeding and sync) runs.
    pub syncing: AtomicBool,
    /// The chat's ask session.
    pub chat: crate::chat::Chat,
    /// Whether the user had AWS set up when the app started (see `sync::aws_configured`).
    pub aws_configured: bool,
    /// The explorer's newest results, paged to the list as it scrolls.
    pub listing: crate::explore::Listing,
}

impl AppState {
    /// The state for `data_dir`.
    pub fn new(data_dir: PathBuf, aws_configured: bool) -> Self {
        Self {
            data_dir,
            reader: Mutex::new(None),
            demo: tokio::sync::Mutex::new(None),
            syncing: AtomicBool::new(false),
            chat: crate::chat::Chat::default(),
            aws_configured,
            listing: crate::explore::Listing::default(),
        }
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The estate for reading, opened on first use. Blocking: call it off the async runtime.
    pub fn reader(&self) -> CommandResult<Arc<Reader>> {
        let mut slot = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(reader) = slot.as_ref() {
            return Ok(reader.clone());
        }
        let config = Config::load_for(&self.data_dir).map_err(CommandError::Host)?;
        let opened = local::open_reader(&self.data_dir, &config).map_err(|e| {
            CommandError::NoEstate(format!(
                "{e}. Nothing synced yet? Open Sync and press Sync, or load the demo estate"
            ))
        })?;
        let accounts = SyncStatus::load(&self.data_dir)
            .map_err(CommandError::Host)?
            .account_names();
        let reader = Arc::new(Reader {
            estate: opened.estate,
            accounts,
        });
        *slot = Some(reader.clone());
        Ok(reader)
    }

    /// Forgets the opened estate, so the next read sees what a sync just published.
    pub fn reopen(&self) {
        *self.reader.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Marks a sync as started; `Busy` when one already runs. The guard ends it.
    pub fn begin_sync(self: &Arc<Self>) -> CommandResult<SyncGuard> {
        if self.syncing.swap(true, Ordering::SeqCst) {
            return Err(CommandError::Busy(
                "a sync is already running: wait for it to finish (its progress is in Sync)".into(),
            ));
        }
        Ok(SyncGuard(self.clone()))
    }
}

/// Ends the sync it was made for when dropped (also on an error or a panic).
pub struct SyncGuard(Arc<AppState>);

impl Drop for SyncGuard {
    fn drop(&mut self) {
        self.0.syncing.store(false, Ordering::SeqCst);
        self.0.reopen();
    }
}
