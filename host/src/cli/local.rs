//! Opening the local estate: store, embedding model and sealing key, from the data dir and
//! the config file.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use cloudops_host::config::Config;
use cloudops_host::embed::Embedder;
use cloudops_host::estate::Estate;
use cloudops_host::store::seal::{KeySource, Sealer};
use cloudops_host::store::{self, Location};

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

/// Opens the estate, creating the store and the sealing key on first use.
pub fn open(data_dir: &Path, config: &Config) -> anyhow::Result<Local> {
    let location = location(data_dir, config);
    let store = store::open(&location).context("opening the estate store")?;
    let embedder = Embedder::from_env().context("loading the embedding model")?;
    let (sealer, key_source) =
        Sealer::from_keychain(data_dir).context("getting the estate's sealing key")?;
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
