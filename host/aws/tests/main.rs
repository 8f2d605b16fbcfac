//! The AWS crate's integration tests: one test binary, one module per file. A new test file is
//! one more `mod` line here.

mod retry;
