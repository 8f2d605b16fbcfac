//! What a playbook component returned, checked against its playbook, and the plan rebuilt
//! from it.
//!
//! A component (a WebAssembly module the host runs, `wit/playbook/`) finishes a plan the
//! YAML could not: it reads the resources' current state and returns the steps to take.
//! It may only **narrow** the plan. [`check_steps`] is the one function that says whether
//! it did; [`finish`] then rebuilds the plan (CLI lines, IAM verdicts, risk, `plan_id`)
//! exactly as [`crate::planning`] builds one, so a narrowed plan reads like any other.
//!
//! This lives here, not beside the WebAssembly runner, because it is pure logic over the
//! playbook and plan types: the runner calls it, and a planner could too.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::cli_line::cli_line;
use crate::model::Playbook;
use crate::plan::{Denied, Plan, ResourceContext, Risk, RiskLevel, Step, Target, Wait};
use crate::planning::{self, Selection};

/// The most steps a component may return for one plan.
pub const MAX_STEPS: usize = 500;

/// Longest step id a component may use.
pub const MAX_ID_CHARS: usize = 128;

/// One step as a component returned it (the WIT `step` record, its params parsed).
#[derive(Debug, Clone, PartialEq)]
pub struct ProposedStep {
    /// Unique within the result.
    pub id: String,
    /// The operation in IAM form.
    pub action: String,
    /// The ARN of the resource it acts on.
    pub target_arn: String,
    /// The operation's parameters.
    pub params: Map<String, Value>,
    /// Ids of steps that must finish first.
    pub depends_on: Vec<String>,
    /// What to wait for afterwards.
    pub wait: Option<Wait>,
}

impl ProposedStep {
    /// The step as the YAML playbook planned it: what a component receives.
    pub fn from_step(step: &Step) -> ProposedStep {
        ProposedStep {
            id: step.id.clone(),
            action: step.action.clone(),
            target_arn: step.target.arn.clone(),
            params: step.params.clone(),
            depends_on: step.depends_on.clone(),
            wait: step.wait.clone(),
        }
    }
}

/// A returned step that would widen the plan, or a result that is not a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step `{step}`: {reason}")]
pub struct Violation {
    /// The step's id as the component gave it (cut short, control characters escaped).
    pub step: String,
    /// What is wrong, in words.
    pub reason: String,
}

/// Checks that `proposed` only narrows what `playbook` planned as `base` over `targets`:
/// - each action is one of the playbook's step actions;
/// - each target is one of `targets`, of a type the playbook applies to;
/// - each parameter is one the playbook declares for that action, and a parameter the YAML
///   set (not `null`) keeps the value planned for that target;
/// - a wait names the state the playbook waits for, no longer;
/// - ids are unique, no step appears twice, `depends_on` names returned steps, no cycles.
///
/// The first violation is returned, naming the step.
pub fn check_steps(
    playbook: &Playbook,
    base: &Plan,
    targets: &[ResourceContext],
    proposed: &[ProposedStep],
) -> Result<(), Violation> {
    if proposed.len() > MAX_STEPS {
        return Err(Violation {
            step: shown(&proposed[MAX_STEPS].id),
            reason: format!("a component may return at most {MAX_STEPS} steps"),
        });
    }
    let mut ids = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for step in proposed {
        let fail = |reason: String| Violation {
            step: shown(&step.id),
            reason,
        };
        if step.id.is_empty()
            || step.id.chars().count() > MAX_ID_CHARS
            || step.id.chars().any(char::is_control)
        {
            return Err(fail(format!(
                "a step id is 1 to {MAX_ID_CHARS} characters without control characters"
            )));
        }
        if !ids.insert(step.id.as_str()) {
            return Err(fail(
                "the id is used by an earlier step: ids are unique".into(),
            ));
        }
        check_one(playbook, base, targets, step).map_err(fail)?;
        let key = (
            &step.action,
            &step.target_arn,
            Value::Object(step.params.clone()).to_string(),
        );
        if !seen.insert(key) {
            return Err(fail(
                "it repeats an earlier step (same action, target and parameters)".into(),
            ));
        }
    }
    check_dependencies(proposed)
}

/// The checks of one step against the playbook and the base plan.
fn check_one(
    playbook: &Playbook,
    base: &Plan,
    targets: &[ResourceContext],
    step: &ProposedStep,
) -> Result<(), String> {
    let specs: Vec<_> = playbook
        .steps
        .iter()
        .filter(|s| s.action == step.action)
        .collect();
    if specs.is_empty() {
        let declared: BTreeSet<&str> = playbook.steps.iter().map(|s| s.action.as_str()).collect();
        return Err(format!(
            "action {} is not one of the playbook's steps ({}): a component narrows a plan, \
             never widens it",
            shown(&step.action),
            declared.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let Some(target) = targets.iter().find(|t| t.arn == step.target_arn) else {
        return Err(format!(
            "target {} is not one of the identified resources",
            shown(&step.target_arn)
        ));
    };
    if !playbook.applies_to.contains(&target.resource_type) {
        return Err(format!(
            "target {} is a {}, and the playbook applies to {}",
            target.name,
            target.resource_type,
            playbook.applies_to.join(", ")
        ));
    }
    let declared: BTreeSet<&str> = specs
        .iter()
        .flat_map(|s| s.params.keys().map(String::as_str))
        .collect();
    if let Some(name) = step.params.keys().find(|k| !declared.contains(k.as_str())) {
        return Err(format!(
            "parameter {} is not one the playbook declares for {} ({})",
            shown(name),
            step.action,
            declared.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    check_fixed_params(base, step)?;
    if let Some(wait) = &step.wait {
        let allowed = specs
            .iter()
            .filter_map(|s| s.wait.as_ref())
            .any(|w| w.until.eq_ignore_ascii_case(&wait.until) && wait.timeout_s <= w.timeout_s);
        if !allowed {
            return Err(format!(
                "it waits for {} for {}s, which the playbook does not declare for {}",
                shown(&wait.until),
                wait.timeout_s,
                step.action
            ));
        }
    }
    Ok(())
}

/// A parameter the YAML set (anything but `null`) is fixed: the component's step must carry
/// the value planned for the same action on the same target. This stops a component from
/// pointing a step at another resource through its parameters (`DBInstanceIdentifier`).
fn check_fixed_params(base: &Plan, step: &ProposedStep) -> Result<(), String> {
    let planned: Vec<&Step> = base
        .steps
        .iter()
        .filter(|s| s.action == step.action && s.target.arn == step.target_arn)
        .collect();
    let fits = |p: &&Step| {
        p.params
            .iter()
            .filter(|(_, v)| !v.is_null())
            .all(|(k, v)| step.params.get(k) == Some(v))
    };
    if planned.is_empty() || planned.iter().any(fits) {
        return Ok(());
    }
    let (name, value) = planned[0]
        .params
        .iter()
        .find(|(k, v)| !v.is_null() && step.params.get(*k) != Some(v))
        .expect("fits failed, so some fixed parameter differs");
    Err(format!(
        "parameter {} must be {value} as the playbook planned it for this target, not {}",
        shown(name),
        step.params
            .get(name)
            .map_or_else(|| "missing".to_owned(), |v| shown(&v.to_string()))
    ))
}

/// Every `depends_on` names another returned step, and following them never loops.
fn check_dependencies(proposed: &[ProposedStep]) -> Result<(), Violation> {
    let index: BTreeMap<&str, usize> = proposed
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    for step in proposed {
        for d in &step.depends_on {
            if d == &step.id || !index.contains_key(d.as_str()) {
                return Err(Violation {
                    step: shown(&step.id),
                    reason: format!("depends_on {} names no other returned step", shown(d)),
                });
            }
        }
    }
    // Depth-first search with three colours: 0 unvisited, 1 on the path, 2 done.
    let mut colour = vec![0u8; proposed.len()];
    fn visit(
        i: usize,
        proposed: &[ProposedStep],
        index: &BTreeMap<&str, usize>,
        colour: &mut [u8],
    ) -> Result<(), usize> {
        colour[i] = 1;
        for d in &proposed[i].depends_on {
            let j = index[d.as_str()];
            match colour[j] {
                1 => return Err(i),
                0 => visit(j, proposed, index, colour)?,
                _ => {}
            }
        }
        colour[i] = 2;
        Ok(())
    }
    for i in 0..proposed.len() {
        if colour[i] == 0 {
            visit(i, proposed, &index, &mut colour).map_err(|at| Violation {
                step: shown(&proposed[at].id),
                reason: "its depends_on make a cycle".into(),
            })?;
        }
    }
    Ok(())
}

/// The plan rebuilt from the component's steps: each step gets its target, CLI line and
/// IAM verdict as [`planning::plan`] gives them, risk is recomputed over the targets still
/// acted on, and the plan is sealed (a new `plan_id`). `base` must be the runnable plan
/// [`planning::plan`] made for `selection`; the steps are checked with [`check_steps`].
pub fn finish(
    playbook: &Playbook,
    selection: Selection<'_>,
    base: &Plan,
    proposed: &[ProposedStep],
) -> Result<Plan, Violation> {
    check_steps(playbook, base, selection.targets, proposed)?;
    let mut plan = base.clone();
    plan.steps.clear();
    plan.denied.clear();
    for p in proposed {
        let target = selection
            .targets
            .iter()
            .find(|t| t.arn == p.target_arn)
            .expect("checked: the target is identified");
        let spec = playbook
            .steps
            .iter()
            .find(|s| s.action == p.action)
            .expect("checked: the action is declared");
        let (iam, denial) =
            planning::verdict(target, std::iter::once(&spec.action).chain(&spec.iam));
        if let Some((action, explicit)) = denial {
            plan.denied.push(Denied {
                step: p.id.clone(),
                action,
                arn: target.arn.clone(),
                explicit,
            });
        }
        plan.steps.push(Step {
            id: p.id.clone(),
            action: p.action.clone(),
            target: Target {
                arn: target.arn.clone(),
                id: target.identifier.clone(),
                resource_type: target.resource_type.clone(),
                account: target.account_id.clone(),
                region: target.region.clone(),
            },
            cli: cli_line(&p.action, &p.params, &target.region),
            params: p.params.clone(),
            depends_on: p.depends_on.clone(),
            wait: p.wait.clone(),
            iam,
            iam_actions: spec.iam.clone(),
            expects: p
                .depends_on
                .is_empty()
                .then(|| planning::pre_state(playbook))
                .flatten(),
            ..Step::default()
        });
    }
    let acted: Vec<ResourceContext> = selection
        .targets
        .iter()
        .filter(|t| plan.steps.iter().any(|s| s.target.arn == t.arn))
        .cloned()
        .collect();
    plan.risk = risk(playbook, selection, &acted);
    plan.approval_required = plan.risk.level >= RiskLevel::Medium && plan.denied.is_empty();
    plan.explain = if plan.steps.is_empty() {
        let names: Vec<&str> = selection.targets.iter().map(|t| t.name.as_str()).collect();
        format!(
            "{}: nothing to do on {}; the playbook's component found no step to take.",
            playbook.title,
            names.join(", ")
        )
    } else {
        planning::explain(playbook, &acted, &plan)
    };
    Ok(plan.sealed())
}

/// The user's values as planning filled them (given, read from the prompt, or the author's
/// default), by parameter name: what a component receives. Empty when a value is missing,
/// which a runnable plan never has.
pub fn user_values(playbook: &Playbook, selection: Selection<'_>) -> Map<String, Value> {
    planning::user_params(playbook, selection)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The playbook's risk over `targets`, as [`planning::plan`] computes it.
fn risk(playbook: &Playbook, selection: Selection<'_>, targets: &[ResourceContext]) -> Risk {
    if targets.is_empty() {
        return Risk {
            level: RiskLevel::Low,
            reasons: Vec::new(),
        };
    }
    let user = planning::user_params(playbook, selection).unwrap_or_default();
    let mut level = playbook.risk.level;
    let mut reasons: Vec<String> = Vec::new();
    let mut push = |r: String| {
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    };
    for target in targets {
        let params = planning::target_params(playbook, target, &user).unwrap_or_default();
        for reason in &playbook.risk.reasons {
            push(reason.render(target, &params));
        }
        for rule in &playbook.risk.raise {
            if rule.when.holds(target, &params) {
                level = level.max(rule.to);
                push(rule.reason.render(target, &params));
            }
        }
    }
    Risk { level, reasons }
}

/// A component-supplied string as it may appear in a message: quoted with escapes and cut
/// to 80 characters.
fn shown(s: &str) -> String {
    let cut: String = s.chars().take(80).collect();
    let more = if cut.len() < s.len() { "…" } else { "" };
    format!("{cut:?}{more}")
}

#[cfg(test)]
mod tests;
