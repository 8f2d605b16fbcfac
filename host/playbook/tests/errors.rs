//! What a playbook author sees: every error with its file, line and column, and all of them
//! at once.

use cloudops_playbook::check::check;
use cloudops_playbook::Library;

/// A minimal valid playbook, shared with the CLI's tests.
const GOOD: &str = include_str!("fixtures/reboot-instance.yaml");

fn errors(text: &str) -> Vec<String> {
    check("ec2/reboot.yaml", text)
        .unwrap_err()
        .iter()
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn a_good_playbook_passes() {
    let p = check("ec2/reboot.yaml", GOOD).unwrap();
    assert_eq!(p.id, "ec2.reboot-instance");
    assert_eq!(p.max_targets, 1);
    assert_eq!(p.actions(), ["ec2:RebootInstances"]);
}

#[test]
fn quoted_values_stay_text_and_iam_lists_every_action() {
    let text = GOOD.replace(
        "      InstanceIds: [\"{params.instance_id}\"]\n",
        "      InstanceIds: [\"{params.instance_id}\"]\n      DryRun: false\n      \
         Note: \"true\"\n      Count: \"3\"\n    iam: [ec2:RebootInstances, ec2:DescribeInstances]\n",
    );
    let p = check("ec2/reboot.yaml", &text).unwrap();
    let params = &p.steps[0].params;
    assert_eq!(params["DryRun"], serde_json::json!(false));
    assert_eq!(
        params["Note"],
        serde_json::json!("true"),
        "quoted: the text AWS wants"
    );
    assert_eq!(params["Count"], serde_json::json!("3"));
    assert_eq!(
        p.actions(),
        ["ec2:DescribeInstances", "ec2:RebootInstances"],
        "`iam`, when given, is the step's whole IAM need"
    );
}

#[test]
fn yaml_syntax_errors_name_the_place() {
    let e = errors("id: [unclosed\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("ec2/reboot.yaml:"), "{e:?}");
    assert!(e[0].contains("not valid YAML"), "{e:?}");
}

#[test]
fn unknown_and_mistyped_fields_name_line_and_column() {
    let e = errors(&GOOD.replace("operation: reboot", "operation: reboot\nmax_target: 3"));
    assert!(e[0].starts_with("ec2/reboot.yaml:8:1:"), "{e:?}");
    assert!(e[0].contains("max_target"), "{e:?}");
    let e = errors(&GOOD.replace(
        "applies_to: [ec2_instance]",
        "applies_to: [ec2_instance]\nmax_targets: many",
    ));
    assert!(e[0].starts_with("ec2/reboot.yaml:9:14:"), "{e:?}");
}

#[test]
fn every_semantic_error_is_reported_with_its_place() {
    let bad = GOOD
        .replace("version: 1.0.0", "version: one")
        .replace("level: low", "level: severe")
        .replace("action: ec2:RebootInstances", "action: reboot-instances")
        .replace("{params.instance_id}", "{params.instance}");
    let e = errors(&bad);
    let has = |at: &str, words: &str| e.iter().any(|d| d.starts_with(at) && d.contains(words));
    assert!(
        has("ec2/reboot.yaml:2:10:", "semantic versioning"),
        "{e:#?}"
    );
    assert!(
        has("ec2/reboot.yaml:13:10:", "unknown risk level `severe`"),
        "{e:#?}"
    );
    assert!(has("ec2/reboot.yaml:16:13:", "not an IAM action"), "{e:#?}");
    assert!(
        has("ec2/reboot.yaml:18:", "no parameter `instance`"),
        "{e:#?}"
    );
    assert!(
        has("ec2/reboot.yaml:10:", "`instance_id` is never used"),
        "{e:#?}"
    );
}

#[test]
fn conditions_and_user_values_are_checked() {
    let bad = GOOD.replace(
        "risk:\n",
        "  - name: memory\n    type: integer\n    min: 10\n    max: 5\n    default: 7\npreconditions:\n  - require: {field: state, in: [running], empty: true}\n    message: x\n  - require: {field: colour, in: [red]}\n    message: y\nrisk:\n",
    );
    let e = errors(&bad);
    let has = |words: &str| e.iter().any(|d| d.contains(words));
    assert!(has("min is above max"), "{e:#?}");
    assert!(has("exactly one OP"), "{e:#?}");
    assert!(has("unknown field `colour`"), "{e:#?}");
    assert!(has("out of range"), "{e:#?}");
}

#[test]
fn steps_depend_only_on_earlier_steps() {
    let bad = GOOD.replace(
        "    action: ec2:RebootInstances\n",
        "    action: ec2:RebootInstances\n    depends_on: [later]\n",
    );
    assert!(errors(&bad)
        .iter()
        .any(|d| d.contains("depends_on `later` names no earlier step")));
}

#[test]
fn the_library_refuses_duplicates_and_dangling_inverses() {
    let other = GOOD.replace("steps:", "inverse: ec2.unreboot\nsteps:");
    let errors = Library::from_files([
        ("a.yaml".to_string(), GOOD.as_bytes().to_vec()),
        ("b.yaml".to_string(), other.as_bytes().to_vec()),
        ("c.yaml".to_string(), b"id: [".to_vec()),
        ("notes.txt".to_string(), b"not a playbook".to_vec()),
    ])
    .unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(text.iter().any(|e| e.starts_with("b.yaml:0:0: id `ec2.reboot-instance` is also the id of a.yaml")), "{text:#?}");
    assert!(text.iter().any(|e| e.starts_with("c.yaml:")), "{text:#?}");
}

/// The fixture with its step replaced by `step` (indented as a step of `steps:`).
fn with_step(step: &str) -> String {
    let at = GOOD.find("  - id: reboot").unwrap();
    format!("{}{step}", &GOOD[..at])
}

#[test]
fn step_kinds_are_checked_with_their_place() {
    let exec = with_step(
        "  - id: reboot\n    kind: exec\n    action: ec2:RebootInstances\n    argv: [reboot-tool, \"{params.instance_id}\"]\n",
    );
    let p = check("ec2/reboot.yaml", &exec).unwrap();
    assert_eq!(p.steps[0].kind, cloudops_playbook::plan::StepKind::Exec);
    assert_eq!(p.steps[0].argv.len(), 2);

    let e = errors(&with_step(
        "  - id: reboot\n    kind: shell\n    action: ec2:RebootInstances\n    params: {InstanceIds: [\"{params.instance_id}\"]}\n",
    ));
    assert!(
        e.iter()
            .any(|d| d.starts_with("ec2/reboot.yaml:16:11:")
                && d.contains("unknown step kind `shell`")),
        "{e:#?}"
    );
    let e = errors(&with_step(
        "  - id: reboot\n    kind: exec\n    action: ec2:RebootInstances\n    params: {InstanceIds: [\"{params.instance_id}\"]}\n",
    ));
    assert!(e.iter().any(|d| d.contains("takes no params")), "{e:#?}");
    assert!(
        e.iter()
            .any(|d| d.starts_with("ec2/reboot.yaml:15:9:") && d.contains("needs argv")),
        "{e:#?}"
    );
    let e = errors(&with_step(
        "  - id: reboot\n    action: ec2:RebootInstances\n    argv: [\"{params.instance_id}\"]\n",
    ));
    assert!(
        e.iter()
            .any(|d| d.starts_with("ec2/reboot.yaml:17:12:") && d.contains("takes no argv")),
        "{e:#?}"
    );
    let e = errors(&with_step(
        "  - id: reboot\n    kind: script\n    action: ec2:RebootInstances\n    script: ../../etc/passwd\n    argv: [\"{params.instance_id}\"]\n",
    ));
    assert!(
        e.iter()
            .any(|d| d.starts_with("ec2/reboot.yaml:18:13:") && d.contains("scripts/")),
        "{e:#?}"
    );
}

#[test]
fn a_library_pins_each_script_and_refuses_a_missing_one() {
    let text = with_step(
        "  - id: reboot\n    kind: script\n    action: ec2:RebootInstances\n    script: scripts/reboot.sh\n    argv: [\"{params.instance_id}\"]\n",
    );
    let script = b"#!/bin/sh\necho rebooting \"$1\"\n".to_vec();
    let library = Library::from_files([
        ("ec2/reboot.yaml".to_owned(), text.clone().into_bytes()),
        ("ec2/scripts/reboot.sh".to_owned(), script.clone()),
    ])
    .unwrap();
    let pinned = library.get("ec2.reboot-instance").unwrap().steps[0]
        .script
        .clone()
        .unwrap();
    assert_eq!(pinned.path, "ec2/scripts/reboot.sh");
    use sha2::Digest;
    assert_eq!(pinned.sha256, hex::encode(sha2::Sha256::digest(&script)));
    let e = Library::from_files([("ec2/reboot.yaml".to_owned(), text.into_bytes())]).unwrap_err();
    assert!(
        e[0].message
            .contains("script `ec2/scripts/reboot.sh` is not in the library"),
        "{e:?}"
    );
    assert!(cloudops_playbook::library::is_library_file(
        "ec2/scripts/reboot.sh"
    ));
}
