//! Reads a playbook file and checks it, reporting every error with its line and column.
//!
//! A playbook that passes is a [`Playbook`]: its references resolve, its values are in range,
//! its steps form a DAG, and every parameter it declares is used. What needs more than one
//! file (duplicate ids, inverses, components) is checked by [`crate::library`].

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use marked_yaml::{Marker, Node, Span, Spanned};
use serde_json::{Map, Value};

use crate::format::{RawCondition, RawParameter, RawPlaybook, RawStep};
use crate::model::{
    Condition, Field, Op, ParamSource, Parameter, Playbook, Precondition, RiskRule, RiskSpec,
    StepSpec, Template, UserValue, ValueKind,
};
use crate::plan::{RiskLevel, ScriptRef, StepKind, Wait};

/// The most targets a playbook may allow in one plan.
pub const MAX_TARGETS: u32 = 100;

/// One problem in a playbook file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The file, relative to the library.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Parses and checks one playbook file's text.
pub fn check(file: &str, text: &str) -> Result<Playbook, Vec<Diagnostic>> {
    let mut c = Checker {
        file: file.to_owned(),
        errors: Vec::new(),
    };
    // Quoted scalars stay text: `Value: "true"` is the string an AWS API wants, not a bool.
    let options = marked_yaml::LoaderOptions::default().prevent_coercion(true);
    let node = match marked_yaml::parse_yaml_with_options(0, text, options) {
        Ok(node) => node,
        Err(e) => {
            c.error_text(&e.to_string());
            return Err(c.errors);
        }
    };
    let raw: RawPlaybook = match marked_yaml::from_node(&node) {
        Ok(raw) => raw,
        Err(e) => {
            // An unknown key outside any spanned value comes without a place: find the key.
            let at = e.start_mark().or_else(|| match &*e {
                marked_yaml::Error::UnknownFieldError(key, _, _) => find_key(&node, key),
                _ => node.span().start().copied(),
            });
            c.at(at.as_ref(), e.to_string());
            return Err(c.errors);
        }
    };
    let playbook = c.playbook(raw, &node);
    if c.errors.is_empty() {
        Ok(playbook)
    } else {
        c.errors.sort();
        c.errors.dedup();
        Err(c.errors)
    }
}

struct Checker {
    file: String,
    errors: Vec<Diagnostic>,
}

type S<T> = Spanned<T>;

impl Checker {
    fn at(&mut self, marker: Option<&Marker>, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            file: self.file.clone(),
            line: marker.map_or(0, Marker::line),
            column: marker.map_or(0, Marker::column),
            message: message.into(),
        });
    }

    fn error<T>(&mut self, spanned: &S<T>, message: impl Into<String>) {
        self.at(spanned.span().start(), message);
    }

    fn error_span(&mut self, span: &Span, message: impl Into<String>) {
        self.at(span.start(), message);
    }

    /// A YAML syntax error: marked-yaml's text ends with `line:column`; keep it as the message
    /// and take the position from it when it parses.
    fn error_text(&mut self, text: &str) {
        let position = text
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .and_then(|last| {
                let (line, column) = last.trim_end_matches(['.', ')']).split_once(':')?;
                Some((line.parse().ok()?, column.parse().ok()?))
            });
        let (line, column) = position.unwrap_or((0, 0));
        self.errors.push(Diagnostic {
            file: self.file.clone(),
            line,
            column,
            message: format!("not valid YAML: {text}"),
        });
    }

    fn word(&mut self, value: &S<String>, what: &str, valid: fn(char) -> bool) -> String {
        let ok = !value.is_empty()
            && value.chars().all(valid)
            && value.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !ok {
            self.error(value, format!("{what} `{}` must start with a lower-case letter and hold only lower-case letters, digits and `{}`", value.as_str(), if what == "id" { ".-" } else { "_" }));
        }
        value.as_str().to_owned()
    }

    fn text(&mut self, value: &S<String>, what: &str) -> String {
        let t = value.trim();
        if t.is_empty() {
            self.error(value, format!("{what} is empty"));
        }
        t.to_owned()
    }

    fn playbook(&mut self, raw: RawPlaybook, node: &Node) -> Playbook {
        let id = self.word(&raw.id, "id", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'
        });
        let version = semver::Version::parse(&raw.version).unwrap_or_else(|e| {
            self.error(
                &raw.version,
                format!(
                    "version `{}` is not semantic versioning (1.0.0): {e}",
                    raw.version.as_str()
                ),
            );
            semver::Version::new(0, 0, 0)
        });
        let title = self.text(&raw.title, "title");
        let description = self.text(&raw.description, "description");
        if raw.utterances.len() < 3 {
            self.error(
                &raw.utterances,
                "give at least 3 utterances: the prompts people would type for this playbook",
            );
        }
        let utterances = raw
            .utterances
            .iter()
            .map(|u| self.text(u, "an utterance"))
            .collect();
        let keywords = raw
            .keywords
            .iter()
            .map(|k| self.text(k, "a keyword").to_lowercase())
            .collect();
        let service = self.word(&raw.service, "service", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        });
        let operation = self.word(&raw.operation, "operation", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
        });
        if raw.applies_to.is_empty() {
            self.error(
                &raw.applies_to,
                "applies_to is empty: name the resource types (rds_instance, ...)",
            );
        }
        let applies_to = raw
            .applies_to
            .iter()
            .map(|t| {
                self.word(t, "resource type", |c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
                })
            })
            .collect();
        let max_targets = match &raw.max_targets {
            Some(n) if **n == 0 || **n > MAX_TARGETS => {
                self.error(n, format!("max_targets must be 1 to {MAX_TARGETS}"));
                1
            }
            Some(n) => **n as usize,
            None => 1,
        };

        let parameters = self.parameters(&raw.parameters);
        let names: BTreeSet<String> = parameters.iter().map(|p| p.name.clone()).collect();
        let mut used = HashSet::new();
        let preconditions = raw
            .preconditions
            .iter()
            .filter_map(|p| {
                let require = self.condition(&p.require, &names, &mut used)?;
                let message = self.template(&p.message, &names, &mut used)?;
                Some(Precondition { require, message })
            })
            .collect();
        let risk = self.risk(&raw, &names, &mut used);
        let steps = self.steps(&raw.steps, node, &names, &mut used);
        for p in &raw.parameters {
            if !used.contains(p.name.as_str()) {
                self.error(
                    &p.name,
                    format!(
                        "parameter `{}` is never used: reference it as {{params.{}}} or remove it",
                        p.name.as_str(),
                        p.name.as_str()
                    ),
                );
            }
        }
        let inverse = raw.inverse.as_ref().map(|i| {
            self.word(i, "id", |c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'
            })
        });
        let component = raw.component.as_ref().map(|path| {
            let bad = path.is_empty()
                || path.starts_with('/')
                || path.split(['/', '\\']).any(|part| part == ".." || part.is_empty())
                || path.ends_with(".wasm");
            if bad {
                self.error(path, "component must name the folder of its Rust crate, relative to this file and inside the library, without `..` (`cloudops playbook new` makes one)");
            }
            path.as_str().to_owned()
        });
        Playbook {
            id,
            version,
            title,
            description,
            utterances,
            keywords,
            service,
            operation,
            applies_to,
            max_targets,
            parameters,
            preconditions,
            risk,
            steps,
            inverse,
            component,
            file: self.file.clone(),
        }
    }

    fn parameters(&mut self, raw: &[RawParameter]) -> Vec<Parameter> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for p in raw {
            let name = self.word(&p.name, "parameter name", |c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
            });
            if !seen.insert(name.clone()) {
                self.error(&p.name, format!("parameter `{name}` is declared twice"));
            }
            let description = p
                .description
                .as_ref()
                .map(|d| d.trim().to_owned())
                .unwrap_or_default();
            let source = match (&p.from, &p.kind) {
                (Some(from), None) => {
                    let user_only = p.min.is_some()
                        || p.max.is_some()
                        || p.values.is_some()
                        || p.max_length.is_some()
                        || p.unit.is_some()
                        || !p.words.is_empty()
                        || p.default.is_some();
                    if user_only {
                        self.error(from, "a parameter bound with `from` takes its value from the resource: min, max, values, max_length, unit, words and default belong to user values (`type`)");
                    }
                    match Field::parse(from) {
                        Ok(Field::Param(_)) => {
                            self.error(from, "`from` names a resource field, not a parameter");
                            continue;
                        }
                        Ok(field) => ParamSource::Resource(field),
                        Err(e) => {
                            self.error(from, e);
                            continue;
                        }
                    }
                }
                (None, Some(kind)) => match self.user_value(p, kind) {
                    Some(v) => ParamSource::User(v),
                    None => continue,
                },
                _ => {
                    self.error(&p.name, format!("parameter `{name}` needs exactly one of `from` (a resource field) or `type` (a value the user gives)"));
                    continue;
                }
            };
            out.push(Parameter {
                name,
                description,
                source,
            });
        }
        out
    }

    fn user_value(&mut self, p: &RawParameter, kind: &S<String>) -> Option<UserValue> {
        let kind = match kind.as_str() {
            "integer" => {
                let (Some(min), Some(max)) = (&p.min, &p.max) else {
                    self.error(kind, "an integer parameter needs `min` and `max`");
                    return None;
                };
                if **min > **max {
                    self.error(min, "min is above max");
                }
                ValueKind::Integer {
                    min: **min,
                    max: **max,
                }
            }
            "string" => ValueKind::String {
                max_length: p.max_length.as_ref().map_or(256, |n| **n as usize),
            },
            "boolean" => ValueKind::Boolean,
            "enum" => match &p.values {
                Some(values) if !values.is_empty() => {
                    ValueKind::Enum(values.iter().map(|v| v.as_str().to_owned()).collect())
                }
                _ => {
                    self.error(kind, "an enum parameter needs a non-empty `values` list");
                    return None;
                }
            },
            other => {
                self.error(
                    kind,
                    format!("unknown type `{other}`: integer, string, boolean or enum"),
                );
                return None;
            }
        };
        let default = match &p.default {
            Some(d) => match crate::values::coerce(&kind, &Value::String(d.as_str().to_owned())) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.error(d, format!("default: {e}"));
                    None
                }
            },
            None => None,
        };
        Some(UserValue {
            kind,
            unit: p.unit.as_ref().map(|u| u.as_str().to_owned()),
            words: p.words.iter().map(|w| w.to_lowercase()).collect(),
            default,
        })
    }

    fn field(
        &mut self,
        path: &S<String>,
        names: &BTreeSet<String>,
        used: &mut HashSet<String>,
    ) -> Option<Field> {
        match Field::parse(path.trim()) {
            Ok(Field::Param(name)) if !names.contains(&name) => {
                self.error(
                    path,
                    format!("no parameter `{name}`: declare it under `parameters`"),
                );
                None
            }
            Ok(field) => {
                if let Field::Param(name) = &field {
                    used.insert(name.clone());
                }
                Some(field)
            }
            Err(e) => {
                self.error(path, e);
                None
            }
        }
    }

    fn template(
        &mut self,
        text: &S<String>,
        names: &BTreeSet<String>,
        used: &mut HashSet<String>,
    ) -> Option<Template> {
        match Template::parse(text) {
            Ok(t) => {
                let mut ok = true;
                for f in t.fields() {
                    if let Field::Param(name) = f {
                        if names.contains(name) {
                            used.insert(name.clone());
                        } else {
                            self.error(
                                text,
                                format!("no parameter `{name}`: declare it under `parameters`"),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then_some(t)
            }
            Err(e) => {
                self.error(text, e);
                None
            }
        }
    }

    fn condition(
        &mut self,
        raw: &S<RawCondition>,
        names: &BTreeSet<String>,
        used: &mut HashSet<String>,
    ) -> Option<Condition> {
        let list = |v: &Vec<S<String>>| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>();
        let mut forms: Vec<(&str, Option<Op>)> = Vec::new();
        if let Some(v) = &raw.is_in {
            forms.push(("in", Some(Op::In(list(v)))));
        }
        if let Some(v) = &raw.not_in {
            forms.push(("not_in", Some(Op::NotIn(list(v)))));
        }
        if let Some(v) = &raw.equals {
            forms.push(("equals", Some(Op::In(vec![v.as_str().to_owned()]))));
        }
        if let Some(v) = &raw.not_equals {
            forms.push(("not_equals", Some(Op::NotIn(vec![v.as_str().to_owned()]))));
        }
        if let Some(v) = &raw.present {
            forms.push(("present", Some(Op::Present(**v))));
        }
        if let Some(v) = &raw.empty {
            forms.push(("empty", Some(Op::Empty(**v))));
        }
        if let Some(v) = &raw.above {
            forms.push(("above", Some(Op::Above(**v))));
        }
        if let Some(v) = &raw.below {
            forms.push(("below", Some(Op::Below(**v))));
        }
        let combinators = usize::from(raw.all.is_some())
            + usize::from(raw.any.is_some())
            + usize::from(raw.not.is_some());
        match (&raw.field, forms.len(), combinators) {
            (Some(field), 1, 0) => {
                let field = self.field(field, names, used)?;
                let op = forms.pop()?.1?;
                Some(Condition::Test { field, op })
            }
            (None, 0, 1) => {
                if let Some(all) = &raw.all {
                    let parts = self.conditions(all, names, used)?;
                    Some(Condition::All(parts))
                } else if let Some(any) = &raw.any {
                    let parts = self.conditions(any, names, used)?;
                    Some(Condition::Any(parts))
                } else {
                    let inner = raw.not.as_ref()?;
                    Some(Condition::Not(Box::new(
                        self.condition(inner, names, used)?,
                    )))
                }
            }
            _ => {
                self.error(raw, "a condition is `{field: F, OP: V}` with exactly one OP of in, not_in, equals, not_equals, present, empty, above, below; or exactly one of `all: [...]`, `any: [...]`, `not: {...}`");
                None
            }
        }
    }

    fn conditions(
        &mut self,
        raw: &S<Vec<RawCondition>>,
        names: &BTreeSet<String>,
        used: &mut HashSet<String>,
    ) -> Option<Vec<Condition>> {
        if raw.is_empty() {
            self.error(raw, "an empty list of conditions");
            return None;
        }
        let span = *raw.span();
        let mut out = Vec::new();
        for c in raw.iter() {
            // Sub-conditions carry no span of their own; errors point at the list.
            out.push(self.condition(&Spanned::new(span, c.clone()), names, used)?);
        }
        Some(out)
    }

    fn risk(
        &mut self,
        raw: &RawPlaybook,
        names: &BTreeSet<String>,
        used: &mut HashSet<String>,
    ) -> RiskSpec {
        let level = self.level(&raw.risk.level).unwrap_or(RiskLevel::Critical);
        let reasons = raw
            .risk
            .reasons
            .iter()
            .filter_map(|r| self.template(r, names, used))
            .collect();
        let raise = raw
            .risk
            .raise
            .iter()
            .filter_map(|rule| {
                let to = self.level(&rule.to)?;
                if to <= level {
                    self.error(
                        &rule.to,
                        format!(
                            "`to: {}` does not raise the base level `{}`",
                            to.as_str(),
                            level.as_str()
                        ),
                    );
                }
                let when = self.condition(&rule.when, names, used)?;
                let reason = self.template(&rule.reason, names, used)?;
                Some(RiskRule { when, to, reason })
            })
            .collect();
        RiskSpec {
            level,
            reasons,
            raise,
        }
    }

    fn level(&mut self, raw: &S<String>) -> Option<RiskLevel> {
        let level = RiskLevel::parse(raw.as_str());
        if level.is_none() {
            self.error(
                raw,
                format!(
                    "unknown risk level `{}`: low, medium, high or critical",
                    raw.as_str()
                ),
            );
        }
        level
    }

    fn steps(
        &mut self,
        raw: &S<Vec<RawStep>>,
        node: &Node,
        names: &BTreeSet<String>,
        used: &mut HashSet<String>,
    ) -> Vec<StepSpec> {
        if raw.is_empty() {
            self.error(raw, "a playbook needs at least one step");
        }
        let step_nodes = node.as_mapping().and_then(|m| m.get_sequence("steps"));
        let mut ids: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for (i, step) in raw.iter().enumerate() {
            let id = self.word(&step.id, "step id", |c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
            });
            if ids.contains(&id) {
                self.error(&step.id, format!("step `{id}` is declared twice"));
            }
            for d in &step.depends_on {
                if !ids.contains(&d.as_str().to_owned()) {
                    self.error(d, format!("depends_on `{}` names no earlier step: list the steps it waits for above it", d.as_str()));
                }
            }
            let action = step.action.as_str().to_owned();
            if !is_action(&action) {
                self.error(
                    &step.action,
                    format!("action `{action}` is not an IAM action such as `rds:StopDBInstance`"),
                );
            }
            for a in &step.iam {
                if !is_action(a) {
                    self.error(
                        a,
                        format!(
                            "iam `{}` is not an IAM action such as `rds:StopDBInstance`",
                            a.as_str()
                        ),
                    );
                }
            }
            let params_node = step_nodes
                .and_then(|s| s.get_mapping(i))
                .and_then(|m| m.get_node("params"));
            let params = match params_node {
                None => Map::new(),
                Some(Node::Mapping(m)) => match self.params(m, names, used) {
                    Value::Object(o) => o,
                    _ => Map::new(),
                },
                Some(other) => {
                    self.error_span(
                        other.span(),
                        "params must be a mapping of the operation's parameter names to values",
                    );
                    Map::new()
                }
            };
            let wait = step.wait.as_ref().map(|w| {
                if *w.timeout_s == 0 || *w.timeout_s > 86_400 {
                    self.error(&w.timeout_s, "timeout_s must be 1 to 86400 seconds");
                }
                Wait {
                    until: w.until.as_str().to_owned(),
                    timeout_s: *w.timeout_s,
                }
            });
            let cli = step
                .cli
                .as_ref()
                .and_then(|c| self.template(c, names, used));
            let (kind, argv, script) = self.step_kind(step, &params, names, used);
            ids.push(id.clone());
            out.push(StepSpec {
                id,
                action,
                params,
                wait,
                depends_on: step
                    .depends_on
                    .iter()
                    .map(|d| d.as_str().to_owned())
                    .collect(),
                iam: step.iam.iter().map(|a| a.as_str().to_owned()).collect(),
                cli,
                kind,
                argv,
                script,
            });
        }
        out
    }

    /// A step's `kind` and what that kind needs: `exec` an `argv`, `script` a `script` file
    /// (in a `scripts/` folder of the library) and optional `argv`; `aws` and `aws-cli` send
    /// `params` and take neither.
    fn step_kind(
        &mut self,
        step: &RawStep,
        params: &Map<String, Value>,
        names: &BTreeSet<String>,
        used: &mut HashSet<String>,
    ) -> (StepKind, Vec<Template>, Option<ScriptRef>) {
        let kind = match &step.kind {
            None => StepKind::Aws,
            Some(k) => StepKind::parse(k.as_str()).unwrap_or_else(|| {
                self.error(
                    k,
                    format!(
                        "unknown step kind `{}`: aws, aws-cli, exec or script",
                        k.as_str()
                    ),
                );
                StepKind::Aws
            }),
        };
        let argv: Vec<Template> = step
            .argv
            .iter()
            .filter_map(|a| self.template(a, names, used))
            .collect();
        let sends = matches!(kind, StepKind::Aws | StepKind::AwsCli);
        if sends {
            if let Some(a) = step.argv.first() {
                self.error(a, format!("a `{}` step takes no argv: its command comes from action and params (use kind: exec for a program)", kind.as_str()));
            }
        } else if !params.is_empty() {
            self.error(
                &step.id,
                format!(
                    "a `{}` step takes no params: pass values in argv",
                    kind.as_str()
                ),
            );
        }
        if kind == StepKind::Exec && step.argv.is_empty() {
            self.error(&step.id, "an `exec` step needs argv: the program and its arguments, one word per item (no shell)");
        }
        let script = match (&step.script, kind) {
            (Some(path), StepKind::Script) => Some(self.script_path(path)),
            (Some(path), _) => {
                self.error(
                    path,
                    "only a `script` step takes script: add `kind: script`",
                );
                None
            }
            (None, StepKind::Script) => {
                self.error(&step.id, "a `script` step needs script: the file, relative to this playbook, in a scripts/ folder");
                None
            }
            (None, _) => None,
        };
        (kind, argv, script)
    }

    /// A script's path resolved against this file's folder: inside the library (no `..`, not
    /// absolute) and in a `scripts/` folder, which is what a library reads besides playbooks.
    fn script_path(&mut self, path: &S<String>) -> ScriptRef {
        let bad = path.is_empty()
            || path.starts_with('/')
            || path
                .split(['/', '\\'])
                .any(|part| part == ".." || part.is_empty() || part == ".");
        let resolved = match self.file.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{}", path.as_str()),
            None => path.as_str().to_owned(),
        };
        if bad || !crate::library::is_script_file(&resolved) {
            self.error(path, "script must be a file in a `scripts/` folder, relative to this playbook and inside the library, without `..`");
        }
        ScriptRef {
            path: resolved,
            sha256: String::new(),
        }
    }

    /// A step's parameters as JSON, with YAML's types: plain (unquoted) scalars that read as
    /// numbers, booleans or null become those; quoted ones stay text. Strings holding `{`
    /// are templates and are checked here.
    fn params(
        &mut self,
        mapping: &marked_yaml::types::MarkedMappingNode,
        names: &BTreeSet<String>,
        used: &mut HashSet<String>,
    ) -> Value {
        let mut out = Map::new();
        for (key, value) in mapping.iter() {
            out.insert(
                key.as_str().to_owned(),
                self.param_value(value, names, used),
            );
        }
        Value::Object(out)
    }

    fn param_value(
        &mut self,
        node: &Node,
        names: &BTreeSet<String>,
        used: &mut HashSet<String>,
    ) -> Value {
        match node {
            Node::Mapping(m) => self.params(m, names, used),
            Node::Sequence(s) => {
                Value::Array(s.iter().map(|n| self.param_value(n, names, used)).collect())
            }
            Node::Scalar(s) => {
                let text = s.as_str();
                if s.may_coerce() {
                    if let Ok(n) = text.parse::<i64>() {
                        return Value::from(n);
                    }
                    if let Some(b) = s.as_bool() {
                        return Value::Bool(b);
                    }
                    if matches!(text, "null" | "~") {
                        return Value::Null;
                    }
                }
                if text.contains(['{', '}']) {
                    let spanned = Spanned::new(*s.span(), text.to_owned());
                    self.template(&spanned, names, used);
                }
                Value::String(text.to_owned())
            }
        }
    }
}

/// Where `key` is first used as a mapping key in the document.
fn find_key(node: &Node, key: &str) -> Option<Marker> {
    match node {
        Node::Mapping(m) => m.iter().find_map(|(k, v)| {
            if k.as_str() == key {
                k.span().start().copied()
            } else {
                find_key(v, key)
            }
        }),
        Node::Sequence(s) => s.iter().find_map(|n| find_key(n, key)),
        Node::Scalar(_) => None,
    }
}

/// `service:Operation`, as IAM writes actions.
fn is_action(action: &str) -> bool {
    match action.split_once(':') {
        Some((service, op)) => {
            !service.is_empty()
                && service
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && op.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && op.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}
