//! The playbook file as written: YAML read with the position of every value, so that each
//! error [`crate::check`] finds names its line and column. `playbooks/SCHEMA.md` documents
//! every field; [`crate::model`] holds the checked form the planner uses.

use marked_yaml::Spanned;
use serde::Deserialize;

/// A playbook file, before its checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlaybook {
    pub id: Spanned<String>,
    pub version: Spanned<String>,
    pub title: Spanned<String>,
    pub description: Spanned<String>,
    pub utterances: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub keywords: Vec<Spanned<String>>,
    pub service: Spanned<String>,
    pub operation: Spanned<String>,
    pub applies_to: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub max_targets: Option<Spanned<u32>>,
    #[serde(default)]
    pub parameters: Vec<RawParameter>,
    #[serde(default)]
    pub preconditions: Vec<RawPrecondition>,
    pub risk: RawRisk,
    pub steps: Spanned<Vec<RawStep>>,
    #[serde(default)]
    pub inverse: Option<Spanned<String>>,
    #[serde(default)]
    pub component: Option<Spanned<String>>,
}

/// A parameter: bound to a resource field (`from`) or a value the user gives (`type`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawParameter {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    #[serde(default, rename = "type")]
    pub kind: Option<Spanned<String>>,
    #[serde(default)]
    pub min: Option<Spanned<i64>>,
    #[serde(default)]
    pub max: Option<Spanned<i64>>,
    #[serde(default)]
    pub values: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub max_length: Option<Spanned<u32>>,
    #[serde(default)]
    pub unit: Option<Spanned<String>>,
    #[serde(default)]
    pub words: Vec<Spanned<String>>,
    #[serde(default)]
    pub default: Option<Spanned<String>>,
}

/// A condition: `{field, <one operator>}` or `{all|any: [...]}` or `{not: ...}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    #[serde(default)]
    pub field: Option<Spanned<String>>,
    #[serde(default, rename = "in")]
    pub is_in: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub not_in: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub equals: Option<Spanned<String>>,
    #[serde(default)]
    pub not_equals: Option<Spanned<String>>,
    #[serde(default)]
    pub present: Option<Spanned<bool>>,
    #[serde(default)]
    pub empty: Option<Spanned<bool>>,
    #[serde(default)]
    pub above: Option<Spanned<f64>>,
    #[serde(default)]
    pub below: Option<Spanned<f64>>,
    #[serde(default)]
    pub all: Option<Spanned<Vec<RawCondition>>>,
    #[serde(default)]
    pub any: Option<Spanned<Vec<RawCondition>>>,
    #[serde(default)]
    pub not: Option<Box<Spanned<RawCondition>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrecondition {
    pub require: Spanned<RawCondition>,
    pub message: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRisk {
    pub level: Spanned<String>,
    #[serde(default)]
    pub reasons: Vec<Spanned<String>>,
    #[serde(default)]
    pub raise: Vec<RawRiskRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRiskRule {
    pub when: Spanned<RawCondition>,
    pub to: Spanned<String>,
    pub reason: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub id: Spanned<String>,
    pub action: Spanned<String>,
    /// Read from the document's node tree by [`crate::check`], which keeps YAML's types
    /// (an unquoted `30` is a number, `"30"` a string); serde's view here only marks it present.
    #[serde(default)]
    #[allow(dead_code)]
    pub params: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub wait: Option<RawWait>,
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    #[serde(default)]
    pub iam: Vec<Spanned<String>>,
    #[serde(default)]
    pub cli: Option<Spanned<String>>,
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    #[serde(default)]
    pub argv: Vec<Spanned<String>>,
    #[serde(default)]
    pub script: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWait {
    pub until: Spanned<String>,
    pub timeout_s: Spanned<u32>,
}
