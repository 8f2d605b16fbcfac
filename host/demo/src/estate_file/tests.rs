//! The estate file's unit tests: parsing, problems with their paths, defaults, offline
//! resources and the generators.

use super::plan::{Ix, Kind, SubnetIx, VpcIx};
use std::collections::BTreeMap;

use super::*;

const ACCOUNT: &str = r#"{ "id": "111111111111", "name": "production", "regions": ["us-west-2"] }"#;

fn estate(resources: &str) -> Result<EstateFile, EstateError> {
    EstateFile::from_json(&format!(
        r#"{{ "accounts": [{ACCOUNT}], "resources": [{resources}] }}"#
    ))
}

fn problems(resources: &str) -> Vec<String> {
    estate(resources)
        .unwrap_err()
        .problems()
        .iter()
        .map(Problem::to_string)
        .collect()
}

#[test]
fn unknown_fields_are_errors_naming_their_path() {
    let err = EstateFile::from_json(r#"{ "accounts": [], "resource": [] }"#).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `resource`"),
        "{err}"
    );
    let err = EstateFile::from_json(
        r#"{ "accounts": [{ "id": "111111111111", "regions": ["us-west-2"], "colour": 1 }] }"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("accounts[0].colour"), "{err}");
    let err = estate(
        r#"{ "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
             "name": "web", "attrs": { "instance_typo": "t3.micro" } }"#,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("resources[0].attrs.instance_typo"), "{text}");
    assert!(text.contains("unknown field `instance_typo`"), "{text}");
    assert!(
        text.contains("instance_type"),
        "the message lists the known fields: {text}"
    );
    let err = estate(
        r#"{ "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "x" },
           { "type": "s3_bucket", "account": "111111111111", "region": "us-west-2",
             "id": "b-1-bucket", "owner": "me" }"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("resources[1].owner"), "{err}");
}

#[test]
fn wrong_types_and_syntax_name_the_path_too() {
    let err = estate(
        r#"{ "type": "ec2_volume", "account": "111111111111", "region": "us-west-2",
             "name": "v", "attrs": { "size_gib": "big" } }"#,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("resources[0].attrs.size_gib"),
        "{err}"
    );
    let err = EstateFile::from_json(r#"{ "accounts": [ }"#).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn bad_references_are_errors_naming_their_path_and_the_candidates() {
    let p = problems(
        r#"{ "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "main" },
           { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "app-a" },
           { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
             "name": "web", "attrs": { "subnet": "app-z", "volumes": ["nope"] } },
           { "type": "rds_instance", "account": "111111111111", "region": "us-west-2",
             "id": "pg-replica", "attrs": { "replica_of": "pg-main" } },
           { "type": "lambda_alias", "account": "111111111111", "region": "us-west-2",
             "id": "live", "attrs": { "function": "ghost" } },
           { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
             "name": "db", "attrs": { "security_groups": ["web"] } }"#,
    );
    let all = p.join("\n");
    assert!(
        all.contains("resources[2].attrs.subnet: no vpc_subnet `app-z` in 111111111111/us-west-2 (known: app-a)"),
        "{all}"
    );
    assert!(
        all.contains("resources[3].attrs.replica_of: no rds_instance `pg-main`"),
        "{all}"
    );
    assert!(
        all.contains("resources[4].attrs.function: no lambda_function `ghost`"),
        "{all}"
    );
    assert!(
        all.contains(
            "resources[5].attrs.security_groups[0]: no security group `web` in VPC `main`"
        ),
        "{all}"
    );
}

#[test]
fn accounts_regions_types_and_duplicates_are_checked() {
    let p = problems(
        r#"{ "type": "ec2_instance", "account": "999999999999", "region": "us-west-2", "name": "a" },
           { "type": "ec2_instance", "account": "111111111111", "region": "eu-west-1", "name": "b" },
           { "type": "ec2_instanse", "account": "111111111111", "region": "us-west-2", "name": "c" }"#,
    );
    assert_eq!(
        p,
        [
            "resources[2].type: unknown resource type `ec2_instanse`; expected one of \
             ec2_instance, ec2_volume, ec2_snapshot, rds_instance, rds_cluster, rds_snapshot, \
             s3_bucket, lambda_function, lambda_layer, lambda_alias, vpc, vpc_subnet, \
             vpc_security_group, elb_load_balancer"
        ]
    );
    let p = problems(
        r#"{ "type": "ec2_instance", "account": "999999999999", "region": "us-west-2", "name": "a" },
           { "type": "ec2_instance", "account": "111111111111", "region": "eu-west-1", "name": "b" },
           { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2", "name": "c" },
           { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2", "name": "c" },
           { "type": "rds_instance", "account": "111111111111", "region": "us-west-2", "name": "d" },
           { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
             "name": "e", "state": "terminated" }"#,
    );
    assert_eq!(p.len(), 6, "{p:#?}");
    assert!(
        p[0].starts_with("resources[0].account: no account `999999999999`"),
        "{}",
        p[0]
    );
    assert!(
        p[1].starts_with("resources[1].region: region `eu-west-1` is not one of"),
        "{}",
        p[1]
    );
    assert!(
        p[2].starts_with("resources[3].name: ec2_instance `c` is also resources[2]"),
        "{}",
        p[2]
    );
    assert!(
        p[3].starts_with("resources[4].name: rds_instance resources are named by their identifier"),
        "{}",
        p[3]
    );
    assert!(
        p[4].starts_with("resources[4].id: a rds_instance needs an `id`"),
        "{}",
        p[4]
    );
    assert!(
        p[5].starts_with("resources[5].state: `terminated` is not a state"),
        "{}",
        p[5]
    );
    let err = EstateFile::from_json(
        r#"{ "accounts": [{ "id": "1234", "regions": ["mars-north-1"],
             "principal": { "allow": ["ec2 describe"] } }] }"#,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("accounts[0].id: `1234` is not a 12-digit account id"),
        "{text}"
    );
    assert!(
        text.contains("accounts[0].regions[0]: `mars-north-1` is not a region"),
        "{text}"
    );
    assert!(text.contains("accounts[0].principal.allow[0]"), "{text}");
}

#[test]
fn bucket_names_are_unique_across_accounts() {
    let err = EstateFile::from_json(
        r#"{ "accounts": [
               { "id": "111111111111", "regions": ["us-west-2"] },
               { "id": "222222222222", "regions": ["us-east-1"] } ],
             "resources": [
               { "type": "s3_bucket", "account": "111111111111", "region": "us-west-2", "id": "shared-name" },
               { "type": "s3_bucket", "account": "222222222222", "region": "us-east-1", "id": "shared-name" } ] }"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("resources[1].id: bucket `shared-name` is also resources[0]"),
        "{err}"
    );
}

#[test]
fn defaults_are_realistic() {
    let e = estate(
        r#"{ "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "main" },
           { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "a" },
           { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "b" },
           { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2", "name": "web" },
           { "type": "rds_instance", "account": "111111111111", "region": "us-west-2", "id": "pg" }"#,
    )
    .unwrap();
    let plan = e.plan();
    let vpc: VpcIx = ix(&e, 0);
    let (a, b): (SubnetIx, SubnetIx) = (ix(&e, 1), ix(&e, 2));
    assert_eq!(plan.get(vpc).cidr, "10.0.0.0/16");
    let b_plan = plan.get(b);
    assert_eq!(
        (b_plan.cidr.as_str(), b_plan.zone.as_str()),
        ("10.0.1.0/24", "us-west-2b")
    );
    let Resolved::Instance(i) = &plan.resolved[3] else {
        panic!()
    };
    assert_eq!(i.instance_type, "t3.micro");
    assert_eq!(i.subnets, [(SubnetRef::File(a), "us-west-2a".to_owned())]);
    assert_eq!(i.security_groups, [SgRef::DefaultOf(VpcRef::File(vpc))]);
    let Resolved::Rds(r) = &plan.resolved[4] else {
        panic!()
    };
    assert_eq!(
        (r.engine.as_str(), r.engine_version.as_str(), r.port),
        ("postgres", "16.3", 5432)
    );
    assert_eq!(plan.db_subnet_groups[&vpc], "main-db-subnets");
    assert_eq!(plan.vpc_subnets[&vpc], [a, b]);
}

/// The typed index of the `i`-th resource of `e`, which must be a `K`.
fn ix<K: Kind>(e: &EstateFile, i: usize) -> Ix<K> {
    Ix::of(i, &e.resources()[i]).expect("the resource has that type")
}

#[test]
fn the_json_round_trips() {
    let e = estate(
        r#"{ "type": "s3_bucket", "account": "111111111111", "region": "us-west-2",
             "id": "acme-logs", "tags": { "env": "production" },
             "attrs": { "versioning": "Enabled", "lifecycle_rules": ["expire"] } },
           { "type": "elb_load_balancer", "account": "111111111111", "region": "us-west-2",
             "id": "web-alb", "attrs": { "type": "network" } }"#,
    )
    .unwrap();
    let again = EstateFile::from_json(&e.to_json()).unwrap();
    assert_eq!(again, e);
    assert!(e.to_json().contains(r#""type": "network""#));
}

#[test]
fn offline_resources_match_the_expected_counts() {
    let e = estate(
        r#"{ "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "main" },
           { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "a" },
           { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2", "name": "web" },
           { "type": "rds_cluster", "account": "111111111111", "region": "us-west-2", "id": "aurora" },
           { "type": "rds_instance", "account": "111111111111", "region": "us-west-2",
             "id": "aurora-1", "attrs": { "cluster": "aurora" } },
           { "type": "lambda_layer", "account": "111111111111", "region": "us-west-2",
             "id": "libs", "attrs": { "versions": 3 } }"#,
    )
    .unwrap();
    let mut counts: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for r in e.offline_resources() {
        *counts
            .entry((r.account_id, r.region, r.resource_type))
            .or_default() += 1;
    }
    assert_eq!(counts, e.expected_counts());
    let key = |t: &str| {
        (
            "111111111111".to_owned(),
            "us-west-2".to_owned(),
            t.to_owned(),
        )
    };
    assert_eq!(counts[&key("vpc")], 2, "the default VPC and main");
    assert_eq!(counts[&key("vpc_subnet")], 5, "four default subnets and a");
    assert_eq!(counts[&key("vpc_security_group")], 2, "two default groups");
    assert_eq!(counts[&key("ec2_volume")], 1, "the root volume");
    assert_eq!(
        counts[&key("rds_snapshot")],
        2,
        "automated snapshots of aurora and aurora-1"
    );
    assert_eq!(counts[&key("lambda_layer")], 3);
}

#[test]
fn offline_resources_look_like_the_scanners_output() {
    let e = estate(
        r#"{ "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "main" },
           { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "app-a" },
           { "type": "vpc_security_group", "account": "111111111111", "region": "us-west-2",
             "name": "web", "attrs": { "ingress": ["tcp 443 from 0.0.0.0/0"] } },
           { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
             "name": "web-server-1", "tags": { "env": "production", "app": "api" },
             "attrs": { "instance_type": "t3.medium", "security_groups": ["web"] } }"#,
    )
    .unwrap();
    let all = e.offline_resources();
    let web = all
        .iter()
        .find(|r| r.name == "web-server-1" && r.resource_type == "ec2_instance")
        .unwrap();
    assert!(
        web.identifier.starts_with("i-") && web.identifier.len() == 19,
        "{}",
        web.identifier
    );
    assert_eq!(
        web.arn,
        format!(
            "arn:aws:ec2:us-west-2:111111111111:instance/{}",
            web.identifier
        )
    );
    assert_eq!(web.state.as_deref(), Some("running"));
    let tags: Vec<(&str, &str)> = web
        .tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    assert_eq!(
        tags,
        [
            ("Name", "web-server-1"),
            ("app", "api"),
            ("env", "production")
        ]
    );
    let kinds: Vec<&str> = web.relations.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["subnet", "vpc", "security_group", "volume"]);
    assert_eq!(web.metadata["instance_type"], "t3.medium");
    assert_eq!(web.metadata["private_ip"], "10.0.0.4");
    let keys: Vec<&String> = web.metadata.keys().collect();
    assert_eq!(
        keys,
        [
            "architecture",
            "availability_zone",
            "ebs_optimized",
            "image_id",
            "instance_type",
            "launch_time",
            "private_ip",
            "root_device_type"
        ]
    );
    let group = all.iter().find(|r| r.name == "web").unwrap();
    assert_eq!(
        group.metadata["ingress"],
        serde_json::json!(["tcp 443 from 0.0.0.0/0"])
    );
    assert_eq!(group.metadata["open_to_world"], true);
    // Deterministic: the same file gives the same resources.
    assert_eq!(e.offline_resources(), all);
}

#[test]
fn the_default_demo_has_the_seeds_scale_and_examples() {
    let started = std::time::Instant::now();
    let demo = EstateFile::default_demo();
    let generated = started.elapsed();
    let declared = demo.declared_counts();
    assert_eq!(declared[&ResourceKind::Ec2Instance], 2500);
    assert_eq!(declared[&ResourceKind::RdsInstance], 150);
    assert_eq!(declared[&ResourceKind::RdsCluster], 9);
    assert_eq!(declared[&ResourceKind::S3Bucket], 430);
    assert_eq!(declared[&ResourceKind::LambdaFunction], 85);
    assert_eq!(declared[&ResourceKind::LambdaAlias], 40);
    assert_eq!(declared[&ResourceKind::Vpc], 15);
    assert_eq!(declared[&ResourceKind::VpcSubnet], 90);
    assert_eq!(declared[&ResourceKind::VpcSecurityGroup], 75);
    let accounts: Vec<(&str, &str)> = demo
        .accounts()
        .iter()
        .map(|a| (a.id.as_str(), a.name.as_str()))
        .collect();
    assert_eq!(
        accounts,
        [
            ("111111111111", "production"),
            ("222222222222", "staging"),
            ("333333333333", "development")
        ]
    );
    let find = |kind: ResourceKind, key: &str| {
        demo.resources()
            .iter()
            .find(|r| r.kind == kind && r.key() == key)
            .unwrap_or_else(|| panic!("{kind} {key} is in the demo"))
    };
    let tags = |r: &ResourceSpec| {
        r.tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let pg = find(ResourceKind::RdsInstance, "pg-instance-main1");
    assert_eq!(
        (pg.account.as_str(), pg.region.as_str()),
        ("111111111111", "us-west-2")
    );
    assert_eq!(tags(pg), "app=main,env=production");
    assert_eq!(pg.state.as_deref(), Some("available"));
    let Attrs::RdsInstance(a) = &pg.attrs else {
        panic!()
    };
    assert_eq!(a.engine.as_deref(), Some("postgres"));
    assert_eq!(a.engine_version.as_deref(), Some("14.7"));
    assert_eq!(a.class.as_deref(), Some("db.r6g.large"));
    assert_eq!(a.multi_az, Some(true));
    let web = find(ResourceKind::Ec2Instance, "web-server-1");
    assert_eq!(
        (web.account.as_str(), web.region.as_str()),
        ("111111111111", "us-west-2")
    );
    assert_eq!(tags(web), "app=api,env=production");
    assert_eq!(web.state.as_deref(), Some("running"));
    let Attrs::Ec2Instance(a) = &web.attrs else {
        panic!()
    };
    assert_eq!(a.instance_type.as_deref(), Some("t3.medium"));
    let production = &demo.accounts()[0].principal;
    assert!(production.allow.contains(&"ec2:StopInstances".to_owned()));
    assert!(production
        .deny
        .contains(&"ec2:TerminateInstances".to_owned()));
    assert!(demo.accounts()[2]
        .principal
        .allow
        .contains(&"ec2:*".to_owned()));
    // Deterministic, and what a scan finds adds up.
    assert_eq!(EstateFile::default_demo(), demo);
    let offline = demo.offline_resources();
    let mut counts: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for r in &offline {
        *counts
            .entry((
                r.account_id.clone(),
                r.region.clone(),
                r.resource_type.clone(),
            ))
            .or_default() += 1;
    }
    assert_eq!(counts, demo.expected_counts());
    // The file reads back as itself.
    assert_eq!(EstateFile::from_json(&demo.to_json()).unwrap(), demo);
    eprintln!(
        "default demo: {} file resources, {} scanned resources, generated in {generated:?}; \
         declared {declared:?}",
        demo.resources().len(),
        offline.len()
    );
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    for r in &offline {
        *by_type.entry(r.resource_type.clone()).or_default() += 1;
    }
    eprintln!("scanned by type: {by_type:?}");
}

#[test]
fn generated_estates_scale() {
    for target in [10_000usize, 100_000] {
        let started = std::time::Instant::now();
        let e = crate::generate(&crate::EstateSpec::with_resources(target));
        let offline = e.offline_resources();
        let n = offline.len();
        eprintln!("{target}: {n} resources in {:?}", started.elapsed());
        assert!(
            (n as f64) > target as f64 * 0.85 && (n as f64) < target as f64 * 1.15,
            "{target}: {n}"
        );
        let ids: std::collections::HashSet<(&str, &str, &str)> = offline
            .iter()
            .map(|r| (r.account_id.as_str(), r.region.as_str(), r.arn.as_str()))
            .collect();
        assert_eq!(ids.len(), n, "ARNs are unique");
    }
}

/// The default demo estate and what a scan of it reports are exactly what they were before
/// the estate code became modules (issue 16): the search evaluation and the sync bench are
/// measured on them. The digests were taken from the code before that rewrite; a change
/// to the demo on purpose updates them (and re-measures both).
#[test]
fn the_default_demo_is_the_same_estate_as_before() {
    use sha2::{Digest, Sha256};
    let e = EstateFile::default_demo();
    let digest = |s: String| hex::encode(Sha256::digest(s.as_bytes()));
    assert_eq!(
        digest(e.to_json()),
        "ee70de36119012957204c14dafac57f136ea89908d504dc18e8862df1347c2e8"
    );
    let offline = serde_json::to_string_pretty(&e.offline_resources()).expect("plain data");
    assert_eq!(
        digest(offline),
        "7dffdc3eb5b756af53a7eaa7895e4df7d893702c852a0db3cc843c015677048d"
    );
}
