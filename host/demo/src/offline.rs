//! Records without a sync, and the query set search is measured with.

use cloudops_core::resource::Constraints;
use cloudops_core::AccountName;
use cloudops_estate::estate::Record;

/// The development query set kept with the code (`cloudops eval` without `--queries`).
pub const DEV_SET: &str = include_str!("../eval/dev.jsonl");

/// Queries a person types into the explorer, a key at a time: names, meaning, tags and
/// places. The app's latency test types them; the search bench times every prefix.
pub const TYPED_QUERIES: [&str; 5] = [
    "pg-instance-main1",
    "production database",
    "env=prod AND app=main",
    "web servers in staging",
    "buckets in us-east-1",
];

/// The records a sync of the emulator seeded with `file` would store, without running
/// one (no IAM answers): for search evaluation and benchmarks. Also the account names.
pub fn offline_records(file: &crate::EstateFile) -> (Vec<Record>, Vec<AccountName>) {
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

#[cfg(test)]
mod tests {
    use cloudops_estate::search::eval::parse_cases;

    use super::*;

    #[test]
    fn the_dev_set_parses_and_holds_the_seed_examples() {
        let cases = parse_cases(DEV_SET).unwrap();
        assert!(cases.len() >= 60, "{} queries", cases.len());
        for (query, expected) in [
            ("production database", "pg-instance-main1"),
            ("pg-main1", "pg-instance-main1"),
            ("env=prod AND app=main", "pg-instance-main1"),
        ] {
            assert!(
                cases
                    .iter()
                    .any(|c| c.query == query
                        && c.expect.first().map(String::as_str) == Some(expected)),
                "dev set lacks {query:?}"
            );
        }
    }
}
