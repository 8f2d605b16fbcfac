//! The playbook crate's integration tests: the default library and its cases, and the errors
//! authors see.

mod errors;
mod library;
