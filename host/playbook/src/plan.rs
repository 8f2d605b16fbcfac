//! The plan: what the planner returns and the host shows, approves and executes.
//!
//! Its JSON is a stable, documented format (README "The plan"): fields are only ever added.
//! The request the host sends to ask for one is [`PlanRequest`]; it carries the identified
//! resources and nothing else of the estate.

use cloudops_core::resource::{Constraints, Permissions, Tag};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// How much can go wrong. Ordered: `Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// Reversible, no outage.
    Low,
    /// An outage or a change of a production resource; reversible.
    Medium,
    /// Hard to reverse, or exposes data.
    High,
    /// Loses data or deletes the resource.
    Critical,
}

impl RiskLevel {
    /// The level's name as written in playbooks and plans.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }

    /// Parses `low`, `medium`, `high` or `critical`.
    pub fn parse(s: &str) -> Option<RiskLevel> {
        Some(match s {
            "low" => RiskLevel::Low,
            "medium" => RiskLevel::Medium,
            "high" => RiskLevel::High,
            "critical" => RiskLevel::Critical,
            _ => return None,
        })
    }
}

/// One resource the host identified for the prompt, with only what planning needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceContext {
    /// `rds_instance`, `ec2_instance`, ...
    pub resource_type: String,
    /// The identifier AWS API calls take.
    pub identifier: String,
    /// The full ARN.
    pub arn: String,
    /// The `Name` tag or the identifier.
    pub name: String,
    /// The 12-digit account id.
    pub account_id: String,
    /// The region, or `global`.
    pub region: String,
    /// The lifecycle state, when the resource has one.
    #[serde(default)]
    pub state: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Service-specific details (engine, multi_az, read_replicas, memory_size, ...).
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// What its state and IAM allow, when synced.
    #[serde(default)]
    pub constraints: Option<Constraints>,
    /// What the principal may do to it, when synced with IAM.
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

/// One turn of recent chat, for context ("do the same for staging").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatTurn {
    /// `user` or `assistant`.
    pub role: String,
    /// What was said.
    pub text: String,
}

/// What the host sends to the planner: `POST /v1/plan`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// The user's words.
    pub prompt: String,
    /// The resources the host resolved the prompt to.
    #[serde(default)]
    pub identified_resources: Vec<ResourceContext>,
    /// Values the user gave explicitly, by parameter name (`{"memory_mb": 512}`).
    #[serde(default)]
    pub user_values: Map<String, Value>,
    /// Free-form context (the principal's role name, the default region, ...).
    #[serde(default)]
    pub user_context: Map<String, Value>,
    /// The last turns of the conversation.
    #[serde(default)]
    pub recent_chat: Vec<ChatTurn>,
}

/// The plan. See the README's "The plan" for the meaning of every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// SHA-256 (hex) of the plan's content without this field: the same plan always has the
    /// same id, and any change gives another (an approval is bound to it).
    pub plan_id: String,
    /// The playbook the plan came from; `None` when the prompt is not an operation.
    pub playbook: Option<PlaybookRef>,
    /// What the prompt asks for.
    pub intent: Intent,
    /// The plan in plain words: what happens, to what, and why it is or is not runnable.
    pub explain: String,
    /// True only when there are steps, none is denied or blocked, and nothing needs clarifying.
    pub runnable: bool,
    /// The API calls, one per step and target.
    pub steps: Vec<Step>,
    /// The highest risk of the plan and why.
    pub risk: Risk,
    /// True when the plan needs a scoped approval before it runs (medium risk and above).
    pub approval_required: bool,
    /// Steps IAM denies.
    pub denied: Vec<Denied>,
    /// Steps a precondition blocks.
    pub blocked: Vec<Blocked>,
    /// What the planner needs to know before it can plan.
    pub clarify: Option<Clarify>,
    /// How to undo the plan, when a playbook can.
    pub rollback: Option<Rollback>,
}

/// Which playbook, at which version of the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybookRef {
    /// Playbook id (`rds.stop-instance`).
    pub id: String,
    /// Its version.
    pub version: String,
    /// The library's Git commit (or `worktree` for a plain folder).
    pub commit: String,
}

/// What kind of request the prompt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntentKind {
    /// A change to resources: a plan may follow.
    Operation,
    /// A question about the estate or AWS: no plan.
    Question,
    /// A request to find or list resources: no plan.
    Search,
}

/// The classified intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// Operation, question or search.
    pub kind: IntentKind,
    /// The AWS service (IAM prefix) of the operation.
    pub service: Option<String>,
    /// The operation, as the playbook names it (`stop`).
    pub operation: Option<String>,
}

/// A resource a step acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Its ARN.
    pub arn: String,
    /// Its identifier.
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
}

/// The IAM verdict for a step's action on its target, from the resource's synced permissions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IamVerdict {
    /// The principal may.
    Allowed,
    /// The principal may not.
    Denied,
    /// Not synced with IAM for this action.
    #[default]
    Unknown,
}

/// How a step is carried out (playbooks/SCHEMA.md "Step kinds"). Only `aws` steps are
/// checked per (action, ARN) against the approval's scope when they send; the others are bound
/// by the plan hash the approval names, which covers their exact argv and script hash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// The host sends `action` with `params` through its own signed client.
    #[default]
    Aws,
    /// The AWS CLI runs `action` with `params` (its argv is derived from them, never a
    /// shell string); the credentials are only in the child's environment.
    AwsCli,
    /// A program runs with the step's `argv` (no shell).
    Exec,
    /// A file of the playbook library runs, its SHA-256 pinned in the plan.
    Script,
}

impl StepKind {
    /// True for the default kind, `aws` (left out of a plan's JSON, so old plans keep their id).
    pub fn is_aws(&self) -> bool {
        *self == StepKind::Aws
    }

    /// The kind's name as playbooks write it.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Aws => "aws",
            StepKind::AwsCli => "aws-cli",
            StepKind::Exec => "exec",
            StepKind::Script => "script",
        }
    }

    /// Parses `aws`, `aws-cli`, `exec` or `script`.
    pub fn parse(s: &str) -> Option<StepKind> {
        Some(match s {
            "aws" => StepKind::Aws,
            "aws-cli" => StepKind::AwsCli,
            "exec" => StepKind::Exec,
            "script" => StepKind::Script,
            _ => return None,
        })
    }
}

/// A `script` step's file: where it is in the playbook library and the SHA-256 it had when
/// the plan was made. A file whose bytes hash otherwise is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptRef {
    /// The path relative to the library root (`rds/scripts/drain.sh`).
    pub path: String,
    /// SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
}

/// The state a step's target must be in before the run starts, from the playbook's
/// preconditions on `state`; the engine's preflight re-reads it and refuses a drifted target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreState {
    /// One of these (empty: any).
    #[serde(rename = "in", default, skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<String>,
    /// None of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_in: Vec<String>,
}

impl PreState {
    /// Whether `state` satisfies it (text compares without regard to case, as preconditions do).
    pub fn admits(&self, state: &str) -> bool {
        let is = |list: &[String]| list.iter().any(|s| s.eq_ignore_ascii_case(state));
        (self.any_of.is_empty() || is(&self.any_of)) && !is(&self.not_in)
    }

    /// In words: `available` or `available or stopped`, `not terminated`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.any_of.is_empty() {
            parts.push(self.any_of.join(" or "));
        }
        if !self.not_in.is_empty() {
            parts.push(format!("not {}", self.not_in.join(" or ")));
        }
        parts.join(", ")
    }
}

/// Waiting after a step until the target reaches a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wait {
    /// The state to reach (`stopped`).
    pub until: String,
    /// How long to wait before failing.
    pub timeout_s: u32,
}

/// One API call of the plan (or, for the other [`StepKind`]s, one command).
///
/// The fields after `iam` were added for execution (issue 15); each is left out of the JSON
/// when it has its default, so plans written before them keep their `plan_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Unique within the plan (`stop` or `stop@pg-main1` when there are several targets).
    pub id: String,
    /// The operation in IAM form (`rds:StopDBInstance`).
    pub action: String,
    /// What it acts on.
    pub target: Target,
    /// The operation's parameters, with AWS's names.
    pub params: Map<String, Value>,
    /// The equivalent AWS CLI command line.
    pub cli: String,
    /// Steps that must finish first.
    pub depends_on: Vec<String>,
    /// What to wait for afterwards.
    pub wait: Option<Wait>,
    /// The IAM verdict.
    pub iam: IamVerdict,
    /// How the step runs; `aws` when absent.
    #[serde(default, skip_serializing_if = "StepKind::is_aws")]
    pub kind: StepKind,
    /// The IAM actions the step needs when they are not just `action` (the playbook's `iam`):
    /// what the preflight simulates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iam_actions: Vec<String>,
    /// `exec`: the whole argv; `script`: the arguments after the script. Never a shell string.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    /// `script`: the file and its pinned SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptRef>,
    /// The target's state before the run, re-checked by the preflight; set on the first
    /// steps of a target (those that depend on no other step of the playbook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expects: Option<PreState>,
}

impl Step {
    /// The IAM actions the step needs: `iam_actions` when given, else `action`.
    pub fn needs(&self) -> Vec<String> {
        if self.iam_actions.is_empty() {
            vec![self.action.clone()]
        } else {
            self.iam_actions.clone()
        }
    }
}

/// The plan's risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    /// The level.
    pub level: RiskLevel,
    /// Why, in plain words.
    pub reasons: Vec<String>,
}

/// A step IAM denies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denied {
    /// The step.
    pub step: String,
    /// Its action.
    pub action: String,
    /// The target's ARN.
    pub arn: String,
    /// True when a policy denies it explicitly.
    pub explicit: bool,
}

/// A step a precondition stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    /// The step.
    pub step: String,
    /// Why, in plain words.
    pub reason: String,
}

/// What the planner asks before it can plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clarify {
    /// The question for the user.
    pub question: String,
    /// The parameters (or `target`) that are missing or ambiguous.
    pub missing: Vec<String>,
    /// Possible answers: resources (ARN and name) or playbooks (id and title).
    pub candidates: Vec<Candidate>,
}

/// One possible answer to a [`Clarify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// A resource ARN, a playbook id or a value.
    pub id: String,
    /// How people call it.
    pub label: String,
}

/// How to undo a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// The inverse playbook.
    pub playbook: String,
    /// In plain words.
    pub explain: String,
}

impl Plan {
    /// A plan that does nothing and says why: `explain` is the reason, `runnable` is false.
    pub fn nothing(intent: Intent, explain: impl Into<String>) -> Plan {
        Plan {
            plan_id: String::new(),
            playbook: None,
            intent,
            explain: explain.into(),
            runnable: false,
            steps: Vec::new(),
            risk: Risk {
                level: RiskLevel::Low,
                reasons: Vec::new(),
            },
            approval_required: false,
            denied: Vec::new(),
            blocked: Vec::new(),
            clarify: None,
            rollback: None,
        }
        .sealed()
    }

    /// Sets `runnable` from the content and `plan_id` to the hash of everything else.
    pub fn sealed(mut self) -> Plan {
        self.runnable = !self.steps.is_empty()
            && self.denied.is_empty()
            && self.blocked.is_empty()
            && self.clarify.is_none();
        self.plan_id = self.content_hash();
        self
    }

    /// SHA-256 of the plan's JSON without `plan_id`: what an approval is bound to.
    pub fn content_hash(&self) -> String {
        let mut value = serde_json::to_value(self).expect("a plan is always JSON");
        if let Value::Object(fields) = &mut value {
            fields.remove("plan_id");
        }
        let mut text = String::new();
        canonical(&value, &mut text);
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// True when `plan_id` matches the content (the plan was not altered).
    pub fn is_intact(&self) -> bool {
        self.plan_id == self.content_hash()
    }
}

/// JSON with every object's keys sorted, at every depth: the same content gives the same text
/// whether serde_json keeps maps sorted or in insertion order (its `preserve_order` feature,
/// which another crate in the same build may turn on), so the server and the host agree on a
/// plan's id.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_does_not_depend_on_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": null}}"#)
                .unwrap();
        let mut reordered = Map::new();
        reordered.insert(
            "a".into(),
            serde_json::json!({"x": null, "y": [1, {"c": 3, "d": 2}]}),
        );
        reordered.insert("b".into(), Value::from(1));
        let (mut one, mut two) = (String::new(), String::new());
        canonical(&a, &mut one);
        canonical(&Value::Object(reordered), &mut two);
        assert_eq!(one, two);
        assert_eq!(one, r#"{"a":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}"#);
    }

    #[test]
    fn the_id_is_the_content_and_any_change_shows() {
        let plan = Plan::nothing(
            Intent {
                kind: IntentKind::Question,
                service: None,
                operation: None,
            },
            "a question",
        );
        assert!(plan.is_intact());
        assert_eq!(plan.plan_id.len(), 64);
        let mut altered = plan.clone();
        altered.explain.push('!');
        assert!(!altered.is_intact());
        assert_ne!(altered.sealed().plan_id, plan.plan_id);
    }

    #[test]
    fn a_plan_without_steps_never_runs() {
        let plan = Plan::nothing(
            Intent {
                kind: IntentKind::Operation,
                service: Some("rds".into()),
                operation: Some("stop".into()),
            },
            "nothing to stop",
        );
        assert!(!plan.runnable);
        assert!(!plan.approval_required);
    }

    #[test]
    fn requests_with_unknown_fields_are_refused() {
        let err =
            serde_json::from_str::<PlanRequest>(r#"{"prompt":"x","aws_secret":"y"}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `aws_secret`"),
            "{err}"
        );
    }

    #[test]
    fn risk_levels_are_ordered() {
        assert!(RiskLevel::Low < RiskLevel::Medium);
        assert!(RiskLevel::High < RiskLevel::Critical);
        for level in [
            RiskLevel::Low,
            RiskLevel::Medium,
            RiskLevel::High,
            RiskLevel::Critical,
        ] {
            assert_eq!(RiskLevel::parse(level.as_str()), Some(level));
        }
    }
}
