//! What can go wrong in the ask flow; every message says what to do next.

use std::path::PathBuf;

/// Why a step of the ask flow failed (as opposed to a plan that says no).
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The local estate could not be opened or read.
    #[error("the local estate: {0}")]
    Estate(String),
    /// The prompt named nothing in the estate.
    #[error("nothing in the estate matches {0:?}: check the name with `cloudops search`, or sync first (`cloudops sync`)")]
    NothingFound(String),
    /// The plan server could not be reached or refused the request.
    #[error("the plan server {url}: {message}")]
    Server {
        /// Its URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The in-process planner failed.
    #[error("planning: {0}")]
    Planner(String),
    /// The playbook library could not be loaded.
    #[error("the playbook library {dir}: {message}")]
    Library {
        /// The folder.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A component playbook could not finish its plan.
    #[error("finishing the plan with its playbook's component: {0}")]
    Component(String),
    /// No plan with this id was saved.
    #[error("no plan {0} in this data dir: make it again with `cloudops plan PROMPT`")]
    UnknownPlan(String),
    /// The confirmation given is not the one the plan's risk needs.
    #[error("{0}")]
    Confirmation(String),
    /// The approval could not be granted or used.
    #[error(transparent)]
    Approval(#[from] cloudops_execute::approval::ApprovalError),
    /// Credentials for an account could not be set up.
    #[error("account {account}: {message}")]
    Account {
        /// The account (name or id).
        account: String,
        /// What went wrong.
        message: String,
    },
    /// The run could not start.
    #[error(transparent)]
    Start(#[from] cloudops_execute::engine::StartError),
    /// No run with this id.
    #[error("no run {0} in this data dir: `cloudops runs` lists them")]
    UnknownRun(String),
    /// The audit log is damaged or cannot be written.
    #[error("{0}")]
    Audit(String),
    /// A file of the data dir could not be read or written.
    #[error("{path}: {message}: check the data dir's permissions and free space")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl AskError {
    /// An [`AskError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, error: impl std::fmt::Display) -> AskError {
        AskError::Io {
            path: path.into(),
            message: error.to_string(),
        }
    }
}
