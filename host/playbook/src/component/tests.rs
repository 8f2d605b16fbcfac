//! Each test names the widening it shows is refused, or the narrowing it shows is kept.

use serde_json::json;

use super::*;
use crate::check::check;
use crate::planning::plan;

fn playbook(file: &str, text: &str) -> Playbook {
    check(file, text).unwrap_or_else(|e| panic!("{file}: {e:?}"))
}

fn close_ports() -> Playbook {
    playbook(
        "vpc/close-world-open-ports.yaml",
        include_str!("../../../../playbooks/vpc/close-world-open-ports.yaml"),
    )
}

fn snapshot_stop() -> Playbook {
    playbook(
        "rds/stop-with-final-snapshot.yaml",
        include_str!("../../../../playbooks/rds/stop-with-final-snapshot.yaml"),
    )
}

fn resource(kind: &str, id: &str) -> ResourceContext {
    let service = if kind.starts_with("rds") {
        "rds"
    } else {
        "ec2"
    };
    serde_json::from_value(json!({
        "resource_type": kind,
        "identifier": id,
        "arn": format!("arn:aws:{service}:us-west-2:111111111111:x/{id}"),
        "name": id,
        "account_id": "111111111111",
        "region": "us-west-2",
        "state": "available",
        "metadata": {"read_replicas": []},
        "permissions": {"allowed": ["ec2:RevokeSecurityGroupIngress"], "denied": []}
    }))
    .unwrap()
}

fn base(p: &Playbook, targets: &[ResourceContext], values: &Map<String, Value>) -> Plan {
    plan(
        p,
        Selection {
            commit: "c0ffee",
            prompt: "close it",
            targets,
            user_values: values,
        },
    )
}

fn revoke(id: &str, target: &ResourceContext, port: u16) -> ProposedStep {
    ProposedStep {
        id: id.into(),
        action: "ec2:RevokeSecurityGroupIngress".into(),
        target_arn: target.arn.clone(),
        params: json!({
            "GroupId": target.identifier,
            "IpPermissions": [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                               "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        })
        .as_object()
        .unwrap()
        .clone(),
        depends_on: vec![],
        wait: None,
    }
}

fn refused(p: &Playbook, targets: &[ResourceContext], steps: &[ProposedStep]) -> Violation {
    let base = base(p, targets, &Map::new());
    check_steps(p, &base, targets, steps).expect_err("a widening must be refused")
}

#[test]
fn two_revokes_of_the_declared_action_on_the_target_pass_and_rebuild_the_plan() {
    let p = close_ports();
    let sg = resource("vpc_security_group", "sg-1");
    let targets = [sg.clone()];
    let base = base(&p, &targets, &Map::new());
    assert!(base.runnable, "{}", base.explain);
    let steps = [
        revoke("revoke-22", &sg, 22),
        revoke("revoke-3389", &sg, 3389),
    ];
    let selection = Selection {
        commit: "c0ffee",
        prompt: "close it",
        targets: &targets,
        user_values: &Map::new(),
    };
    let finished = finish(&p, selection, &base, &steps).unwrap();
    assert_eq!(finished.steps.len(), 2);
    assert!(finished.is_intact() && finished.plan_id != base.plan_id);
    assert!(finished.runnable && finished.approval_required);
    assert_eq!(finished.steps[0].iam, crate::plan::IamVerdict::Allowed);
    assert!(
        finished.steps[1]
            .cli
            .starts_with("aws ec2 revoke-security-group-ingress --group-id sg-1 --ip-permissions"),
        "{}",
        finished.steps[1].cli
    );
}

#[test]
fn an_action_the_playbook_does_not_declare_is_refused() {
    let p = close_ports();
    let sg = resource("vpc_security_group", "sg-1");
    let mut step = revoke("open", &sg, 22);
    step.action = "ec2:AuthorizeSecurityGroupIngress".into();
    let v = refused(&p, &[sg], &[step]);
    assert_eq!(v.step, "\"open\"");
    assert!(v.reason.contains("not one of the playbook's steps"), "{v}");
}

#[test]
fn a_target_that_was_not_identified_is_refused() {
    let p = close_ports();
    let sg = resource("vpc_security_group", "sg-1");
    let other = resource("vpc_security_group", "sg-other");
    let v = refused(&p, &[sg], &[revoke("r", &other, 22)]);
    assert!(
        v.reason.contains("not one of the identified resources"),
        "{v}"
    );
}

#[test]
fn an_identified_target_of_another_type_is_refused() {
    let p = close_ports();
    let sg = resource("vpc_security_group", "sg-1");
    let vpc = resource("vpc", "vpc-1");
    let v = refused(&p, &[sg, vpc.clone()], &[revoke("r", &vpc, 22)]);
    assert!(v.reason.contains("applies to vpc_security_group"), "{v}");
}

#[test]
fn an_undeclared_parameter_is_refused() {
    let p = close_ports();
    let sg = resource("vpc_security_group", "sg-1");
    let mut step = revoke("r", &sg, 22);
    step.params.insert("DryRun".into(), json!(false));
    let v = refused(&p, &[sg], &[step]);
    assert!(
        v.reason
            .contains("\"DryRun\" is not one the playbook declares"),
        "{v}"
    );
}

#[test]
fn a_parameter_the_yaml_fixed_cannot_point_elsewhere() {
    let p = close_ports();
    let sg = resource("vpc_security_group", "sg-1");
    let mut step = revoke("r", &sg, 22);
    step.params.insert("GroupId".into(), json!("sg-victim"));
    let v = refused(&p, std::slice::from_ref(&sg), &[step]);
    assert!(v.reason.contains("must be \"sg-1\""), "{v}");
    let mut step = revoke("r", &sg, 22);
    step.params.remove("GroupId");
    let v = refused(&p, &[sg], &[step]);
    assert!(v.reason.contains("not missing"), "{v}");
}

#[test]
fn duplicate_ids_and_repeated_steps_are_refused() {
    let p = close_ports();
    let sg = resource("vpc_security_group", "sg-1");
    let v = refused(
        &p,
        std::slice::from_ref(&sg),
        &[revoke("r", &sg, 22), revoke("r", &sg, 80)],
    );
    assert!(v.reason.contains("ids are unique"), "{v}");
    let v = refused(
        &p,
        std::slice::from_ref(&sg),
        &[revoke("a", &sg, 22), revoke("b", &sg, 22)],
    );
    assert_eq!(v.step, "\"b\"");
    assert!(v.reason.contains("repeats an earlier step"), "{v}");
}

#[test]
fn dependency_cycles_and_dangling_dependencies_are_refused() {
    let p = close_ports();
    let sg = resource("vpc_security_group", "sg-1");
    let mut a = revoke("a", &sg, 22);
    let mut b = revoke("b", &sg, 80);
    a.depends_on = vec!["b".into()];
    b.depends_on = vec!["a".into()];
    let v = refused(&p, std::slice::from_ref(&sg), &[a.clone(), b]);
    assert!(v.reason.contains("cycle"), "{v}");
    a.depends_on = vec!["ghost".into()];
    let v = refused(&p, &[sg], &[a]);
    assert!(v.reason.contains("names no other returned step"), "{v}");
}

#[test]
fn a_longer_or_other_wait_than_declared_is_refused() {
    let p = snapshot_stop();
    let db = resource("rds_instance", "pg-1");
    let values = json!({"snapshot_date": "20261206"})
        .as_object()
        .unwrap()
        .clone();
    let targets = [db.clone()];
    let base = base(&p, &targets, &values);
    assert!(base.runnable, "{}", base.explain);
    let mut steps: Vec<ProposedStep> = base.steps.iter().map(ProposedStep::from_step).collect();
    steps[0]
        .params
        .insert("DBSnapshotIdentifier".into(), json!("pg-1-final-20261206"));
    assert_eq!(check_steps(&p, &base, &targets, &steps), Ok(()));
    steps[1].wait = Some(Wait {
        until: "stopped".into(),
        timeout_s: 999_999,
    });
    let v = check_steps(&p, &base, &targets, &steps).unwrap_err();
    assert!(v.reason.contains("does not declare"), "{v}");
}

#[test]
fn zero_steps_is_a_plan_that_does_nothing_and_says_so() {
    let p = close_ports();
    let sg = resource("vpc_security_group", "sg-1");
    let targets = [sg];
    let base = base(&p, &targets, &Map::new());
    let selection = Selection {
        commit: "c0ffee",
        prompt: "close it",
        targets: &targets,
        user_values: &Map::new(),
    };
    let finished = finish(&p, selection, &base, &[]).unwrap();
    assert!(!finished.runnable && !finished.approval_required);
    assert!(
        finished.explain.contains("nothing to do"),
        "{}",
        finished.explain
    );
}

#[test]
fn too_many_steps_are_refused() {
    let p = close_ports();
    let sg = resource("vpc_security_group", "sg-1");
    let steps: Vec<ProposedStep> = (0..=MAX_STEPS as u16)
        .map(|i| revoke(&format!("r{i}"), &sg, i))
        .collect();
    let v = refused(&p, &[sg], &steps);
    assert!(v.reason.contains("at most"), "{v}");
}
