//! The AWS CLI command equivalent to a step, so people can read (and run) what a plan does.

use serde_json::{Map, Value};

/// `aws rds stop-db-instance --db-instance-identifier pg-main1 --region us-west-2` for
/// `rds:StopDBInstance` with `{"DBInstanceIdentifier": "pg-main1"}` in `us-west-2`.
pub fn cli_line(action: &str, params: &Map<String, Value>, region: &str) -> String {
    let (service, operation) = action.split_once(':').unwrap_or((action, ""));
    let service = match service {
        "s3" => "s3api",
        "elasticloadbalancing" => "elbv2",
        other => other,
    };
    let mut words = vec!["aws".to_owned(), service.to_owned(), kebab(operation)];
    // Sorted by name, so the line is the same whatever order serde_json keeps maps in.
    let mut params: Vec<(&String, &Value)> = params.iter().collect();
    params.sort_by_key(|(name, _)| *name);
    for (name, value) in params {
        words.push(format!("--{}", kebab(name)));
        match value {
            Value::Array(items) if items.iter().all(is_scalar) => {
                words.extend(items.iter().map(|v| quote(&scalar(v))));
            }
            v if is_scalar(v) => words.push(quote(&scalar(v))),
            v => words.push(quote(&v.to_string())),
        }
    }
    if !region.is_empty() && region != "global" {
        words.push("--region".into());
        words.push(quote(region));
    }
    words.join(" ")
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The name the AWS CLI uses: words split where case changes (`DBInstance` is `db-instance`,
/// `MultiAZ` is `multi-az`), as botocore's `xform_name` does.
pub fn kebab(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('-');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Quotes a word for a POSIX shell when it needs it.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_split_as_the_cli_does() {
        assert_eq!(kebab("StopDBInstance"), "stop-db-instance");
        assert_eq!(kebab("DBInstanceIdentifier"), "db-instance-identifier");
        assert_eq!(kebab("MultiAZ"), "multi-az");
        assert_eq!(kebab("InstanceIds"), "instance-ids");
        assert_eq!(kebab("PutBucketVersioning"), "put-bucket-versioning");
        assert_eq!(
            kebab("RevokeSecurityGroupIngress"),
            "revoke-security-group-ingress"
        );
    }

    #[test]
    fn lines_read_as_typed() {
        let params = json!({"DBInstanceIdentifier": "pg-main1"});
        assert_eq!(
            cli_line(
                "rds:StopDBInstance",
                params.as_object().unwrap(),
                "us-west-2"
            ),
            "aws rds stop-db-instance --db-instance-identifier pg-main1 --region us-west-2"
        );
        let params = json!({"Bucket": "logs", "VersioningConfiguration": {"Status": "Enabled"}});
        assert_eq!(
            cli_line("s3:PutBucketVersioning", params.as_object().unwrap(), "eu-west-1"),
            "aws s3api put-bucket-versioning --bucket logs --versioning-configuration '{\"Status\":\"Enabled\"}' --region eu-west-1"
        );
        let params = json!({"InstanceIds": ["i-1", "i-2"], "Note": "it's"});
        assert_eq!(
            cli_line("ec2:StopInstances", params.as_object().unwrap(), "global"),
            "aws ec2 stop-instances --instance-ids i-1 i-2 --note 'it'\\''s'"
        );
    }
}
