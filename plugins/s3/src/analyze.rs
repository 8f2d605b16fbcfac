//! What a bucket allows. Works on the record alone: `analyze` may not call AWS.

use cloudops_scanner_sdk::constraints::none;
use cloudops_scanner_sdk::{Constraints, Resource, UNREAD};
use serde_json::Value;

pub fn constraints(r: &Resource) -> Constraints {
    let mut c = none();
    if r.resource_type != "s3_bucket" {
        c.notes.push(format!(
            "the s3 scanner does not know resource type `{}`",
            r.resource_type
        ));
        return c;
    }
    let meta: Value = serde_json::from_str(&r.metadata).unwrap_or(Value::Null);
    c.can_delete = true;
    c.notes
        .push("buckets cannot be stopped or started; access is controlled by policy".into());
    c.notes.push(
        "a bucket must be empty (every object and object version removed) before it can be deleted"
            .into(),
    );
    match meta.get("versioning").and_then(Value::as_str) {
        Some("Enabled") => {
            c.has_backups = true;
            c.notes.push(
                "versioning is enabled: overwritten and deleted objects are kept as versions"
                    .into(),
            );
        }
        Some("Suspended") => c.notes.push(
            "versioning is suspended: versions made before remain, new writes keep none".into(),
        ),
        Some(_) => {}
        None => c
            .notes
            .push("versioning could not be read, so backups are unknown".into()),
    }
    // `_unread` as the scan emitted it; a stored record has `_stale` instead, whose values
    // were kept from an earlier read.
    let unreadable: Vec<&str> = match (meta.get(UNREAD), meta.get("_stale")) {
        (Some(Value::Array(parts)), _) => parts.iter().filter_map(Value::as_str).collect(),
        (_, Some(Value::Object(parts))) => parts.keys().map(String::as_str).collect(),
        _ => Vec::new(),
    };
    if !unreadable.is_empty() {
        c.notes.push(format!(
            "the scan could not read this bucket's {}",
            unreadable.join(", ")
        ));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(metadata: &str) -> Resource {
        Resource {
            resource_type: "s3_bucket".into(),
            identifier: "b".into(),
            arn: "arn:aws:s3:::b".into(),
            name: "b".into(),
            region: "eu-west-1".into(),
            state: None,
            tags: Vec::new(),
            relations: Vec::new(),
            metadata: metadata.into(),
        }
    }

    #[test]
    fn a_versioned_bucket_has_backups_and_can_be_deleted_once_empty() {
        let c = constraints(&bucket(r#"{"versioning":"Enabled"}"#));
        assert!(c.can_delete && c.has_backups);
        assert!(!c.can_stop && !c.can_start && !c.has_dependencies);
        assert!(
            c.notes.iter().any(|n| n.contains("must be empty")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn unversioned_and_unreadable_buckets_say_so() {
        let c = constraints(&bucket(r#"{"versioning":"Disabled"}"#));
        assert!(c.can_delete && !c.has_backups);
        assert_eq!(c.notes.len(), 2, "{:?}", c.notes);

        let c = constraints(&bucket(r#"{"_unread":["versioning","lifecycle_rules"]}"#));
        assert!(!c.has_backups);
        assert!(c.notes.contains(
            &"the scan could not read this bucket's versioning, lifecycle_rules".to_owned()
        ));
        assert!(c.notes.iter().any(|n| n.contains("backups are unknown")));
        let c = constraints(&bucket(
            r#"{"versioning":"Enabled","_stale":{"tags":null}}"#,
        ));
        assert!(c
            .notes
            .contains(&"the scan could not read this bucket's tags".to_owned()));

        let c = constraints(&bucket(r#"{"versioning":"Suspended"}"#));
        assert!(!c.has_backups && c.notes.iter().any(|n| n.contains("suspended")));
    }

    #[test]
    fn other_types_and_broken_metadata_do_not_panic() {
        let mut r = bucket("not json");
        assert!(constraints(&r).can_delete);
        r.resource_type = "ec2_instance".into();
        let c = constraints(&r);
        assert!(!c.can_delete);
        assert_eq!(
            c.notes,
            ["the s3 scanner does not know resource type `ec2_instance`"]
        );
    }
}
