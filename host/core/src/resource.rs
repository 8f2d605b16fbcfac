//! The host's model of what scanners find. Plugins speak WIT records; everything past
//! the plugin boundary (storage, search, output) uses these types.

use serde::{Deserialize, Serialize};

/// One AWS resource in the user's estate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// `ec2_instance`, `rds_instance`, ...
    pub resource_type: String,
    /// The identifier used in AWS API calls.
    pub identifier: String,
    /// The full ARN.
    pub arn: String,
    /// The `Name` tag or the identifier.
    pub name: String,
    /// The 12-digit account id (set by the host from the scan, not by the plugin).
    pub account_id: String,
    /// The region, or `global`.
    pub region: String,
    /// The lifecycle state, if the resource has one.
    pub state: Option<String>,
    /// Tags in AWS's order.
    pub tags: Vec<Tag>,
    /// Links to other resources.
    pub relations: Vec<Relation>,
    /// Service-specific details (always a JSON object).
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Resource {
    /// The value of tag `key`, if present.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

/// An AWS tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// A link to another resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// What the link means (`subnet`, `volume`, ...).
    pub kind: String,
    /// The other resource's ARN.
    pub target_arn: String,
}

/// What a resource's state allows, as judged by its scanner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraints {
    /// The resource can be stopped in its current state.
    pub can_stop: bool,
    /// The resource can be started in its current state.
    pub can_start: bool,
    /// The resource can be deleted in its current state.
    pub can_delete: bool,
    /// Backups (snapshots, retention) exist.
    pub has_backups: bool,
    /// Other resources depend on this one.
    pub has_dependencies: bool,
    /// Explanations for people.
    pub notes: Vec<String>,
}

/// A resource type a plugin emits and the IAM actions that matter for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceTypeInfo {
    /// The type name.
    pub name: String,
    /// IAM actions to check per resource (`ec2:StopInstances`).
    pub actions: Vec<String>,
}

/// What a loaded plugin reported about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// AWS services it scans.
    pub services: Vec<String>,
    /// Resource types it emits.
    pub resource_types: Vec<ResourceTypeInfo>,
}

impl Constraints {
    /// These state-based constraints narrowed by what the principal may do: a resource can
    /// be stopped only if its state allows it *and* a `Stop*` action for it is allowed;
    /// likewise `Start*`, and `Delete*`/`Terminate*` for deletion. `actions` are the IAM
    /// actions its plugin declares for its type.
    pub fn restricted_by(mut self, actions: &[String], permissions: &Permissions) -> Self {
        let verb = |action: &str| {
            action
                .rsplit(':')
                .next()
                .unwrap_or(action)
                .to_ascii_lowercase()
        };
        let mut check = |allowed_by_state: &mut bool, what: &str, prefixes: &[&str]| {
            let relevant: Vec<&String> = actions
                .iter()
                .filter(|a| prefixes.iter().any(|p| verb(a).starts_with(p)))
                .collect();
            if !*allowed_by_state || relevant.is_empty() {
                return;
            }
            if !relevant.iter().any(|a| permissions.allows(a)) {
                *allowed_by_state = false;
                let why: Vec<String> = relevant
                    .iter()
                    .map(|a| {
                        match permissions
                            .denied
                            .iter()
                            .find(|d| d.action.eq_ignore_ascii_case(a))
                        {
                            Some(d) if d.explicit => format!("{a} is explicitly denied"),
                            Some(_) => format!("{a} is not allowed"),
                            None => format!("{a} could not be checked"),
                        }
                    })
                    .collect();
                self.notes
                    .push(format!("you may not {what} it: {}", why.join(", ")));
            }
        };
        check(&mut self.can_stop, "stop", &["stop"]);
        check(&mut self.can_start, "start", &["start"]);
        check(&mut self.can_delete, "delete", &["delete", "terminate"]);
        self
    }
}

/// What a principal may do to one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// Allowed actions (`ec2:StopInstances`).
    pub allowed: Vec<String>,
    /// Denied actions, and whether a policy denies them explicitly.
    pub denied: Vec<Denial>,
}

/// One denied action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    /// The action.
    pub action: String,
    /// True when a `Deny` statement matched; false when nothing allowed it.
    pub explicit: bool,
}

impl Permissions {
    /// True when `action` is allowed.
    pub fn allows(&self, action: &str) -> bool {
        self.allowed.iter().any(|a| a.eq_ignore_ascii_case(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::{Denial, Permissions};

    #[test]
    fn iam_narrows_what_the_state_allows() {
        let state = Constraints {
            can_stop: true,
            can_start: false,
            can_delete: true,
            ..Constraints::default()
        };
        let actions: Vec<String> = [
            "ec2:StopInstances",
            "ec2:StartInstances",
            "ec2:TerminateInstances",
        ]
        .map(String::from)
        .into();
        let permissions = Permissions {
            allowed: vec!["ec2:StopInstances".into(), "ec2:StartInstances".into()],
            denied: vec![Denial {
                action: "ec2:TerminateInstances".into(),
                explicit: true,
            }],
        };
        let c = state.restricted_by(&actions, &permissions);
        assert!(c.can_stop, "state and IAM both allow stopping");
        assert!(!c.can_start, "IAM never widens what the state allows");
        assert!(!c.can_delete);
        assert_eq!(
            c.notes,
            ["you may not delete it: ec2:TerminateInstances is explicitly denied"]
        );
    }
}
