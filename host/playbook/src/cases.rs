//! Playbook test cases: a playbook planned against fixture resources, and what the plan must
//! say. The library keeps them beside the playbooks (`tests/<playbook id>.json`, a list of
//! [`Case`]); `cloudops playbook test` and the crate's tests run them, and every playbook of
//! the default library has at least one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::library::Library;
use crate::plan::{IamVerdict, Plan, ResourceContext, RiskLevel};
use crate::planning::{plan, Selection};

/// One case.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What it shows.
    pub name: String,
    /// The playbook to plan.
    pub playbook: String,
    /// The prompt (user values are read from it).
    pub prompt: String,
    /// The identified resources.
    pub resources: Vec<ResourceContext>,
    /// Explicit user values.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub user_values: Map<String, Value>,
    /// What the plan must say.
    pub expect: Expect,
}

/// What a case's plan must say. Fields left out are not checked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `runnable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runnable: Option<bool>,
    /// `risk.level`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskLevel>,
    /// `approval_required`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_required: Option<bool>,
    /// The steps, in order: action, the named params (others may exist), IAM, CLI line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<ExpectStep>>,
    /// The actions of `denied`, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied: Option<Vec<String>>,
    /// Words some `blocked` reason holds, each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_mentions: Vec<String>,
    /// Words `explain` holds, each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explain_mentions: Vec<String>,
    /// `clarify.missing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clarify_missing: Option<Vec<String>>,
}

impl Expect {
    /// Everything `plan` says that a case can check: what `cloudops playbook record` writes
    /// for its author to review.
    pub fn of(plan: &Plan) -> Expect {
        Expect {
            runnable: Some(plan.runnable),
            risk: Some(plan.risk.level),
            approval_required: Some(plan.approval_required),
            steps: Some(
                plan.steps
                    .iter()
                    .map(|s| ExpectStep {
                        action: s.action.clone(),
                        params: s.params.clone(),
                        iam: Some(s.iam),
                        cli: Some(s.cli.clone()),
                    })
                    .collect(),
            ),
            denied: Some(plan.denied.iter().map(|d| d.action.clone()).collect()),
            blocked_mentions: plan.blocked.iter().map(|b| b.reason.clone()).collect(),
            explain_mentions: Vec::new(),
            clarify_missing: plan.clarify.as_ref().map(|c| c.missing.clone()),
        }
    }
}

/// One expected step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    /// Its action.
    pub action: String,
    /// Parameters that must have exactly these values.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    /// Its IAM verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam: Option<IamVerdict>,
    /// Its CLI line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cli: Option<String>,
}

/// Plans the case against `library` at `commit`; the plan, or what differs from the case.
pub fn run(library: &Library, commit: &str, case: &Case) -> Result<Plan, String> {
    let playbook = library
        .get(&case.playbook)
        .ok_or_else(|| format!("no playbook `{}` in the library", case.playbook))?;
    let plan = plan(playbook, case.selection(commit));
    check(plan, &case.expect)
}

impl Case {
    /// What the case asks the planner to plan, at `commit`.
    pub fn selection<'a>(&'a self, commit: &'a str) -> Selection<'a> {
        Selection {
            commit,
            prompt: &self.prompt,
            targets: &self.resources,
            user_values: &self.user_values,
        }
    }
}

/// `plan`, when it says what `e` expects; else what differs, a line each.
pub fn check(plan: Plan, e: &Expect) -> Result<Plan, String> {
    let mut wrong = Vec::new();
    let mut differ = |what: &str, want: String, got: String| {
        if want != got {
            wrong.push(format!("{what}: expected {want}, got {got}"));
        }
    };
    if let Some(v) = e.runnable {
        differ("runnable", v.to_string(), plan.runnable.to_string());
    }
    if let Some(v) = e.risk {
        differ("risk", v.as_str().into(), plan.risk.level.as_str().into());
    }
    if let Some(v) = e.approval_required {
        differ(
            "approval_required",
            v.to_string(),
            plan.approval_required.to_string(),
        );
    }
    if let Some(v) = &e.denied {
        let got: Vec<&str> = plan.denied.iter().map(|d| d.action.as_str()).collect();
        differ("denied", format!("{v:?}"), format!("{got:?}"));
    }
    if let Some(v) = &e.clarify_missing {
        let got = plan
            .clarify
            .as_ref()
            .map(|c| c.missing.clone())
            .unwrap_or_default();
        differ("clarify.missing", format!("{v:?}"), format!("{got:?}"));
    }
    if let Some(steps) = &e.steps {
        differ(
            "step count",
            steps.len().to_string(),
            plan.steps.len().to_string(),
        );
        for (i, (want, got)) in steps.iter().zip(&plan.steps).enumerate() {
            differ(
                &format!("step {i} action"),
                want.action.clone(),
                got.action.clone(),
            );
            for (k, v) in &want.params {
                differ(
                    &format!("step {i} param {k}"),
                    v.to_string(),
                    got.params.get(k).map_or("nothing".into(), Value::to_string),
                );
            }
            if let Some(iam) = want.iam {
                differ(
                    &format!("step {i} iam"),
                    format!("{iam:?}"),
                    format!("{:?}", got.iam),
                );
            }
            if let Some(cli) = &want.cli {
                differ(&format!("step {i} cli"), cli.clone(), got.cli.clone());
            }
        }
    }
    for word in &e.blocked_mentions {
        if !plan
            .blocked
            .iter()
            .any(|b| b.reason.contains(word.as_str()))
        {
            wrong.push(format!(
                "no blocked reason mentions `{word}`: {:?}",
                plan.blocked
            ));
        }
    }
    for word in &e.explain_mentions {
        if !plan.explain.contains(word.as_str()) {
            wrong.push(format!(
                "explain does not mention `{word}`: {}",
                plan.explain
            ));
        }
    }
    if wrong.is_empty() {
        Ok(plan)
    } else {
        Err(wrong.join("\n  "))
    }
}

/// Reads the cases in `tests/*.json` of a library folder.
pub fn load_dir(library_dir: &std::path::Path) -> Result<Vec<Case>, String> {
    let dir = library_dir.join("tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let mut some: Vec<Case> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        cases.append(&mut some);
    }
    Ok(cases)
}
