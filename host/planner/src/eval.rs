//! The plan evaluation: prompts × fixture resources with the plan each should give, scored
//! as the issue asks — intent, top-1 playbook, exact parameters. `eval/dev.jsonl` is for
//! tuning; `eval/holdout.jsonl` is never used to tune anything, so its score tells how the
//! planner does on prompts nobody fitted it to. Both share `eval/resources.json`.

use std::path::Path;

use cloudops_playbook::plan::{IntentKind, PlanRequest};
use cloudops_playbook::ResourceContext;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{Planner, PlannerError};

/// One evaluation case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalCase {
    /// The user's words.
    pub prompt: String,
    /// Identifiers (in `resources.json`) of what the host identified.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Explicit user values.
    #[serde(default)]
    pub user_values: Map<String, Value>,
    /// What the plan should be.
    pub expect: EvalExpect,
}

/// What a case's plan should be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalExpect {
    /// Operation, question or search.
    pub intent: IntentKind,
    /// The playbook (operations).
    #[serde(default)]
    pub playbook: Option<String>,
    /// The first step's parameters, exactly (others may be present).
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    /// The missing names a clarify must list.
    #[serde(default)]
    pub clarify: Option<Vec<String>>,
    /// Whether the plan is runnable.
    #[serde(default)]
    pub runnable: Option<bool>,
}

/// Scores of one run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Cases run.
    pub cases: usize,
    /// Cases whose intent was right.
    pub intent_right: usize,
    /// Operation cases (with an expected playbook).
    pub operations: usize,
    /// Of those, the right playbook first.
    pub top1_right: usize,
    /// Cases with expected parameters whose playbook was right (a wrong playbook is counted
    /// once, in `top1_right`).
    pub with_params: usize,
    /// Of those, every expected parameter exact.
    pub params_right: usize,
    /// Cases with an expected clarify or runnable flag.
    pub with_outcome: usize,
    /// Of those, right.
    pub outcome_right: usize,
    /// One line per wrong case.
    pub failures: Vec<String>,
}

impl Report {
    /// `right / total`, 1 when there is nothing to score.
    pub fn ratio(right: usize, total: usize) -> f64 {
        if total == 0 {
            1.0
        } else {
            right as f64 / total as f64
        }
    }
}

/// Reads the fixture resources and a case file.
pub fn load(
    resources: &Path,
    cases: &Path,
) -> Result<(Vec<ResourceContext>, Vec<EvalCase>), String> {
    let text =
        std::fs::read_to_string(resources).map_err(|e| format!("{}: {e}", resources.display()))?;
    let fixtures: Vec<ResourceContext> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", resources.display()))?;
    let text = std::fs::read_to_string(cases).map_err(|e| format!("{}: {e}", cases.display()))?;
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case: EvalCase = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: {e}", cases.display(), n + 1))?;
        for id in &case.resources {
            if !fixtures.iter().any(|r| &r.identifier == id) {
                return Err(format!(
                    "{}:{}: no resource `{id}` in {}",
                    cases.display(),
                    n + 1,
                    resources.display()
                ));
            }
        }
        out.push(case);
    }
    Ok((fixtures, out))
}

/// Plans every case and scores the plans.
pub fn run(
    planner: &Planner,
    fixtures: &[ResourceContext],
    cases: &[EvalCase],
) -> Result<Report, PlannerError> {
    let mut report = Report {
        cases: cases.len(),
        ..Report::default()
    };
    for case in cases {
        let request = PlanRequest {
            prompt: case.prompt.clone(),
            identified_resources: case
                .resources
                .iter()
                .filter_map(|id| fixtures.iter().find(|r| &r.identifier == id).cloned())
                .collect(),
            user_values: case.user_values.clone(),
            ..PlanRequest::default()
        };
        let plan = planner.plan(&request)?;
        let e = &case.expect;
        let mut wrong = Vec::new();
        if plan.intent.kind == e.intent {
            report.intent_right += 1;
        } else {
            wrong.push(format!(
                "intent {:?}, expected {:?}",
                plan.intent.kind, e.intent
            ));
        }
        let got = plan.playbook.as_ref().map(|p| p.id.as_str());
        if let Some(want) = &e.playbook {
            report.operations += 1;
            if got == Some(want.as_str()) {
                report.top1_right += 1;
            } else {
                wrong.push(format!("playbook {got:?}, expected {want}"));
            }
        }
        let right_playbook = e.playbook.as_deref().is_none_or(|want| got == Some(want));
        if let (Some(want), true) = (&e.params, right_playbook) {
            report.with_params += 1;
            let first = plan.steps.first().map(|s| &s.params);
            let differs: Vec<String> = want
                .iter()
                .filter(|(k, v)| first.and_then(|p| p.get(*k)) != Some(*v))
                .map(|(k, v)| {
                    format!(
                        "{k}={} (got {})",
                        v,
                        first
                            .and_then(|p| p.get(k))
                            .map_or("nothing".into(), Value::to_string)
                    )
                })
                .collect();
            if differs.is_empty() {
                report.params_right += 1;
            } else {
                wrong.push(format!("params {}", differs.join(", ")));
            }
        }
        if e.clarify.is_some() || e.runnable.is_some() {
            report.with_outcome += 1;
            let mut ok = true;
            if let Some(want) = &e.clarify {
                let missing = plan
                    .clarify
                    .as_ref()
                    .map(|c| c.missing.clone())
                    .unwrap_or_default();
                if want.iter().any(|m| !missing.contains(m))
                    || (want.is_empty() != missing.is_empty())
                {
                    ok = false;
                    wrong.push(format!("clarify {missing:?}, expected {want:?}"));
                }
            }
            if let Some(want) = e.runnable {
                if plan.runnable != want {
                    ok = false;
                    wrong.push(format!("runnable {}, expected {want}", plan.runnable));
                }
            }
            if ok {
                report.outcome_right += 1;
            }
        }
        if !wrong.is_empty() {
            let top: Vec<String> = planner
                .ranking(&request)?
                .iter()
                .take(3)
                .map(|r| {
                    let keyword = if r.keyword { ", keyword" } else { "" };
                    format!(
                        "{} {:.3} (cos {:.3}, words {:.2}{keyword})",
                        r.playbook.id, r.score, r.similarity, r.words
                    )
                })
                .collect();
            report.failures.push(format!(
                "{:?}: {}\n      ranked: {}",
                case.prompt,
                wrong.join("; "),
                top.join(" > ")
            ));
        }
    }
    Ok(report)
}
