//! The one function that removes anything secret-shaped before a value is recorded.
//!
//! The audit log keeps each request's parameters; a parameter may be a password
//! (`MasterUserPassword`), a token or a key someone pasted. [`scrub`] replaces, recursively,
//! the value of every field whose name says it is secret and every string that looks like a
//! credential, whatever its field.

use serde_json::{Map, Value};

/// What a scrubbed value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Field-name fragments (lowercase) that mark a value as secret.
const SECRET_NAMES: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "authorization",
    "passphrase",
    "privatekey",
    "private_key",
];

/// A copy of `value` with every secret-shaped part replaced by [`REDACTED`].
pub fn scrub(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(scrub_map(fields)),
        Value::Array(items) => Value::Array(items.iter().map(scrub).collect()),
        Value::String(s) if looks_secret(s) => Value::String(REDACTED.into()),
        other => other.clone(),
    }
}

/// [`scrub`] for a JSON object (a step's parameters).
pub fn scrub_map(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| {
            let v = if is_secret_name(k) && !v.is_null() {
                Value::String(REDACTED.into())
            } else {
                scrub(v)
            };
            (k.clone(), v)
        })
        .collect()
}

/// True when a field called `name` holds a secret (`MasterUserPassword`, `auth_token`, ...).
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| lower.contains(s))
}

/// True for strings shaped like credentials: AWS access key ids, PEM private keys,
/// `Bearer`/`AWS4-HMAC-SHA256` authorization values, and 40-character secret access keys.
pub fn looks_secret(s: &str) -> bool {
    let t = s.trim();
    let access_key = t.len() == 20
        && ["AKIA", "ASIA", "AROA", "AIDA"]
            .iter()
            .any(|p| t.starts_with(p))
        && t.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    // A secret access key: 40 base64 characters with at least one of `/`, `+` or a digit and
    // both cases, which ids, names and ARNs of that length are not.
    let secret_key = t.len() == 40
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+')
        && t.chars().any(|c| c.is_ascii_lowercase())
        && t.chars().any(|c| c.is_ascii_uppercase())
        && t.chars()
            .any(|c| c.is_ascii_digit() || c == '/' || c == '+');
    access_key
        || secret_key
        || t.contains("PRIVATE KEY-----")
        || t.starts_with("AWS4-HMAC-SHA256 ")
        || t.starts_with("Bearer ")
}

/// A line of a program's output with every secret-shaped word replaced by [`REDACTED`]
/// (a line that speaks of a private key or an authorization header goes whole).
pub fn scrub_line(line: &str) -> String {
    if [
        "PRIVATE KEY-----",
        "Bearer ",
        "AWS4-HMAC-SHA256",
        "aws_secret_access_key",
    ]
    .iter()
    .any(|marker| line.contains(marker))
    {
        return REDACTED.into();
    }
    let mut out = String::with_capacity(line.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(if looks_secret(word) { REDACTED } else { word });
        word.clear();
    };
    for c in line.chars() {
        if c.is_ascii_alphanumeric() || c == '/' || c == '+' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_removed_by_name_and_by_shape() {
        let params = json!({
            "DBInstanceIdentifier": "pg-main1",
            "MasterUserPassword": "hunter2hunter2",
            "Tags": [{"Key": "note", "Value": "AKIAIOSFODNN7EXAMPLE"}],
            "Nested": {"auth_token": "x", "Blob": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
            "Pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE...",
            "Count": 3,
        });
        let out = scrub(&params);
        let text = out.to_string();
        for secret in [
            "hunter2",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI",
            "MIIE",
            "\"x\"",
        ] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert_eq!(out["DBInstanceIdentifier"], "pg-main1");
        assert_eq!(out["Tags"][0]["Key"], "note");
        assert_eq!(out["Count"], 3);
    }

    #[test]
    fn output_lines_lose_their_secret_words_only() {
        let line = r#"{"key": "AKIAIOSFODNN7EXAMPLE", "s": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "id": "pg-main1"}"#;
        let out = scrub_line(line);
        assert!(!out.contains("AKIA") && !out.contains("wJalr"), "{out}");
        assert!(out.contains("pg-main1"), "{out}");
    }

    #[test]
    fn ordinary_identifiers_are_kept() {
        for s in [
            "arn:aws:rds:eu-west-1:111111111111:db:pg-main1",
            "i-0123456789abcdef0",
            "sg-0123456789abcdef0",
            "production-orders-database-primary-0001",
        ] {
            assert!(!looks_secret(s), "{s}");
        }
        assert!(!is_secret_name("KmsKeyId"));
        assert!(!is_secret_name("KeyName"));
    }
}
