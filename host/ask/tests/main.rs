//! cloudops-ask's integration tests: one test binary, one module per file.

mod planner;
mod request;
