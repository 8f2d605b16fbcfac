//! Plugins built for an older contract version keep working.

use cloudops_demo::{seed_ec2, Ec2Estate};
use cloudops_host::plugin::Limits;
use cloudops_tests::{load_trusted, repo_root, scan, start_emulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_for_wit_0_1_still_loads_and_scans() {
    let dir = repo_root().join("tests/fixtures/wit-0.1/ec2");
    let plugin = load_trusted(&dir, Limits::default()).unwrap();
    assert_eq!(plugin.manifest().wit.to_string(), "0.1.0");

    let emulator = start_emulator().await;
    let client = emulator.demo_client();
    let seeded = seed_ec2(&client, "us-west-2", &Ec2Estate::demo())
        .await
        .unwrap();
    let (resources, result) = scan(&plugin, &client, "us-west-2", &[]).await;
    let report = result.unwrap();
    assert!(
        report.incomplete_types.is_empty(),
        "a 0.1 scan that succeeded is complete"
    );
    let instances = resources
        .iter()
        .filter(|r| r.resource_type == "ec2_instance")
        .count();
    assert_eq!(instances, seeded.instances.len());
    let running = resources
        .iter()
        .find(|r| r.state.as_deref() == Some("running"))
        .unwrap();
    assert!(
        plugin.analyze(running).unwrap().can_stop,
        "analyze() goes through the 0.1 bindings too"
    );
}

#[test]
fn plugins_built_from_this_sdk_target_the_latest_contract() {
    let plugin = cloudops_tests::load_plugin("ec2", Limits::default()).unwrap();
    assert_eq!(plugin.manifest().wit.to_string(), "0.2.0");
}
