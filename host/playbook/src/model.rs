//! A checked playbook: every reference resolved, every value in range. The planner and the
//! host use these types; nothing here can name a parameter that does not exist.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::plan::{ResourceContext, RiskLevel};

/// A playbook that passed [`crate::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    /// Unique id (`rds.stop-instance`).
    pub id: String,
    /// Its version.
    pub version: semver::Version,
    /// One line for people.
    pub title: String,
    /// What it does, embedded for retrieval.
    pub description: String,
    /// Example prompts, embedded for retrieval.
    pub utterances: Vec<String>,
    /// Words that mark this operation in a prompt (`stop`, `shut down`), lower case.
    pub keywords: Vec<String>,
    /// The AWS service (IAM prefix).
    pub service: String,
    /// The operation's name (`stop`).
    pub operation: String,
    /// Resource types it acts on.
    pub applies_to: Vec<String>,
    /// How many resources one plan may act on.
    pub max_targets: usize,
    /// Its parameters, in file order.
    pub parameters: Vec<Parameter>,
    /// What must hold for each target.
    pub preconditions: Vec<Precondition>,
    /// Base risk and the rules that raise it.
    pub risk: RiskSpec,
    /// The steps, in file order (dependencies point backwards only).
    pub steps: Vec<StepSpec>,
    /// The playbook that undoes this one.
    pub inverse: Option<String>,
    /// A WebAssembly component that finishes the plan in the host (path in the library).
    pub component: Option<String>,
    /// The file it came from, relative to the library.
    pub file: String,
}

impl Playbook {
    /// The parameter called `name`.
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// Every IAM action the playbook's steps need.
    pub fn actions(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .steps
            .iter()
            .flat_map(|s| s.iam_actions().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// A playbook parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Its name (`db_instance_identifier`).
    pub name: String,
    /// What it means, for people.
    pub description: String,
    /// Where its value comes from.
    pub source: ParamSource,
}

/// Where a parameter's value comes from: never invented by the planner.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamSource {
    /// A field of the target resource.
    Resource(Field),
    /// A value the user gives (in `user_values` or in the prompt's words).
    User(UserValue),
}

/// A value the user gives, with its type and range.
#[derive(Debug, Clone, PartialEq)]
pub struct UserValue {
    /// Type and range.
    pub kind: ValueKind,
    /// The unit numbers are given in (`MB`, `s`, `days`).
    pub unit: Option<String>,
    /// Words that name it in a prompt (`memory`, `timeout`).
    pub words: Vec<String>,
    /// The author's default, when there is a safe one.
    pub default: Option<Value>,
}

/// The type of a user value.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// A whole number in `min..=max`.
    Integer {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// Free text up to a length.
    String {
        /// Longest allowed, in characters.
        max_length: usize,
    },
    /// `true` or `false`.
    Boolean,
    /// One of a fixed set.
    Enum(Vec<String>),
}

/// A field of a resource (or a parameter), as conditions, messages and bindings name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `identifier`
    Identifier,
    /// `arn`
    Arn,
    /// `name`
    Name,
    /// `region`
    Region,
    /// `account`
    Account,
    /// `type`
    Type,
    /// `state`
    State,
    /// `tags.KEY` (the key's case as written)
    Tag(String),
    /// `metadata.KEY[.KEY...]`
    Metadata(Vec<String>),
    /// `constraints.can_stop` and the other constraint flags
    Constraint(String),
    /// `params.NAME`: a parameter's value
    Param(String),
}

/// The constraint flags a field may name.
pub const CONSTRAINTS: [&str; 5] = [
    "can_stop",
    "can_start",
    "can_delete",
    "has_backups",
    "has_dependencies",
];

impl Field {
    /// Parses a field path. Parameter names are checked by the caller.
    pub fn parse(path: &str) -> Result<Field, String> {
        let (root, rest) = match path.split_once('.') {
            Some((root, rest)) => (root, Some(rest)),
            None => (path, None),
        };
        let simple = |f: Field| match rest {
            None => Ok(f),
            Some(_) => Err(format!("`{root}` has no parts: write `{root}`")),
        };
        let part = |what: &str| match rest {
            Some(rest) if !rest.is_empty() && !rest.split('.').any(str::is_empty) => {
                Ok(rest.to_owned())
            }
            _ => Err(format!("`{root}` needs a {what}: `{root}.NAME`")),
        };
        match root {
            "identifier" => simple(Field::Identifier),
            "arn" => simple(Field::Arn),
            "name" => simple(Field::Name),
            "region" => simple(Field::Region),
            "account" => simple(Field::Account),
            "type" => simple(Field::Type),
            "state" => simple(Field::State),
            "tags" => part("tag key").map(Field::Tag),
            "metadata" => part("metadata key")
                .map(|p| Field::Metadata(p.split('.').map(String::from).collect())),
            "constraints" => {
                let flag = part("constraint")?;
                if CONSTRAINTS.contains(&flag.as_str()) {
                    Ok(Field::Constraint(flag))
                } else {
                    Err(format!(
                        "unknown constraint `{flag}`: one of {}",
                        CONSTRAINTS.join(", ")
                    ))
                }
            }
            "params" => part("parameter name").map(Field::Param),
            _ => Err(format!(
                "unknown field `{path}`: identifier, arn, name, region, account, type, state, \
                 tags.KEY, metadata.KEY, constraints.FLAG or params.NAME"
            )),
        }
    }

    /// The field's value on `resource`, with parameter values from `params`. A missing tag,
    /// metadata key or state is `None`.
    pub fn value(
        &self,
        resource: &ResourceContext,
        params: &BTreeMap<String, Value>,
    ) -> Option<Value> {
        let text = |s: &str| Some(Value::String(s.to_owned()));
        match self {
            Field::Identifier => text(&resource.identifier),
            Field::Arn => text(&resource.arn),
            Field::Name => text(&resource.name),
            Field::Region => text(&resource.region),
            Field::Account => text(&resource.account_id),
            Field::Type => text(&resource.resource_type),
            Field::State => resource.state.as_deref().and_then(text),
            Field::Tag(key) => resource
                .tags
                .iter()
                .find(|t| t.key.eq_ignore_ascii_case(key))
                .and_then(|t| text(&t.value)),
            Field::Metadata(path) => {
                let mut value = resource.metadata.get(&path[0])?;
                for key in &path[1..] {
                    value = value.get(key)?;
                }
                Some(value.clone())
            }
            Field::Constraint(flag) => {
                let c = resource.constraints.as_ref()?;
                let v = match flag.as_str() {
                    "can_stop" => c.can_stop,
                    "can_start" => c.can_start,
                    "can_delete" => c.can_delete,
                    "has_backups" => c.has_backups,
                    _ => c.has_dependencies,
                };
                Some(Value::Bool(v))
            }
            Field::Param(name) => params.get(name).cloned(),
        }
    }
}

/// A condition over a target and the plan's parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The field's value compared.
    Test {
        /// The field.
        field: Field,
        /// The test.
        op: Op,
    },
    /// Every condition holds.
    All(Vec<Condition>),
    /// At least one holds.
    Any(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
}

/// A test on one value. Text compares without regard to case; numbers and booleans compare
/// by their text (`true`, `3`), so YAML authors write them as they read.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Equals one of these.
    In(Vec<String>),
    /// Equals none of these (a missing value is in none).
    NotIn(Vec<String>),
    /// Is present (`true`) or missing (`false`).
    Present(bool),
    /// Is missing, `""`, `[]`, `{}` or `null` (`true`), or none of these (`false`).
    Empty(bool),
    /// A number above this.
    Above(f64),
    /// A number below this.
    Below(f64),
}

impl Condition {
    /// Whether the condition holds for `resource` with these parameter values.
    pub fn holds(&self, resource: &ResourceContext, params: &BTreeMap<String, Value>) -> bool {
        match self {
            Condition::All(all) => all.iter().all(|c| c.holds(resource, params)),
            Condition::Any(any) => any.iter().any(|c| c.holds(resource, params)),
            Condition::Not(c) => !c.holds(resource, params),
            Condition::Test { field, op } => op.test(field.value(resource, params).as_ref()),
        }
    }
}

impl Op {
    fn test(&self, value: Option<&Value>) -> bool {
        let matches = |list: &[String]| {
            value
                .map(scalar_text)
                .is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(&v)))
        };
        match self {
            Op::In(list) => matches(list),
            Op::NotIn(list) => !matches(list),
            Op::Present(want) => value.is_some_and(|v| !v.is_null()) == *want,
            Op::Empty(want) => is_empty(value) == *want,
            Op::Above(bound) => number(value).is_some_and(|n| n > *bound),
            Op::Below(bound) => number(value).is_some_and(|n| n < *bound),
        }
    }
}

fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A value as text: strings as they are, everything else as JSON.
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A precondition: when it fails for a target, that target's steps are blocked.
#[derive(Debug, Clone, PartialEq)]
pub struct Precondition {
    /// What must hold.
    pub require: Condition,
    /// Why, for people, with `{field}` references.
    pub message: Template,
}

/// The playbook's risk: a base level and rules that raise it.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskSpec {
    /// The level with no rule matching.
    pub level: RiskLevel,
    /// Why the base level, for people.
    pub reasons: Vec<Template>,
    /// Rules that raise the level for some targets.
    pub raise: Vec<RiskRule>,
}

/// Raises the risk when a target matches.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskRule {
    /// When it applies.
    pub when: Condition,
    /// The level it raises to.
    pub to: RiskLevel,
    /// Why, with `{field}` references.
    pub reason: Template,
}

/// One step of a playbook, applied to each target.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    /// Unique within the playbook.
    pub id: String,
    /// The operation in IAM form (`rds:StopDBInstance`).
    pub action: String,
    /// The operation's parameters; strings may hold `{field}` references.
    pub params: serde_json::Map<String, Value>,
    /// What to wait for afterwards.
    pub wait: Option<crate::plan::Wait>,
    /// Steps of this playbook that must finish first.
    pub depends_on: Vec<String>,
    /// The IAM actions the step needs, when they are not just `action`: S3's
    /// `PutPublicAccessBlock` is authorized by `s3:PutBucketPublicAccessBlock`, and a delete
    /// with a final snapshot needs the snapshot's action too. Empty means `[action]`.
    pub iam: Vec<String>,
    /// An AWS CLI line to show instead of the derived one, with `{field}` references.
    pub cli: Option<Template>,
    /// How the step runs (`aws` unless the playbook says `kind:`).
    pub kind: crate::plan::StepKind,
    /// `exec`: the program and its arguments; `script`: the script's arguments. Templates.
    pub argv: Vec<Template>,
    /// `script`: the file, relative to the library root, and its SHA-256 (filled in by
    /// [`crate::library::Library`], which holds the file's bytes; empty from a lone check).
    pub script: Option<crate::plan::ScriptRef>,
}

impl StepSpec {
    /// The IAM actions the step needs: `iam` when given (it lists them all), else `action`.
    pub fn iam_actions(&self) -> impl Iterator<Item = &String> {
        let own = self.iam.is_empty().then_some(&self.action);
        own.into_iter().chain(&self.iam)
    }
}

/// Text with `{field}` references, checked when the playbook is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field(Field),
}

impl Template {
    /// Parses `text`; `{` `}` enclose a field path, `{{` and `}}` are literal braces.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let path: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    let field = Field::parse(path.trim())?;
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(field));
                }
                '}' => return Err("a lone `}`: write `}}` for a brace".into()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// The fields it references.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field(f) => Some(f),
            Piece::Text(_) => None,
        })
    }

    /// When the template is exactly one reference (`{params.memory_mb}`), that field: its
    /// value keeps its JSON type in step parameters.
    pub fn single_field(&self) -> Option<&Field> {
        match self.pieces.as_slice() {
            [Piece::Field(f)] => Some(f),
            _ => None,
        }
    }

    /// The text with every reference replaced by its value (`?` when missing).
    pub fn render(&self, resource: &ResourceContext, params: &BTreeMap<String, Value>) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Field(f) => f
                    .value(resource, params)
                    .map_or_else(|| "?".to_owned(), |v| scalar_text(&v)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_core::resource::Tag;

    fn db() -> ResourceContext {
        ResourceContext {
            resource_type: "rds_instance".into(),
            identifier: "pg-main1".into(),
            arn: "arn:aws:rds:us-west-2:111111111111:db:pg-main1".into(),
            name: "pg-main1".into(),
            account_id: "111111111111".into(),
            region: "us-west-2".into(),
            state: Some("available".into()),
            tags: vec![Tag {
                key: "env".into(),
                value: "Prod".into(),
            }],
            metadata:
                serde_json::json!({"multi_az": true, "read_replicas": [], "storage": {"gib": 100}})
                    .as_object()
                    .unwrap()
                    .clone(),
            constraints: None,
            permissions: None,
        }
    }

    fn test(field: &str, op: Op) -> bool {
        Condition::Test {
            field: Field::parse(field).unwrap(),
            op,
        }
        .holds(&db(), &BTreeMap::new())
    }

    #[test]
    fn conditions_read_fields_tags_and_metadata() {
        assert!(test("state", Op::In(vec!["AVAILABLE".into()])));
        assert!(
            test("tags.env", Op::In(vec!["prod".into()])),
            "case never matters"
        );
        assert!(test("metadata.multi_az", Op::In(vec!["true".into()])));
        assert!(test("metadata.read_replicas", Op::Empty(true)));
        assert!(test("metadata.storage.gib", Op::Above(99.0)));
        assert!(test("tags.owner", Op::Present(false)));
        assert!(test("tags.owner", Op::NotIn(vec!["x".into()])));
        assert!(!test("tags.owner", Op::In(vec!["x".into()])));
        assert!(
            !test("constraints.can_stop", Op::In(vec!["true".into()])),
            "unsynced is not true"
        );
    }

    #[test]
    fn field_paths_are_checked() {
        assert!(Field::parse("tags").is_err());
        assert!(Field::parse("state.x").is_err());
        assert!(Field::parse("constraints.can_fly").is_err());
        assert!(Field::parse("colour").is_err());
        assert_eq!(Field::parse("params.x"), Ok(Field::Param("x".into())));
    }

    #[test]
    fn templates_render_and_keep_literal_braces() {
        let t = Template::parse("{name} in {region} ({tags.env}, {{x}}) {tags.none}").unwrap();
        assert_eq!(
            t.render(&db(), &BTreeMap::new()),
            "pg-main1 in us-west-2 (Prod, {x}) ?"
        );
        assert!(Template::parse("{nope}").is_err());
        assert!(Template::parse("a } b").is_err());
        assert_eq!(
            Template::parse("{params.m}").unwrap().single_field(),
            Some(&Field::Param("m".into()))
        );
    }
}
