//! Plans for unit tests, built the way the planner builds them (sealed, so intact).

use cloudops_playbook::plan::{
    IamVerdict, Intent, IntentKind, Plan, Risk, RiskLevel, Step, Target, Wait,
};
use serde_json::{json, Map};

/// One step: `id` stops `db` (an RDS instance), after `deps`.
pub fn step(id: &str, db: &str, deps: &[&str]) -> Step {
    let mut params = Map::new();
    params.insert("DBInstanceIdentifier".into(), json!(db));
    Step {
        id: id.into(),
        action: "rds:StopDBInstance".into(),
        target: Target {
            arn: format!("arn:aws:rds:eu-west-1:111111111111:db:{db}"),
            id: db.into(),
            resource_type: "rds_instance".into(),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
        },
        params,
        cli: format!("aws rds stop-db-instance --db-instance-identifier {db}"),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        wait: None,
        iam: IamVerdict::Allowed,
        ..Step::default()
    }
}

/// A sealed plan of these steps at this risk.
pub fn plan(steps: Vec<Step>, level: RiskLevel) -> Plan {
    let mut plan = Plan::nothing(
        Intent {
            kind: IntentKind::Operation,
            service: Some("rds".into()),
            operation: Some("stop".into()),
        },
        "stop the databases",
    );
    plan.steps = steps;
    plan.risk = Risk {
        level,
        reasons: vec!["an outage".into()],
    };
    plan.approval_required = level >= RiskLevel::Medium;
    plan.sealed()
}

/// A wait for `until` of at most `timeout_s`.
pub fn wait(until: &str, timeout_s: u32) -> Option<Wait> {
    Some(Wait {
        until: until.into(),
        timeout_s,
    })
}
