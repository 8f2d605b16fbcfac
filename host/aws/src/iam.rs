//! Who the credentials belong to (STS), and what that principal may do to each resource
//! (IAM SimulatePrincipalPolicy). Host-side only: plugins never see identities.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::client::{AwsClient, QueryError};
use super::xml::first_text;

const IAM_VERSION: &str = "2010-05-08";
/// Resources per SimulatePrincipalPolicy call: small enough to stay far below the request
/// size limit, as PMapper does.
const RESOURCES_PER_CALL: usize = 20;

/// The IAM principal behind a set of credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The ARN policies attach to: the user, or the role of an assumed-role session.
    pub arn: String,
    /// The 12-digit account id.
    pub account_id: String,
    /// The ARN STS reported (the session ARN for assumed roles).
    pub caller_arn: String,
    /// What kind of principal it is.
    pub kind: PrincipalKind,
}

/// The kinds of principal the host tells apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PrincipalKind {
    /// An IAM user.
    User,
    /// A session of an assumed role.
    AssumedRole {
        /// The session name.
        session: String,
    },
    /// The account root user: IAM cannot simulate it, and it may do everything.
    Root,
    /// A federated user or another principal IAM cannot simulate.
    Other,
}

pub use cloudops_core::resource::{Denial, Permissions};

/// Asks STS who the client's credentials belong to and maps assumed-role sessions to the
/// role's ARN (with its path, when IAM GetRole may be called).
pub async fn identify(client: &AwsClient, region: &str) -> Result<Principal, QueryError> {
    let body = client
        .query(region, "sts", "GetCallerIdentity", "2011-06-15", &[])
        .await?;
    let malformed = |what: &str| {
        QueryError::malformed(
            "sts",
            "GetCallerIdentity",
            region,
            format!("no {what} in the response"),
        )
    };
    let caller_arn = first_text(&body, "Arn").ok_or_else(|| malformed("<Arn>"))?;
    let account_id = first_text(&body, "Account").ok_or_else(|| malformed("<Account>"))?;
    // arn:PARTITION:SERVICE::ACCOUNT:RESOURCE
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    let (partition, resource) = match parts.as_slice() {
        [_, partition, _, _, _, resource] => (*partition, *resource),
        _ => return Err(malformed("valid ARN")),
    };
    let (arn, kind) = if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let (role, session) = rest.split_once('/').unwrap_or((rest, ""));
        let arn = role_arn(client, region, role)
            .await
            .unwrap_or_else(|| format!("arn:{partition}:iam::{account_id}:role/{role}"));
        (
            arn,
            PrincipalKind::AssumedRole {
                session: session.to_owned(),
            },
        )
    } else if resource.starts_with("user/") {
        (caller_arn.clone(), PrincipalKind::User)
    } else if resource == "root" {
        (caller_arn.clone(), PrincipalKind::Root)
    } else {
        (caller_arn.clone(), PrincipalKind::Other)
    };
    Ok(Principal {
        arn,
        account_id,
        caller_arn,
        kind,
    })
}

/// Assumes `role_arn` (STS AssumeRole) and returns a client signing with the session's
/// credentials: how a sync reaches the accounts in its list from one set of base keys.
pub async fn assume_role(
    client: &AwsClient,
    region: &str,
    role_arn: &str,
    session_name: &str,
) -> Result<AwsClient, QueryError> {
    let session = session_credentials(client, region, role_arn, session_name, 3600).await?;
    Ok(client.with_credentials(session))
}

/// The keys of an STS AssumeRole session of `role_arn` lasting `seconds`, asked for
/// with `client`'s credentials.
pub async fn session_credentials(
    client: &AwsClient,
    region: &str,
    role_arn: &str,
    session_name: &str,
    seconds: u32,
) -> Result<aws_credential_types::Credentials, QueryError> {
    let seconds = seconds.to_string();
    let body = client
        .query(
            region,
            "sts",
            "AssumeRole",
            "2011-06-15",
            &[
                ("RoleArn", role_arn),
                ("RoleSessionName", session_name),
                ("DurationSeconds", &seconds),
            ],
        )
        .await?;
    let field = |name: &str| {
        first_text(&body, name).ok_or_else(|| {
            QueryError::malformed(
                "sts",
                "AssumeRole",
                region,
                format!("no <{name}> in the response"),
            )
        })
    };
    Ok(aws_credential_types::Credentials::new(
        field("AccessKeyId")?,
        field("SecretAccessKey")?,
        Some(field("SessionToken")?),
        None,
        "cloudops-assume-role",
    ))
}

/// The full ARN (path included) of role `name`, if IAM lets us read it.
async fn role_arn(client: &AwsClient, region: &str, name: &str) -> Option<String> {
    let body = client
        .query(region, "iam", "GetRole", IAM_VERSION, &[("RoleName", name)])
        .await
        .ok()?;
    first_text(&body, "Arn")
}

/// What `principal` may do to each resource: `requests` pairs resource ARNs with the
/// actions to check for them. Resources with the same actions share calls, 20 per call.
pub async fn simulate(
    client: &AwsClient,
    region: &str,
    principal: &Principal,
    requests: &[(String, Vec<String>)],
) -> Result<HashMap<String, Permissions>, QueryError> {
    let mut out: HashMap<String, Permissions> = HashMap::new();
    if matches!(principal.kind, PrincipalKind::Root) {
        for (arn, actions) in requests {
            out.insert(
                arn.clone(),
                Permissions {
                    allowed: actions.clone(),
                    denied: Vec::new(),
                },
            );
        }
        return Ok(out);
    }
    let mut by_actions: BTreeMap<&[String], Vec<&str>> = BTreeMap::new();
    for (arn, actions) in requests {
        if !actions.is_empty() {
            by_actions.entry(actions.as_slice()).or_default().push(arn);
        }
    }
    for (actions, arns) in by_actions {
        for chunk in arns.chunks(RESOURCES_PER_CALL) {
            let mut marker: Option<String> = None;
            loop {
                let mut params: Vec<(String, String)> =
                    vec![("PolicySourceArn".into(), principal.arn.clone())];
                for (i, action) in actions.iter().enumerate() {
                    params.push((format!("ActionNames.member.{}", i + 1), action.clone()));
                }
                for (i, arn) in chunk.iter().enumerate() {
                    params.push((format!("ResourceArns.member.{}", i + 1), (*arn).to_owned()));
                }
                if let Some(m) = &marker {
                    params.push(("Marker".into(), m.clone()));
                }
                let params: Vec<(&str, &str)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let body = client
                    .query(
                        region,
                        "iam",
                        "SimulatePrincipalPolicy",
                        IAM_VERSION,
                        &params,
                    )
                    .await?;
                let page = parse_simulation(&body).map_err(|e| {
                    QueryError::malformed("iam", "SimulatePrincipalPolicy", region, e)
                })?;
                for (arn, action, decision) in page.decisions(chunk) {
                    let permissions = out.entry(arn).or_default();
                    match decision.as_str() {
                        "allowed" => permissions.allowed.push(action),
                        other => permissions.denied.push(Denial {
                            action,
                            explicit: other == "explicitDeny",
                        }),
                    }
                }
                marker = page.next_marker();
                if marker.is_none() {
                    break;
                }
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SimulateResponse {
    simulate_principal_policy_result: SimulateResult,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SimulateResult {
    #[serde(default)]
    evaluation_results: Members<EvaluationResult>,
    #[serde(default)]
    is_truncated: Option<bool>,
    #[serde(default)]
    marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct Members<T> {
    #[serde(default, rename = "member")]
    items: Vec<T>,
}

impl<T> Default for Members<T> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EvaluationResult {
    eval_action_name: String,
    #[serde(default)]
    eval_resource_name: Option<String>,
    eval_decision: String,
    #[serde(default)]
    resource_specific_results: Members<ResourceResult>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceResult {
    eval_resource_name: String,
    eval_resource_decision: String,
}

impl SimulateResult {
    /// `(resource, action, decision)` for each resource of `chunk`. AWS answers either one
    /// result per action with per-resource details, or one result per (action, resource);
    /// both shapes are read.
    fn decisions(&self, chunk: &[&str]) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for result in &self.evaluation_results.items {
            for arn in chunk {
                let specific = result
                    .resource_specific_results
                    .items
                    .iter()
                    .find(|r| r.eval_resource_name == *arn)
                    .map(|r| r.eval_resource_decision.clone());
                let decision = match (specific, result.eval_resource_name.as_deref()) {
                    (Some(d), _) => Some(d),
                    (None, Some(name)) if name == *arn || name == "*" => {
                        Some(result.eval_decision.clone())
                    }
                    (None, None) => Some(result.eval_decision.clone()),
                    _ => None,
                };
                if let Some(decision) = decision {
                    out.push(((*arn).to_owned(), result.eval_action_name.clone(), decision));
                }
            }
        }
        out
    }

    fn next_marker(&self) -> Option<String> {
        self.is_truncated
            .unwrap_or(false)
            .then(|| self.marker.clone())
            .flatten()
    }
}

fn parse_simulation(body: &[u8]) -> Result<SimulateResult, String> {
    quick_xml::de::from_reader::<_, SimulateResponse>(body)
        .map(|r| r.simulate_principal_policy_result)
        .map_err(|e| format!("cannot read the SimulatePrincipalPolicy response: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_RESOURCE: &str = r#"<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>
        <member><EvalActionName>ec2:StopInstances</EvalActionName><EvalResourceName>*</EvalResourceName>
          <EvalDecision>allowed</EvalDecision>
          <ResourceSpecificResults>
            <member><EvalResourceName>arn:a</EvalResourceName><EvalResourceDecision>allowed</EvalResourceDecision></member>
            <member><EvalResourceName>arn:b</EvalResourceName><EvalResourceDecision>explicitDeny</EvalResourceDecision></member>
          </ResourceSpecificResults></member>
        <member><EvalActionName>ec2:TerminateInstances</EvalActionName><EvalResourceName>arn:a</EvalResourceName>
          <EvalDecision>implicitDeny</EvalDecision></member>
      </EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>"#;

    #[test]
    fn both_response_shapes_give_per_resource_decisions() {
        let result = parse_simulation(PER_RESOURCE.as_bytes()).unwrap();
        let decisions = result.decisions(&["arn:a", "arn:b"]);
        let get = |arn: &str, action: &str| {
            decisions
                .iter()
                .find(|(r, a, _)| r == arn && a == action)
                .map(|(_, _, d)| d.as_str())
        };
        assert_eq!(get("arn:a", "ec2:StopInstances"), Some("allowed"));
        assert_eq!(get("arn:b", "ec2:StopInstances"), Some("explicitDeny"));
        assert_eq!(get("arn:a", "ec2:TerminateInstances"), Some("implicitDeny"));
        assert_eq!(
            get("arn:b", "ec2:TerminateInstances"),
            None,
            "a result for another resource"
        );
        assert_eq!(result.next_marker(), None);
    }
}
