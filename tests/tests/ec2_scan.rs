//! The EC2 plugin against the real emulator: exact identifiers, tags, states, relations.

use cloudops_demo::{self as demo, create_iam_user, seed_ec2, Ec2Estate, InstanceSpec};
use cloudops_host::plugin::{Limits, PluginError};
use cloudops_tests::{ec2_arn, has_relation, load_plugin, of_type, scan, start_emulator, tags};

const REGION: &str = "us-west-2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_reports_the_seeded_estate_exactly() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    let seeded = seed_ec2(&admin, REGION, &Ec2Estate::demo()).await.unwrap();
    let plugin = load_plugin("ec2", Limits::default()).unwrap();

    let (resources, result) = scan(&plugin, &admin, REGION, &[]).await;
    let report = result.unwrap();
    assert_eq!(report.resources as usize, resources.len());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    let instances = of_type(&resources, "ec2_instance");
    let mut expected: Vec<(String, String)> = seeded.instances.clone();
    expected.sort();
    let got: Vec<(String, String)> = instances
        .iter()
        .map(|r| (r.name.clone(), r.identifier.clone()))
        .collect();
    assert_eq!(got, expected, "instances by Name tag and id");

    for r in &instances {
        assert_eq!(r.arn, ec2_arn(REGION, "instance", &r.identifier));
        assert_eq!(r.account_id, demo::DEMO_ACCOUNT);
        assert_eq!(r.region, REGION);
        assert!(
            has_relation(r, "subnet", &ec2_arn(REGION, "subnet", &seeded.subnet_id)),
            "{r:?}"
        );
        assert!(
            has_relation(r, "vpc", &ec2_arn(REGION, "vpc", &seeded.vpc_id)),
            "{r:?}"
        );
        assert!(
            has_relation(
                r,
                "security_group",
                &ec2_arn(REGION, "security-group", &seeded.security_group_id)
            ),
            "{r:?}"
        );
    }
    let by_name = |n: &str| *instances.iter().find(|r| r.name == n).unwrap();
    assert_eq!(by_name("staging-box").state.as_deref(), Some("stopped"));
    for n in ["web-server-1", "web-server-2", "db-host-1"] {
        assert_eq!(by_name(n).state.as_deref(), Some("running"), "{n}");
    }
    let mut db_tags = tags(by_name("db-host-1"));
    db_tags.sort();
    assert_eq!(
        db_tags,
        [
            ("Name", "db-host-1"),
            ("app", "main"),
            ("env", "production")
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(
        by_name("web-server-1").metadata["instance_type"],
        "t3.medium"
    );

    // The data volume, its attachment and its snapshot, linked both ways.
    let (db_instance, data_volume) = &seeded.data_volumes[0];
    let (_, snapshot_id) = &seeded.snapshots[0];
    assert!(has_relation(
        by_name("db-host-1"),
        "volume",
        &ec2_arn(REGION, "volume", data_volume)
    ));
    let volumes = of_type(&resources, "ec2_volume");
    let volume = volumes
        .iter()
        .find(|v| &v.identifier == data_volume)
        .expect("data volume scanned");
    assert_eq!(volume.name, "db-host-1-data");
    assert_eq!(volume.state.as_deref(), Some("in-use"));
    assert_eq!(volume.metadata["size_gib"], 100);
    assert!(
        has_relation(
            volume,
            "instance",
            &ec2_arn(REGION, "instance", db_instance)
        ),
        "{volume:?}"
    );
    let snapshots = of_type(&resources, "ec2_snapshot");
    assert_eq!(
        snapshots.len(),
        1,
        "only the self-owned snapshot: {snapshots:?}"
    );
    assert_eq!(&snapshots[0].identifier, snapshot_id);
    assert_eq!(snapshots[0].name, "db-host-1-data-nightly");
    assert!(
        has_relation(
            snapshots[0],
            "snapshot_of",
            &ec2_arn(REGION, "volume", data_volume)
        ),
        "{:?}",
        snapshots[0]
    );

    // State-based constraints from the plugin's analyze().
    let running = plugin.analyze(by_name("web-server-1")).unwrap();
    assert!(running.can_stop && !running.can_start);
    let stopped = plugin.analyze(by_name("staging-box")).unwrap();
    assert!(stopped.can_start && !stopped.can_stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_are_scanned_in_parallel_and_kept_apart() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    let one = |name: &str| Ec2Estate {
        instances: vec![InstanceSpec {
            name: name.to_owned(),
            tags: vec![],
            instance_type: "t3.micro".into(),
            stopped: false,
            data_volume_gib: None,
        }],
    };
    let west = seed_ec2(&admin, "us-west-2", &one("west-box"))
        .await
        .unwrap();
    let east = seed_ec2(&admin, "eu-west-1", &one("east-box"))
        .await
        .unwrap();
    let plugin = load_plugin("ec2", Limits::default()).unwrap();
    let regions = [
        "us-west-2".to_owned(),
        "eu-west-1".to_owned(),
        "ap-south-1".to_owned(),
    ];
    let scans =
        cloudops_host::scan::scan_regions(&plugin, &admin, demo::DEMO_ACCOUNT, &regions, &[], 3)
            .await;
    let ids = |i: usize| -> Vec<String> {
        of_type(&scans[i].resources, "ec2_instance")
            .iter()
            .map(|r| r.identifier.clone())
            .collect()
    };
    assert_eq!(ids(0), [west.instances[0].1.clone()]);
    assert_eq!(ids(1), [east.instances[0].1.clone()]);
    assert!(scans[2].resources.is_empty(), "an empty region is empty");
    assert!(scans.iter().all(|s| s.result.is_ok()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_authentication_on_a_wrong_secret_fails_clearly_and_the_right_one_works() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    let seeded = seed_ec2(&admin, REGION, &Ec2Estate::demo()).await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","sts:GetCallerIdentity"],"Resource":"*"}]}"#;
    let (key, secret) = create_iam_user(&admin, "scanner", policy).await.unwrap();
    emulator.enable_auth().await.unwrap();
    let plugin = load_plugin("ec2", Limits::default()).unwrap();

    let (resources, result) = scan(
        &plugin,
        &emulator.client(&key, "not-the-secret"),
        REGION,
        &[],
    )
    .await;
    let err = result.expect_err("a wrong secret must not scan");
    assert!(resources.is_empty());
    let text = err.to_string();
    assert!(matches!(err, PluginError::ScanFailed { .. }), "{text}");
    assert!(
        text.contains("SignatureDoesNotMatch")
            || text.contains("AuthFailure")
            || text.contains("InvalidClientTokenId"),
        "the error should name the authentication failure: {text}"
    );
    assert!(
        !text.contains("not-the-secret"),
        "secrets never appear in errors: {text}"
    );

    let good = emulator.client(&key, &secret);
    let (resources, result) = scan(&plugin, &good, REGION, &[]).await;
    result.unwrap();
    assert_eq!(
        of_type(&resources, "ec2_instance").len(),
        seeded.instances.len()
    );
    assert_eq!(good.account_id(REGION).await.unwrap(), demo::DEMO_ACCOUNT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_follow_next_token_over_several_pages() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    let estate = Ec2Estate {
        instances: (0..12)
            .map(|i| InstanceSpec {
                name: format!("worker-{i:02}"),
                tags: vec![("team".into(), "batch".into())],
                instance_type: "t3.nano".into(),
                stopped: i % 4 == 0,
                data_volume_gib: None,
            })
            .collect(),
    };
    let seeded = seed_ec2(&admin, REGION, &estate).await.unwrap();
    let plugin = load_plugin("ec2", Limits::default()).unwrap();

    let (resources, result) = scan(&plugin, &admin, REGION, &[("page_size", "5")]).await;
    let report = result.unwrap();
    let mut got: Vec<String> = of_type(&resources, "ec2_instance")
        .iter()
        .map(|r| r.identifier.clone())
        .collect();
    let mut expected: Vec<String> = seeded.instances.iter().map(|(_, id)| id.clone()).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "every instance exactly once across pages");
    // 12 instances in pages of 5 take 3 DescribeInstances calls. moto 5.2 (pinned) ignores
    // MaxResults for DescribeVolumes and returns the one snapshot page: 3 + 1 + 1.
    assert_eq!(report.requests, 5, "pages were not followed as expected");

    // The same estate in one page per listing: fewer requests, same resources.
    let (all_at_once, result) = scan(&plugin, &admin, REGION, &[]).await;
    assert_eq!(result.unwrap().requests, 3);
    assert_eq!(all_at_once.len(), resources.len());
}
