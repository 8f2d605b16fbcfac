//! Which credentials act in which account: a step's target account picks its client.
//!
//! A plan may span accounts (production, staging, ...); each has its own credentials and
//! its own principal, whose IAM policy the preflight simulates. A target in an account with
//! no entry here is refused by the preflight, before anything of the run is sent.

use std::collections::HashMap;
use std::sync::Arc;

use cloudops_aws::iam::Principal;
use cloudops_aws::{AwsClient, Credentials};
use tokio::sync::OnceCell;

use crate::engine::StepError;

/// One account's access.
#[derive(Clone)]
pub struct Account {
    /// Signs and sends its requests (and says where its endpoints are).
    pub client: AwsClient,
    /// The same credentials, handed to an `aws-cli` child in its environment only.
    pub credentials: Credentials,
    /// Whose policy the preflight simulates; asked of STS on first use when `None`.
    principal: Arc<OnceCell<Principal>>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials' own Debug redacts the secret; the client shows its key id only.
        f.debug_struct("Account")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// An account reached with `client`, which signs with `credentials`.
    pub fn new(client: AwsClient, credentials: Credentials) -> Account {
        Account {
            client,
            credentials,
            principal: Arc::new(OnceCell::new()),
        }
    }

    /// The same account, its principal known (tests, or a caller that identified it already).
    pub fn with_principal(self, principal: Principal) -> Account {
        Account {
            principal: Arc::new(OnceCell::new_with(Some(principal))),
            ..self
        }
    }

    /// The principal, from STS GetCallerIdentity (once) when not given.
    pub async fn principal(&self, region: &str) -> Result<&Principal, StepError> {
        self.principal
            .get_or_try_init(|| cloudops_aws::iam::identify(&self.client, region))
            .await
            .map_err(|e| {
                StepError::new(format!(
                    "cannot tell who these credentials are (STS GetCallerIdentity): {e}; check the account's profile"
                ))
            })
    }
}

/// Accounts by 12-digit id.
#[derive(Clone, Debug, Default)]
pub struct Accounts {
    by_id: HashMap<String, Account>,
}

impl Accounts {
    /// No accounts yet.
    pub fn new() -> Accounts {
        Accounts::default()
    }

    /// These accounts and `account` as `id`.
    pub fn with(mut self, id: impl Into<String>, account: Account) -> Accounts {
        self.by_id.insert(id.into(), account);
        self
    }

    /// The account `id`, or an error saying how to add it.
    pub fn get(&self, id: &str) -> Result<&Account, StepError> {
        self.by_id.get(id).ok_or_else(|| {
            let mut known: Vec<&str> = self.by_id.keys().map(String::as_str).collect();
            known.sort();
            StepError::new(format!(
                "no credentials for account {id} (this run has {}): add a profile for it and run the plan again",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            ))
        })
    }
}
