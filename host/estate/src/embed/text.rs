//! What is embedded for a resource, and the key its vector is kept under.

use sha2::{Digest, Sha256};

use super::MODEL_ID;
use crate::resource::Resource;

/// Metadata keys whose values describe what a resource is, in output order: rds `engine`,
/// lambda `runtime`, ec2 `instance_type`, rds `class`.
const METADATA_KEYS: &[&str] = &["engine", "runtime", "instance_type", "class"];
/// At most this many tags are embedded (after sorting), to keep the text short.
const MAX_TAGS: usize = 16;
/// Types whose `description` is embedded. A function's description is the line a person
/// wrote about what it does, the best clue for queries by purpose ("email invoices to
/// customers"). Other types' descriptions are mostly boilerplate from AWS or tools
/// ("Created by CreateImage(i-…) for ami-…", "Managed by Terraform"): tokens that say nothing.
const DESCRIBED_TYPES: &[&str] = &["lambda_function"];
/// At most this many words of a description are embedded.
const MAX_DESCRIPTION_WORDS: usize = 24;

/// The text embedded for `r`, e.g. `rds instance pg-main env production app main postgres
/// db.r6g.large`: the type in words, the name and the identifier if it differs from the
/// name (each unless it is one of AWS's generated hex ids), a function's description,
/// tags as `key value` sorted by key (without `aws:` tags and without a `Name` tag that
/// repeats the name), then the engine, runtime, instance type and class when the scanner
/// reported them.
///
/// Deterministic: the same resource always gives the same text, whatever its tag order.
/// It never contains an ARN or a 12-digit account id, so nothing account-specific reaches
/// the vector store through it.
pub fn resource_text(r: &Resource) -> String {
    let mut words: Vec<&str> = vec![];
    let kind = r.resource_type.replace('_', " ");
    words.push(&kind);
    // An untagged VPC or subnet is named by its id: hex that means nothing to the model.
    if !is_generated_id(&r.name) {
        words.push(&r.name);
    }
    if r.identifier != r.name && !is_generated_id(&r.identifier) {
        words.push(&r.identifier);
    }
    if DESCRIBED_TYPES.contains(&r.resource_type.as_str()) {
        if let Some(description) = r.metadata.get("description").and_then(|v| v.as_str()) {
            words.extend(description.split_whitespace().take(MAX_DESCRIPTION_WORDS));
        }
    }
    let mut tags: Vec<_> = r
        .tags
        .iter()
        .filter(|t| !t.key.to_ascii_lowercase().starts_with("aws:"))
        .filter(|t| !(t.key == "Name" && t.value == r.name))
        .collect();
    tags.sort_by(|a, b| (&a.key, &a.value).cmp(&(&b.key, &b.value)));
    for tag in tags.into_iter().take(MAX_TAGS) {
        words.push(&tag.key);
        words.push(&tag.value);
    }
    for key in METADATA_KEYS {
        if let Some(value) = r.metadata.get(*key).and_then(|v| v.as_str()) {
            words.push(value);
        }
    }
    let mut text = String::new();
    for word in words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .filter(|w| !w.to_ascii_lowercase().starts_with("arn:"))
    {
        let word = without_account_ids(word);
        if word.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&word);
    }
    text
}

/// AWS's generated ids (`i-0a1b2c3d4e5f67890`, `vol-…`, `sg-…`, `subnet-…`): a dozen
/// tokens of hex with no meaning, the most expensive part of a text to embed. Name search
/// still finds them (the lexical side indexes identifiers).
fn is_generated_id(identifier: &str) -> bool {
    let Some((prefix, hex)) = identifier.rsplit_once('-') else {
        return false;
    };
    (8..=17).contains(&hex.len())
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && !prefix.is_empty()
        && prefix.len() <= 12
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

/// `word` without any run of exactly 12 digits (the shape of an AWS account id).
fn without_account_ids(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut digits = String::new();
    for c in word.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if digits.len() != 12 {
            out.push_str(&digits);
        }
        digits.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// The key a text's vector is kept under: hex of the first 16 bytes of SHA-256 over
/// [`MODEL_ID`] and the text, so a change of model gives every text a new hash.
pub fn text_hash(text: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(MODEL_ID.as_bytes());
    hasher.update([0]);
    hasher.update(text.as_bytes());
    hex::encode(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_digit_runs_are_removed_and_others_kept() {
        assert_eq!(without_account_ids("logs-123456789012"), "logs-");
        assert_eq!(without_account_ids("123456789012"), "");
        assert_eq!(without_account_ids("db-1234567890123"), "db-1234567890123");
        assert_eq!(without_account_ids("t3.micro"), "t3.micro");
    }

    #[test]
    fn generated_ids_are_recognised() {
        for id in [
            "i-0a1b2c3d4e5f67890",
            "vol-0123abcd",
            "sg-0f00ba4",
            "subnet-0abc12345def67890",
        ] {
            assert_eq!(is_generated_id(id), id != "sg-0f00ba4", "{id}");
        }
        for id in [
            "pg-instance-main1",
            "web-server-1",
            "acme-prod-logs",
            "rds:pg-main-2025",
        ] {
            assert!(!is_generated_id(id), "{id}");
        }
    }

    #[test]
    fn generated_ids_are_not_embedded() {
        let subnet = Resource {
            resource_type: "vpc_subnet".into(),
            identifier: "subnet-0abc12345def67890".into(),
            name: "subnet-0abc12345def67890".into(),
            arn: "arn:aws:ec2:us-west-2:111111111111:subnet/subnet-0abc12345def67890".into(),
            account_id: "111111111111".into(),
            region: "us-west-2".into(),
            state: Some("available".into()),
            tags: vec![crate::resource::Tag {
                key: "tier".into(),
                value: "public".into(),
            }],
            relations: Vec::new(),
            metadata: serde_json::Map::new(),
        };
        assert_eq!(resource_text(&subnet), "vpc subnet tier public");
    }

    #[test]
    fn only_function_descriptions_are_embedded() {
        let resource = |resource_type: &str, description: &str| Resource {
            resource_type: resource_type.into(),
            identifier: "invoice-mailer".into(),
            name: "invoice-mailer".into(),
            arn: String::new(),
            account_id: "111111111111".into(),
            region: "us-west-2".into(),
            state: None,
            tags: Vec::new(),
            relations: Vec::new(),
            metadata: serde_json::json!({ "description": description })
                .as_object()
                .cloned()
                .unwrap(),
        };
        assert_eq!(
            resource_text(&resource(
                "lambda_function",
                "Sends  each customer\ntheir invoice"
            )),
            "lambda function invoice-mailer Sends each customer their invoice"
        );
        let long = "word ".repeat(40);
        let text = resource_text(&resource("lambda_function", &long));
        assert_eq!(text.split(' ').count(), 3 + MAX_DESCRIPTION_WORDS, "{text}");
        assert_eq!(
            resource_text(&resource(
                "ec2_snapshot",
                "Created by CreateImage(i-0a1b2c3d)"
            )),
            "ec2 snapshot invoice-mailer"
        );
    }

    #[test]
    fn text_hash_is_32_hex_digits_and_depends_on_the_text() {
        let a = text_hash("rds instance pg-main");
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, text_hash("rds instance pg-main"));
        assert_ne!(a, text_hash("rds instance pg-main2"));
    }
}
