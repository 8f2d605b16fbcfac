//! Who the credentials belong to (STS), and what that principal may do to each resource
//! (IAM SimulatePrincipalPolicy). Host-side only: plugins never see identities.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_iam::types::{EvaluationResult, PolicyEvaluationDecisionType};
use serde::{Deserialize, Serialize};

use super::client::{AwsClient, QueryError};
use super::sdk::Sdk;

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
    let (caller_arn, account_id) = caller_identity(client, region).await?;
    // arn:PARTITION:SERVICE::ACCOUNT:RESOURCE
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    let (partition, resource) = match parts.as_slice() {
        [_, partition, _, _, _, resource] => (*partition, *resource),
        _ => {
            return Err(QueryError::malformed(
                "sts",
                "GetCallerIdentity",
                region,
                "no valid ARN in the response",
            ))
        }
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

/// `(ARN, account id)` of the client's credentials (STS GetCallerIdentity).
pub(super) async fn caller_identity(
    client: &AwsClient,
    region: &str,
) -> Result<(String, String), QueryError> {
    let sdk = Sdk::new(client, "sts", region)?;
    let answer = sdk
        .run("GetCallerIdentity", sdk.sts().get_caller_identity().send())
        .await?;
    let missing = |what: &str| {
        QueryError::malformed(
            "sts",
            "GetCallerIdentity",
            region,
            format!("no {what} in the response"),
        )
    };
    Ok((
        answer.arn.ok_or_else(|| missing("<Arn>"))?,
        answer.account.ok_or_else(|| missing("<Account>"))?,
    ))
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
    let sdk = Sdk::new(client, "sts", region)?;
    let answer = sdk
        .run(
            "AssumeRole",
            sdk.sts()
                .assume_role()
                .role_arn(role_arn)
                .role_session_name(session_name)
                .duration_seconds(i32::try_from(seconds).unwrap_or(i32::MAX))
                .send(),
        )
        .await?;
    let keys = answer.credentials.ok_or_else(|| {
        QueryError::malformed(
            "sts",
            "AssumeRole",
            region,
            "no <Credentials> in the response",
        )
    })?;
    Ok(aws_credential_types::Credentials::new(
        keys.access_key_id,
        keys.secret_access_key,
        Some(keys.session_token),
        None,
        "cloudops-assume-role",
    ))
}

/// The full ARN (path included) of role `name`, if IAM lets us read it.
async fn role_arn(client: &AwsClient, region: &str, name: &str) -> Option<String> {
    let sdk = Sdk::new(client, "iam", region).ok()?;
    let answer = sdk
        .run("GetRole", sdk.iam().get_role().role_name(name).send())
        .await
        .ok()?;
    answer.role.map(|role| role.arn)
}

/// What `principal` may do to each resource: `requests` pairs resource ARNs with the
/// actions to check for them. Resources with the same actions share calls, 20 per call;
/// the SDK's paginator follows each call's `Marker`.
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
    let sdk = Sdk::new(client, "iam", region)?;
    let iam = sdk.iam();
    for (actions, arns) in by_actions {
        for chunk in arns.chunks(RESOURCES_PER_CALL) {
            let mut pages = iam
                .simulate_principal_policy()
                .policy_source_arn(&principal.arn)
                .set_action_names(Some(actions.to_vec()))
                .set_resource_arns(Some(chunk.iter().map(|a| (*a).to_owned()).collect()))
                .into_paginator()
                .send();
            while let Some(page) = sdk
                .run("SimulatePrincipalPolicy", async {
                    pages.next().await.transpose()
                })
                .await?
            {
                for (arn, action, decision) in decisions(page.evaluation_results(), chunk) {
                    let permissions = out.entry(arn).or_default();
                    match decision {
                        PolicyEvaluationDecisionType::Allowed => permissions.allowed.push(action),
                        other => permissions.denied.push(Denial {
                            action,
                            explicit: other == PolicyEvaluationDecisionType::ExplicitDeny,
                        }),
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `(resource, action, decision)` for each resource of `chunk`. AWS answers either one
/// result per action with per-resource details, or one result per (action, resource);
/// both shapes are read.
fn decisions(
    results: &[EvaluationResult],
    chunk: &[&str],
) -> Vec<(String, String, PolicyEvaluationDecisionType)> {
    let mut out = Vec::new();
    for result in results {
        for arn in chunk {
            let specific = result
                .resource_specific_results()
                .iter()
                .find(|r| r.eval_resource_name() == *arn)
                .map(|r| r.eval_resource_decision().clone());
            let decision = match (specific, result.eval_resource_name()) {
                (Some(d), _) => Some(d),
                (None, Some(name)) if name == *arn || name == "*" => {
                    Some(result.eval_decision().clone())
                }
                (None, None) => Some(result.eval_decision().clone()),
                _ => None,
            };
            if let Some(decision) = decision {
                out.push((
                    (*arn).to_owned(),
                    result.eval_action_name().to_owned(),
                    decision,
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::{Credentials, Endpoints, RetryPolicy, SendFuture, Transport};

    type Script = Box<dyn Fn(&str) -> (u16, String) + Send + Sync>;

    /// Answers by the request's form body, and keeps what was sent: no network.
    struct Scripted {
        answer: Script,
        sent: Mutex<Vec<http::Request<Vec<u8>>>>,
    }

    impl Transport for Scripted {
        fn send(&self, request: http::Request<Vec<u8>>, _max_body: usize) -> SendFuture<'_> {
            let (status, body) = (self.answer)(&String::from_utf8_lossy(request.body()));
            self.sent.lock().unwrap().push(request);
            Box::pin(async move {
                Ok(http::Response::builder()
                    .status(status)
                    .header("content-type", "text/xml")
                    .body(body.into_bytes())
                    .unwrap())
            })
        }
    }

    fn scripted(
        answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
    ) -> (AwsClient, Arc<Scripted>) {
        let transport = Arc::new(Scripted {
            answer: Box::new(answer),
            sent: Mutex::default(),
        });
        let client = AwsClient::new(
            Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE", None, None, "test"),
            Endpoints::default().with_global("http://127.0.0.1:1"),
            transport.clone(),
        )
        .with_retry(RetryPolicy {
            base_delay: std::time::Duration::from_millis(1),
            ..RetryPolicy::default()
        });
        (client, transport)
    }

    const PAGE_1: &str = r#"<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <SimulatePrincipalPolicyResult><IsTruncated>true</IsTruncated><Marker>m1</Marker><EvaluationResults>
        <member><EvalActionName>ec2:StopInstances</EvalActionName><EvalResourceName>*</EvalResourceName>
          <EvalDecision>allowed</EvalDecision>
          <ResourceSpecificResults>
            <member><EvalResourceName>arn:a</EvalResourceName><EvalResourceDecision>allowed</EvalResourceDecision></member>
            <member><EvalResourceName>arn:b</EvalResourceName><EvalResourceDecision>explicitDeny</EvalResourceDecision></member>
          </ResourceSpecificResults></member>
      </EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>"#;

    const PAGE_2: &str = r#"<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>
        <member><EvalActionName>ec2:TerminateInstances</EvalActionName><EvalResourceName>arn:a</EvalResourceName>
          <EvalDecision>implicitDeny</EvalDecision></member>
      </EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>"#;

    #[tokio::test]
    async fn both_response_shapes_and_every_page_give_per_resource_decisions() {
        let (client, transport) = scripted(|body| {
            if body.contains("Marker=m1") {
                (200, PAGE_2.into())
            } else {
                (200, PAGE_1.into())
            }
        });
        let principal = Principal {
            arn: "arn:aws:iam::123456789012:user/u".into(),
            account_id: "123456789012".into(),
            caller_arn: "arn:aws:iam::123456789012:user/u".into(),
            kind: PrincipalKind::User,
        };
        let actions = vec![
            "ec2:StopInstances".to_owned(),
            "ec2:TerminateInstances".to_owned(),
        ];
        let requests = vec![
            ("arn:a".to_owned(), actions.clone()),
            ("arn:b".to_owned(), actions),
        ];
        let found = simulate(&client, "eu-west-1", &principal, &requests)
            .await
            .unwrap();
        assert_eq!(found["arn:a"].allowed, ["ec2:StopInstances"]);
        assert_eq!(
            found["arn:a"].denied,
            [Denial {
                action: "ec2:TerminateInstances".into(),
                explicit: false
            }]
        );
        assert!(
            found["arn:b"].allowed.is_empty(),
            "a result for another resource"
        );
        assert_eq!(
            found["arn:b"].denied,
            [Denial {
                action: "ec2:StopInstances".into(),
                explicit: true
            }]
        );
        let sent = transport.sent.lock().unwrap();
        assert_eq!(sent.len(), 2, "two pages");
        for request in sent.iter() {
            assert_eq!(request.uri().authority().unwrap().as_str(), "127.0.0.1:1");
            let auth = request.headers()["authorization"].to_str().unwrap();
            assert!(
                auth.contains("/us-east-1/iam/aws4_request"),
                "IAM signs for us-east-1: {auth}"
            );
        }
        assert_eq!(client.stats().snapshot().attempts, 2);
    }

    #[tokio::test]
    async fn an_assumed_role_session_is_judged_by_its_role() {
        let (client, _) = scripted(|body| {
            if body.contains("Action=GetCallerIdentity") {
                (200, r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>
                    <Arn>arn:aws:sts::123456789012:assumed-role/Scanner/s1</Arn><UserId>AROAX:s1</UserId>
                    <Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"#.into())
            } else {
                (200, r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role>
                    <Path>/ops/</Path><RoleName>Scanner</RoleName><RoleId>AROAX</RoleId>
                    <Arn>arn:aws:iam::123456789012:role/ops/Scanner</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate>
                    </Role></GetRoleResult></GetRoleResponse>"#.into())
            }
        });
        let principal = identify(&client, "eu-west-1").await.unwrap();
        assert_eq!(principal.arn, "arn:aws:iam::123456789012:role/ops/Scanner");
        assert_eq!(principal.account_id, "123456789012");
        assert_eq!(
            principal.kind,
            PrincipalKind::AssumedRole {
                session: "s1".into()
            }
        );
        assert_eq!(
            client.account_id("eu-west-1").await.unwrap(),
            "123456789012"
        );
    }

    #[tokio::test]
    async fn a_denied_assume_role_says_so_in_the_hosts_words_and_throttling_is_retried() {
        let calls = Arc::new(Mutex::new(0));
        let counted = calls.clone();
        let (client, _) = scripted(move |_| {
            let mut n = counted.lock().unwrap();
            *n += 1;
            let code = if *n == 1 {
                "Throttling"
            } else {
                "AccessDenied"
            };
            (
                if *n == 1 { 400 } else { 403 },
                format!(
                    r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>
                    <Code>{code}</Code><Message>User: arn:aws:iam::123456789012:user/scanner is not authorized to perform: sts:AssumeRole</Message>
                    </Error><RequestId>r</RequestId></ErrorResponse>"#
                ),
            )
        });
        let role = "arn:aws:iam::210987654321:role/ReadOnly";
        let error = assume_role(&client, "us-west-2", role, "cloudops-sync")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("sts:AssumeRole failed in us-west-2: AccessDenied: User: ")
                && error.ends_with("(HTTP 403)"),
            "{error}"
        );
        assert!(!error.contains("SECRETEXAMPLE"), "{error}");
        let stats = client.stats().snapshot();
        assert_eq!((stats.attempts, stats.retries, stats.throttled), (2, 1, 1));
    }
}
