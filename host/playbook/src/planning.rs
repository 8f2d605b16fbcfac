//! Turning one chosen playbook and the identified resources into a plan: parameters filled
//! from the resources and the user's values only, preconditions, IAM verdicts, risk.
//!
//! Choosing the playbook (classification, retrieval) is the planner's job; this part is pure
//! and deterministic, so the same inputs always give the same plan and the same `plan_id`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::cli_line::cli_line;
use crate::model::{Condition, Field, Op, ParamSource, Playbook, Template};
use crate::plan::{
    Blocked, Candidate, Clarify, Denied, IamVerdict, Intent, IntentKind, Plan, PlaybookRef,
    PreState, ResourceContext, Risk, RiskLevel, Rollback, Step, StepKind, Target,
};
use crate::values;

/// What the planner hands over once it has chosen a playbook.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    /// The library's commit.
    pub commit: &'a str,
    /// The user's words (user values are read from them when not given explicitly).
    pub prompt: &'a str,
    /// The identified resources the playbook applies to.
    pub targets: &'a [ResourceContext],
    /// Values the user gave explicitly.
    pub user_values: &'a Map<String, Value>,
}

/// The plan for `playbook` over the selection.
pub fn plan(playbook: &Playbook, selection: Selection<'_>) -> Plan {
    let mut plan = Plan::nothing(intent(playbook), String::new());
    plan.playbook = Some(PlaybookRef {
        id: playbook.id.clone(),
        version: playbook.version.to_string(),
        commit: selection.commit.to_owned(),
    });
    plan.rollback = playbook.inverse.as_ref().map(|inverse| Rollback {
        playbook: inverse.clone(),
        explain: format!("the playbook `{inverse}` undoes this"),
    });

    let targets = selection.targets;
    if targets.is_empty() {
        plan.clarify = Some(Clarify {
            question: format!(
                "Which {} should I {}? Name it, or search first.",
                playbook.applies_to.join(" or "),
                playbook.operation
            ),
            missing: vec!["target".into()],
            candidates: Vec::new(),
        });
        plan.explain = format!(
            "{}: no {} was identified in the request.",
            playbook.title,
            playbook.applies_to.join(" or ")
        );
        return plan.sealed();
    }
    if targets.len() > playbook.max_targets {
        plan.clarify = Some(Clarify {
            question: format!(
                "\"{}\" acts on at most {} resource{} at a time, and {} match: which one{}?",
                playbook.title,
                playbook.max_targets,
                plural(playbook.max_targets),
                targets.len(),
                if playbook.max_targets == 1 { "" } else { "s" }
            ),
            missing: vec!["target".into()],
            candidates: targets.iter().map(candidate).collect(),
        });
        plan.explain = format!(
            "{}: more resources match than it may act on at once; choose.",
            playbook.title
        );
        return plan.sealed();
    }

    let user = match user_params(playbook, selection) {
        Ok(user) => user,
        Err(clarify) => {
            plan.explain = format!("{}: {}", playbook.title, clarify.question);
            plan.clarify = Some(clarify);
            return plan.sealed();
        }
    };

    let mut level = playbook.risk.level;
    let mut reasons: Vec<String> = Vec::new();
    let several = targets.len() > 1;
    for target in targets {
        let params = target_params(playbook, target, &user);
        let step_id = |id: &str| {
            if several {
                format!("{id}@{}", target.identifier)
            } else {
                id.to_owned()
            }
        };
        let first_step = step_id(&playbook.steps[0].id);

        match &params {
            Err(missing) => plan.blocked.push(Blocked {
                step: first_step.clone(),
                reason: format!("{} has no {missing}, which the playbook needs", target.name),
            }),
            Ok(params) => {
                for p in &playbook.preconditions {
                    if !p.require.holds(target, params) {
                        plan.blocked.push(Blocked {
                            step: first_step.clone(),
                            reason: format!(
                                "{}: {}",
                                target.name,
                                p.message.render(target, params)
                            ),
                        });
                    }
                }
            }
        }
        let params = params.unwrap_or_default();
        for reason in &playbook.risk.reasons {
            push_unique(&mut reasons, reason.render(target, &params));
        }
        for rule in &playbook.risk.raise {
            if rule.when.holds(target, &params) {
                level = level.max(rule.to);
                push_unique(&mut reasons, rule.reason.render(target, &params));
            }
        }
        for spec in &playbook.steps {
            let step_params = render_params(&spec.params, target, &params);
            let argv: Vec<String> = spec
                .argv
                .iter()
                .map(|a| a.render(target, &params))
                .collect();
            let cli = match (&spec.cli, spec.kind) {
                (Some(t), _) => t.render(target, &params),
                (None, StepKind::Aws | StepKind::AwsCli) => {
                    cli_line(&spec.action, &step_params, &target.region)
                }
                (None, StepKind::Exec) => shell_words(&argv),
                (None, StepKind::Script) => {
                    let path = spec.script.as_ref().map(|s| s.path.clone());
                    shell_words(
                        &path
                            .into_iter()
                            .chain(argv.iter().cloned())
                            .collect::<Vec<_>>(),
                    )
                }
            };
            // The state the preconditions admit holds before the run, so it is expected of
            // the first steps only; later steps see what earlier ones made of the target.
            let expects = spec
                .depends_on
                .is_empty()
                .then(|| pre_state(playbook))
                .flatten();
            let (iam, denial) = verdict(target, spec.iam_actions());
            let step = Step {
                id: step_id(&spec.id),
                action: spec.action.clone(),
                target: Target {
                    arn: target.arn.clone(),
                    id: target.identifier.clone(),
                    resource_type: target.resource_type.clone(),
                    account: target.account_id.clone(),
                    region: target.region.clone(),
                },
                params: step_params,
                cli,
                depends_on: spec.depends_on.iter().map(|d| step_id(d)).collect(),
                wait: spec.wait.clone(),
                iam,
                kind: spec.kind,
                iam_actions: spec.iam.clone(),
                argv,
                script: spec.script.clone(),
                expects,
            };
            if let Some((action, explicit)) = denial {
                plan.denied.push(Denied {
                    step: step.id.clone(),
                    action,
                    arn: target.arn.clone(),
                    explicit,
                });
            }
            plan.steps.push(step);
        }
    }
    plan.risk = Risk { level, reasons };
    plan.approval_required = level >= RiskLevel::Medium;
    plan.explain = explain(playbook, targets, &plan);
    // Nothing runnable leaves a plan that IAM or a precondition stops.
    if !plan.denied.is_empty() || !plan.blocked.is_empty() {
        plan.approval_required = false;
    }
    plan.sealed()
}

/// The target's state the playbook's top-level preconditions on `state` admit (`in`,
/// `not_in`), or `None` when none speaks of the state.
pub fn pre_state(playbook: &Playbook) -> Option<PreState> {
    let mut out = PreState::default();
    for p in &playbook.preconditions {
        if let Condition::Test {
            field: Field::State,
            op,
        } = &p.require
        {
            match op {
                Op::In(list) if out.any_of.is_empty() => out.any_of = list.clone(),
                // Two `in` lists: only what both admit.
                Op::In(list) => out
                    .any_of
                    .retain(|s| list.iter().any(|l| l.eq_ignore_ascii_case(s))),
                Op::NotIn(list) => out.not_in.extend(list.iter().cloned()),
                _ => {}
            }
        }
    }
    (out != PreState::default()).then_some(out)
}

/// A command line for people to read: words joined, quoted for a POSIX shell when needed.
/// Only shown; the step runs its argv without a shell.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn intent(playbook: &Playbook) -> Intent {
    Intent {
        kind: IntentKind::Operation,
        service: Some(playbook.service.clone()),
        operation: Some(playbook.operation.clone()),
    }
}

fn candidate(r: &ResourceContext) -> Candidate {
    Candidate {
        id: r.arn.clone(),
        label: format!(
            "{} ({}, {}, {})",
            r.name, r.resource_type, r.account_id, r.region
        ),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The user-valued parameters: explicit values first, then the prompt's words, then the
/// author's default. Anything else is a question back, naming every missing value.
pub(crate) fn user_params(
    playbook: &Playbook,
    selection: Selection<'_>,
) -> Result<BTreeMap<String, Value>, Clarify> {
    let numeric = playbook
        .parameters
        .iter()
        .filter(|p| matches!(&p.source, ParamSource::User(v) if matches!(v.kind, crate::model::ValueKind::Integer { .. })))
        .count();
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    let mut problems = Vec::new();
    for p in &playbook.parameters {
        let ParamSource::User(value) = &p.source else {
            continue;
        };
        let given = match selection.user_values.get(&p.name) {
            Some(v) => Some(values::coerce(&value.kind, v)),
            None => values::from_prompt(selection.prompt, value, numeric == 1),
        };
        match given {
            Some(Ok(v)) => {
                out.insert(p.name.clone(), v);
            }
            Some(Err(e)) => problems.push(format!("{} ({}): {e}", p.name, values::describe(value))),
            None => match &value.default {
                Some(d) => {
                    out.insert(p.name.clone(), d.clone());
                }
                None => missing.push(p),
            },
        }
    }
    if missing.is_empty() && problems.is_empty() {
        return Ok(out);
    }
    let mut question = Vec::new();
    for p in &missing {
        let ParamSource::User(value) = &p.source else {
            continue;
        };
        let what = if p.description.is_empty() {
            p.name.clone()
        } else {
            p.description.clone()
        };
        question.push(format!(
            "What {what} should I use? ({})",
            values::describe(value)
        ));
    }
    for problem in &problems {
        question.push(format!("That value does not fit: {problem}."));
    }
    let mut names: Vec<String> = missing.iter().map(|p| p.name.clone()).collect();
    names.extend(
        problems
            .iter()
            .filter_map(|p| p.split(' ').next().map(String::from)),
    );
    let candidates = missing
        .iter()
        .filter_map(|p| match &p.source {
            ParamSource::User(crate::model::UserValue {
                kind: crate::model::ValueKind::Enum(values),
                ..
            }) => Some(values),
            _ => None,
        })
        .flatten()
        .map(|v| Candidate {
            id: v.clone(),
            label: v.clone(),
        })
        .collect();
    Err(Clarify {
        question: question.join(" "),
        missing: names,
        candidates,
    })
}

/// Every parameter's value for one target, or the resource field it lacks.
pub(crate) fn target_params(
    playbook: &Playbook,
    target: &ResourceContext,
    user: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Value>, String> {
    let mut params = user.clone();
    for p in &playbook.parameters {
        if let ParamSource::Resource(field) = &p.source {
            let value = field
                .value(target, user)
                .filter(|v| !v.is_null())
                .ok_or_else(|| field_name(field))?;
            params.insert(p.name.clone(), value);
        }
    }
    Ok(params)
}

fn field_name(field: &Field) -> String {
    match field {
        Field::Tag(k) => format!("tag `{k}`"),
        Field::Metadata(path) => format!("`{}` in its details", path.join(".")),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// A step's parameters with references replaced: a string that is one reference keeps the
/// value's JSON type (`{params.memory_mb}` stays a number); others become text.
fn render_params(
    params: &Map<String, Value>,
    target: &ResourceContext,
    values: &BTreeMap<String, Value>,
) -> Map<String, Value> {
    params
        .iter()
        .map(|(k, v)| (k.clone(), render_value(v, target, values)))
        .collect()
}

fn render_value(
    value: &Value,
    target: &ResourceContext,
    values: &BTreeMap<String, Value>,
) -> Value {
    match value {
        Value::String(s) if s.contains('{') => match Template::parse(s) {
            Ok(t) => match t.single_field() {
                Some(field) => field.value(target, values).unwrap_or(Value::Null),
                None => Value::String(t.render(target, values)),
            },
            Err(_) => value.clone(), // checked at load; unreachable for a checked playbook
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, target, values))
                .collect(),
        ),
        Value::Object(map) => Value::Object(render_params(map, target, values)),
        other => other.clone(),
    }
}

/// The IAM verdict for a step's actions on the target: denied when any is denied (the first
/// denied action and whether a policy denies it explicitly), allowed when all are allowed,
/// unknown otherwise.
pub(crate) fn verdict<'a>(
    target: &ResourceContext,
    actions: impl Iterator<Item = &'a String>,
) -> (IamVerdict, Option<(String, bool)>) {
    let Some(permissions) = &target.permissions else {
        return (IamVerdict::Unknown, None);
    };
    let mut all_allowed = true;
    for action in actions {
        if let Some(d) = permissions
            .denied
            .iter()
            .find(|d| d.action.eq_ignore_ascii_case(action))
        {
            return (IamVerdict::Denied, Some((action.clone(), d.explicit)));
        }
        all_allowed &= permissions.allows(action);
    }
    (
        if all_allowed {
            IamVerdict::Allowed
        } else {
            IamVerdict::Unknown
        },
        None,
    )
}

/// The plan in plain words: what, on what, the risk and why, and what stops it.
pub(crate) fn explain(playbook: &Playbook, targets: &[ResourceContext], plan: &Plan) -> String {
    let names: Vec<String> = targets
        .iter()
        .map(|t| {
            format!(
                "{} ({}, {}, account {})",
                t.name, t.resource_type, t.region, t.account_id
            )
        })
        .collect();
    let actions: Vec<&str> = {
        let mut a: Vec<&str> = playbook.steps.iter().map(|s| s.action.as_str()).collect();
        a.dedup();
        a
    };
    let mut out = format!(
        "{}: {}, with {}.",
        playbook.title,
        names.join(", "),
        actions.join(", ")
    );
    out.push_str(&format!(" Risk is {}", plan.risk.level.as_str()));
    if plan.risk.reasons.is_empty() {
        out.push('.');
    } else {
        out.push_str(&format!(": {}.", plan.risk.reasons.join("; ")));
    }
    if !plan.denied.is_empty() {
        let denied: Vec<String> = plan
            .denied
            .iter()
            .map(|d| format!("{} on {}", d.action, d.arn))
            .collect();
        out.push_str(&format!(
            " Nothing can run: IAM denies {}.",
            denied.join(", ")
        ));
    }
    if !plan.blocked.is_empty() {
        let blocked: Vec<&str> = plan.blocked.iter().map(|b| b.reason.as_str()).collect();
        out.push_str(&format!(" Nothing can run: {}.", blocked.join("; ")));
    }
    if plan.denied.is_empty() && plan.blocked.is_empty() {
        out.push_str(if plan.approval_required {
            " It needs your approval before it runs."
        } else {
            " It runs once you confirm."
        });
    }
    if let Some(r) = &plan.rollback {
        out.push_str(&format!(" To undo it, use `{}`.", r.playbook));
    }
    out
}
