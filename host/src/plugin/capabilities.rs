//! The one place that decides what a plugin's `aws.send` may do.
//!
//! Deny by default: a request passes only if its service is declared in the plugin's
//! manifest and its action (query or JSON protocol) or method (REST) is allowed there.
//! Headers that could carry or forge authority are removed before anything else looks
//! at the request; the host adds its own signature later.

use std::collections::BTreeSet;

use crate::aws::AwsRequest;

use super::manifest::CapabilitySpec;

/// Headers a plugin may never set: the signature, the credential scope, the target host.
/// `x-amz-target` is the one `x-amz-*` header kept: it names the action of JSON-protocol
/// APIs and is checked like a query `Action`.
fn is_forbidden_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization"
        || name == "host"
        || name == "proxy-authorization"
        || name == "forwarded"
        || name.starts_with("x-forwarded-")
        || (name.starts_with("x-amz-") && name != "x-amz-target")
}

/// What a plugin is allowed to call, compiled from its manifest.
#[derive(Debug, Clone)]
pub struct Grant {
    plugin: String,
    services: BTreeSet<String>,
    /// `(service, pattern)` pairs; patterns compare case-insensitively, as IAM does.
    actions: Vec<(String, String)>,
    methods: BTreeSet<String>,
}

/// Why a request was refused. The text is shown to the plugin and logged, and says what
/// to change in `plugin.toml` when the plugin legitimately needs more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The service is not declared.
    #[error(
        "plugin `{plugin}` may not call service `{service}`: plugin.toml declares {declared:?} \
         in capabilities.services"
    )]
    UndeclaredService {
        /// Plugin name.
        plugin: String,
        /// The service it tried.
        service: String,
        /// What it declared.
        declared: Vec<String>,
    },
    /// The action is not allowed.
    #[error(
        "plugin `{plugin}` may not call `{service}:{action}`: it is not allowed by \
         capabilities.actions in plugin.toml (read-only by default)"
    )]
    ActionNotAllowed {
        /// Plugin name.
        plugin: String,
        /// The service.
        service: String,
        /// The action it tried.
        action: String,
    },
    /// The request names several different actions (a smuggling attempt or a bug).
    #[error("plugin `{plugin}` sent a request naming several actions ({actions:?}); send one action per request")]
    AmbiguousAction {
        /// Plugin name.
        plugin: String,
        /// The actions found.
        actions: Vec<String>,
    },
    /// A REST call with a method that is not allowed.
    #[error(
        "plugin `{plugin}` may not send `{method}` requests to `{service}`: capabilities.methods \
         in plugin.toml allows {allowed:?}"
    )]
    MethodNotAllowed {
        /// Plugin name.
        plugin: String,
        /// The service.
        service: String,
        /// The method it tried.
        method: String,
        /// What is allowed.
        allowed: Vec<String>,
    },
    /// The per-scan request budget is spent.
    #[error("plugin `{plugin}` reached its limit of {limit} requests per scan")]
    BudgetSpent {
        /// Plugin name.
        plugin: String,
        /// The limit.
        limit: u32,
    },
}

impl Grant {
    /// Compiles the manifest's capabilities for `plugin`. The manifest was validated when
    /// parsed, so this cannot fail.
    pub fn new(plugin: &str, spec: &CapabilitySpec) -> Self {
        let services: BTreeSet<String> = spec.services.iter().cloned().collect();
        let actions = match &spec.actions {
            Some(actions) => actions
                .iter()
                .filter_map(|a| a.split_once(':'))
                .map(|(s, p)| (s.to_owned(), p.to_ascii_lowercase()))
                .collect(),
            None => services
                .iter()
                .flat_map(|s| ["describe*", "list*", "get*"].map(|p| (s.clone(), p.to_owned())))
                .collect(),
        };
        let methods = match &spec.methods {
            Some(methods) => methods.iter().cloned().collect(),
            None => ["GET", "HEAD"].map(String::from).into(),
        };
        Self {
            plugin: plugin.to_owned(),
            services,
            actions,
            methods,
        }
    }

    /// Checks `request`, first removing forbidden headers from it. Returns the names of
    /// the removed headers so the caller can log them.
    pub fn check(&self, request: &mut AwsRequest) -> Result<Vec<String>, Refusal> {
        let mut dropped = Vec::new();
        request.headers.retain(|(name, _)| {
            let forbidden = is_forbidden_header(name);
            if forbidden {
                dropped.push(name.to_ascii_lowercase());
            }
            !forbidden
        });

        if !self.services.contains(&request.service) {
            return Err(Refusal::UndeclaredService {
                plugin: self.plugin.clone(),
                service: request.service.clone(),
                declared: self.services.iter().cloned().collect(),
            });
        }

        let actions = named_actions(request);
        match actions.as_slice() {
            [] => {
                // REST: the method is the only statement of intent we can check.
                let method = request.method.to_ascii_uppercase();
                if !self.methods.contains(&method) {
                    return Err(Refusal::MethodNotAllowed {
                        plugin: self.plugin.clone(),
                        service: request.service.clone(),
                        method,
                        allowed: self.methods.iter().cloned().collect(),
                    });
                }
            }
            [action] => {
                if !self.allows(&request.service, action) {
                    return Err(Refusal::ActionNotAllowed {
                        plugin: self.plugin.clone(),
                        service: request.service.clone(),
                        action: action.clone(),
                    });
                }
            }
            _ => {
                return Err(Refusal::AmbiguousAction {
                    plugin: self.plugin.clone(),
                    actions,
                })
            }
        }
        Ok(dropped)
    }

    fn allows(&self, service: &str, action: &str) -> bool {
        let action = action.to_ascii_lowercase();
        self.actions
            .iter()
            .any(|(s, pattern)| s == service && glob_match(pattern, &action))
    }

    /// The plugin this grant is for.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }
}

/// Every distinct action a request names: `Action=` in the query string or in a
/// form-encoded body, and the operation in `X-Amz-Target`. Looked for in the body
/// whatever the content type says, since a server may parse it anyway.
fn named_actions(request: &AwsRequest) -> Vec<String> {
    let mut found = BTreeSet::new();
    for (k, v) in &request.query {
        if k.eq_ignore_ascii_case("action") {
            found.insert(v.clone());
        }
    }
    if let Ok(body) = std::str::from_utf8(&request.body) {
        for (k, v) in form_pairs(body) {
            if k.eq_ignore_ascii_case("action") {
                found.insert(v);
            }
        }
    }
    for (k, v) in &request.headers {
        if k.eq_ignore_ascii_case("x-amz-target") {
            // `DynamoDB_20120810.ListTables` → `ListTables`
            found.insert(v.rsplit('.').next().unwrap_or(v).to_owned());
        }
    }
    found.into_iter().collect()
}

fn form_pairs(body: &str) -> impl Iterator<Item = (String, String)> + '_ {
    body.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        (decode(k), decode(v))
    })
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(actions: Option<&[&str]>, methods: Option<&[&str]>) -> Grant {
        Grant::new(
            "test",
            &CapabilitySpec {
                services: vec!["ec2".into(), "s3".into()],
                actions: actions.map(|a| a.iter().map(|s| s.to_string()).collect()),
                methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
            },
        )
    }

    fn query(service: &str, action: &str) -> AwsRequest {
        AwsRequest::query_protocol(service, action, "2016-11-15", &[])
    }

    #[test]
    fn read_only_actions_are_allowed_by_default() {
        let g = grant(None, None);
        assert!(g.check(&mut query("ec2", "DescribeInstances")).is_ok());
        assert!(g.check(&mut query("ec2", "GetConsoleOutput")).is_ok());
    }

    #[test]
    fn write_actions_are_refused_by_default() {
        let err = grant(None, None)
            .check(&mut query("ec2", "TerminateInstances"))
            .unwrap_err();
        assert!(
            matches!(err, Refusal::ActionNotAllowed { ref action, .. } if action == "TerminateInstances")
        );
        assert!(err.to_string().contains("capabilities.actions"), "{err}");
    }

    #[test]
    fn undeclared_service_is_refused() {
        let err = grant(None, None)
            .check(&mut query("iam", "ListUsers"))
            .unwrap_err();
        assert!(matches!(err, Refusal::UndeclaredService { .. }), "{err}");
    }

    #[test]
    fn declared_patterns_are_the_whole_grant() {
        let g = grant(Some(&["ec2:DescribeInstances", "ec2:Stop*"]), None);
        assert!(g.check(&mut query("ec2", "describeinstances")).is_ok());
        assert!(g.check(&mut query("ec2", "StopInstances")).is_ok());
        assert!(g.check(&mut query("ec2", "DescribeVolumes")).is_err());
    }

    #[test]
    fn an_action_smuggled_into_the_query_string_is_seen() {
        let mut r = query("ec2", "DescribeInstances");
        r.query.push(("Action".into(), "TerminateInstances".into()));
        assert!(matches!(
            grant(None, None).check(&mut r),
            Err(Refusal::AmbiguousAction { .. })
        ));
        let mut r = query("ec2", "DescribeInstances");
        r.body = b"Action=Terminate%49nstances&Version=1".to_vec();
        assert!(grant(None, None).check(&mut r).is_err());
    }

    #[test]
    fn json_protocol_targets_are_checked() {
        let mut r = query("ec2", "DescribeInstances");
        r.body = b"{}".to_vec();
        r.headers
            .push(("X-Amz-Target".into(), "Svc_2015.DeleteEverything".into()));
        assert!(grant(None, None).check(&mut r).is_err());
    }

    #[test]
    fn rest_calls_are_read_only_by_default() {
        let mut r = query("s3", "x");
        r.body.clear();
        r.method = "GET".into();
        assert!(grant(None, None).check(&mut r).is_ok());
        r.method = "DELETE".into();
        assert!(matches!(
            grant(None, None).check(&mut r),
            Err(Refusal::MethodNotAllowed { .. })
        ));
    }

    #[test]
    fn authority_headers_are_dropped_before_checking() {
        let mut r = query("ec2", "DescribeInstances");
        r.headers.extend([
            ("Authorization".into(), "AWS4-HMAC-SHA256 forged".into()),
            ("X-Amz-Security-Token".into(), "forged".into()),
            ("x-amz-date".into(), "20000101T000000Z".into()),
            ("Host".into(), "evil.example".into()),
        ]);
        let dropped = grant(None, None).check(&mut r).unwrap();
        assert_eq!(
            dropped,
            [
                "authorization",
                "x-amz-security-token",
                "x-amz-date",
                "host"
            ]
        );
        assert_eq!(
            r.headers.len(),
            1,
            "only content-type is left: {:?}",
            r.headers
        );
    }

    #[test]
    fn glob_matches_like_iam() {
        assert!(glob_match("describe*", "describeinstances"));
        assert!(glob_match("*instances", "describeinstances"));
        assert!(glob_match("de*be*es", "describeinstances"));
        assert!(!glob_match("describe*", "terminateinstances"));
        assert!(glob_match("list", "list"));
        assert!(!glob_match("list", "lists"));
    }
}
