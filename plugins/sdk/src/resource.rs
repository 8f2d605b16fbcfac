use crate::{Relation, ResourceTypeInfo, ScanContext, Tag};

/// Builds an ARN: `arn:{partition}:{service}:{region}:{account}:{resource}`.
///
/// Pass an empty `region` or `account` where the resource's ARN has none (IAM roles have no
/// region; EBS snapshots have no account).
///
/// ```
/// use cloudops_scanner_sdk::arn;
/// assert_eq!(
///     arn("aws", "ec2", "eu-west-1", "123456789012", "instance/i-0abc"),
///     "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"
/// );
/// assert_eq!(arn("aws", "ec2", "eu-west-1", "", "snapshot/snap-1"), "arn:aws:ec2:eu-west-1::snapshot/snap-1");
/// ```
pub fn arn(partition: &str, service: &str, region: &str, account: &str, resource: &str) -> String {
    format!("arn:{partition}:{service}:{region}:{account}:{resource}")
}

/// A tag.
pub fn tag(key: impl Into<String>, value: impl Into<String>) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

/// The value of the `Name` tag if it has visible text, else `fallback` (the identifier).
///
/// Matches the key exactly (AWS tag keys are case-sensitive) after trimming it.
pub fn name_from_tags(tags: &[Tag], fallback: &str) -> String {
    tags.iter()
        .find(|t| t.key.trim() == "Name")
        .map(|t| t.value.trim())
        .filter(|v| !v.is_empty())
        .unwrap_or(fallback)
        .to_owned()
}

/// Tags as AWS returned them, keys trimmed, order kept, values untouched.
///
/// Tags whose key is empty after trimming are dropped: AWS never returns them, and they
/// cannot be searched for or acted on.
pub fn normalize_tags(tags: impl IntoIterator<Item = Tag>) -> Vec<Tag> {
    tags.into_iter()
        .filter_map(|t| {
            let key = t.key.trim();
            if key.is_empty() {
                None
            } else if key.len() == t.key.len() {
                Some(t)
            } else {
                Some(Tag {
                    key: key.to_owned(),
                    value: t.value,
                })
            }
        })
        .collect()
}

/// The value of the plugin setting `key` from the user's configuration, if set.
pub fn setting<'a>(ctx: &'a ScanContext, key: &str) -> Option<&'a str> {
    ctx.settings
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A relation of `kind` (`vpc`, `subnet`, `snapshot_of`, ...) to the resource `target_arn`.
///
/// Build the target's ARN exactly as the scanner of that resource does, so the host can
/// link the two: [`Scope::ec2`] for EC2 and VPC resources.
///
/// ```
/// use cloudops_scanner_sdk::relation;
/// let r = relation("vpc", "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1");
/// assert_eq!((r.kind.as_str(), r.target_arn.as_str()), ("vpc", "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1"));
/// ```
pub fn relation(kind: impl Into<String>, target_arn: impl Into<String>) -> Relation {
    Relation {
        kind: kind.into(),
        target_arn: target_arn.into(),
    }
}

/// A resource type for [`crate::PluginInfo::resource_types`], with the IAM actions that
/// matter for it.
///
/// ```
/// use cloudops_scanner_sdk::resource_type;
/// let t = resource_type("ec2_volume", &["ec2:DeleteVolume", "ec2:CreateSnapshot"]);
/// assert_eq!(t.name, "ec2_volume");
/// assert_eq!(t.actions, ["ec2:DeleteVolume", "ec2:CreateSnapshot"]);
/// ```
pub fn resource_type(name: &str, actions: &[&str]) -> ResourceTypeInfo {
    ResourceTypeInfo {
        name: name.to_owned(),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
    }
}

/// The text, trimmed, if it has any: AWS writes empty elements (`<snapshotId/>`) and
/// blank strings for "none".
///
/// ```
/// use cloudops_scanner_sdk::present;
/// assert_eq!(present(Some(" vol-1 ".into())).as_deref(), Some("vol-1"));
/// assert_eq!(present(Some("  ".into())), None);
/// assert_eq!(present(None), None);
/// ```
pub fn present(text: Option<String>) -> Option<String> {
    text.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Where a scan's resources live: everything an ARN needs, borrowed from the
/// [`ScanContext`] (or written out in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    /// The partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: &'a str,
    /// The scanned region.
    pub region: &'a str,
    /// The scanned account.
    pub account: &'a str,
}

impl<'a> Scope<'a> {
    /// The scope of a scan.
    pub fn of(ctx: &'a ScanContext) -> Self {
        Scope {
            partition: &ctx.partition,
            region: &ctx.region,
            account: &ctx.account_id,
        }
    }

    /// The ARN of `resource` of `service` in this region and account.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        arn(self.partition, service, self.region, self.account, resource)
    }

    /// The ARN of an EC2 resource named by id: `kind` as in the ARN (`instance`, `vpc`,
    /// `subnet`, `security-group`, `volume`), as the ec2 and vpc scanners build them.
    ///
    /// ```
    /// use cloudops_scanner_sdk::Scope;
    /// let scope = Scope { partition: "aws", region: "eu-west-1", account: "123456789012" };
    /// assert_eq!(scope.ec2("subnet", "subnet-1"), "arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-1");
    /// ```
    pub fn ec2(&self, kind: &str, id: &str) -> String {
        self.arn("ec2", &format!("{kind}/{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_have_six_parts() {
        assert_eq!(
            arn(
                "aws-cn",
                "ec2",
                "cn-north-1",
                "123456789012",
                "volume/vol-1"
            ),
            "arn:aws-cn:ec2:cn-north-1:123456789012:volume/vol-1"
        );
        assert_eq!(
            arn("aws", "iam", "", "123456789012", "role/x"),
            "arn:aws:iam::123456789012:role/x"
        );
    }

    #[test]
    fn name_comes_from_the_name_tag() {
        let tags = [tag("env", "prod"), tag(" Name ", "  web-1 ")];
        assert_eq!(name_from_tags(&tags, "i-1"), "web-1");
    }

    #[test]
    fn name_falls_back_when_the_tag_is_missing_blank_or_differently_cased() {
        assert_eq!(name_from_tags(&[], "i-1"), "i-1");
        assert_eq!(name_from_tags(&[tag("Name", "  ")], "i-1"), "i-1");
        assert_eq!(name_from_tags(&[tag("name", "web")], "i-1"), "i-1");
    }

    #[test]
    fn normalising_trims_keys_and_keeps_order() {
        let tags = normalize_tags([tag(" b", "1 "), tag("", "x"), tag("  ", "y"), tag("a", "")]);
        assert_eq!(tags, [tag("b", "1 "), tag("a", "")]);
    }

    #[test]
    fn settings_are_looked_up_by_key() {
        let ctx = ScanContext {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            settings: vec![("attack".into(), "loop".into())],
        };
        assert_eq!(setting(&ctx, "attack"), Some("loop"));
        assert_eq!(setting(&ctx, "other"), None);
        let scope = Scope::of(&ctx);
        assert_eq!(
            scope.arn("rds", "db:pg"),
            "arn:aws:rds:us-east-1:123456789012:db:pg"
        );
        assert_eq!(
            scope.ec2("vpc", "vpc-1"),
            "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"
        );
    }
}
