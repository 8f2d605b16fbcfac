//! The local AWS stand-in and the demo estate seeded into it.
//!
//! `cloudops demo` and the end-to-end tests use the same code: start moto server on a
//! loopback port, create a known estate with real (signed) API calls, scan it.

mod emulator;
mod seed;

pub use emulator::{Emulator, EmulatorError, DEMO_ACCESS_KEY, DEMO_ACCOUNT, DEMO_SECRET_KEY};
pub use seed::{create_iam_user, seed_ec2, Ec2Estate, InstanceSpec, SeededEc2};
