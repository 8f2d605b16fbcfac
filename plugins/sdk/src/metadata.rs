use serde_json::{Map, Value};

use crate::present;

/// The reserved metadata key under which a resource lists the parts of it that could not be
/// read this time: `"_unread": ["tags", "versioning"]`.
///
/// A part is `tags`, `name`, `relations`, `state`, or a top-level key of the metadata object. The
/// host keeps, for each part named here, the value it stored from the last read that
/// succeeded and marks it stale with that time (`cloudops search` shows it), instead of
/// overwriting a good value with an empty one because one call was throttled. Only a
/// successful read changes a part. Leave the part out of the resource (or empty): its
/// value is ignored. A resource the host has never seen is stored with the part missing,
/// marked "never read".
///
/// Use it when a sub-call for one resource fails (GetBucketTagging throttled, ListTags
/// denied) or a field does not read; [`Metadata`] adds every field it had to leave out.
/// WIT 0.2 has no field for this, so it rides in `metadata`; the host removes the key
/// before storing.
pub const UNREAD: &str = "_unread";

/// Builds a resource's `metadata`, a JSON object, from the text fields of a response.
///
/// Absent and blank fields are left out. A value that does not read as its type is left
/// out too, with a warning naming the resource and the field, and is named in the
/// [`UNREAD`] list, so the host keeps its last known value rather than losing it: one odd
/// field should not cost the whole resource, nor erase what was known of it.
///
/// ```
/// use cloudops_scanner_sdk::Metadata;
///
/// let mut warnings = Vec::new();
/// let mut meta = Metadata::new("vol-1", &mut warnings);
/// meta.text("volume_type", Some("gp3".into()));
/// meta.text("kms_key_id", Some(" ".into()));
/// meta.number("size_gib", Some("8".into()));
/// meta.boolean("encrypted", Some("maybe".into()));
/// meta.list("zones", ["eu-west-1a".to_owned()]);
/// assert_eq!(
///     meta.finish(),
///     r#"{"_unread":["encrypted"],"size_gib":8,"volume_type":"gp3","zones":["eu-west-1a"]}"#
/// );
/// assert_eq!(warnings, [r#"vol-1: left out encrypted: "maybe" is not true or false"#]);
/// ```
pub struct Metadata<'w> {
    id: String,
    map: Map<String, Value>,
    unread: Vec<String>,
    warnings: &'w mut Vec<String>,
}

impl<'w> Metadata<'w> {
    /// An empty object for the resource `id` (named in warnings), warning into `warnings`.
    pub fn new(id: &str, warnings: &'w mut Vec<String>) -> Self {
        Metadata {
            id: id.to_owned(),
            map: Map::new(),
            unread: Vec::new(),
            warnings,
        }
    }

    /// Sets `key` to `value` as it is, replacing what was there.
    pub fn value(&mut self, key: &str, value: impl Into<Value>) {
        self.map.insert(key.to_owned(), value.into());
    }

    /// Sets `key` to the trimmed text, if there is any.
    pub fn text(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = present(value) {
            self.value(key, v);
        }
    }

    /// Sets `key` to the list, unless it is empty.
    pub fn list(&mut self, key: &str, values: impl IntoIterator<Item = String>) {
        let values: Vec<String> = values.into_iter().collect();
        if !values.is_empty() {
            self.value(key, values);
        }
    }

    /// Sets `key` to the whole number the text spells (AWS's XML sends numbers as text).
    pub fn number(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = present(value) {
            match v.parse::<u64>() {
                Ok(n) => self.value(key, n),
                Err(_) => self.odd(key, &v, "a number"),
            }
        }
    }

    /// Sets `key` to `true` or `false` as the text says.
    pub fn boolean(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = present(value) {
            match v.as_str() {
                "true" => self.value(key, true),
                "false" => self.value(key, false),
                _ => self.odd(key, &v, "true or false"),
            }
        }
    }

    /// Names `part` (`tags`, `name`, `relations`, `state` or a metadata key) in the [`UNREAD`] list:
    /// it could not be read this time, so the host keeps its last known value.
    pub fn unread(&mut self, part: &str) {
        if !self.unread.iter().any(|p| p == part) {
            self.unread.push(part.to_owned());
        }
    }

    fn odd(&mut self, key: &str, value: &str, expected: &str) {
        self.unread(key);
        self.warnings.push(format!(
            "{}: left out {key}: {value:?} is not {expected}",
            self.id
        ));
    }

    /// The object as JSON text, for `Resource::metadata`.
    pub fn finish(mut self) -> String {
        if !self.unread.is_empty() {
            self.map.insert(UNREAD.to_owned(), Value::from(self.unread));
        }
        Value::Object(self.map).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_flags_that_do_not_read_are_left_out_with_a_warning() {
        let mut warnings = Vec::new();
        let mut meta = Metadata::new("db-1", &mut warnings);
        meta.number("port", Some(" 5432 ".into()));
        meta.number("iops", Some("fast".into()));
        meta.boolean("multi_az", Some("false".into()));
        meta.text("engine", None);
        meta.list("replicas", Vec::new());
        meta.value("members", Value::Array(Vec::new()));
        assert_eq!(
            meta.finish(),
            r#"{"_unread":["iops"],"members":[],"multi_az":false,"port":5432}"#
        );
        assert_eq!(warnings, [r#"db-1: left out iops: "fast" is not a number"#]);
    }
}
