//! The estate: what the host knows about the user's resources and how it finds them.
//!
//! [`store`] keeps points (dense and lexical vectors, a payload) in embedded Qdrant or a
//! Qdrant server; [`estate`] turns scanned resources into points, sealing what is sensitive;
//! [`embed`] computes the dense vectors; [`search`] answers queries and measures their
//! quality. This crate links neither the plugin runtime (wasmtime) nor the AWS stack: the
//! plan server depends on it alone.
#![deny(missing_docs)]

use cloudops_core::{paths, resource};
use cloudops_seal as seal;

pub mod embed;
pub mod estate;
pub mod search;
pub mod store;
