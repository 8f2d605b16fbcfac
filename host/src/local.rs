//! Opening the local estate: store, embedding model and sealing key, from the data dir and
//! the config file. The CLI and the desktop app open it the same way.

use std::path::Path;
use std::sync::Arc;

use cloudops_estate::embed::{EmbedError, Embedder};
use cloudops_estate::estate::Estate;
use cloudops_estate::store::{self, Collection, Filter, Location, StoreError};
use cloudops_seal::key::{KeyError, KeySource};
use cloudops_seal::{SealError, Sealer};

use crate::config::Config;

/// The estate and where its parts came from.
pub struct Local {
    /// The opened estate.
    pub estate: Estate,
    /// Where its store is.
    pub location: Location,
    /// Where the sealing key was found.
    pub key_source: KeySource,
}

/// Why the local estate could not be opened; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The store could not be opened.
    #[error("opening the estate store: {0}")]
    Store(#[from] StoreError),
    /// The sealing key could not be found or created.
    #[error("getting the estate's sealing key: {0}")]
    Key(#[from] SealError),
    /// The embedding model could not be loaded.
    #[error("loading the embedding model: {0}")]
    Model(#[from] EmbedError),
    /// The key is gone but the store holds records sealed with it.
    #[error(
        "the estate key is missing (no key file {file}, no OS keychain entry) but the store \
         ({store}) holds {held} records sealed with it. Restore the key from a backup, or run \
         `cloudops store rebuild` to re-sync into a fresh store with a new key"
    )]
    KeyLost {
        /// The key file that is missing.
        file: String,
        /// Where the store is.
        store: String,
        /// How many records it holds.
        held: u64,
    },
}

/// Where the store is: the configured Qdrant server, else `<data dir>/store`.
pub fn location(data_dir: &Path, config: &Config) -> Location {
    match config.qdrant_url() {
        Some(url) => Location::Server {
            url,
            api_key: config.qdrant_api_key(),
        },
        None => Location::Embedded(data_dir.join("store")),
    }
}

/// Opens the estate as its writer (sync, demo), creating the store on first use. The sealing
/// key is created only for an empty store: a new key cannot open what an old one sealed, so a
/// missing key of a store that holds records is an error that says how to recover.
pub fn open(data_dir: &Path, config: &Config) -> Result<Local, LocalError> {
    let location = location(data_dir, config);
    let store = store::open(&location)?;
    let (sealer, key_source) = match Sealer::existing(data_dir) {
        Ok(found) => found,
        Err(SealError::Key(KeyError::Missing { file })) => {
            let held = Collection::ALL
                .iter()
                .map(|&c| store.count(c, &Filter::all()))
                .sum::<Result<u64, _>>()?;
            if held > 0 {
                return Err(LocalError::KeyLost {
                    file: file.display().to_string(),
                    store: describe(&location),
                    held,
                });
            }
            Sealer::from_keychain(data_dir)?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Local {
        estate: Estate::new(Arc::from(store), Embedder::shared()?, Arc::new(sealer)),
        location,
        key_source,
    })
}

/// Opens the estate for reading (search, plan, the app): never waits for a sync, never
/// writes to the data dir, and never creates a sealing key.
pub fn open_reader(data_dir: &Path, config: &Config) -> Result<Local, LocalError> {
    let location = location(data_dir, config);
    let store = store::open_reader(&location)?;
    let (sealer, key_source) = Sealer::existing(data_dir)?;
    Ok(Local {
        estate: Estate::new(Arc::from(store), Embedder::shared()?, Arc::new(sealer)),
        location,
        key_source,
    })
}

/// A short description of where the store lives.
pub fn describe(location: &Location) -> String {
    match location {
        Location::Embedded(dir) => format!("embedded Qdrant at {}", dir.display()),
        Location::Server { url, .. } => format!("Qdrant server {url}"),
    }
}
