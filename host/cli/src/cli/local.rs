//! Opening the local estate: store, embedding model and sealing key, from the data dir and
//! the config file.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use cloudops_host::config::Config;
use cloudops_host::embed::Embedder;
use cloudops_host::estate::Estate;
use cloudops_host::seal::key::KeyError;
use cloudops_host::store::seal::{KeySource, SealError, Sealer};
use cloudops_host::store::{self, Collection, Filter, Location};

/// The estate and where its parts came from.
pub struct Local {
    pub estate: Estate,
    pub location: Location,
    pub key_source: KeySource,
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
pub fn open(data_dir: &Path, config: &Config) -> anyhow::Result<Local> {
    let location = location(data_dir, config);
    let store = store::open(&location).context("opening the estate store")?;
    let (sealer, key_source) = match Sealer::existing(data_dir) {
        Ok(found) => found,
        Err(SealError::Key(KeyError::Missing { file })) => {
            let held = Collection::ALL
                .iter()
                .map(|&c| store.count(c, &Filter::all()))
                .sum::<Result<u64, _>>()?;
            if held > 0 {
                anyhow::bail!(
                    "the estate key is missing (no key file {}, no OS keychain entry) but the \
                     store ({}) holds {held} records sealed with it. Restore the key from a \
                     backup, or run `cloudops store rebuild` to re-sync into a fresh store with a \
                     new key",
                    file.display(),
                    describe(&location)
                );
            }
            Sealer::from_keychain(data_dir).context("creating the estate's sealing key")?
        }
        Err(e) => return Err(e).context("getting the estate's sealing key"),
    };
    let embedder = Embedder::from_env().context("loading the embedding model")?;
    Ok(Local {
        estate: Estate::new(Arc::from(store), Arc::new(embedder), Arc::new(sealer)),
        location,
        key_source,
    })
}

/// Opens the estate for reading (search, and later plan and the app): never waits for a sync,
/// never writes to the data dir, and never creates a sealing key.
pub fn open_reader(data_dir: &Path, config: &Config) -> anyhow::Result<Local> {
    let location = location(data_dir, config);
    let store = store::open_reader(&location).context("opening the estate store")?;
    let (sealer, key_source) =
        Sealer::existing(data_dir).context("getting the estate's sealing key")?;
    let embedder = Embedder::from_env().context("loading the embedding model")?;
    Ok(Local {
        estate: Estate::new(Arc::from(store), Arc::new(embedder), Arc::new(sealer)),
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
