//! cloudops host: the trusted side of cloudops.
//!
//! The host owns credentials, SigV4 signing and the network. AWS service scanners are
//! untrusted WebAssembly components ([`plugin`]) that describe requests and parse
//! responses; the host checks every request against the plugin's manifest, signs and
//! sends it ([`aws`]), and collects what the plugin finds ([`resource`], [`scan`]).
#![deny(missing_docs)]

pub use cloudops_core::{paths, resource};
pub use cloudops_estate::{embed, estate, search, store};
pub use cloudops_seal as seal;

pub use cloudops_aws as aws;
pub use cloudops_plugin_host as plugin;
pub use cloudops_sync as scan;
pub mod config;
