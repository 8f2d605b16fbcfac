//! The one place that decides what a plugin's `aws.send` may do.
//!
//! A plugin's request is not taken at its word. [`classify`](classify::classify) reads it
//! the way the AWS service will (its protocol, and for REST services the routes in AWS's
//! own API models, `model`), refuses anything that reading leaves open, and rebuilds the
//! request from what it understood. The [`Grant`] then allows or refuses that *operation*:
//! deny by default, reads only, sensitive reads only by exact name (`sensitive`).
//! The runtime adds what needs the scan's context: the account's own S3 buckets and ARNs.
//!
//! Why classify rather than have plugins name operations and parameters for the host to
//! serialize: plugins built against WIT 0.1 and 0.2 send raw requests and must keep
//! working, and classifying strictly (then re-serializing what was parsed) gives them the
//! same guarantee: the operation checked is the operation executed.

mod classify;
mod model;
pub mod sensitive;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::aws::AwsRequest;

use super::manifest::CapabilitySpec;
pub use classify::Classified;
pub use classify::RequestCaps;
use model::Model;

/// One AWS operation: the service's endpoint name and the operation's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Operation {
    /// The service, as plugins name it (`ec2`, `s3`, `elasticloadbalancing`).
    pub service: String,
    /// The operation, as AWS's model and IAM spell it (`DescribeInstances`).
    pub name: &'static str,
}

impl Operation {
    fn new(service: &str, name: &'static str) -> Self {
        Self {
            service: service.to_owned(),
            name,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.service, self.name)
    }
}

/// Why a request was refused. The text goes back to the plugin and into the log; every
/// plugin-supplied part of it is quoted and cut short by [`shown`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The service is not declared in the manifest.
    #[error("service `{service}` is not in capabilities.services of plugin.toml")]
    UndeclaredService {
        /// The service it tried.
        service: String,
    },
    /// A service no plugin may call.
    #[error("no plugin may call `{service}`: it {why}")]
    NeverService {
        /// The service.
        service: String,
        /// Why.
        why: &'static str,
    },
    /// The gate's table does not know the service.
    #[error("cloudops does not know service {service} (its API table is from {table})")]
    UnknownService {
        /// The service name, quoted.
        service: String,
        /// The table's source release.
        table: &'static str,
    },
    /// The operation is not one of the service's.
    #[error("`{service}` has no operation {operation}")]
    UnknownOperation {
        /// The service.
        service: String,
        /// The name the request gave, quoted.
        operation: String,
    },
    /// A query-protocol `Version` no API at that endpoint has.
    #[error("`{service}` has no API version {version} (it serves {known:?})")]
    UnknownVersion {
        /// The service.
        service: String,
        /// The version given, quoted.
        version: String,
        /// The versions it serves.
        known: Vec<&'static str>,
    },
    /// A REST request that matches no operation.
    #[error("no `{service}` operation is routed from {route}")]
    NoRoute {
        /// The service.
        service: String,
        /// Method, path and query keys, quoted.
        route: String,
    },
    /// A REST request that more than one operation could answer.
    #[error("{route} could be any of `{service}` {operations:?}: send an unambiguous request")]
    Ambiguous {
        /// The service.
        service: String,
        /// Method, path and query keys, quoted.
        route: String,
        /// The candidates.
        operations: Vec<String>,
    },
    /// A query parameter the operation does not define (it could re-route the request).
    #[error("`{operation}` takes no query parameter {parameter}")]
    UnexpectedParameter {
        /// The operation.
        operation: String,
        /// The parameter, quoted.
        parameter: String,
    },
    /// A header only the host may set.
    #[error(
        "header {name} is the host's to set (plugins may set only `accept`, `content-type` \
         and, for JSON-protocol services, `x-amz-target`)"
    )]
    Header {
        /// The header name, quoted.
        name: String,
    },
    /// The request cannot be read unambiguously.
    #[error("malformed request: {why}")]
    Malformed {
        /// What is wrong.
        why: String,
    },
    /// The operation is not granted.
    #[error("`{operation}` is not granted{hint}")]
    NotGranted {
        /// The operation.
        operation: String,
        /// What the manifest would need, or why it can never be granted.
        hint: String,
    },
    /// The request leaves the scanned account.
    #[error("the request names {what}, which is not the scanned account's")]
    OtherAccount {
        /// The bucket or ARN, quoted.
        what: String,
    },
    /// The per-scan request budget is spent.
    #[error(
        "the limit of {limit} requests per scan is reached (refused and retried requests count)"
    )]
    BudgetSpent {
        /// The limit.
        limit: u32,
    },
}

/// A plugin-supplied string as it may appear in a message: quoted with escapes (so no
/// control character reaches a terminal) and cut to 80 characters.
pub(crate) fn shown(s: &str) -> String {
    let cut: String = s.chars().take(80).collect();
    let more = if cut.len() < s.len() { "…" } else { "" };
    format!("{:?}{more}", cut)
}

/// A manifest whose capabilities cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capabilities in plugin.toml: {0}")]
pub struct GrantError(String);

/// What a plugin may call: a set of operations, compiled from its manifest against AWS's
/// API models.
#[derive(Debug, Clone)]
pub struct Grant {
    services: BTreeSet<String>,
    operations: BTreeMap<Operation, Option<&'static str>>,
    caps: RequestCaps,
}

impl Grant {
    /// Compiles `spec`. Without `actions`, a plugin gets every `Describe*` and `List*`
    /// operation of its services that is not sensitive. A pattern (`s3:GetBucket*`) grants
    /// the reads it matches except sensitive ones; a sensitive read is granted only by its
    /// exact name; a write, or a service that hands out credentials, is never granted.
    pub fn new(spec: &CapabilitySpec, caps: RequestCaps) -> Result<Self, GrantError> {
        let model = Model::get();
        let mut operations = BTreeMap::new();
        for service in &spec.services {
            if let Some(why) = sensitive::never_service(service) {
                return Err(GrantError(format!(
                    "no plugin may call `{service}`: it {why}"
                )));
            }
            if model.apis(service).is_none() {
                return Err(GrantError(format!(
                    "cloudops does not know the service `{service}` (its API table is from {}); \
                     use the endpoint name AWS gives the service, as in `ec2`, `s3`, `elasticloadbalancing`",
                    model.source
                )));
            }
        }
        let grant = |service: &str, name: &'static str, ops: &mut BTreeMap<_, _>| {
            let reason = sensitive::sensitive_reason(service, name);
            ops.insert(Operation::new(service, name), reason);
        };
        match &spec.actions {
            None => {
                for service in &spec.services {
                    for name in model.operation_names(service) {
                        if sensitive::is_default_read(name)
                            && sensitive::sensitive_reason(service, name).is_none()
                        {
                            grant(service, name, &mut operations);
                        }
                    }
                }
            }
            Some(actions) => {
                for action in actions {
                    let (service, pattern) = action.split_once(':').ok_or_else(|| {
                        GrantError(format!("`{action}` must be `service:Operation`"))
                    })?;
                    if !spec.services.iter().any(|s| s == service) {
                        return Err(GrantError(format!(
                            "`{action}` names `{service}`, which capabilities.services does not list"
                        )));
                    }
                    let names = model.operation_names(service);
                    if !pattern.contains('*') {
                        let name = names
                            .iter()
                            .find(|n| n.eq_ignore_ascii_case(pattern))
                            .ok_or_else(|| {
                                GrantError(format!("`{service}` has no operation `{pattern}`"))
                            })?;
                        if !sensitive::is_read(name) {
                            return Err(GrantError(format!(
                                "`{service}:{name}` is not a read: scanners only read, and writes \
                                 happen only inside a plan the user approved"
                            )));
                        }
                        grant(service, name, &mut operations);
                        continue;
                    }
                    let pattern = pattern.to_ascii_lowercase();
                    let mut matched = 0;
                    for name in names {
                        if glob_match(&pattern, &name.to_ascii_lowercase())
                            && sensitive::is_read(name)
                            && sensitive::sensitive_reason(service, name).is_none()
                        {
                            grant(service, name, &mut operations);
                            matched += 1;
                        }
                    }
                    if matched == 0 {
                        return Err(GrantError(format!(
                            "`{action}` matches no read operation that a pattern may grant \
                             (sensitive reads must be named exactly)"
                        )));
                    }
                }
            }
        }
        Ok(Self {
            services: spec.services.iter().cloned().collect(),
            operations,
            caps,
        })
    }

    /// Classifies `request` and checks its operation against the grant.
    pub fn check(&self, request: &AwsRequest) -> Result<Classified, Refusal> {
        if let Some(why) = sensitive::never_service(&request.service) {
            return Err(Refusal::NeverService {
                service: request.service.clone(),
                why,
            });
        }
        if !self.services.contains(&request.service) {
            return Err(Refusal::UndeclaredService {
                service: shown(&request.service),
            });
        }
        let classified = classify::classify(request, self.caps)?;
        if self.operations.contains_key(&classified.operation) {
            return Ok(classified);
        }
        let op = &classified.operation;
        let hint = if !sensitive::is_read(op.name) {
            ": it is not a read, and scanners only read (writes happen only inside a plan \
             the user approved)"
                .to_owned()
        } else if let Some(why) = sensitive::sensitive_reason(&op.service, op.name) {
            format!(": it is sensitive ({why}) and must be named exactly in capabilities.actions")
        } else {
            format!(": add \"{op}\" to capabilities.actions in plugin.toml")
        };
        Err(Refusal::NotGranted {
            operation: op.to_string(),
            hint,
        })
    }

    /// Every granted operation with, for sensitive ones, why they are sensitive.
    pub fn operations(&self) -> impl Iterator<Item = (&Operation, Option<&'static str>)> {
        self.operations.iter().map(|(op, why)| (op, *why))
    }
}

/// The first ARN in the request that names an account other than `account` (S3-style ARNs
/// name none and pass). A scanner reads its own account; a request naming another one's
/// resource would read, or leak to, something the user did not point it at.
pub fn foreign_arn(request: &AwsRequest, account: &str) -> Option<String> {
    let body = String::from_utf8_lossy(&request.body);
    let texts = std::iter::once(request.path.as_str())
        .chain(request.query.iter().map(|(_, v)| v.as_str()))
        .chain(std::iter::once(body.as_ref()));
    for text in texts {
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        for (i, _) in decoded.match_indices("arn:") {
            let mut parts = decoded[i..].splitn(6, ':');
            let owner = parts.nth(4).unwrap_or("");
            let digits: String = owner.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && digits != account {
                return Some(shown(&decoded[i..(i + 80).min(decoded.len())]));
            }
        }
    }
    None
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
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
mod tests;
