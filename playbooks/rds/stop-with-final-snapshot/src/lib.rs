//! `rds.stop-with-final-snapshot`: re-reads the instance from RDS (DescribeDBInstances),
//! refuses when it has read replicas or is not available, and names the snapshot by the
//! rule `<identifier>-final-<yyyymmdd>`. The date is the user value `snapshot_date` (the
//! app gives today's), never the component's clock: it has none, and a plan must be the
//! same for the same inputs, or its id and approval would change on their own.

use cloudops_playbook_sdk::{self as sdk, xml, PlanInput, Step};
use serde_json::json;

const SNAPSHOT: &str = "rds:CreateDBSnapshot";

struct StopWithFinalSnapshot;

impl sdk::Playbook for StopWithFinalSnapshot {
    fn plan(input: PlanInput) -> Result<Vec<Step>, String> {
        let values = sdk::user_values(&input);
        let date = values
            .get("snapshot_date")
            .and_then(|v| v.as_str())
            .ok_or("the plan carries no snapshot_date: give the date as YYYYMMDD")?;
        let mut out = Vec::new();
        for target in &input.targets {
            let body = sdk::query(
                "rds",
                "DescribeDBInstances",
                sdk::RDS_VERSION,
                &[("DBInstanceIdentifier", &target.identifier)],
            )?;
            check_stoppable(&body, &target.identifier)?;
            let name = snapshot_name(&target.identifier, date)?;
            for step in input.steps.iter().filter(|s| s.target_arn == target.arn) {
                if step.action == SNAPSHOT {
                    let mut params = sdk::params(step);
                    params.insert("DBSnapshotIdentifier".into(), json!(name));
                    out.push(sdk::with_params(step, params));
                } else {
                    out.push(step.clone());
                }
            }
        }
        Ok(out)
    }
}

cloudops_playbook_sdk::export!(StopWithFinalSnapshot);

/// Refuses, in words for people, an instance that has read replicas or is not available,
/// as RDS reports it now.
pub fn check_stoppable(body: &[u8], id: &str) -> Result<(), String> {
    let status = xml::first_text(body, "DBInstanceStatus")
        .ok_or_else(|| format!("RDS did not describe {id}; was it deleted?"))?;
    let replicas = xml::all_texts(body, "ReadReplicaDBInstanceIdentifier");
    if !replicas.is_empty() {
        return Err(format!(
            "{id} has read replicas ({}): RDS cannot stop an instance that has them. Promote \
             or delete the replicas first, then ask again",
            replicas.join(", ")
        ));
    }
    if status != "available" {
        return Err(format!(
            "{id} is {status} now; only an available instance can be snapshotted and stopped"
        ));
    }
    Ok(())
}

/// `<id>-final-<date>`, checked against RDS's rules for snapshot identifiers (1 to 255
/// letters, digits and hyphens, a letter first, no two hyphens in a row, none at the end).
pub fn snapshot_name(id: &str, date: &str) -> Result<String, String> {
    if !is_date(date) {
        return Err(format!(
            "snapshot_date `{date}` is not a date written YYYYMMDD (20261206)"
        ));
    }
    let name = format!("{}-final-{date}", id.to_ascii_lowercase());
    let valid = name.len() <= 255
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.contains("--");
    if !valid {
        return Err(format!(
            "`{name}` is not a valid RDS snapshot identifier; rename the instance's snapshot by hand"
        ));
    }
    Ok(name)
}

/// Eight digits that make a calendar date.
fn is_date(date: &str) -> bool {
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (y, m, d): (u32, u32, u32) = (
        date[..4].parse().unwrap_or(0),
        date[4..6].parse().unwrap_or(0),
        date[6..].parse().unwrap_or(0),
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    y >= 1970 && (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_follows_the_rule_and_refuses_bad_dates() {
        assert_eq!(
            snapshot_name("pg-Main1", "20261206").unwrap(),
            "pg-main1-final-20261206"
        );
        assert!(snapshot_name("pg", "20260230").is_err());
        assert!(snapshot_name("pg", "2026-12-6").is_err());
        assert_eq!(
            snapshot_name("pg", "20240229").unwrap(),
            "pg-final-20240229"
        );
    }

    #[test]
    fn replicas_and_other_states_are_refused() {
        let with = b"<R><DBInstance><DBInstanceStatus>available</DBInstanceStatus>\
            <ReadReplicaDBInstanceIdentifiers><ReadReplicaDBInstanceIdentifier>pg-r1\
            </ReadReplicaDBInstanceIdentifier></ReadReplicaDBInstanceIdentifiers></DBInstance></R>";
        let err = check_stoppable(with, "pg").unwrap_err();
        assert!(err.contains("read replicas (pg-r1)"), "{err}");
        let stopped = b"<R><DBInstanceStatus>stopped</DBInstanceStatus><ReadReplicaDBInstanceIdentifiers/></R>";
        assert!(check_stoppable(stopped, "pg")
            .unwrap_err()
            .contains("stopped"));
        let fine = b"<R><DBInstanceStatus>available</DBInstanceStatus></R>";
        assert_eq!(check_stoppable(fine, "pg"), Ok(()));
    }
}
