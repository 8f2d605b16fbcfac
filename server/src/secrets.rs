//! The one place that decides whether a request carries AWS credentials.
//!
//! The plan server never needs a credential: the host keeps them and signs its own requests.
//! A request that carries one anyway (pasted into a prompt, a tag, a user value or a key) is
//! refused before anything else reads it, and the refusal names only the JSON path, never the
//! value, so that no log line, metric or error body repeats it.
//!
//! Three shapes are recognised, each as a whole token (not inside a longer run of the same
//! alphabet, so longer base64 blobs and hex digests pass):
//! - an access key id: `AKIA` (long-term) or `ASIA` (temporary) and 16 more of `A-Z2-7`
//!   (AWS's base32 alphabet; we accept `0-9` too);
//! - a secret access key: exactly 40 characters of `A-Za-z0-9/+` with upper case, lower case
//!   and a digit, and the spread of characters random keys have (≥ 20 distinct) — which rules
//!   out hex digests (no upper case) and most names; a 40-character camel-case name with
//!   digits and no separator would be refused, the safe side of the trade;
//! - a session token: a base64 run of at least 100 characters whose decoded head is the STS
//!   token header (it names `aws` or `origin_` in its first bytes: the `FwoGZXIvYXdz…`,
//!   `IQoJb3JpZ2luX2Vj…` and `AQoDYXdz…` families).
//!
//! Keys named like a credential (`aws_secret_access_key`, `SessionToken`, ...) are refused
//! whatever their value.

use base64::Engine as _;
use serde_json::Value;

/// What kind of credential a string looked like (never the string itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `AKIA...` or `ASIA...`.
    AccessKeyId,
    /// 40 characters of base64.
    SecretAccessKey,
    /// An STS session token.
    SessionToken,
    /// A key named like a credential (`aws_secret_access_key`).
    CredentialField,
}

impl SecretKind {
    /// In words, for the refusal.
    pub fn describe(self) -> &'static str {
        match self {
            SecretKind::AccessKeyId => "an AWS access key id",
            SecretKind::SecretAccessKey => "an AWS secret access key",
            SecretKind::SessionToken => "an AWS session token",
            SecretKind::CredentialField => "a credential field",
        }
    }
}

/// A credential found in a request: where (a JSON path such as `identified_resources[3].tags`)
/// and of which kind. Holds nothing of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The JSON path of the string or key that carries it.
    pub path: String,
    /// What it looked like.
    pub kind: SecretKind,
}

/// The first credential-shaped string anywhere in `value` (object keys included), with its
/// path; `None` when there is none.
pub fn find_secret(value: &Value) -> Option<Finding> {
    find_at(value, &mut String::new())
}

fn find_at(value: &Value, path: &mut String) -> Option<Finding> {
    let found = |path: &str, kind| {
        Some(Finding {
            path: if path.is_empty() {
                "$".into()
            } else {
                path.to_owned()
            },
            kind,
        })
    };
    match value {
        Value::String(s) => secret_kind(s).and_then(|kind| found(path, kind)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let hit = find_at(item, path);
            path.truncate(len);
            hit
        }),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let len = path.len();
            // A key that is itself a credential is reported at its object, not by its text.
            if let Some(kind) = secret_kind(key) {
                return found(path, kind);
            }
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
            let hit = if credential_field(key) && !is_empty(item) {
                found(path, SecretKind::CredentialField)
            } else {
                find_at(item, path)
            };
            path.truncate(len);
            hit
        }),
        _ => None,
    }
}

fn is_empty(value: &Value) -> bool {
    matches!(value, Value::Null) || value.as_str().is_some_and(str::is_empty)
}

/// True for keys that name a credential: `aws_secret_access_key`, `SecretAccessKey`,
/// `aws-session-token`, `SessionToken`, `x-amz-security-token`.
fn credential_field(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    ["secretaccesskey", "sessiontoken", "securitytoken"]
        .iter()
        .any(|k| folded.ends_with(k))
}

/// The kind of credential `text` contains, if any. The one detector: everything else calls it.
pub fn secret_kind(text: &str) -> Option<SecretKind> {
    if tokens(text, |c| c.is_ascii_alphanumeric()).any(is_access_key_id) {
        return Some(SecretKind::AccessKeyId);
    }
    let base64_char = |c: char| c.is_ascii_alphanumeric() || c == '/' || c == '+' || c == '=';
    for token in tokens(text, base64_char) {
        if is_secret_access_key(token) {
            return Some(SecretKind::SecretAccessKey);
        }
        if is_session_token(token) {
            return Some(SecretKind::SessionToken);
        }
    }
    None
}

/// The maximal runs of `text` made of characters that `keep` accepts.
fn tokens(text: &str, keep: impl Fn(char) -> bool) -> impl Iterator<Item = &str> {
    text.split(move |c: char| !keep(c))
        .filter(|t| !t.is_empty())
}

fn is_access_key_id(token: &str) -> bool {
    token.len() == 20
        && (token.starts_with("AKIA") || token.starts_with("ASIA"))
        && token[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_secret_access_key(token: &str) -> bool {
    let key = token.trim_end_matches('=');
    if key.len() != 40 || token.len() != 40 {
        return false;
    }
    let has = |f: fn(&u8) -> bool| key.as_bytes().iter().any(f);
    let mut distinct: Vec<u8> = key.bytes().collect();
    distinct.sort_unstable();
    distinct.dedup();
    has(u8::is_ascii_uppercase)
        && has(u8::is_ascii_lowercase)
        && has(u8::is_ascii_digit)
        && distinct.len() >= 20
}

fn is_session_token(token: &str) -> bool {
    if token.len() < 100 {
        return false;
    }
    // 32 base64 characters are 24 bytes: enough to hold the header's service name.
    let Ok(head) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(&token[..32]) else {
        return false;
    };
    let contains = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    contains(b"aws") || contains(b"origin_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // AWS's documented example credentials (not live keys) and tokens of each STS family.
    const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const TEMP_KEY_ID: &str = "ASIAY34FZKBOKMUTVV7A";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const TOKEN_FWO: &str = "FwoGZXIvYXdzEBYaDHqa0AP1/nJ1x5CPRiLDAXD3ud/4SaIOaEoyHPW1AiQZIlI9uF6qDLv8RSxlbrAAiC3v9FNnhAh1D5LN3tzb1ak5D2wXk1P7d5Q4NcyVgLDkWZN93sbnEiEwhBX8PXKdXxdFzqu38C6VGcMqNwQ2oPTJcV9NMOkHhKt3IGV1M2cV";
    const TOKEN_IQO: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDdFsP7nnXFsOA1MxcXPcnK9DtqLsY0e1dmnIoO8ZSqgwIgNVFs1Yye5BG3jvH3Tq6lx1hrpkMSzpfWUJPKAqC6cDAqmgII";

    #[test]
    fn access_key_ids_are_found() {
        assert_eq!(secret_kind(KEY_ID), Some(SecretKind::AccessKeyId));
        assert_eq!(secret_kind(TEMP_KEY_ID), Some(SecretKind::AccessKeyId));
        let sentence = format!("use key {KEY_ID}, please");
        assert_eq!(secret_kind(&sentence), Some(SecretKind::AccessKeyId));
    }

    #[test]
    fn secret_access_keys_are_found_in_text() {
        assert_eq!(secret_kind(SECRET), Some(SecretKind::SecretAccessKey));
        let pasted = format!("aws_secret_access_key = {SECRET}\n");
        assert_eq!(secret_kind(&pasted), Some(SecretKind::SecretAccessKey));
        let quoted = format!("\"{SECRET}\"");
        assert_eq!(secret_kind(&quoted), Some(SecretKind::SecretAccessKey));
    }

    #[test]
    fn session_tokens_of_both_families_are_found() {
        assert_eq!(secret_kind(TOKEN_FWO), Some(SecretKind::SessionToken));
        assert_eq!(secret_kind(TOKEN_IQO), Some(SecretKind::SessionToken));
        let header = format!("X-Amz-Security-Token: {TOKEN_IQO}");
        assert_eq!(secret_kind(&header), Some(SecretKind::SessionToken));
    }

    #[test]
    fn arns_ids_digests_and_base64_pass() {
        let harmless = [
            "arn:aws:rds:us-west-2:111111111111:db:pg-instance-main1",
            "arn:aws:iam::111111111111:role/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:lambda:eu-west-1:222222222222:function:orders-api:live",
            "arn:aws:s3:::my-bucket/logs/2026/12/06/AWSLogs/111111111111/x.gz",
            "i-0abcdef1234567890",
            "sg-0123456789abcdef0",
            "vpc-0a1b2c3d4e5f67890",
            // AROA/AIDA are role and user ids: identifiers, not credentials.
            "AROAXXXXXXXXXXXXXXXXX:session-name",
            "AIDAJQABLZS4A3QDU576Q",
            // a Git commit and a SHA-256 in hex
            "117c52d4e8f2a9b0c1d2e3f4a5b6c7d8e9f0a1b2",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            // SHA-256 in base64 (44 characters) and short base64
            "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
            "aGVsbG8gd29ybGQ=",
            // a long base64 blob that is no token
            "TG9yZW0gaXBzdW0gZG9sb3Igc2l0IGFtZXQsIGNvbnNlY3RldHVyIGFkaXBpc2NpbmcgZWxpdCwgc2VkIGRvIGVpdXNtb2QgdGVtcG9y",
            "Stop pg-instance-main1",
            "set memory to 512 MB for orders-api in production",
            // 40 characters, but a name's hyphens split it
            "orders-api-production-eu-west-1-blue-v12",
            "AVeryLongResourceNameForTesting12345678",
        ];
        for text in harmless {
            assert_eq!(secret_kind(text), None, "{text}");
        }
    }

    #[test]
    fn the_path_names_where_it_is_including_keys() {
        let body = json!({
            "prompt": "stop it",
            "identified_resources": [
                {"tags": []}, {"tags": []}, {"tags": []},
                {"tags": [{"key": "note", "value": SECRET}]}
            ]
        });
        let found = find_secret(&body).unwrap();
        assert_eq!(found.path, "identified_resources[3].tags[0].value");
        assert_eq!(found.kind, SecretKind::SecretAccessKey);

        let as_key = json!({"user_values": {KEY_ID: 1}});
        assert_eq!(find_secret(&as_key).unwrap().path, "user_values");
        let named = json!({"user_context": {"aws_session_token": "x"}});
        let found = find_secret(&named).unwrap();
        assert_eq!(found.path, "user_context.aws_session_token");
        assert_eq!(found.kind, SecretKind::CredentialField);
        assert_eq!(
            find_secret(&json!({"prompt": SECRET})).unwrap().path,
            "prompt"
        );
        assert_eq!(find_secret(&json!(TOKEN_FWO)).unwrap().path, "$");
    }

    #[test]
    fn a_clean_request_has_no_finding() {
        let body = json!({
            "prompt": "Stop pg-instance-main1",
            "identified_resources": [{
                "arn": "arn:aws:rds:us-west-2:111111111111:db:pg-instance-main1",
                "tags": [{"key": "env", "value": "production"}]
            }],
            "user_context": {"session_name": "alice", "secret_count": 3}
        });
        assert_eq!(find_secret(&body), None);
    }

    #[test]
    fn the_debug_of_a_finding_holds_no_value() {
        let found = find_secret(&json!({"prompt": SECRET})).unwrap();
        assert!(!format!("{found:?}").contains("wJalr"));
    }
}
