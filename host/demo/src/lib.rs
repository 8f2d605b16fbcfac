//! The local AWS stand-in and the demo estate seeded into it.
//!
//! `cloudops demo` and the end-to-end tests use the same code: start moto server on a
//! loopback port, create a known estate with real (signed) API calls, scan it. The estate
//! is described by an [`EstateFile`] (DESIGN.md §6); [`EstateFile::default_demo`] is the
//! seed's three-account estate, [`generate`] makes estates of any size, and
//! [`EstateFile::offline_resources`] gives what a scan of a seeded emulator reports without
//! running one.
//!
//! The code follows that order: `estate_file` reads and checks a file (`validate`), resolves
//! every reference into a plan with typed indices (`resolve/<service>.rs`, `plan.rs`) and
//! derives the offline resources (`offline/<service>.rs`); `generate` writes estate files;
//! `seed` creates them in the emulator, one step after another per account and region,
//! with one function per resource type in `seed/<service>.rs`. Tests that need a few EC2
//! instances use [`seed_ec2`], which writes a small estate file and seeds it the same way.

use cloudops_aws as aws;
use cloudops_core::resource;

mod emulator;
mod estate_file;
mod generate;
mod offline;
mod seed;

pub use emulator::{Emulator, EmulatorError, DEMO_ACCESS_KEY, DEMO_ACCOUNT, DEMO_SECRET_KEY};
pub use estate_file::{
    zones, Account, Attrs, Ec2InstanceAttrs, Ec2SnapshotAttrs, Ec2VolumeAttrs, EstateError,
    EstateFile, LambdaAliasAttrs, LambdaFunctionAttrs, LambdaLayerAttrs, LoadBalancerAttrs,
    Principal, Problem, RdsClusterAttrs, RdsInstanceAttrs, RdsSnapshotAttrs, ResourceKind,
    ResourceSpec, S3BucketAttrs, SecurityGroupAttrs, VpcAttrs, VpcSubnetAttrs,
};
pub use generate::{generate, AccountSpec, EstateSpec};
pub use offline::{offline_records, DEV_SET, TYPED_QUERIES};
pub use seed::{
    account_client, account_credentials, create_iam_user, deployment_package, seed_ec2,
    seed_estate, Ec2Estate, InstanceSpec, SeedError, SeedProgress, SeedReport, SeededAccount,
    SeededEc2,
};
