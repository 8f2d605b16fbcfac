//! The preflight of AWS-backed runs: before the first write, every step is checked against
//! the world as it is now, not as the plan found it.
//!
//! For each step, [`AwsPreflight`]:
//! - refuses a target in an account this run has no credentials for;
//! - re-reads the target's state when the step is one of the target's first (it depends on
//!   no other step): a target that vanished is refused, and so is one whose state the plan's
//!   `expects` does not admit ("pg-main1 is already stopped");
//! - simulates the step's IAM actions on the exact target ARN for the account's principal
//!   (IAM SimulatePrincipalPolicy): a denial is refused;
//! - sends an EC2 `aws` step once with `DryRun=true`: `DryRunOperation` passes,
//!   `UnauthorizedOperation` (or `AccessDenied`) is refused;
//! - for the other step kinds, checks what they run ([`crate::commands::preflight`]): the
//!   AWS CLI is installed, the program exists, the script's bytes still hash as pinned.

use std::path::PathBuf;

use cloudops_aws::iam::{self, PrincipalKind};
use cloudops_playbook::plan::{Step, StepKind};

use crate::accounts::Accounts;
use crate::aws_step::{self, AwsStateReader, Protocol};
use crate::commands;
use crate::engine::{BoxFuture, Preflight, StateReader, StepError};

/// The region IAM is asked in (IAM is global; its endpoint takes any commercial region).
const IAM_REGION: &str = "us-east-1";

/// The preflight of runs whose targets are in these accounts.
pub struct AwsPreflight {
    accounts: Accounts,
    states: AwsStateReader,
    library: Option<PathBuf>,
}

impl AwsPreflight {
    /// Checks with `accounts`' clients; `script` steps are read from the playbook `library`.
    pub fn new(accounts: Accounts, library: Option<PathBuf>) -> AwsPreflight {
        AwsPreflight {
            states: AwsStateReader::for_accounts(accounts.clone()),
            accounts,
            library,
        }
    }

    /// The target's state is still one the plan expects, and the target is still there.
    async fn state(&self, step: &Step) -> Result<Option<String>, StepError> {
        if !step.depends_on.is_empty() {
            return Ok(None);
        }
        let target = &step.target;
        let state = self.states.state(target).await?.ok_or_else(|| {
            StepError::new(format!(
                "{} no longer exists (it was deleted since the plan was made): sync and ask again",
                target.id
            ))
        })?;
        if let Some(expects) = &step.expects {
            if !expects.admits(&state) {
                let already = step
                    .wait
                    .as_ref()
                    .is_some_and(|w| w.until.eq_ignore_ascii_case(&state));
                let why = if already {
                    format!("{} is already {state}", target.id)
                } else {
                    format!(
                        "{} is {state}, and the plan expects it {}",
                        target.id,
                        expects.describe()
                    )
                };
                return Err(StepError::new(format!(
                    "{why}: it changed since the plan was made; sync and ask again"
                )));
            }
        }
        Ok(Some(format!("{} is {state}", target.id)))
    }

    /// IAM allows every action the step needs on its target, for the account's principal.
    async fn iam(&self, step: &Step) -> Result<String, StepError> {
        let account = self.accounts.get(&step.target.account)?;
        let principal = account.principal(IAM_REGION).await?;
        if matches!(principal.kind, PrincipalKind::Root) {
            return Ok("the account's root user: IAM allows everything".into());
        }
        let needs = step.needs();
        let request = [(step.target.arn.clone(), needs.clone())];
        let answer = iam::simulate(&account.client, IAM_REGION, principal, &request)
            .await
            .map_err(|e| {
                StepError::new(format!(
                    "IAM could not be asked whether {} may {} (SimulatePrincipalPolicy: {e}); \
                     allow iam:SimulatePrincipalPolicy to the principal, or run the steps yourself",
                    principal.arn,
                    needs.join(", ")
                ))
            })?;
        let permissions = answer.get(&step.target.arn).cloned().unwrap_or_default();
        if let Some(denial) = permissions.denied.first() {
            return Err(StepError::new(format!(
                "IAM {} {} on {} to {}: ask for the permission, or run this plan as a principal that has it",
                if denial.explicit { "explicitly denies" } else { "does not allow" },
                denial.action,
                step.target.arn,
                principal.arn
            )));
        }
        Ok(format!(
            "IAM allows {} to {}",
            principal.arn,
            needs.join(", ")
        ))
    }

    /// EC2: the exact call with `DryRun=true`.
    async fn dry_run(&self, step: &Step) -> Result<Option<String>, StepError> {
        if step.kind != StepKind::Aws {
            return Ok(None);
        }
        let api = aws_step::api_for(step)?;
        if api.protocol != Protocol::Ec2 {
            return Ok(None);
        }
        let client = &self.accounts.get(&step.target.account)?.client;
        let operation = aws_step::operation_of(&step.action);
        match aws_step::send(client, step, &api, &[("DryRun", "true")]).await {
            Err(e) if e.code.as_deref() == Some("DryRunOperation") => {
                Ok(Some(format!("the EC2 dry run of {operation} would succeed")))
            }
            // EC2 says UnauthorizedOperation; some endpoints (moto) say AccessDenied.
            Err(e) if matches!(e.code.as_deref(), Some("UnauthorizedOperation" | "AccessDenied")) => Err(StepError::new(
                format!(
                    "the EC2 dry run of {operation} on {} is unauthorized: ask for the permission ({})",
                    step.target.id, e.message
                ),
            )),
            // A later step's dry run sees the target before the earlier steps changed it.
            Err(e) if !step.depends_on.is_empty() => Ok(Some(format!(
                "the EC2 dry run of {operation} answered {} before the steps it depends on ran",
                e.code.unwrap_or_else(|| "an error".into())
            ))),
            Err(e) => Err(StepError::new(format!(
                "the EC2 dry run of {operation} on {} failed: {}",
                step.target.id, e.message
            ))),
            Ok(_) => Err(StepError::new(format!(
                "the EC2 dry run of {operation} on {} was carried out instead of refused: this \
                 endpoint ignores DryRun, so nothing more is sent; check the target",
                step.target.id
            ))),
        }
    }
}

impl Preflight for AwsPreflight {
    fn check<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Vec<String>, StepError>> {
        Box::pin(async move {
            self.accounts.get(&step.target.account)?;
            let mut checks = Vec::new();
            checks.extend(commands::preflight(step, self.library.as_deref())?);
            checks.extend(self.state(step).await?);
            checks.push(self.iam(step).await?);
            checks.extend(self.dry_run(step).await?);
            Ok(checks)
        })
    }
}
