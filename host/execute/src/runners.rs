//! The runners of an AWS-backed run: each step kind to its runner, each account to its
//! client, the preflight of [`crate::preflight`].

use std::path::PathBuf;
use std::sync::Arc;

use cloudops_playbook::plan::{Step, StepKind};

use crate::accounts::Accounts;
use crate::aws_step::{AwsStateReader, AwsStepRunner};
use crate::commands::CommandRunner;
use crate::engine::{BoxFuture, Runners, StepContext, StepError, StepRunner};
use crate::preflight::AwsPreflight;

/// Sends `aws` steps with one runner and the command kinds with another.
pub struct ByKind {
    /// Runs `aws` steps.
    pub aws: Arc<dyn StepRunner>,
    /// Runs `aws-cli`, `exec` and `script` steps.
    pub commands: Arc<dyn StepRunner>,
}

impl StepRunner for ByKind {
    fn run<'a>(
        &'a self,
        step: &'a Step,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        match step.kind {
            StepKind::Aws => self.aws.run(step, ctx),
            _ => self.commands.run(step, ctx),
        }
    }
}

impl Runners {
    /// Everything a run against AWS needs: each step sent (or its command run) with its
    /// target account's credentials, waiters and the preflight reading through the same
    /// clients, `script` steps read from the playbook `library`.
    pub fn aws(accounts: Accounts, library: Option<PathBuf>) -> Runners {
        Runners {
            steps: Arc::new(ByKind {
                aws: Arc::new(AwsStepRunner::for_accounts(accounts.clone())),
                commands: Arc::new(CommandRunner::new(accounts.clone(), library.clone())),
            }),
            states: Arc::new(AwsStateReader::for_accounts(accounts.clone())),
            preflight: Arc::new(AwsPreflight::new(accounts, library)),
        }
    }
}
