//! AWS clients for the accounts a plan touches, set up the way `cloudops sync` sets them up:
//! the config's `[[accounts]]` (a profile's credentials, a role assumed from them), else the
//! default credentials. A client is checked with STS before it is used: credentials that act
//! in another account than the plan's target are refused, never used.

use std::collections::BTreeMap;
use std::sync::Arc;

use cloudops_aws::{iam, AwsClient, Credentials, Endpoints, HttpTransport};
use cloudops_execute::accounts::Account;
use serde::{Deserialize, Serialize};

use crate::AskError;

/// How to reach one account: what one `[[accounts]]` entry of config.toml says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountAccess {
    /// The account's name (`production`), as syncs record it.
    pub name: String,
    /// The AWS profile whose credentials are used; `None`: the default chain.
    pub profile: Option<String>,
    /// A role assumed with those credentials.
    pub role_arn: Option<String>,
}

/// A client per account id, built on first use.
pub struct Clients {
    access: Vec<AccountAccess>,
    base: Option<Credentials>,
    names: BTreeMap<String, String>,
    endpoints: Endpoints,
    transport: Arc<HttpTransport>,
    built: tokio::sync::Mutex<BTreeMap<String, Account>>,
}

impl Clients {
    /// Clients from `access` (empty: the default credentials for every account), with
    /// `names` mapping account ids to their names (from the last sync's status). `base`,
    /// when given, replaces the default credentials (the demo's emulator keys).
    pub fn new(
        access: Vec<AccountAccess>,
        base: Option<Credentials>,
        names: BTreeMap<String, String>,
        endpoints: Endpoints,
    ) -> Result<Clients, AskError> {
        let transport = HttpTransport::new().map_err(|e| AskError::Account {
            account: "all".into(),
            message: e.to_string(),
        })?;
        Ok(Clients {
            access,
            base,
            names,
            endpoints,
            transport: Arc::new(transport),
            built: tokio::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// The client for `account_id` (signing in `region` for STS) and the principal's ARN.
    pub async fn client(
        &self,
        account_id: &str,
        region: &str,
    ) -> Result<(AwsClient, String), AskError> {
        let account = self.account(account_id, region).await?;
        let arn = account
            .principal(region)
            .await
            .map_err(|e| AskError::Account {
                account: account_id.to_owned(),
                message: e.to_string(),
            })?;
        Ok((account.client.clone(), arn.arn.clone()))
    }

    /// The account `account_id` as the execution engine takes it: its client, the same
    /// credentials for `aws-cli` children, and its principal (checked with STS).
    pub async fn account(&self, account_id: &str, region: &str) -> Result<Account, AskError> {
        let mut built = self.built.lock().await;
        if let Some(found) = built.get(account_id) {
            return Ok(found.clone());
        }
        let name = self.names.get(account_id).cloned();
        let label = name.clone().unwrap_or_else(|| account_id.to_owned());
        let fail = |message: String| AskError::Account {
            account: label.clone(),
            message,
        };
        let access = match (&name, self.access.is_empty()) {
            (_, true) => AccountAccess {
                name: label.clone(),
                profile: None,
                role_arn: None,
            },
            (Some(n), false) => self
                .access
                .iter()
                .find(|a| &a.name == n)
                .cloned()
                .ok_or_else(|| {
                    fail(format!(
                        "no `[[accounts]]` entry named `{n}` in config.toml: add it"
                    ))
                })?,
            (None, false) => {
                return Err(fail(
                    "no synced account has this id: run `cloudops sync` first".into(),
                ))
            }
        };
        let credentials = match (&self.base, &access.profile) {
            (Some(base), None) => base.clone(),
            _ => cloudops_aws::load_credentials(access.profile.as_deref())
                .await
                .map_err(|e| fail(format!("loading its credentials: {e}")))?,
        };
        let mut credentials = credentials;
        let mut client = AwsClient::new(
            credentials.clone(),
            self.endpoints.clone(),
            self.transport.clone(),
        );
        if let Some(role) = &access.role_arn {
            credentials = iam::session_credentials(&client, region, role, "cloudops-ask", 3600)
                .await
                .map_err(|e| fail(format!("assuming {role}: {e}")))?;
            client = client.with_credentials(credentials.clone());
        }
        let principal = iam::identify(&client, region)
            .await
            .map_err(|e| fail(format!("STS GetCallerIdentity: {e}")))?;
        if principal.account_id != account_id {
            return Err(fail(format!(
                "its credentials act in account {}, not {account_id}: fix its `[[accounts]]` \
                 entry (profile or role_arn) in config.toml",
                principal.account_id
            )));
        }
        let found = Account::new(client, credentials).with_principal(principal);
        built.insert(account_id.to_owned(), found.clone());
        Ok(found)
    }
}
