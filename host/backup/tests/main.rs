//! cloudops-backup's tests: one binary, one module per file.

mod common;

mod archive;
mod restore;
mod retention;
mod s3;
