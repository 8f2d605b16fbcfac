//! cloudops host: the trusted side of cloudops, as the CLI and the desktop app see it.
//!
//! The host owns credentials, SigV4 signing and the network. AWS service scanners are
//! untrusted WebAssembly components ([`plugin`]) that describe requests and parse
//! responses; the host checks every request against the plugin's manifest, signs and
//! sends it ([`aws`]), and collects what the plugin finds ([`resource`], [`scan`]) into the
//! local estate ([`estate`], [`store`], [`search`]), which [`backup`] backs up and restores.
//! Asking for a change ([`ask`]) resolves a prompt in the estate, gets a plan ([`playbook`]'s
//! plan format) and runs it once approved ([`execute`]).
//!
//! This crate only re-exports the host crates (see host/README.md for their layers) and
//! reads the config file ([`config`]) and opens the local estate from it ([`local`]). It
//! depends on neither the demo nor the CLI's crates.
#![deny(missing_docs)]

pub mod config;
pub mod local;

pub use cloudops_ask as ask;
pub use cloudops_aws as aws;
pub use cloudops_backup as backup;
pub use cloudops_core::{lexical, paths, resource, AccountName};
pub use cloudops_estate::{embed, estate, search, store};
pub use cloudops_execute as execute;
pub use cloudops_playbook as playbook;
pub use cloudops_plugin_host as plugin;
pub use cloudops_seal as seal;
pub use cloudops_sync as scan;
