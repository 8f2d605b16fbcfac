//! The default playbook library acts only on resource types the first-party scanners emit: a
//! playbook for a type no scanner produces would never find a target.

use cloudops_host::plugin::Limits;
use cloudops_playbook::Library;
use cloudops_tests::{load_plugin, repo_root};

#[test]
fn every_playbook_applies_to_types_the_scanners_emit() {
    let mut emitted = Vec::new();
    for name in ["ec2", "rds", "s3", "lambda", "vpc", "elb"] {
        let plugin = load_plugin(name, Limits::default()).expect("first-party scanner loads");
        emitted.extend(plugin.info().resource_types.iter().map(|t| t.name.clone()));
    }
    let library =
        Library::load_dir(&repo_root().join("playbooks")).expect("the default library checks");
    let mut unknown = Vec::new();
    for p in library.playbooks() {
        for t in &p.applies_to {
            if !emitted.contains(t) {
                unknown.push(format!("{} ({}): {t}", p.id, p.file));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "types no scanner emits (scanners emit {emitted:?}):\n{}",
        unknown.join("\n")
    );
}
