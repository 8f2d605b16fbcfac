//! IAM permission discovery against the emulator: who the caller is, what each resource
//! allows, and constraints narrowed by it.

use std::sync::Arc;

use cloudops_demo::{self as demo, create_iam_user, seed_ec2, Ec2Estate};
use cloudops_host::aws::iam::{self, PrincipalKind};
use cloudops_host::aws::{AwsClient, AwsRequest, Credentials, Endpoints, HttpTransport};
use cloudops_host::plugin::Limits;
use cloudops_host::resource::Resource;
use cloudops_host::scan::{self, AccessReport};
use cloudops_tests::{load_plugin, start_emulator};

const REGION: &str = "us-west-2";

fn by_name<'a>(resources: &'a [Resource], name: &str) -> &'a Resource {
    resources
        .iter()
        .find(|r| r.resource_type == "ec2_instance" && r.name == name)
        .unwrap_or_else(|| panic!("{name} not scanned"))
}

fn allowed(report: &AccessReport, r: &Resource, action: &str) -> bool {
    report.resources[&r.arn]
        .permissions
        .as_ref()
        .unwrap()
        .allows(action)
}

fn denial(report: &AccessReport, r: &Resource, action: &str) -> Option<bool> {
    let permissions = report.resources[&r.arn].permissions.as_ref().unwrap();
    permissions
        .denied
        .iter()
        .find(|d| d.action == action)
        .map(|d| d.explicit)
}

async fn scan_and_discover(client: &AwsClient) -> (Vec<Resource>, AccessReport) {
    let plugin = load_plugin("ec2", Limits::default()).unwrap();
    let account = client.account_id(REGION).await.unwrap();
    let scanned = scan::scan_region(&plugin, client, &account, REGION, &[]).await;
    scanned.result.unwrap();
    let resources = scanned.resources;
    let report = scan::access(&plugin, client, REGION, &resources).await;
    (resources, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_policy_decides_what_each_resource_allows() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    seed_ec2(&admin, REGION, &Ec2Estate::demo()).await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["ec2:Describe*","ec2:StopInstances","ec2:StartInstances",
          "sts:GetCallerIdentity","iam:SimulatePrincipalPolicy","iam:GetRole"],"Resource":"*"},
        {"Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"*"}]}"#;
    let (key, secret) = create_iam_user(&admin, "developer", policy).await.unwrap();
    emulator.enable_auth().await.unwrap();
    let (resources, report) = scan_and_discover(&emulator.client(&key, &secret)).await;

    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let principal = report.principal.as_ref().unwrap();
    assert_eq!(
        principal.arn,
        format!("arn:aws:iam::{}:user/developer", demo::DEMO_ACCOUNT)
    );
    assert_eq!(principal.kind, PrincipalKind::User);

    let web = by_name(&resources, "web-server-1");
    assert!(allowed(&report, web, "ec2:StopInstances"));
    assert!(allowed(&report, web, "ec2:StartInstances"));
    assert_eq!(
        denial(&report, web, "ec2:TerminateInstances"),
        Some(true),
        "explicit deny"
    );
    assert_eq!(
        denial(&report, web, "ec2:RebootInstances"),
        Some(false),
        "implicit deny"
    );
    let c = &report.resources[&web.arn].constraints;
    assert!(c.can_stop, "running and allowed to stop");
    assert!(!c.can_start, "running: the state does not allow starting");
    assert!(!c.can_delete, "terminate is denied");
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("ec2:TerminateInstances is explicitly denied")),
        "{:?}",
        c.notes
    );

    let staging = by_name(&resources, "staging-box");
    assert!(
        report.resources[&staging.arn].constraints.can_start,
        "stopped and allowed to start"
    );
    // Every scanned resource got permissions, volumes and snapshots included.
    assert_eq!(report.resources.len(), resources.len());
    assert!(report.resources.values().all(|a| a.permissions.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assumed_role_in_another_account_is_judged_by_the_roles_policy() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    let other = "111111111111";
    let in_other_account = |mut request: AwsRequest| {
        request
            .headers
            .push(("x-moto-account-id".into(), other.into()));
        request
    };
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}}"#,
        demo::DEMO_ACCOUNT
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["ec2:Describe*","ec2:StopInstances"],"Resource":"*"},
        {"Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"*"}]}"#;
    for request in [
        AwsRequest::query_protocol(
            "iam",
            "CreateRole",
            "2010-05-08",
            &[
                ("RoleName", "Developer"),
                ("AssumeRolePolicyDocument", &trust),
            ],
        ),
        AwsRequest::query_protocol(
            "iam",
            "PutRolePolicy",
            "2010-05-08",
            &[
                ("RoleName", "Developer"),
                ("PolicyName", "dev"),
                ("PolicyDocument", policy),
            ],
        ),
    ] {
        let response = admin
            .send(&in_other_account(request), "us-east-1", 1 << 20)
            .await
            .unwrap();
        assert!(
            response.is_success(),
            "{}",
            String::from_utf8_lossy(&response.body)
        );
    }
    let role_arn = format!("arn:aws:iam::{other}:role/Developer");
    let body = admin
        .query(
            REGION,
            "sts",
            "AssumeRole",
            "2011-06-15",
            &[("RoleArn", &role_arn), ("RoleSessionName", "alice")],
        )
        .await
        .unwrap();
    let text = |tag: &str| cloudops_host::aws::xml::first_text(&body, tag).unwrap();
    let session = AwsClient::new(
        Credentials::new(
            text("AccessKeyId"),
            text("SecretAccessKey"),
            Some(text("SessionToken")),
            None,
            "test",
        ),
        Endpoints::default().with_global(emulator.url()),
        Arc::new(HttpTransport::new().unwrap()),
    );
    seed_ec2(&session, REGION, &Ec2Estate::demo())
        .await
        .unwrap();

    let principal = iam::identify(&session, REGION).await.unwrap();
    assert_eq!(principal.account_id, other);
    assert_eq!(principal.arn, role_arn, "a session is judged by its role");
    assert_eq!(
        principal.kind,
        PrincipalKind::AssumedRole {
            session: "alice".into()
        }
    );

    let (resources, report) = scan_and_discover(&session).await;
    assert!(resources.iter().all(|r| r.account_id == other));
    let web = by_name(&resources, "web-server-1");
    assert!(web.arn.contains(other), "{}", web.arn);
    assert!(allowed(&report, web, "ec2:StopInstances"));
    assert_eq!(denial(&report, web, "ec2:TerminateInstances"), Some(true));
    assert_eq!(denial(&report, web, "ec2:StartInstances"), Some(false));
}
