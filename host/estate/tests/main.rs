//! The estate crate's integration tests: one test binary (each binary is a separate link), one
//! module per file. A new test file is one more `mod` line here.

mod common;
mod embed;
mod search;
mod store;
mod store_crash;
mod store_readers;
