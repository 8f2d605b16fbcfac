//! The `aws` step kind: a step's action sent by the host's own client ([`AwsClient`]: its
//! credentials, SigV4, retries and endpoints), and the state reads of waiters and preflight.
//!
//! Covered: the query protocol (RDS `2014-10-31`, Elastic Load Balancing v2 `2015-12-01`),
//! EC2's variant of it (`2016-11-15`), Lambda's rest-json and S3's rest-xml ([`crate::rest`]).
//! Query parameters are flattened the way botocore serialises them: scalars as they are
//! (booleans `true`/`false`), structures as `Name.Member`, lists as `Name.member.N` for the
//! query protocol (or `Name.<element>.N` where the model names the element) and as
//! `<LocationName>.N` for EC2. The element and location names come from [`LIST_NAMES`],
//! which holds those of the playbooks' actions (read from botocore 1.44's models).
//!
//! Each request passes [`StepContext::request`] first: an (action, target) pair outside the
//! approved scope is refused and nothing is sent. The step's target account picks the client
//! ([`Accounts`]).

use cloudops_aws::xml;
use cloudops_aws::{AwsClient, QueryError};
use cloudops_playbook::plan::{Step, Target};
use serde_json::{json, Map, Value};

use crate::accounts::Accounts;
use crate::engine::{BoxFuture, StateReader, StepContext, StepError, StepRunner};
use crate::rest;

/// How a service's requests are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `Action`, `Version` and the parameters in a form body; lists as `Name.member.N`.
    Query,
    /// EC2's query protocol: lists as `<LocationName>.N`.
    Ec2,
    /// Lambda: the method and URI of the operation, the other parameters as a JSON body.
    RestJson,
    /// S3: the method and URI of the operation, its payload member as XML.
    RestXml,
}

/// One API a step can be sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api {
    /// The SigV4 / endpoint service name.
    pub service: &'static str,
    /// The API version (the query protocol sends it).
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

/// The API for a step's action and target, or why it cannot be sent.
pub fn api_for(step: &Step) -> Result<Api, StepError> {
    let (prefix, operation) = step.action.split_once(':').unwrap_or((&step.action, ""));
    let (service, version, protocol) = match prefix {
        "rds" => ("rds", "2014-10-31", Protocol::Query),
        "ec2" => ("ec2", "2016-11-15", Protocol::Ec2),
        "elasticloadbalancing" if is_elbv2(&step.target.arn) => {
            ("elasticloadbalancing", "2015-12-01", Protocol::Query)
        }
        "lambda" if rest::rest_op("lambda", operation).is_some() => {
            ("lambda", "2015-03-31", Protocol::RestJson)
        }
        "s3" if rest::rest_op("s3", operation).is_some() => ("s3", "2006-03-01", Protocol::RestXml),
        _ => {
            return Err(StepError::new(format!(
                "step {}: the `aws` step kind does not send {} (it covers RDS, EC2, ELBv2 and \
                 the Lambda and S3 operations of the playbooks); run `{}` yourself",
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

/// The API operation of an action (`StopDBInstance` of `rds:StopDBInstance`).
pub fn operation_of(action: &str) -> &str {
    action.split_once(':').map(|(_, op)| op).unwrap_or_default()
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
                Protocol::Query | Protocol::RestJson | Protocol::RestXml => {
                    format!("{key}.{}", element.unwrap_or("member"))
                }
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

/// The clients steps are sent with: one for every account, or one per account.
#[derive(Clone, Debug)]
pub enum Clients {
    /// One client for every target, whatever its account (a single-account run).
    One(AwsClient),
    /// A client per account; a target in another account is refused.
    PerAccount(Accounts),
}

impl Clients {
    /// The client for `target`'s account.
    pub fn client(&self, target: &Target) -> Result<&AwsClient, StepError> {
        match self {
            Clients::One(client) => Ok(client),
            Clients::PerAccount(accounts) => Ok(&accounts.get(&target.account)?.client),
        }
    }
}

/// Why a send did not succeed: AWS's error code when AWS answered.
#[derive(Debug)]
pub struct SendFailure {
    /// AWS's error code (`DryRunOperation`, `InvalidInstanceID.NotFound`), when it answered.
    pub code: Option<String>,
    /// The whole error in words.
    pub message: String,
}

/// Sends `step`'s action with its parameters and `extra` query parameters (the preflight's
/// `DryRun=true`); the request id on success. The caller has passed the scope.
pub async fn send(
    client: &AwsClient,
    step: &Step,
    api: &Api,
    extra: &[(&str, &str)],
) -> Result<String, SendFailure> {
    let operation = operation_of(&step.action);
    let region = &step.target.region;
    if matches!(api.protocol, Protocol::RestJson | Protocol::RestXml) {
        let op = rest::rest_op(api.service, operation).expect("api_for checked it");
        return match rest::send(client, region, op, &step.params).await {
            Ok(Some((_, request_id))) => Ok(request_id),
            Ok(None) => Err(SendFailure {
                code: Some("NotFound".into()),
                message: format!("{} was not found (HTTP 404)", step.target.id),
            }),
            Err(message) => Err(SendFailure {
                code: None,
                message,
            }),
        };
    }
    let mut form = flatten(api, &step.params);
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    match client
        .query(region, api.service, operation, api.version, &pairs)
        .await
    {
        Ok(body) => Ok(xml::first_text(&body, "RequestId")
            .or_else(|| xml::first_text(&body, "requestId"))
            .unwrap_or_else(|| "none".into())),
        Err(e) => Err(SendFailure {
            code: match &e {
                QueryError::Aws { code, .. } => Some(code.clone()),
                QueryError::Send(_) => None,
            },
            message: e.to_string(),
        }),
    }
}

/// Sends `aws` steps through the host's clients.
pub struct AwsStepRunner {
    clients: Clients,
}

impl AwsStepRunner {
    /// A runner sending every step through `client` (one account).
    pub fn new(client: AwsClient) -> AwsStepRunner {
        AwsStepRunner {
            clients: Clients::One(client),
        }
    }

    /// A runner sending each step through its target account's client.
    pub fn for_accounts(accounts: Accounts) -> AwsStepRunner {
        AwsStepRunner {
            clients: Clients::PerAccount(accounts),
        }
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
            let client = self.clients.client(&step.target)?;
            // Refused here, before anything is built or sent, when outside the scope.
            ctx.request(&step.action, &step.target.arn, &step.params)?;
            let request_id = send(client, step, &api, &[]).await.map_err(|e| {
                StepError::new(format!(
                    "{} on {}: {}",
                    step.action, step.target.id, e.message
                ))
            })?;
            ctx.output(&format!(
                "{} {}: done (request id {request_id})",
                operation_of(&step.action),
                step.target.id
            ));
            Ok(())
        })
    }
}

/// How a resource type's state is read with the query protocol: (service, action, version,
/// the id parameter, the tag holding the state; `None`: it has no state, only presence).
fn query_read(
    resource_type: &str,
) -> Option<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
)> {
    Some(match resource_type {
        "rds_instance" => (
            "rds",
            "DescribeDBInstances",
            "2014-10-31",
            "DBInstanceIdentifier",
            Some("DBInstanceStatus"),
        ),
        "rds_cluster" => (
            "rds",
            "DescribeDBClusters",
            "2014-10-31",
            "DBClusterIdentifier",
            Some("Status"),
        ),
        "rds_snapshot" => (
            "rds",
            "DescribeDBSnapshots",
            "2014-10-31",
            "DBSnapshotIdentifier",
            Some("Status"),
        ),
        "ec2_instance" => (
            "ec2",
            "DescribeInstances",
            "2016-11-15",
            "InstanceId.1",
            None,
        ),
        "ec2_volume" => (
            "ec2",
            "DescribeVolumes",
            "2016-11-15",
            "VolumeId.1",
            Some("status"),
        ),
        "ec2_snapshot" => (
            "ec2",
            "DescribeSnapshots",
            "2016-11-15",
            "SnapshotId.1",
            Some("status"),
        ),
        "vpc_security_group" => (
            "ec2",
            "DescribeSecurityGroups",
            "2016-11-15",
            "GroupId.1",
            None,
        ),
        "elb_load_balancer" => (
            "elasticloadbalancing",
            "DescribeLoadBalancers",
            "2015-12-01",
            "LoadBalancerArns.member.1",
            Some("Code"),
        ),
        _ => return None,
    })
}

/// What a resource without a lifecycle state reads as when it exists.
pub const PRESENT: &str = "present";

/// Reads targets' states through the host's clients, for waiters and the preflight: RDS
/// instances, clusters and snapshots, EC2 instances, volumes, snapshots and security groups,
/// load balancers, Lambda functions and aliases, S3 buckets. A resource type without a
/// lifecycle state reads as [`PRESENT`] while it exists.
pub struct AwsStateReader {
    clients: Clients,
}

impl AwsStateReader {
    /// A reader sending through `client` (one account).
    pub fn new(client: AwsClient) -> AwsStateReader {
        AwsStateReader {
            clients: Clients::One(client),
        }
    }

    /// A reader using each target account's client.
    pub fn for_accounts(accounts: Accounts) -> AwsStateReader {
        AwsStateReader {
            clients: Clients::PerAccount(accounts),
        }
    }
}

impl StateReader for AwsStateReader {
    fn state<'a>(&'a self, target: &'a Target) -> BoxFuture<'a, Result<Option<String>, StepError>> {
        Box::pin(async move {
            let client = self.clients.client(target)?;
            match target.resource_type.as_str() {
                "lambda_function" | "lambda_alias" | "s3_bucket" => {
                    rest_state(client, target).await
                }
                other => {
                    let Some(read) = query_read(other) else {
                        return Err(StepError::new(format!(
                            "cannot read the state of a {other}: the host reads RDS, EC2, VPC security group, ELB, Lambda and S3 resources"
                        )));
                    };
                    query_state(client, target, read).await
                }
            }
        })
    }
}

async fn query_state(
    client: &AwsClient,
    target: &Target,
    (service, action, version, id_param, tag): (&str, &str, &str, &str, Option<&str>),
) -> Result<Option<String>, StepError> {
    // A load balancer is named by its ARN, everything else by its id.
    let id = if service == "elasticloadbalancing" {
        &target.arn
    } else {
        &target.id
    };
    match client
        .query(&target.region, service, action, version, &[(id_param, id)])
        .await
    {
        Ok(body) if target.resource_type == "ec2_instance" => Ok(ec2_state(&body)),
        Ok(body) => Ok(match tag {
            Some(tag) => xml::first_text(&body, tag),
            // Describing a missing id by filter answers an empty list rather than an error.
            None if xml::first_text(&body, "groupId").is_some() => Some(PRESENT.into()),
            None => None,
        }),
        Err(QueryError::Aws { code, .. }) if code.contains("NotFound") => Ok(None),
        Err(e) => Err(StepError::new(format!(
            "reading the state of {}: {e}",
            target.id
        ))),
    }
}

/// Lambda's `State` (GetFunctionConfiguration), a Lambda alias's or an S3 bucket's presence.
async fn rest_state(client: &AwsClient, target: &Target) -> Result<Option<String>, StepError> {
    let (service, operation, params) = match target.resource_type.as_str() {
        "lambda_function" => (
            "lambda",
            "GetFunctionConfiguration",
            json!({"FunctionName": target.id}),
        ),
        "lambda_alias" => {
            // An alias's id is `function:alias`; its ARN ends with both.
            let (function, alias) = target.id.rsplit_once(':').unwrap_or((&target.id, ""));
            (
                "lambda",
                "GetAlias",
                json!({"FunctionName": function, "Name": alias}),
            )
        }
        _ => ("s3", "HeadBucket", json!({"Bucket": target.id})),
    };
    let op = rest::rest_op(service, operation).expect("listed");
    let params = params.as_object().expect("an object").clone();
    match rest::send(client, &target.region, op, &params).await {
        Ok(None) => Ok(None),
        Ok(Some((body, _))) if operation == "GetFunctionConfiguration" => {
            let config: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            Ok(Some(
                config
                    .get("State")
                    .and_then(Value::as_str)
                    .unwrap_or("Active")
                    .to_owned(),
            ))
        }
        Ok(Some(_)) => Ok(Some(PRESENT.into())),
        Err(e) => Err(StepError::new(format!(
            "reading the state of {}: {e}",
            target.id
        ))),
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
    fn unknown_operations_are_refused_with_what_to_do() {
        let mut step = crate::test_plans::step("s", "f", &[]);
        step.action = "lambda:CreateFunction".into();
        let err = api_for(&step).unwrap_err();
        assert!(
            err.0.contains("does not send lambda:CreateFunction"),
            "{err}"
        );
        step.action = "lambda:DeleteFunction".into();
        assert_eq!(api_for(&step).unwrap().protocol, Protocol::RestJson);
        step.action = "s3:PutBucketVersioning".into();
        assert_eq!(api_for(&step).unwrap().protocol, Protocol::RestXml);
    }
}
