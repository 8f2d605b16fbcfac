//! The end-to-end tests against the AWS emulator: one test binary (each binary is a separate
//! link of wasmtime, qdrant-edge and the AWS stack), one module per file. A new test file is
//! one more `mod` line here.

mod ec2_scan;
mod elb_scan;
mod estate_seed;
mod execute;
mod execute_kinds;
mod hostile_plugins;
mod iam_permissions;
mod lambda_scan;
mod playbook_components;
mod playbook_types;
mod rds_scan;
mod s3_scan;
mod sync;
mod unread_parts;
mod vpc_scan;
mod wit_versions;
