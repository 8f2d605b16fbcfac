//! The `aws` step kind: a step's action sent by the host's own client ([`AwsClient`]: its
//! credentials, SigV4, retries and endpoints), and the waiters' state reads.
//!
//! Covered today: the query protocol (RDS `2014-10-31`, Elastic Load Balancing v2
//! `2015-12-01`) and EC2's variant of it (`2016-11-15`). Parameters are flattened the way
//! botocore serialises each: scalars as they are (booleans `true`/`false`), structures as
//! `Name.Member`, lists as `Name.member.N` for the query protocol (or `Name.<element>.N` where
//! the model names the element) and as `<LocationName>.N` for EC2. The element and location
//! names come from [`LIST_NAMES`], which holds those of the playbooks' actions (read from
//! botocore 1.44's models). Lambda (rest-json) and S3 (rest-xml) steps are refused with a
//! message saying so; they come later.
//!
//! Each request passes [`StepContext::request`] first: an (action, target) pair outside the
//! approved scope is refused and nothing is sent.

use cloudops_aws::xml;
use cloudops_aws::AwsClient;
use cloudops_playbook::plan::{Step, Target};
use serde_json::{Map, Value};

use crate::engine::{BoxFuture, StateReader, StepContext, StepError, StepRunner};

/// How a service's requests are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `Action`, `Version` and the parameters in a form body; lists as `Name.member.N`.
    Query,
    /// EC2's query protocol: lists as `<LocationName>.N`.
    Ec2,
}

/// One API a step can be sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api {
    /// The SigV4 / endpoint service name.
    pub service: &'static str,
    /// The query protocol's `Version`.
    pub version: &'static str,
    /// The protocol.
    pub protocol: Protocol,
}

/// List element names that are not `member` (query) or not the parameter's own name (EC2), by
/// (endpoint service, member name), from botocore's models; `tests/list_names.rs` checks them
/// against botocore for every action the playbooks use.
pub const LIST_NAMES: &[(&str, &str, &str)] = &[
    ("rds", "Tags", "Tag"),
    ("rds", "VpcSecurityGroupIds", "VpcSecurityGroupId"),
    ("rds", "DBSecurityGroups", "DBSecurityGroupName"),
    ("rds", "ProcessorFeatures", "ProcessorFeature"),
    ("rds", "TagSpecifications", "item"),
    ("ec2", "InstanceIds", "InstanceId"),
    ("ec2", "TagSpecifications", "TagSpecification"),
    ("ec2", "Groups", "GroupId"),
    ("ec2", "BlockDeviceMappings", "BlockDeviceMapping"),
    ("ec2", "SecurityGroupRuleIds", "SecurityGroupRuleId"),
    ("ec2", "Tags", "Tag"),
    ("ec2", "UserIdGroupPairs", "Groups"),
];

/// The API for a step's action and target, or why it cannot be sent yet.
pub fn api_for(step: &Step) -> Result<Api, StepError> {
    let prefix = step.action.split(':').next().unwrap_or_default();
    let (service, version, protocol) = match prefix {
        "rds" => ("rds", "2014-10-31", Protocol::Query),
        "ec2" => ("ec2", "2016-11-15", Protocol::Ec2),
        "elasticloadbalancing" if is_elbv2(&step.target.arn) => {
            ("elasticloadbalancing", "2015-12-01", Protocol::Query)
        }
        _ => {
            return Err(StepError::new(format!(
                "step {}: the `aws` step kind does not send {} yet (it covers RDS, EC2 and \
                 ELBv2); run `{}` yourself",
                step.id, step.action, step.cli
            )))
        }
    };
    Ok(Api {
        service,
        version,
        protocol,
    })
}

fn is_elbv2(arn: &str) -> bool {
    [
        "loadbalancer/app/",
        "loadbalancer/net/",
        "loadbalancer/gwy/",
        "targetgroup/",
    ]
    .iter()
    .any(|p| arn.contains(p))
}

/// The form parameters of `params` for `api`, in botocore's flattening.
pub fn flatten(api: &Api, params: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in params {
        flatten_value(api, name, name, value, &mut out);
    }
    out
}

fn flatten_value(api: &Api, name: &str, key: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push((key.to_owned(), b.to_string())),
        Value::Number(n) => out.push((key.to_owned(), n.to_string())),
        Value::String(s) => out.push((key.to_owned(), s.clone())),
        Value::Object(fields) => {
            for (member, v) in fields {
                flatten_value(api, member, &format!("{key}.{member}"), v, out);
            }
        }
        Value::Array(items) => {
            let element = LIST_NAMES
                .iter()
                .find(|(s, n, _)| *s == api.service && *n == name)
                .map(|(_, _, e)| *e);
            let prefix = match api.protocol {
                Protocol::Query => format!("{key}.{}", element.unwrap_or("member")),
                // EC2 names the list by its location name and numbers it directly.
                Protocol::Ec2 => match (element, key.rsplit_once('.')) {
                    (Some(e), Some((parent, _))) => format!("{parent}.{e}"),
                    (Some(e), None) => e.to_owned(),
                    (None, _) => key.to_owned(),
                },
            };
            for (i, item) in items.iter().enumerate() {
                flatten_value(api, name, &format!("{prefix}.{}", i + 1), item, out);
            }
        }
    }
}

/// Sends `aws` steps through one client (one account's credentials).
pub struct AwsStepRunner {
    client: AwsClient,
}

impl AwsStepRunner {
    /// A runner sending through `client`.
    pub fn new(client: AwsClient) -> AwsStepRunner {
        AwsStepRunner { client }
    }
}

impl StepRunner for AwsStepRunner {
    fn run<'a>(
        &'a self,
        step: &'a Step,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let api = api_for(step)?;
            let operation = step
                .action
                .split_once(':')
                .map(|(_, op)| op)
                .unwrap_or_default();
            let form = flatten(&api, &step.params);
            // Refused here, before anything is built or sent, when outside the scope.
            ctx.request(&step.action, &step.target.arn, &step.params)?;
            let pairs: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let body = self
                .client
                .query(
                    &step.target.region,
                    api.service,
                    operation,
                    api.version,
                    &pairs,
                )
                .await
                .map_err(|e| {
                    StepError::new(format!("{} on {}: {e}", step.action, step.target.id))
                })?;
            let request_id = xml::first_text(&body, "RequestId")
                .or_else(|| xml::first_text(&body, "requestId"))
                .unwrap_or_else(|| "none".into());
            ctx.output(&format!(
                "{} {}: done (request id {request_id})",
                operation, step.target.id
            ));
            Ok(())
        })
    }
}

/// Reads RDS instances' and EC2 instances' states through the host's client, for waiters.
pub struct AwsStateReader {
    client: AwsClient,
}

impl AwsStateReader {
    /// A reader sending through `client`.
    pub fn new(client: AwsClient) -> AwsStateReader {
        AwsStateReader { client }
    }
}

impl StateReader for AwsStateReader {
    fn state<'a>(&'a self, target: &'a Target) -> BoxFuture<'a, Result<Option<String>, StepError>> {
        Box::pin(async move {
            let (service, action, version, id_param, tag) = match target.resource_type.as_str() {
                "rds_instance" => (
                    "rds",
                    "DescribeDBInstances",
                    "2014-10-31",
                    "DBInstanceIdentifier",
                    "DBInstanceStatus",
                ),
                "ec2_instance" => (
                    "ec2",
                    "DescribeInstances",
                    "2016-11-15",
                    "InstanceId.1",
                    "name",
                ),
                other => {
                    return Err(StepError::new(format!(
                        "cannot wait on a {other}: waiters read RDS and EC2 instances so far"
                    )))
                }
            };
            let result = self
                .client
                .query(
                    &target.region,
                    service,
                    action,
                    version,
                    &[(id_param, &target.id)],
                )
                .await;
            match result {
                Ok(body) if service == "ec2" => Ok(ec2_state(&body)),
                Ok(body) => Ok(xml::first_text(&body, tag)),
                Err(e) if e.to_string().contains("NotFound") => Ok(None),
                Err(e) => Err(StepError::new(format!(
                    "reading the state of {}: {e}",
                    target.id
                ))),
            }
        })
    }
}

/// EC2's state name: the first `<name>` after `<instanceState>` (the response has other
/// `<name>` elements, so a plain first `<name>` could be another's).
fn ec2_state(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let state = &text[text.find("<instanceState>")?..];
    let start = state.find("<name>")? + "<name>".len();
    let end = state[start..].find("</name>")? + start;
    Some(state[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Sorted: query parameters are a set, and their order is serde_json's map order, which
    /// `preserve_order` (enabled by other crates in a workspace build) changes.
    fn flat(api: Api, params: Value) -> Vec<(String, String)> {
        let mut pairs = flatten(&api, params.as_object().unwrap());
        pairs.sort();
        pairs
    }

    const RDS: Api = Api {
        service: "rds",
        version: "2014-10-31",
        protocol: Protocol::Query,
    };
    const EC2: Api = Api {
        service: "ec2",
        version: "2016-11-15",
        protocol: Protocol::Ec2,
    };
    const ELB: Api = Api {
        service: "elasticloadbalancing",
        version: "2015-12-01",
        protocol: Protocol::Query,
    };

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_parameters_are_flattened_as_botocore_does() {
        let got = flat(
            RDS,
            json!({"DBInstanceIdentifier": "pg-main1", "ApplyImmediately": true,
            "VpcSecurityGroupIds": ["sg-1", "sg-2"], "Tags": [{"Key": "a", "Value": "b"}]}),
        );
        assert_eq!(
            got,
            pairs(&[
                ("ApplyImmediately", "true"),
                ("DBInstanceIdentifier", "pg-main1"),
                ("Tags.Tag.1.Key", "a"),
                ("Tags.Tag.1.Value", "b"),
                ("VpcSecurityGroupIds.VpcSecurityGroupId.1", "sg-1"),
                ("VpcSecurityGroupIds.VpcSecurityGroupId.2", "sg-2")
            ])
        );
        let got = flat(
            ELB,
            json!({"Attributes": [{"Key": "deletion_protection.enabled", "Value": "true"}]}),
        );
        assert_eq!(
            got,
            pairs(&[
                ("Attributes.member.1.Key", "deletion_protection.enabled"),
                ("Attributes.member.1.Value", "true")
            ])
        );
    }

    #[test]
    fn ec2_lists_take_their_location_name() {
        let got = flat(
            EC2,
            json!({"InstanceIds": ["i-1", "i-2"], "DisableApiTermination": {"Value": true},
            "IpPermissions": [{"IpProtocol": "tcp"}]}),
        );
        assert_eq!(
            got,
            pairs(&[
                ("DisableApiTermination.Value", "true"),
                ("InstanceId.1", "i-1"),
                ("InstanceId.2", "i-2"),
                ("IpPermissions.1.IpProtocol", "tcp")
            ])
        );
    }

    #[test]
    fn other_protocols_are_refused_with_what_to_do() {
        let mut step = crate::test_plans::step("s", "f", &[]);
        step.action = "lambda:DeleteFunction".into();
        let err = api_for(&step).unwrap_err();
        assert!(
            err.0.contains("does not send lambda:DeleteFunction yet"),
            "{err}"
        );
    }
}
