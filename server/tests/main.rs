//! The plan server's integration tests: one test binary, one module per file. Every test runs
//! a real server in process on 127.0.0.1:0 over a real Git repository made from the repo's
//! `playbooks/`, with the real embedding model; Redis and Qdrant tests use real servers.

mod api;
mod common;
mod redis;
mod reload;
