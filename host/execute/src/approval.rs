//! Scoped, single-use approvals (DESIGN.md § 4 "Execute"; issue 15).
//!
//! An [`Approval`] is bound to one plan's hash (`plan_id`), to the exact (action, target ARN)
//! pairs of its steps and to an expiry, and it is consumed on first use. The rule is the AWS
//! DevOps Agent's: an approval narrows, never widens. A changed plan has another hash and
//! needs a new approval; a replayed, expired or altered one is refused with the reason.
//!
//! The [`ApprovalBook`] keeps approvals in `approvals.json` under the data dir, written
//! atomically and under a lock, so that two processes cannot both consume one approval.
//! Time is passed in (`now`, Unix seconds) so that tests control the clock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cloudops_playbook::plan::{Plan, RiskLevel};
use serde::{Deserialize, Serialize};

use crate::files;

/// How long an approval lasts unless the caller says otherwise: 15 minutes.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

/// How long expired or consumed approvals are kept, so that a late replay is still named as
/// a replay or an expiry rather than as unknown.
const KEEP_AFTER_EXPIRY_S: u64 = 7 * 24 * 3600;

/// Now, in Unix seconds: what callers outside tests pass as `now`.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One operation on one resource: what an approval allows, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// The operation in IAM form (`rds:StopDBInstance`).
    pub action: String,
    /// The target's ARN.
    pub arn: String,
}

/// What a consumed approval allows a run to do: exactly these pairs, for this plan. Only
/// [`ApprovalBook::consume`] makes one (its fields are private and it cannot be
/// deserialised), so a run's scope always comes from a consumed approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scope {
    pub(crate) plan_id: String,
    pub(crate) approval_id: String,
    pub(crate) grants: BTreeSet<Grant>,
    pub(crate) expires_at: u64,
}

impl Scope {
    /// True when the scope allows `action` on `arn`, exactly (no patterns).
    pub fn allows(&self, action: &str, arn: &str) -> bool {
        self.grants.contains(&Grant {
            action: action.to_owned(),
            arn: arn.to_owned(),
        })
    }

    /// The hash of the plan it is for.
    pub fn plan_id(&self) -> &str {
        &self.plan_id
    }

    /// The approval it came from.
    pub fn approval_id(&self) -> &str {
        &self.approval_id
    }

    /// The allowed (action, ARN) pairs.
    pub fn grants(&self) -> &BTreeSet<Grant> {
        &self.grants
    }

    /// When its approval expired or expires (Unix seconds); a run started before then may
    /// finish after it.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

/// An approval of one plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Random (UUID v4), so that it cannot be guessed from the plan.
    pub id: String,
    /// The hash of the plan it approves.
    pub plan_id: String,
    /// Exactly the (action, ARN) pairs of the plan's steps.
    pub grants: BTreeSet<Grant>,
    /// The plan's risk when it was approved.
    pub risk: RiskLevel,
    /// When it was granted (Unix seconds).
    pub granted_at: u64,
    /// When it stops being valid (Unix seconds).
    pub expires_at: u64,
}

/// Why an approval was not granted or not accepted. Each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// No approval with this id.
    #[error("approval {0} is unknown: approve the plan again (`cloudops approve PLAN_ID`)")]
    Unknown(String),
    /// Past its expiry.
    #[error(
        "approval {id} expired {ago_s} s ago: approvals last {ttl_s} s; review the plan and approve it again"
    )]
    Expired {
        /// The approval.
        id: String,
        /// How long ago it expired.
        ago_s: u64,
        /// How long it lasted.
        ttl_s: u64,
    },
    /// Used before: an approval runs a plan once.
    #[error("approval {0} was already used: an approval runs a plan once; approve the plan again to run it again")]
    Replayed(String),
    /// The plan's content does not match its own id.
    #[error("plan {0} was altered after it was made (its content no longer matches its id): ask for the plan again")]
    PlanAltered(String),
    /// The approval is for another plan.
    #[error("approval {id} is for plan {approved}, not for plan {given}: a changed plan needs a new approval")]
    OtherPlan {
        /// The approval.
        id: String,
        /// The plan it approves.
        approved: String,
        /// The plan presented.
        given: String,
    },
    /// The plan may not run (denied, blocked, needs clarifying or has no steps).
    #[error("plan {id} is not runnable: {explain}")]
    NotRunnable {
        /// The plan.
        id: String,
        /// The plan's own explanation.
        explain: String,
    },
    /// The plan holds an (action, ARN) pair the approval does not.
    #[error("approval {id} does not cover {action} on {arn}: an approval narrows, never widens; approve the plan again")]
    ScopeWidened {
        /// The approval.
        id: String,
        /// The operation outside it.
        action: String,
        /// The target outside it.
        arn: String,
    },
    /// The approval book could not be read or written.
    #[error("approval book {path}: {message}: check the data dir's permissions and free space")]
    Book {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// How a plan of a given risk may be approved: the tiers are data ([`TIERS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// `--yes` on the command line is enough.
    YesFlag,
    /// The user answers `yes` at an interactive prompt.
    InteractiveYes,
    /// The user types the target's name (several targets: their number) at a prompt.
    TypeTargetName,
}

/// The risk tiers: low plans may be approved with `--yes`; medium ones need an interactive
/// `yes`; high and critical ones need the target's name typed.
pub const TIERS: [(RiskLevel, Confirmation); 4] = [
    (RiskLevel::Low, Confirmation::YesFlag),
    (RiskLevel::Medium, Confirmation::InteractiveYes),
    (RiskLevel::High, Confirmation::TypeTargetName),
    (RiskLevel::Critical, Confirmation::TypeTargetName),
];

/// What the user gave to approve a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    /// `--yes` on the command line.
    YesFlag,
    /// A line typed at an interactive prompt.
    Typed(String),
}

impl Confirmation {
    /// The confirmation a plan's risk requires.
    pub fn for_risk(level: RiskLevel) -> Confirmation {
        TIERS
            .iter()
            .find(|(l, _)| *l == level)
            .map(|(_, c)| *c)
            .unwrap_or(Confirmation::TypeTargetName)
    }

    /// What the user must type for this plan, when typing is required: `yes`, or the target's
    /// id (several distinct targets: their number, so that the user has counted them).
    pub fn expected_answer(self, plan: &Plan) -> Option<String> {
        match self {
            Confirmation::YesFlag => None,
            Confirmation::InteractiveYes => Some("yes".into()),
            Confirmation::TypeTargetName => {
                let targets: BTreeSet<&str> =
                    plan.steps.iter().map(|s| s.target.id.as_str()).collect();
                Some(match targets.len() {
                    1 => targets.into_iter().next().unwrap_or_default().to_owned(),
                    n => n.to_string(),
                })
            }
        }
    }

    /// True when `given` satisfies this confirmation for `plan`. A stronger confirmation also
    /// satisfies a weaker one (typing the name approves a low-risk plan); `--yes` never
    /// satisfies an interactive one.
    pub fn accepts(self, plan: &Plan, given: &Given) -> bool {
        match (self, given) {
            (Confirmation::YesFlag, _) => true,
            (_, Given::YesFlag) => false,
            (_, Given::Typed(text)) => {
                let text = text.trim();
                self.expected_answer(plan).as_deref() == Some(text)
                    || (self == Confirmation::InteractiveYes
                        && Confirmation::TypeTargetName
                            .expected_answer(plan)
                            .as_deref()
                            == Some(text))
            }
        }
    }
}

/// What `approvals.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct BookFile {
    approvals: BTreeMap<String, Approval>,
    consumed: BTreeSet<String>,
}

/// The approvals of one data dir, in `<data dir>/approvals.json`.
#[derive(Debug, Clone)]
pub struct ApprovalBook {
    path: PathBuf,
}

impl ApprovalBook {
    /// The book of `data_dir` (the file is created on the first grant).
    pub fn open(data_dir: &Path) -> ApprovalBook {
        ApprovalBook {
            path: data_dir.join("approvals.json"),
        }
    }

    /// The file the book lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Approves `plan` for `ttl` from `now`: exactly its steps' (action, ARN) pairs. Refuses
    /// an altered or unrunnable plan. The caller has already checked the [`Confirmation`].
    pub fn grant(&self, plan: &Plan, ttl: Duration, now: u64) -> Result<Approval, ApprovalError> {
        check_plan(plan)?;
        let approval = Approval {
            id: uuid::Uuid::new_v4().to_string(),
            plan_id: plan.plan_id.clone(),
            grants: grants_of(plan),
            risk: plan.risk.level,
            granted_at: now,
            expires_at: now.saturating_add(ttl.as_secs()),
        };
        self.update(|book| {
            prune(book, now);
            book.approvals.insert(approval.id.clone(), approval.clone());
            Ok(())
        })?;
        Ok(approval)
    }

    /// Consumes approval `id` for `plan` at `now` and returns what it allows. Refuses an
    /// unknown, expired or used approval, an altered or unrunnable plan, an approval of
    /// another plan, and a plan that holds a pair the approval does not. Refusals consume
    /// nothing; success consumes the approval for good, even if the run then fails.
    pub fn consume(&self, plan: &Plan, id: &str, now: u64) -> Result<Scope, ApprovalError> {
        self.update(|book| {
            let approval = book
                .approvals
                .get(id)
                .ok_or_else(|| ApprovalError::Unknown(id.to_owned()))?;
            if book.consumed.contains(id) {
                return Err(ApprovalError::Replayed(id.to_owned()));
            }
            if now >= approval.expires_at {
                return Err(ApprovalError::Expired {
                    id: id.to_owned(),
                    ago_s: now - approval.expires_at,
                    ttl_s: approval.expires_at.saturating_sub(approval.granted_at),
                });
            }
            check_plan(plan)?;
            if approval.plan_id != plan.plan_id {
                return Err(ApprovalError::OtherPlan {
                    id: id.to_owned(),
                    approved: approval.plan_id.clone(),
                    given: plan.plan_id.clone(),
                });
            }
            // Redundant with the hash while the book is honest; it holds if the file is edited.
            let wanted = grants_of(plan);
            if let Some(extra) = wanted.difference(&approval.grants).next() {
                return Err(ApprovalError::ScopeWidened {
                    id: id.to_owned(),
                    action: extra.action.clone(),
                    arn: extra.arn.clone(),
                });
            }
            book.consumed.insert(id.to_owned());
            Ok(Scope {
                plan_id: plan.plan_id.clone(),
                approval_id: id.to_owned(),
                grants: wanted,
                expires_at: approval.expires_at,
            })
        })
    }

    /// Reads the book, applies `change` and writes it back atomically, under the book's lock.
    /// Nothing is written when `change` fails.
    fn update<T>(
        &self,
        change: impl FnOnce(&mut BookFile) -> Result<T, ApprovalError>,
    ) -> Result<T, ApprovalError> {
        let io = |e: std::io::Error| ApprovalError::Book {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let _lock = files::lock_beside(&self.path).map_err(io)?;
        let mut book = match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ApprovalError::Book {
                path: self.path.clone(),
                message: format!("not an approval book ({e})"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BookFile::default(),
            Err(e) => return Err(io(e)),
        };
        let out = change(&mut book)?;
        let text = serde_json::to_vec_pretty(&book).expect("the book is always JSON");
        files::atomic_write(&self.path, &text).map_err(io)?;
        Ok(out)
    }
}

/// The plan's (action, ARN) pairs.
pub fn grants_of(plan: &Plan) -> BTreeSet<Grant> {
    plan.steps
        .iter()
        .map(|s| Grant {
            action: s.action.clone(),
            arn: s.target.arn.clone(),
        })
        .collect()
}

fn check_plan(plan: &Plan) -> Result<(), ApprovalError> {
    if !plan.is_intact() {
        return Err(ApprovalError::PlanAltered(plan.plan_id.clone()));
    }
    if !plan.runnable {
        return Err(ApprovalError::NotRunnable {
            id: plan.plan_id.clone(),
            explain: plan.explain.clone(),
        });
    }
    Ok(())
}

/// Forgets approvals long expired, and their consumed marks.
fn prune(book: &mut BookFile, now: u64) {
    let old: Vec<String> = book
        .approvals
        .values()
        .filter(|a| a.expires_at.saturating_add(KEEP_AFTER_EXPIRY_S) < now)
        .map(|a| a.id.clone())
        .collect();
    for id in old {
        book.approvals.remove(&id);
        book.consumed.remove(&id);
    }
}

#[cfg(test)]
mod tests;
