//! The integration tests of cloudops-execute: one binary, one module per file.

mod killed;
mod list_names;
mod protocols;
