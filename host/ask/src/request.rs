//! The plan request: what leaves the machine when the planner is a server.
//!
//! It holds the prompt, the identified resources and nothing else of the estate, and of each
//! resource only what planning needs:
//!
//! - plain fields: type, identifier, name, account id, region, state;
//! - sealed in the store, sent because planning reads them: the ARN (the step's target), the
//!   tags (risk rules read `tags.env`), the metadata keys in [`PLANNING_METADATA`] (engine,
//!   Multi-AZ, read replicas, cluster, deletion protection, ...; every key a playbook of the
//!   default library reads), the constraints, and the IAM verdicts of the actions the
//!   candidate playbooks use;
//! - never: relations, other metadata (endpoints, environment variables, user data, policy
//!   documents), the principal, other resources, and no credential of any kind: the request
//!   is built from estate records, which hold none.

use cloudops_core::resource::{Denial, Permissions};
use cloudops_estate::estate::Record;
use cloudops_playbook::plan::{ChatTurn, PlanRequest, ResourceContext};
use cloudops_playbook::Library;
use serde_json::{Map, Value};

/// The metadata keys planning reads: every `metadata.KEY` the default library's playbooks
/// use (a test checks the list against `playbooks/`), plus the few the planner's words and
/// the risk explanations name.
pub const PLANNING_METADATA: &[&str] = &[
    "alias_name",
    "allocated_storage_gib",
    "architecture",
    "backup_retention_period",
    "class",
    "cluster_id",
    "deletion_protection",
    "dns_name",
    "encryption",
    "engine",
    "engine_mode",
    "engine_version",
    "function_name",
    "function_version",
    "group_name",
    "ingress_rule_count",
    "instance_type",
    "lifecycle_rules",
    "memory_size",
    "multi_az",
    "open_to_world",
    "public_access_block",
    "public_ip",
    "read_replica_source",
    "read_replicas",
    "root_device_type",
    "runtime",
    "scheme",
    "size_gib",
    "snapshot_type",
    "source",
    "timeout",
    "versioning",
    "writer",
];

/// The IAM prefix of a resource type's actions (`rds_instance` → `rds`).
pub fn iam_prefix(resource_type: &str) -> &str {
    match resource_type.split('_').next().unwrap_or_default() {
        "elb" => "elasticloadbalancing",
        "vpc" => "ec2",
        other => other,
    }
}

/// What planning needs of `record`. `actions`, when given, are the only actions whose IAM
/// verdicts are kept (those of the playbooks for its type); otherwise the verdicts of its
/// service's actions are.
pub fn resource_context(record: &Record, actions: Option<&[String]>) -> ResourceContext {
    let r = &record.resource;
    let metadata: Map<String, Value> = r
        .metadata
        .iter()
        .filter(|(k, _)| PLANNING_METADATA.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let prefix = format!("{}:", iam_prefix(&r.resource_type));
    let relevant = |action: &str| match actions {
        Some(list) => list.iter().any(|a| a == action),
        None => action.starts_with(&prefix),
    };
    let permissions = record.permissions.as_ref().map(|p| Permissions {
        allowed: p.allowed.iter().filter(|a| relevant(a)).cloned().collect(),
        denied: p
            .denied
            .iter()
            .filter(|d| relevant(&d.action))
            .cloned()
            .collect::<Vec<Denial>>(),
    });
    ResourceContext {
        resource_type: r.resource_type.clone(),
        identifier: r.identifier.clone(),
        arn: r.arn.clone(),
        name: r.name.clone(),
        account_id: r.account_id.clone(),
        region: r.region.clone(),
        state: r.state.clone(),
        tags: r.tags.clone(),
        metadata,
        constraints: Some(record.constraints.clone()),
        permissions,
    }
}

/// The actions of the playbooks that apply to `resource_type` in `library`.
pub fn candidate_actions(library: &Library, resource_type: &str) -> Vec<String> {
    let mut actions: Vec<String> = library
        .playbooks()
        .filter(|p| p.applies_to.iter().any(|t| t == resource_type))
        .flat_map(|p| p.steps.iter().map(|s| s.action.clone()))
        .collect();
    actions.sort();
    actions.dedup();
    actions
}

/// The request for `prompt` over `resources`: only those resources, each with only what
/// planning needs ([`resource_context`]); with `library`, IAM verdicts of the candidate
/// playbooks' actions only.
pub fn build_request(
    prompt: &str,
    resources: &[Record],
    library: Option<&Library>,
    user_context: Map<String, Value>,
    recent_chat: Vec<ChatTurn>,
) -> PlanRequest {
    let identified_resources = resources
        .iter()
        .map(|record| {
            let actions = library.map(|l| candidate_actions(l, &record.resource.resource_type));
            resource_context(record, actions.as_deref())
        })
        .collect();
    PlanRequest {
        prompt: prompt.to_owned(),
        identified_resources,
        user_values: Map::new(),
        user_context,
        recent_chat,
    }
}
