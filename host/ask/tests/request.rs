//! The plan request carries the identified resources and, of those, only what planning needs:
//! greps of its JSON prove that relations, unrelated metadata (secrets among it), other
//! resources' data and unrelated IAM verdicts stay on this machine.

use std::path::PathBuf;

use cloudops_ask::request::{build_request, candidate_actions, PLANNING_METADATA};
use cloudops_core::resource::{Constraints, Denial, Permissions, Relation, Resource, Tag};
use cloudops_estate::estate::Record;
use cloudops_playbook::Library;
use serde_json::{json, Map};

fn library() -> Library {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../playbooks");
    Library::load_dir(&dir).expect("the default library checks")
}

fn record(name: &str, metadata: serde_json::Value) -> Record {
    let serde_json::Value::Object(metadata) = metadata else {
        panic!("an object")
    };
    Record {
        resource: Resource {
            resource_type: "rds_instance".into(),
            identifier: name.into(),
            arn: format!("arn:aws:rds:us-west-2:111111111111:db:{name}"),
            name: name.into(),
            account_id: "111111111111".into(),
            region: "us-west-2".into(),
            state: Some("available".into()),
            tags: vec![Tag {
                key: "env".into(),
                value: "production".into(),
            }],
            relations: vec![Relation {
                kind: "in_subnet_group".into(),
                target_arn: "arn:aws:rds:us-west-2:111111111111:subgrp:secret-subnet-group".into(),
            }],
            metadata,
        },
        service: "rds".into(),
        account_name: "production".into(),
        permissions: Some(Permissions {
            allowed: vec![
                "rds:StopDBInstance".into(),
                "rds:DescribeDBInstances".into(),
                "ec2:RunInstances".into(),
            ],
            denied: vec![Denial {
                action: "rds:DeleteDBInstance".into(),
                explicit: true,
            }],
        }),
        constraints: Constraints::default(),
        principal: Some("arn:aws:iam::111111111111:role/Developer".into()),
    }
}

#[test]
fn the_request_holds_only_what_planning_needs() {
    let main = record(
        "pg-instance-main1",
        json!({
            "engine": "postgres",
            "multi_az": true,
            "read_replicas": [],
            "endpoint": "pg-instance-main1.abc.us-west-2.rds.amazonaws.com",
            "master_username": "admin-user-name",
            "environment": {"DB_PASSWORD": "hunter2-very-secret"},
        }),
    );
    let library = library();
    let request = build_request(
        "stop pg-instance-main1",
        std::slice::from_ref(&main),
        Some(&library),
        Map::new(),
        Vec::new(),
    );
    let text = serde_json::to_string(&request).unwrap();
    // Needed: identity, state, tags, the planning metadata, the candidate actions' verdicts.
    for needed in [
        "pg-instance-main1",
        "arn:aws:rds:us-west-2:111111111111:db:pg-instance-main1",
        "\"available\"",
        "\"env\"",
        "\"multi_az\":true",
        "\"engine\":\"postgres\"",
        "rds:StopDBInstance",
        "rds:DeleteDBInstance",
    ] {
        assert!(text.contains(needed), "{needed} missing: {text}");
    }
    // Not needed: relations, other metadata, the principal, unrelated actions.
    for kept in [
        "secret-subnet-group",
        "relations",
        "rds.amazonaws.com",
        "admin-user-name",
        "hunter2-very-secret",
        "DB_PASSWORD",
        "role/Developer",
        "ec2:RunInstances",
        "rds:DescribeDBInstances",
    ] {
        assert!(
            !text.contains(kept),
            "{kept} leaked into the request: {text}"
        );
    }
    assert_eq!(request.identified_resources.len(), 1);
}

#[test]
fn without_a_library_verdicts_of_the_resources_service_are_kept() {
    let main = record("pg-instance-main1", json!({}));
    let request = build_request("stop it", &[main], None, Map::new(), Vec::new());
    let text = serde_json::to_string(&request).unwrap();
    assert!(text.contains("rds:StopDBInstance"), "{text}");
    assert!(!text.contains("ec2:RunInstances"), "{text}");
}

/// Every `metadata.KEY` a playbook of the default library reads is sent; a new playbook
/// reading a new key fails here until the key is added to `PLANNING_METADATA`.
#[test]
fn planning_metadata_covers_every_key_the_library_reads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../playbooks");
    let files = cloudops_playbook::library::read_dir(&dir).unwrap();
    let mut missing = Vec::new();
    for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with(".yaml")) {
        let text = String::from_utf8_lossy(bytes);
        for (i, _) in text.match_indices("metadata.") {
            let key: String = text[i + "metadata.".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !key.is_empty() && !PLANNING_METADATA.contains(&key.as_str()) {
                missing.push(format!("{path}: {key}"));
            }
        }
    }
    assert!(missing.is_empty(), "not in PLANNING_METADATA: {missing:?}");
    // And the candidate actions of a type come from its playbooks.
    let actions = candidate_actions(&library(), "rds_instance");
    assert!(actions.contains(&"rds:StopDBInstance".to_owned()));
    assert!(
        !actions.iter().any(|a| a.starts_with("ec2:")),
        "{actions:?}"
    );
}
