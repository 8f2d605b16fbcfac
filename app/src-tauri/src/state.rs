//! What the app keeps between commands: the data dir, the estate as readers see it (opened
//! once, reopened after a sync publishes), and the demo emulator while it runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cloudops_demo::{Emulator, SeededAccount};
use cloudops_host::ask::AccountAccess;
use cloudops_host::aws::Endpoints;
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
    /// The AWS profile a demo account's keys are under in [`demo_credentials_file`].
    pub fn profile(name: &str) -> String {
        format!("cloudops-demo-{name}")
    }

    /// Every AWS request to the emulator.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints::default().with_global(self.emulator.url())
    }

    /// How the ask flow reaches each demo account: its profile in the demo's credentials file.
    pub fn access(&self) -> Vec<AccountAccess> {
        self.accounts
            .iter()
            .map(|(a, _)| AccountAccess {
                name: a.name.clone(),
                profile: Some(Demo::profile(&a.name)),
                role_arn: None,
            })
            .collect()
    }

    /// Writes the seeded accounts' session keys (the emulator's, not AWS's) as profiles into
    /// [`demo_credentials_file`], readable by this user only, so the ask flow's clients load
    /// them the way they load any profile.
    pub fn write_credentials(&self, data_dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = demo_credentials_file(data_dir);
        std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        for (a, _) in &self.accounts {
            let c = &a.credentials;
            writeln!(file, "[{}]", Demo::profile(&a.name))?;
            writeln!(file, "aws_access_key_id = {}", c.access_key_id())?;
            writeln!(file, "aws_secret_access_key = {}", c.secret_access_key())?;
            if let Some(token) = c.session_token() {
                writeln!(file, "aws_session_token = {token}")?;
            }
        }
        Ok(())
    }
}

/// Where the demo's account keys are kept while it runs: `<data dir>/demo/credentials`. With
/// no AWS configuration of the user's, the app points `AWS_SHARED_CREDENTIALS_FILE` here at
/// start (see `lib.rs`).
pub fn demo_credentials_file(data_dir: &Path) -> PathBuf {
    data_dir.join("demo").join("credentials")
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
