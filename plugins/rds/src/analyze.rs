//! What a resource's state allows. Works on the record alone: `analyze` may not call AWS.

use cloudops_scanner_sdk::constraints::none;
use cloudops_scanner_sdk::{Constraints, Resource};
use serde_json::Value;

pub fn constraints(r: &Resource) -> Constraints {
    let meta = serde_json::from_str::<Value>(&r.metadata).unwrap_or(Value::Null);
    match r.resource_type.as_str() {
        "rds_instance" => instance(r, &meta),
        "rds_cluster" => cluster(r, &meta),
        "rds_snapshot" => snapshot(r, &meta),
        other => Constraints {
            notes: vec![format!(
                "the rds scanner does not know resource type `{other}`"
            )],
            ..none()
        },
    }
}

fn state(r: &Resource) -> &str {
    r.state.as_deref().unwrap_or("")
}

fn text<'a>(meta: &'a Value, key: &str) -> Option<&'a str> {
    meta.get(key)?.as_str()
}

fn flag(meta: &Value, key: &str) -> bool {
    meta.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn retention(meta: &Value) -> u64 {
    meta.get("backup_retention_period")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The identifier at the end of an RDS ARN (`…:db:pg-main`), or of a relation's target.
fn related<'a>(r: &'a Resource, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    r.relations
        .iter()
        .filter(move |x| x.kind == kind)
        .map(|x| x.target_arn.rsplit(':').next().unwrap_or(&x.target_arn))
}

fn instance(r: &Resource, meta: &Value) -> Constraints {
    let mut c = none();
    let cluster = text(meta, "cluster_id").or_else(|| related(r, "cluster").next());
    let source = text(meta, "read_replica_source").or_else(|| related(r, "replica_of").next());
    let replicas: Vec<&str> = meta
        .get("read_replicas")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();

    // AWS refuses StopDBInstance and StartDBInstance for Aurora members (the cluster is
    // stopped as a whole), for read replicas and for sources of read replicas.
    let why_fixed = if let Some(cl) = cluster {
        Some(format!(
            "instance belongs to cluster {cl}; stop or start the cluster instead"
        ))
    } else if let Some(src) = source {
        Some(format!(
            "instance is a read replica of {src}; AWS cannot stop or start a read replica"
        ))
    } else if !replicas.is_empty() {
        Some(format!(
            "instance has read replicas ({}); AWS cannot stop an instance that has read replicas",
            replicas.join(", ")
        ))
    } else {
        None
    };
    match state(r) {
        "available" => {
            c.can_delete = true;
            match why_fixed {
                Some(why) => c.notes.push(why),
                None => c.can_stop = true,
            }
        }
        "stopped" => {
            c.can_delete = true;
            match why_fixed.filter(|_| cluster.is_some()) {
                Some(why) => c.notes.push(why),
                None => {
                    c.can_start = true;
                    c.notes
                        .push("AWS starts a stopped instance again after seven days".into());
                }
            }
        }
        s @ ("creating" | "starting" | "stopping" | "rebooting" | "deleting") => {
            c.notes.push(format!(
                "instance is {s}; wait until it is available or stopped"
            ));
        }
        "" => c.notes.push("instance state is unknown".into()),
        other => {
            c.can_delete = true;
            c.notes.push(format!(
                "instance is {other}; it can be deleted but not stopped or started now"
            ));
        }
    }
    if c.can_delete && flag(meta, "deletion_protection") {
        c.can_delete = false;
        c.notes
            .push("deletion protection is on; turn it off with ModifyDBInstance first".into());
    }
    c.has_backups = retention(meta) > 0;
    if !c.has_backups {
        c.notes
            .push("automated backups are off (retention period 0)".into());
    }
    if !replicas.is_empty() {
        c.has_dependencies = true;
        c.notes.push(format!(
            "read replicas {} replicate from this instance; deleting it promotes them to standalone instances",
            replicas.join(", ")
        ));
    }
    if let Some(cl) = cluster {
        c.has_dependencies = true;
        c.notes.push(format!(
            "member of cluster {cl}; deleting the writer makes the cluster fail over"
        ));
    }
    c
}

fn cluster(r: &Resource, meta: &Value) -> Constraints {
    let mut c = none();
    let members: Vec<&str> = meta
        .get("members")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|m| m.get("id")?.as_str()).collect())
        .unwrap_or_default();
    let serverless = text(meta, "engine_mode") == Some("serverless");
    let deletable = match state(r) {
        "available" if serverless => {
            c.notes
                .push("Aurora Serverless v1 clusters cannot be stopped".into());
            true
        }
        "available" => {
            c.can_stop = true;
            true
        }
        "stopped" => {
            c.can_start = true;
            c.notes
                .push("AWS starts a stopped cluster again after seven days".into());
            true
        }
        s @ ("creating" | "starting" | "stopping" | "deleting" | "rebooting") => {
            c.notes.push(format!(
                "cluster is {s}; wait until it is available or stopped"
            ));
            false
        }
        "" => {
            c.notes.push("cluster state is unknown".into());
            false
        }
        other => {
            c.notes.push(format!(
                "cluster is {other}; it cannot be stopped or started now"
            ));
            true
        }
    };
    if !members.is_empty() {
        c.has_dependencies = true;
        c.notes.push(format!(
            "cluster has instances ({}); AWS deletes a cluster only after its instances",
            members.join(", ")
        ));
    } else if deletable && flag(meta, "deletion_protection") {
        c.notes
            .push("deletion protection is on; turn it off with ModifyDBCluster first".into());
    } else {
        c.can_delete = deletable;
    }
    c.has_backups = retention(meta) > 0;
    c
}

fn snapshot(r: &Resource, meta: &Value) -> Constraints {
    let mut c = none();
    let automated = text(meta, "snapshot_type") == Some("automated");
    match state(r) {
        "available" if automated => c.notes.push(
            "automated snapshots go when their retention period ends or their source is deleted; copy it to keep it"
                .into(),
        ),
        "available" => c.can_delete = true,
        "" => c.notes.push("snapshot state is unknown".into()),
        s => c.notes.push(format!(
            "snapshot is {s}; only available snapshots are deleted here"
        )),
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::{flags, resource};

    const BACKED_UP: &str = r#"{"backup_retention_period":7}"#;

    #[test]
    fn a_standalone_available_instance_can_be_stopped_and_deleted() {
        let c = constraints(&resource("rds_instance", Some("available"), &[], BACKED_UP));
        assert_eq!(flags(&c), [true, false, true, true, false]);
        assert!(c.notes.is_empty(), "{:?}", c.notes);
    }

    #[test]
    fn a_stopped_instance_can_be_started_and_aws_will_restart_it() {
        let c = constraints(&resource("rds_instance", Some("stopped"), &[], "{}"));
        assert_eq!(flags(&c), [false, true, true, false, false]);
        assert_eq!(
            c.notes,
            [
                "AWS starts a stopped instance again after seven days",
                "automated backups are off (retention period 0)"
            ]
        );
    }

    #[test]
    fn read_replicas_and_their_sources_cannot_be_stopped() {
        let replica = (
            "replica_of",
            "arn:aws:rds:us-west-2:123456789012:db:pg-main",
        );
        let c = constraints(&resource(
            "rds_instance",
            Some("available"),
            &[replica],
            BACKED_UP,
        ));
        assert_eq!(flags(&c), [false, false, true, true, false]);
        assert_eq!(
            c.notes,
            ["instance is a read replica of pg-main; AWS cannot stop or start a read replica"]
        );

        let source = r#"{"backup_retention_period":7,"read_replicas":["pg-main-replica"]}"#;
        let c = constraints(&resource("rds_instance", Some("available"), &[], source));
        assert_eq!(flags(&c), [false, false, true, true, true]);
        assert!(c.notes[0].contains("has read replicas (pg-main-replica)"));
        assert!(c.notes[1].contains("promotes them"));
    }

    #[test]
    fn cluster_members_are_stopped_through_their_cluster() {
        let meta = r#"{"backup_retention_period":5,"cluster_id":"aurora-main"}"#;
        for s in ["available", "stopped"] {
            let c = constraints(&resource("rds_instance", Some(s), &[], meta));
            assert_eq!(flags(&c), [false, false, true, true, true], "{s}");
            assert_eq!(
                c.notes[0],
                "instance belongs to cluster aurora-main; stop or start the cluster instead"
            );
        }
    }

    #[test]
    fn deletion_protection_and_transitions_block_deleting() {
        let meta = r#"{"backup_retention_period":1,"deletion_protection":true}"#;
        let c = constraints(&resource("rds_instance", Some("available"), &[], meta));
        assert_eq!(flags(&c), [true, false, false, true, false]);
        for s in ["stopping", "creating", "deleting"] {
            let c = constraints(&resource("rds_instance", Some(s), &[], BACKED_UP));
            assert_eq!(flags(&c), [false, false, false, true, false], "{s}");
        }
        let c = constraints(&resource(
            "rds_instance",
            Some("storage-full"),
            &[],
            BACKED_UP,
        ));
        assert_eq!(flags(&c), [false, false, true, true, false]);
        let c = constraints(&resource("rds_instance", None, &[], "not json"));
        assert_eq!(flags(&c), [false; 5]);
    }

    #[test]
    fn a_cluster_with_members_cannot_be_deleted_until_they_are() {
        let meta = r#"{"backup_retention_period":5,"members":[{"id":"a-1","writer":true},{"id":"a-2","writer":false}]}"#;
        let c = constraints(&resource("rds_cluster", Some("available"), &[], meta));
        assert_eq!(flags(&c), [true, false, false, true, true]);
        assert_eq!(
            c.notes,
            ["cluster has instances (a-1, a-2); AWS deletes a cluster only after its instances"]
        );
        let c = constraints(&resource(
            "rds_cluster",
            Some("stopped"),
            &[],
            r#"{"backup_retention_period":1}"#,
        ));
        assert_eq!(flags(&c), [false, true, true, true, false]);
        let serverless = r#"{"engine_mode":"serverless","deletion_protection":true}"#;
        let c = constraints(&resource("rds_cluster", Some("available"), &[], serverless));
        assert_eq!(flags(&c), [false; 5]);
        assert_eq!(c.notes.len(), 2, "{:?}", c.notes);
    }

    #[test]
    fn only_manual_available_snapshots_can_be_deleted() {
        let manual = r#"{"snapshot_type":"manual"}"#;
        let c = constraints(&resource("rds_snapshot", Some("available"), &[], manual));
        assert_eq!(flags(&c), [false, false, true, false, false]);
        let automated = r#"{"snapshot_type":"automated"}"#;
        let c = constraints(&resource("rds_snapshot", Some("available"), &[], automated));
        assert_eq!(flags(&c), [false; 5]);
        assert!(c.notes[0].starts_with("automated snapshots go"));
        let c = constraints(&resource("rds_snapshot", Some("creating"), &[], manual));
        assert_eq!(flags(&c), [false; 5]);
    }

    #[test]
    fn unknown_types_allow_nothing_and_say_why() {
        let c = constraints(&resource("ec2_instance", Some("running"), &[], "{}"));
        assert_eq!(flags(&c), [false; 5]);
        assert_eq!(
            c.notes,
            ["the rds scanner does not know resource type `ec2_instance`"]
        );
    }
}
