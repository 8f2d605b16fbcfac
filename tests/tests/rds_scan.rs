//! The RDS plugin against the real emulator: exact identifiers, tags, states, relations,
//! constraints and paging.

use cloudops_demo::{self as demo, create_iam_user};
use cloudops_host::aws::AwsClient;
use cloudops_host::plugin::{Limits, PluginError};
use cloudops_host::resource::Resource;
use cloudops_tests::{
    ec2_arn, ids, load_plugin, of_type, pairs, query, rds_arn, relations, scan, start_emulator,
    tags, Network,
};

const REGION: &str = "us-west-2";
async fn call(client: &AwsClient, service: &str, action: &str, params: &[(&str, &str)]) -> Vec<u8> {
    query(client, REGION, service, action, params).await
}

/// A DB instance with the parameters moto insists on; `extra` adds to or overrides them.
async fn create_instance(client: &AwsClient, id: &str, engine: &str, extra: &[(&str, &str)]) {
    let mut params: Vec<(&str, &str)> = [
        ("DBInstanceIdentifier", id),
        ("DBInstanceClass", "db.t3.micro"),
        ("Engine", engine),
        ("AllocatedStorage", "20"),
        ("MasterUsername", "admin1"),
        ("MasterUserPassword", "secret123456"),
    ]
    .into_iter()
    .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
    .collect();
    params.extend_from_slice(extra);
    call(client, "rds", "CreateDBInstance", &params).await;
}

/// The shared network, plus the DB subnet group `main` over its two subnets.
async fn seed_network(client: &AwsClient) -> Network {
    let net = cloudops_tests::seed_network(client, REGION, "10.9", ("db", "databases")).await;
    call(
        client,
        "rds",
        "CreateDBSubnetGroup",
        &[
            ("DBSubnetGroupName", "main"),
            ("DBSubnetGroupDescription", "main databases"),
            ("SubnetIds.SubnetIdentifier.1", &net.subnets[0]),
            ("SubnetIds.SubnetIdentifier.2", &net.subnets[1]),
        ],
    )
    .await;
    net
}

/// pg-main (Multi-AZ, with a read replica), mysql-dev (stopped, no backups), Aurora
/// cluster aurora-main with a writer and a reader, one manual DB snapshot and one manual
/// cluster snapshot.
async fn seed_estate(client: &AwsClient) -> Network {
    let net = seed_network(client).await;
    create_instance(
        client,
        "pg-main",
        "postgres",
        &[
            ("EngineVersion", "14.7"),
            ("DBInstanceClass", "db.r6g.large"),
            ("MultiAZ", "true"),
            ("BackupRetentionPeriod", "7"),
            ("DBSubnetGroupName", "main"),
            ("VpcSecurityGroupIds.VpcSecurityGroupId.1", &net.sg),
            ("Tags.Tag.1.Key", "env"),
            ("Tags.Tag.1.Value", "production"),
            ("Tags.Tag.2.Key", "app"),
            ("Tags.Tag.2.Value", "main"),
        ],
    )
    .await;
    call(
        client,
        "rds",
        "CreateDBInstanceReadReplica",
        &[
            ("DBInstanceIdentifier", "pg-main-replica"),
            ("SourceDBInstanceIdentifier", "pg-main"),
            ("Tags.Tag.1.Key", "env"),
            ("Tags.Tag.1.Value", "production"),
        ],
    )
    .await;
    create_instance(
        client,
        "mysql-dev",
        "mysql",
        &[("BackupRetentionPeriod", "0")],
    )
    .await;
    call(
        client,
        "rds",
        "StopDBInstance",
        &[("DBInstanceIdentifier", "mysql-dev")],
    )
    .await;
    call(
        client,
        "rds",
        "CreateDBCluster",
        &[
            ("DBClusterIdentifier", "aurora-main"),
            ("Engine", "aurora-postgresql"),
            ("EngineVersion", "14.6"),
            ("MasterUsername", "admin1"),
            ("MasterUserPassword", "secret123456"),
            ("BackupRetentionPeriod", "5"),
            ("DBSubnetGroupName", "main"),
            ("VpcSecurityGroupIds.VpcSecurityGroupId.1", &net.sg),
            ("Tags.Tag.1.Key", "env"),
            ("Tags.Tag.1.Value", "staging"),
        ],
    )
    .await;
    for member in ["aurora-main-1", "aurora-main-2"] {
        call(
            client,
            "rds",
            "CreateDBInstance",
            &[
                ("DBInstanceIdentifier", member),
                ("DBClusterIdentifier", "aurora-main"),
                ("DBInstanceClass", "db.r6g.large"),
                ("Engine", "aurora-postgresql"),
            ],
        )
        .await;
    }
    call(
        client,
        "rds",
        "CreateDBSnapshot",
        &[
            ("DBSnapshotIdentifier", "pg-main-before-upgrade"),
            ("DBInstanceIdentifier", "pg-main"),
            ("Tags.Tag.1.Key", "purpose"),
            ("Tags.Tag.1.Value", "upgrade"),
        ],
    )
    .await;
    call(
        client,
        "rds",
        "CreateDBClusterSnapshot",
        &[
            ("DBClusterSnapshotIdentifier", "aurora-main-manual"),
            ("DBClusterIdentifier", "aurora-main"),
        ],
    )
    .await;
    net
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_reports_the_seeded_estate_exactly() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    let net = seed_estate(&admin).await;
    let plugin = load_plugin("rds", Limits::default()).unwrap();

    let (resources, result) = scan(&plugin, &admin, REGION, &[]).await;
    let report = result.unwrap();
    assert_eq!(report.resources as usize, resources.len());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.requests, 4, "one page of each listing");

    let instances = of_type(&resources, "rds_instance");
    assert_eq!(
        ids(&instances),
        [
            "aurora-main-1",
            "aurora-main-2",
            "mysql-dev",
            "pg-main",
            "pg-main-replica"
        ]
    );
    for r in &instances {
        assert_eq!(r.arn, rds_arn(REGION, "db", &r.identifier));
        assert_eq!(r.name, r.identifier);
        assert_eq!(r.account_id, demo::DEMO_ACCOUNT);
        assert_eq!(r.region, REGION);
    }
    let by_id = |id: &str| *instances.iter().find(|r| r.identifier == id).unwrap();

    let main = by_id("pg-main");
    assert_eq!(main.state.as_deref(), Some("available"));
    assert_eq!(tags(main), pairs(&[("env", "production"), ("app", "main")]));
    assert_eq!(
        relations(main),
        pairs(&[
            ("vpc", ec2_arn(REGION, "vpc", &net.vpc)),
            ("subnet", ec2_arn(REGION, "subnet", &net.subnets[0])),
            ("subnet", ec2_arn(REGION, "subnet", &net.subnets[1])),
            ("security_group", ec2_arn(REGION, "security-group", &net.sg)),
        ])
    );
    assert_eq!(main.metadata["engine"], "postgres");
    assert_eq!(main.metadata["engine_version"], "14.7");
    assert_eq!(main.metadata["class"], "db.r6g.large");
    assert_eq!(main.metadata["multi_az"], true);
    assert_eq!(main.metadata["backup_retention_period"], 7);
    assert_eq!(main.metadata["endpoint_port"], 5432);
    assert_eq!(main.metadata["allocated_storage_gib"], 20);
    assert_eq!(
        main.metadata["read_replicas"],
        serde_json::json!(["pg-main-replica"])
    );

    let replica = by_id("pg-main-replica");
    assert_eq!(
        relations(replica)[0],
        pairs(&[("replica_of", rds_arn(REGION, "db", "pg-main"))])[0]
    );
    assert_eq!(replica.metadata["read_replica_source"], "pg-main");
    assert_eq!(tags(replica), pairs(&[("env", "production")]));

    let dev = by_id("mysql-dev");
    assert_eq!(dev.state.as_deref(), Some("stopped"), "moto stops at once");
    assert!(dev.tags.is_empty());
    assert_eq!(dev.metadata["backup_retention_period"], 0);

    for member in ["aurora-main-1", "aurora-main-2"] {
        let r = by_id(member);
        assert_eq!(r.metadata["cluster_id"], "aurora-main");
        assert!(
            relations(r).contains(&("cluster".into(), rds_arn(REGION, "cluster", "aurora-main"))),
            "{r:?}"
        );
    }

    let clusters = of_type(&resources, "rds_cluster");
    assert_eq!(ids(&clusters), ["aurora-main"]);
    let cluster = clusters[0];
    assert_eq!(cluster.arn, rds_arn(REGION, "cluster", "aurora-main"));
    assert_eq!(cluster.state.as_deref(), Some("available"));
    assert_eq!(tags(cluster), pairs(&[("env", "staging")]));
    assert_eq!(
        cluster.metadata["members"],
        serde_json::json!([
            {"id": "aurora-main-1", "writer": true},
            {"id": "aurora-main-2", "writer": false},
        ])
    );
    assert_eq!(cluster.metadata["writer"], "aurora-main-1");
    assert_eq!(cluster.metadata["engine"], "aurora-postgresql");
    assert_eq!(
        relations(cluster),
        pairs(&[
            ("instance", rds_arn(REGION, "db", "aurora-main-1")),
            ("instance", rds_arn(REGION, "db", "aurora-main-2")),
            ("security_group", ec2_arn(REGION, "security-group", &net.sg)),
        ])
    );

    // moto takes an automated snapshot of every new instance and cluster, named
    // `rds:<id>-<timestamp>`, whatever the retention period.
    let snapshots = of_type(&resources, "rds_snapshot");
    let manual: Vec<&Resource> = snapshots
        .iter()
        .copied()
        .filter(|s| s.metadata["snapshot_type"] == "manual")
        .collect();
    assert_eq!(
        ids(&manual),
        ["aurora-main-manual", "pg-main-before-upgrade"]
    );
    assert_eq!(
        manual[0].arn,
        rds_arn(REGION, "cluster-snapshot", "aurora-main-manual")
    );
    assert_eq!(
        relations(manual[0]),
        pairs(&[("snapshot_of", rds_arn(REGION, "cluster", "aurora-main"))])
    );
    assert_eq!(
        manual[1].arn,
        rds_arn(REGION, "snapshot", "pg-main-before-upgrade")
    );
    assert_eq!(manual[1].state.as_deref(), Some("available"));
    assert_eq!(tags(manual[1]), pairs(&[("purpose", "upgrade")]));
    assert_eq!(
        relations(manual[1]),
        pairs(&[("snapshot_of", rds_arn(REGION, "db", "pg-main"))])
    );
    let mut automated_sources: Vec<String> = snapshots
        .iter()
        .filter(|s| s.metadata["snapshot_type"] == "automated")
        .map(|s| {
            assert!(s.identifier.starts_with("rds:"), "{}", s.identifier);
            s.relations[0].target_arn.clone()
        })
        .collect();
    automated_sources.sort();
    // Like AWS for PostgreSQL, moto keeps no automated backups of a read replica.
    let mut expected: Vec<String> = ["aurora-main-1", "aurora-main-2", "mysql-dev", "pg-main"]
        .iter()
        .map(|i| rds_arn(REGION, "db", i))
        .collect();
    expected.insert(0, rds_arn(REGION, "cluster", "aurora-main"));
    expected.sort();
    assert_eq!(automated_sources, expected);

    // State-based constraints from the plugin's analyze().
    let c = plugin.analyze(main).unwrap();
    assert!(
        !c.can_stop && c.can_delete && c.has_backups && c.has_dependencies,
        "{c:?}"
    );
    let c = plugin.analyze(replica).unwrap();
    assert!(!c.can_stop && !c.has_dependencies, "{c:?}");
    let c = plugin.analyze(dev).unwrap();
    assert!(c.can_start && !c.can_stop && !c.has_backups, "{c:?}");
    let c = plugin.analyze(by_id("aurora-main-1")).unwrap();
    assert!(!c.can_stop && c.has_dependencies, "{c:?}");
    let c = plugin.analyze(cluster).unwrap();
    assert!(
        c.can_stop && !c.can_delete && c.has_dependencies && c.has_backups,
        "{c:?}"
    );
    let c = plugin.analyze(manual[1]).unwrap();
    assert!(c.can_delete, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_follow_markers_over_several_pages() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    let mut expected = Vec::new();
    for i in 0..25 {
        let id = format!("worker-{i:02}");
        create_instance(
            &admin,
            &id,
            "postgres",
            &[("Tags.Tag.1.Key", "team"), ("Tags.Tag.1.Value", "batch")],
        )
        .await;
        expected.push(id);
    }
    let plugin = load_plugin("rds", Limits::default()).unwrap();

    let (resources, result) = scan(&plugin, &admin, REGION, &[("page_size", "20")]).await;
    let report = result.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let instances = of_type(&resources, "rds_instance");
    assert_eq!(
        ids(&instances),
        expected,
        "every instance exactly once across pages"
    );
    assert!(instances
        .iter()
        .all(|r| tags(r) == pairs(&[("team", "batch")])));
    // moto takes an automated snapshot of every instance, but pages only
    // DescribeDBInstances (pinned 5.2 ignores MaxRecords for the other listings):
    // 2 instance pages + one page of clusters, snapshots and cluster snapshots.
    assert_eq!(of_type(&resources, "rds_snapshot").len(), 25);
    assert_eq!(report.requests, 5, "pages were not followed as expected");

    let (all_at_once, result) = scan(&plugin, &admin, REGION, &[]).await;
    assert_eq!(result.unwrap().requests, 4);
    assert_eq!(all_at_once.len(), resources.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_listing_fails_the_scan_and_names_the_call() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    create_instance(&admin, "solo", "postgres", &[]).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:DescribeDBInstances","sts:GetCallerIdentity"],"Resource":"*"}]}"#;
    let (key, secret) = create_iam_user(&admin, "rds-reader", policy).await.unwrap();
    emulator.enable_auth().await.unwrap();
    let plugin = load_plugin("rds", Limits::default()).unwrap();

    let (resources, result) = scan(&plugin, &emulator.client(&key, &secret), REGION, &[]).await;
    let err = result.expect_err("a denied listing must fail the scan");
    let text = err.to_string();
    assert!(matches!(err, PluginError::ScanFailed { .. }), "{text}");
    assert!(text.contains("DescribeDBClusters failed"), "{text}");
    assert_eq!(
        ids(&of_type(&resources, "rds_instance")),
        ["solo"],
        "what was listed before the failure still arrives"
    );
}
