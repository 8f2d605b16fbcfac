//! The `cloudops` binary's end-to-end tests: one test binary, one module per file. A new test
//! file is one more `mod` line here.

mod ask;
mod backup;
mod cli;
mod faults;
mod playbook;
