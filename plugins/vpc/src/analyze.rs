//! What a resource's state allows. Works on the record alone: `analyze` may not call AWS,
//! so whatever still lives inside a VPC, subnet or group is beyond what it can see.

use cloudops_scanner_sdk::constraints::none;
use cloudops_scanner_sdk::{Constraints, Resource};
use serde_json::Value;

pub fn constraints(r: &Resource) -> Constraints {
    let meta = serde_json::from_str::<Value>(&r.metadata).unwrap_or(Value::Null);
    match r.resource_type.as_str() {
        "vpc" => vpc(r, &meta),
        "vpc_subnet" => subnet(r, &meta),
        "vpc_security_group" => security_group(&meta),
        other => Constraints {
            notes: vec![format!(
                "the vpc scanner does not know resource type `{other}`"
            )],
            ..none()
        },
    }
}

fn flag(meta: &Value, key: &str) -> bool {
    meta.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// VPCs and subnets exist or are being made; there is nothing to stop or start.
fn settled(r: &Resource, what: &str, c: &mut Constraints) -> bool {
    match r.state.as_deref() {
        Some("available") => true,
        Some(s) => {
            c.notes
                .push(format!("{what} is {s}; wait until it is available"));
            false
        }
        None => {
            c.notes.push(format!("{what} state is unknown"));
            false
        }
    }
}

fn vpc(r: &Resource, meta: &Value) -> Constraints {
    let mut c = none();
    let available = settled(r, "VPC", &mut c);
    if flag(meta, "is_default") {
        c.notes.push(
            "this is the region's default VPC: launches without a subnet use it, and only CreateDefaultVpc brings it back"
                .into(),
        );
    } else {
        c.can_delete = available;
    }
    c.notes.push(
        "the record does not show what is still inside (subnets, gateways, interfaces); DeleteVpc fails until they are gone"
            .into(),
    );
    c
}

fn subnet(r: &Resource, meta: &Value) -> Constraints {
    let mut c = none();
    c.can_delete = settled(r, "subnet", &mut c);
    if flag(meta, "default_for_az") {
        c.notes.push(
            "this is its zone's default subnet: launches in the default VPC land here".into(),
        );
    }
    c.notes.push(
        "the record does not show network interfaces in the subnet; DeleteSubnet fails while any remain"
            .into(),
    );
    c
}

fn security_group(meta: &Value) -> Constraints {
    let mut c = none();
    if meta.get("group_name").and_then(Value::as_str) == Some("default") {
        c.notes
            .push("a VPC's default security group cannot be deleted".into());
    } else {
        c.can_delete = true;
        c.notes.push(
            "the record does not show which interfaces use the group or which groups refer to it; DeleteSecurityGroup fails while any do"
                .into(),
        );
    }
    if flag(meta, "open_to_world") {
        let open: Vec<&str> = meta
            .get("ingress")
            .and_then(Value::as_array)
            .map(|rules| {
                rules
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|r| r.ends_with(" from 0.0.0.0/0") || r.ends_with(" from ::/0"))
                    .collect()
            })
            .unwrap_or_default();
        c.notes
            .push(format!("open to the internet: {}", open.join(", ")));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::{flags, resource};

    #[test]
    fn an_available_vpc_can_be_deleted_but_its_contents_are_unknown() {
        let c = constraints(&resource(
            "vpc",
            Some("available"),
            &[],
            r#"{"is_default":false}"#,
        ));
        assert_eq!(flags(&c), [false, false, true, false, false]);
        assert_eq!(c.notes.len(), 1);
        assert!(c.notes[0].contains("DeleteVpc fails until they are gone"));
    }

    #[test]
    fn the_default_vpc_is_not_offered_for_deletion() {
        let c = constraints(&resource(
            "vpc",
            Some("available"),
            &[],
            r#"{"is_default":true}"#,
        ));
        assert_eq!(flags(&c), [false; 5]);
        assert!(c.notes[0].starts_with("this is the region's default VPC"));
        let c = constraints(&resource("vpc", Some("pending"), &[], "{}"));
        assert!(!c.can_delete);
        assert_eq!(c.notes[0], "VPC is pending; wait until it is available");
    }

    #[test]
    fn subnets_can_be_deleted_when_available() {
        let c = constraints(&resource("vpc_subnet", Some("available"), &[], "{}"));
        assert_eq!(flags(&c), [false, false, true, false, false]);
        let c = constraints(&resource(
            "vpc_subnet",
            None,
            &[],
            r#"{"default_for_az":true}"#,
        ));
        assert!(!c.can_delete);
        assert_eq!(c.notes.len(), 3, "{:?}", c.notes);
    }

    #[test]
    fn default_groups_stay_and_open_groups_say_where() {
        let c = constraints(&resource(
            "vpc_security_group",
            None,
            &[],
            r#"{"group_name":"default"}"#,
        ));
        assert_eq!(flags(&c), [false; 5]);
        let meta = r#"{"group_name":"web","open_to_world":true,"ingress":["tcp 443 from 0.0.0.0/0","tcp 443 from ::/0","tcp 22 from 10.0.0.0/8"]}"#;
        let c = constraints(&resource("vpc_security_group", None, &[], meta));
        assert_eq!(flags(&c), [false, false, true, false, false]);
        assert_eq!(
            c.notes[1],
            "open to the internet: tcp 443 from 0.0.0.0/0, tcp 443 from ::/0"
        );
    }

    #[test]
    fn unknown_types_allow_none() {
        let c = constraints(&resource("rds_instance", Some("available"), &[], "{}"));
        assert_eq!(flags(&c), [false; 5]);
        assert_eq!(c.notes.len(), 1);
    }
}
