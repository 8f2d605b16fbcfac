//! `vpc.close-world-open-ports`: reads the security group's ingress rules as they are now
//! (DescribeSecurityGroups) and returns one `ec2:RevokeSecurityGroupIngress` per rule open
//! to the whole internet, with exactly that rule's IpPermissions. Nothing else.
//!
//! A "rule" is one address range of one permission, as AWS counts security group rules:
//! `tcp 22 from 0.0.0.0/0 and 10.0.0.0/8` is two rules, and only the first is revoked.

use cloudops_playbook_sdk::{self as sdk, xml, PlanInput, Step};
use serde_json::{json, Map, Value};

const REVOKE: &str = "ec2:RevokeSecurityGroupIngress";

struct ClosePorts;

impl sdk::Playbook for ClosePorts {
    fn plan(input: PlanInput) -> Result<Vec<Step>, String> {
        let mut out = Vec::new();
        for target in &input.targets {
            let template = input
                .steps
                .iter()
                .find(|s| s.target_arn == target.arn && s.action == REVOKE)
                .ok_or_else(|| format!("the plan has no revoke step for {}", target.name))?;
            let body = sdk::query(
                "ec2",
                "DescribeSecurityGroups",
                sdk::EC2_VERSION,
                &[("GroupId.1", &target.identifier)],
            )?;
            let rules = world_open_rules(&body, &target.identifier)?;
            sdk::log(
                sdk::Level::Info,
                &format!("{}: {} world-open rules", target.identifier, rules.len()),
            );
            for (i, rule) in rules.into_iter().enumerate() {
                let mut params = sdk::params(template);
                params.insert("IpPermissions".into(), json!([rule]));
                out.push(Step {
                    id: format!("{}-{}", template.id, i + 1),
                    ..sdk::with_params(template, params)
                });
            }
        }
        Ok(out)
    }
}

cloudops_playbook_sdk::export!(ClosePorts);

/// The world-open ingress rules of group `group_id` in a DescribeSecurityGroups response,
/// each as the one-entry IpPermissions that revokes exactly it.
pub fn world_open_rules(body: &[u8], group_id: &str) -> Result<Vec<Value>, String> {
    let doc = std::str::from_utf8(body).map_err(|_| "the response is not UTF-8".to_owned())?;
    let groups = xml::fragments(
        doc,
        &[
            "DescribeSecurityGroupsResponse",
            "securityGroupInfo",
            "item",
        ],
    )?;
    let group = groups
        .iter()
        .find(|g| xml::child_text(g, "groupId").as_deref() == Some(group_id))
        .ok_or_else(|| format!("security group {group_id} was not found; was it deleted?"))?;
    let mut rules = Vec::new();
    for permission in xml::fragments(group, &["item", "ipPermissions", "item"])? {
        let ranges = [
            ("ipRanges", "cidrIp", "IpRanges", "CidrIp", "0.0.0.0/0"),
            ("ipv6Ranges", "cidrIpv6", "Ipv6Ranges", "CidrIpv6", "::/0"),
        ];
        for (list, field, api_list, api_field, world) in ranges {
            for range in xml::fragments(permission, &["item", list, "item"])? {
                if xml::child_text(range, field).as_deref() == Some(world) {
                    let mut rule = rule_of(permission)?;
                    rule.insert(api_list.into(), json!([{ api_field: world }]));
                    rules.push(Value::Object(rule));
                }
            }
        }
    }
    Ok(rules)
}

/// A permission's protocol and ports, in the API's names. `-1` (every protocol) has no
/// ports; ICMP's type and code travel as FromPort and ToPort.
fn rule_of(permission: &str) -> Result<Map<String, Value>, String> {
    let protocol = xml::child_text(permission, "ipProtocol")
        .ok_or_else(|| "a rule without ipProtocol".to_owned())?;
    let mut rule = Map::new();
    rule.insert("IpProtocol".into(), json!(protocol));
    if protocol != "-1" {
        for (tag, name) in [("fromPort", "FromPort"), ("toPort", "ToPort")] {
            if let Some(port) = xml::child_text(permission, tag) {
                let port: i64 = port
                    .parse()
                    .map_err(|_| format!("{tag} `{port}` is not a number"))?;
                rule.insert(name.into(), json!(port));
            }
        }
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = r#"<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
      <securityGroupInfo><item><groupId>sg-1</groupId><ipPermissions>
        <item><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort>
          <ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item><item><cidrIp>10.0.0.0/8</cidrIp></item></ipRanges>
          <ipv6Ranges/></item>
        <item><ipProtocol>tcp</ipProtocol><fromPort>5432</fromPort><toPort>5432</toPort>
          <ipRanges><item><cidrIp>10.1.0.0/16</cidrIp></item></ipRanges></item>
        <item><ipProtocol>-1</ipProtocol>
          <ipv6Ranges><item><cidrIpv6>::/0</cidrIpv6></item></ipv6Ranges></item>
      </ipPermissions><ipPermissionsEgress><item><ipProtocol>-1</ipProtocol>
        <ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item></ipPermissionsEgress>
      </item></securityGroupInfo></DescribeSecurityGroupsResponse>"#;

    #[test]
    fn each_world_open_ingress_range_is_one_rule_and_egress_is_ignored() {
        let rules = world_open_rules(RESPONSE.as_bytes(), "sg-1").unwrap();
        assert_eq!(
            rules,
            vec![
                json!({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                       "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}),
                json!({"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}),
            ]
        );
    }

    #[test]
    fn a_missing_group_is_an_error() {
        let err = world_open_rules(RESPONSE.as_bytes(), "sg-2").unwrap_err();
        assert!(err.contains("not found"), "{err}");
    }
}
