//! Records without a sync, for search evaluation and benchmarks.

use cloudops_core::resource::Constraints;
use cloudops_core::AccountName;
use cloudops_estate::estate::Record;

/// The records a sync of the emulator seeded with `file` would store, without running
/// one (no IAM answers): for search evaluation and benchmarks. Also the account names.
pub fn offline_records(
    file: &cloudops_demo::EstateFile,
) -> (Vec<Record>, Vec<AccountName>) {
    let accounts: Vec<AccountName> = file
        .accounts()
        .iter()
        .map(|a| AccountName {
            id: a.id.clone(),
            name: a.name.clone(),
        })
        .collect();
    let records = file
        .offline_resources()
        .into_iter()
        .map(|resource| Record {
            // Resource types are named `<plugin>_<kind>` (`vpc` alone for VPCs).
            service: resource
                .resource_type
                .split('_')
                .next()
                .unwrap_or_default()
                .to_owned(),
            account_name: accounts
                .iter()
                .find(|a| a.id == resource.account_id)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            resource,
            permissions: None,
            constraints: Constraints::default(),
            principal: None,
        })
        .collect();
    (records, accounts)
}
