//! What a resource's state allows. Works on the record alone: `analyze` may not call AWS.

use cloudops_scanner_sdk::constraints::none;
use cloudops_scanner_sdk::{Constraints, Resource};

pub fn constraints(r: &Resource) -> Constraints {
    match r.resource_type.as_str() {
        "ec2_instance" => instance(r),
        "ec2_volume" => volume(r),
        "ec2_snapshot" => snapshot(r),
        other => Constraints {
            notes: vec![format!(
                "the ec2 scanner does not know resource type `{other}`"
            )],
            ..none()
        },
    }
}

fn state(r: &Resource) -> &str {
    r.state.as_deref().unwrap_or("")
}

fn related<'a>(r: &'a Resource, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    r.relations
        .iter()
        .filter(move |x| x.kind == kind)
        .map(|x| x.target_arn.rsplit('/').next().unwrap_or(&x.target_arn))
}

fn instance(r: &Resource) -> Constraints {
    let mut c = none();
    match state(r) {
        "running" => {
            c.can_stop = true;
            c.can_delete = true;
        }
        "stopped" => {
            c.can_start = true;
            c.can_delete = true;
        }
        s @ ("pending" | "stopping") => {
            c.can_delete = true;
            c.notes.push(format!(
                "instance is {s}; wait until it is running or stopped before starting or stopping it"
            ));
        }
        "shutting-down" => c.notes.push("instance is already being terminated".into()),
        "terminated" => c
            .notes
            .push("instance is terminated; nothing can be done with it".into()),
        "" => c.notes.push("instance state is unknown".into()),
        other => {
            c.can_delete = true;
            c.notes
                .push(format!("instance is in an unexpected state `{other}`"));
        }
    }
    let volumes: Vec<_> = related(r, "volume").collect();
    if !volumes.is_empty() && c.can_delete {
        c.has_dependencies = true;
        c.notes.push(format!(
            "attached EBS volumes ({}); terminating deletes those marked DeleteOnTermination",
            volumes.join(", ")
        ));
    }
    if c.can_delete {
        c.notes.push(
            "the ec2 scanner cannot tell whether AMIs or snapshots back this instance up".into(),
        );
    }
    c
}

fn volume(r: &Resource) -> Constraints {
    let mut c = none();
    let instances: Vec<_> = related(r, "instance").collect();
    c.has_dependencies = !instances.is_empty();
    match state(r) {
        "available" => c.can_delete = true,
        "in-use" => c.notes.push(if instances.is_empty() {
            "volume is in use; detach it before deleting it".to_owned()
        } else {
            format!(
                "volume is attached to {}; detach it before deleting it",
                instances.join(", ")
            )
        }),
        "" => c.notes.push("volume state is unknown".into()),
        s => c
            .notes
            .push(format!("volume is {s}; it cannot be deleted now")),
    }
    c
}

fn snapshot(r: &Resource) -> Constraints {
    let mut c = none();
    match state(r) {
        "completed" => c.can_delete = true,
        "" => c.notes.push("snapshot state is unknown".into()),
        s => c.notes.push(format!(
            "snapshot is {s}; only completed snapshots are deleted here"
        )),
    }
    // AWS names the AMI in the description of the snapshots CreateImage makes, and refuses
    // to delete a snapshot while a registered AMI uses it.
    let description = serde_json::from_str::<serde_json::Value>(&r.metadata)
        .ok()
        .and_then(|m| m.get("description")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    if let Some(ami) = description
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .find(|w| w.starts_with("ami-"))
        .filter(|_| description.starts_with("Created by CreateImage"))
    {
        c.has_dependencies = true;
        c.notes.push(format!(
            "snapshot was made for {ami}; it cannot be deleted while that AMI is registered"
        ));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::{flags, resource};

    const VOL: (&str, &str) = ("volume", "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1");

    #[test]
    fn a_running_instance_can_be_stopped_and_has_its_volumes_as_dependencies() {
        let c = constraints(&resource("ec2_instance", Some("running"), &[VOL], "{}"));
        assert_eq!(flags(&c), [true, false, true, false, true]);
        assert!(c.notes.iter().any(|n| n.contains("vol-1")), "{:?}", c.notes);
    }

    #[test]
    fn a_stopped_instance_can_be_started() {
        let c = constraints(&resource("ec2_instance", Some("stopped"), &[], "{}"));
        assert_eq!(flags(&c), [false, true, true, false, false]);
    }

    #[test]
    fn transitional_instance_states_allow_neither_stop_nor_start() {
        for s in ["pending", "stopping"] {
            let c = constraints(&resource("ec2_instance", Some(s), &[], "{}"));
            assert_eq!(flags(&c), [false, false, true, false, false], "{s}");
            assert!(c.notes[0].contains(s));
        }
        let c = constraints(&resource(
            "ec2_instance",
            Some("shutting-down"),
            &[VOL],
            "{}",
        ));
        assert_eq!(flags(&c), [false; 5]);
        assert_eq!(c.notes, ["instance is already being terminated"]);
    }

    #[test]
    fn a_terminated_instance_allows_none() {
        let c = constraints(&resource("ec2_instance", Some("terminated"), &[], "{}"));
        assert_eq!(flags(&c), [false; 5]);
        assert_eq!(
            c.notes,
            ["instance is terminated; nothing can be done with it"]
        );
    }

    #[test]
    fn only_an_available_volume_can_be_deleted() {
        let c = constraints(&resource("ec2_volume", Some("available"), &[], "{}"));
        assert_eq!(flags(&c), [false, false, true, false, false]);
        let inst = (
            "instance",
            "arn:aws:ec2:eu-west-1:123456789012:instance/i-9",
        );
        let c = constraints(&resource("ec2_volume", Some("in-use"), &[inst], "{}"));
        assert_eq!(flags(&c), [false, false, false, false, true]);
        assert_eq!(
            c.notes,
            ["volume is attached to i-9; detach it before deleting it"]
        );
        let c = constraints(&resource("ec2_volume", Some("creating"), &[], "{}"));
        assert!(!c.can_delete);
    }

    #[test]
    fn only_a_completed_snapshot_can_be_deleted() {
        let c = constraints(&resource("ec2_snapshot", Some("completed"), &[], "{}"));
        assert_eq!(flags(&c), [false, false, true, false, false]);
        let c = constraints(&resource("ec2_snapshot", Some("pending"), &[], "not json"));
        assert_eq!(flags(&c), [false; 5]);
    }

    #[test]
    fn an_ami_snapshot_depends_on_its_ami() {
        let meta = r#"{"description":"Created by CreateImage(i-1234567890abcdef0) for ami-0123456789abcdef0"}"#;
        let c = constraints(&resource("ec2_snapshot", Some("completed"), &[], meta));
        assert!(c.has_dependencies && c.can_delete);
        assert_eq!(
            c.notes,
            ["snapshot was made for ami-0123456789abcdef0; it cannot be deleted while that AMI is registered"]
        );
    }

    #[test]
    fn unknown_types_and_states_allow_nothing_and_say_why() {
        let c = constraints(&resource("rds_instance", Some("available"), &[], "{}"));
        assert_eq!(flags(&c), [false; 5]);
        assert_eq!(c.notes.len(), 1);
        let c = constraints(&resource("ec2_instance", None, &[], "{}"));
        assert_eq!(flags(&c), [false; 5]);
    }
}
