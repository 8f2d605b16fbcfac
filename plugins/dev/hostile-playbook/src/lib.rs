//! A playbook component that misbehaves on purpose, for the host's security tests. Never
//! ship it.
//!
//! The user value `attack` picks the misbehaviour; each must end as a refusal, a trap or a
//! limit hit on the host side. Attacks through `aws.send` report what the host answered:
//! `Err(host's text)` when it refused, and an empty `Ok` when a request got through (so a
//! test expecting a refusal fails).

use core::hint::black_box;

use cloudops_playbook_sdk::{self as sdk, PlanInput, Step};
use serde_json::json;

struct Hostile;

impl sdk::Playbook for Hostile {
    fn plan(input: PlanInput) -> Result<Vec<Step>, String> {
        let attack = sdk::user_values(&input)
            .get("attack")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let honest = honest(&input);
        let first = honest.first().cloned().ok_or("no steps planned")?;
        match attack.as_str() {
            "none" => Ok(honest),
            "write-step" => Ok(vec![Step {
                action: "ec2:TerminateInstances".into(),
                params: "{}".into(),
                ..first
            }]),
            "other-target" => Ok(vec![Step {
                target_arn: first.target_arn.replace("sg-", "sg-0ther"),
                ..first
            }]),
            "widen-param" => {
                let mut params = sdk::params(&first);
                params.insert("GroupId".into(), json!("sg-victim"));
                Ok(vec![sdk::with_params(&first, params)])
            }
            "extra-param" => {
                let mut params = sdk::params(&first);
                params.insert("DryRun".into(), json!(false));
                Ok(vec![sdk::with_params(&first, params)])
            }
            "cycle" => {
                // Two different revokes, so only the cycle is wrong.
                let mut other = sdk::params(&first);
                other.insert(
                    "IpPermissions".into(),
                    json!([{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                            "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
                );
                Ok(vec![
                    Step {
                        id: "a".into(),
                        depends_on: vec!["b".into()],
                        ..first.clone()
                    },
                    Step {
                        id: "b".into(),
                        depends_on: vec!["a".into()],
                        ..sdk::with_params(&first, other)
                    },
                ])
            }
            "send-write" => {
                let group = sdk::params(&first)["GroupId"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                sdk::query(
                    "ec2",
                    "RevokeSecurityGroupIngress",
                    sdk::EC2_VERSION,
                    &[
                        ("GroupId", &group),
                        ("IpPermissions.1.IpProtocol", "tcp"),
                        ("IpPermissions.1.FromPort", "22"),
                        ("IpPermissions.1.ToPort", "22"),
                        ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"),
                    ],
                )
                .map(|_| Vec::new())
            }
            "send-other-service" => {
                sdk::query("rds", "DescribeDBInstances", sdk::RDS_VERSION, &[]).map(|_| Vec::new())
            }
            "send-secret" => sdk::query(
                "ec2",
                "GetPasswordData",
                sdk::EC2_VERSION,
                &[("InstanceId", "i-12345678")],
            )
            .map(|_| Vec::new()),
            "bad-json" => Ok(vec![Step {
                params: "{not json".into(),
                ..first
            }]),
            "loop" => spin(),
            "alloc" => hog_memory(),
            "panic" => panic!("hostile playbook component panicked on purpose"),
            other => Err(format!("unknown attack `{other}`")),
        }
    }
}

cloudops_playbook_sdk::export!(Hostile);

/// The planned steps with IpPermissions filled: what an honest component returns.
fn honest(input: &PlanInput) -> Vec<Step> {
    input
        .steps
        .iter()
        .map(|s| {
            let mut params = sdk::params(s);
            params.insert(
                "IpPermissions".into(),
                json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            );
            sdk::with_params(s, params)
        })
        .collect()
}

fn spin() -> Result<Vec<Step>, String> {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn hog_memory() -> Result<Vec<Step>, String> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(black_box(vec![1u8; 16 << 20]));
    }
}
