//! Reading AWS's JSON responses (Lambda and the other REST-JSON and JSON-protocol services).
//!
//! Parse by the body, never by the `content-type`: emulators label JSON `text/html`, and a
//! proxy's HTML error page must be an error, not an empty listing.
//!
//! To keep one odd item from spoiling a page, read the page's list as
//! `Vec<serde_json::Value>` and give each item to [`from_value`] on its own:
//!
//! ```
//! use cloudops_scanner_sdk::json;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "PascalCase")]
//! struct Page { functions: Vec<serde_json::Value>, next_marker: Option<String> }
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "PascalCase")]
//! struct Function { function_name: String }
//!
//! let page: Page = json::from_slice(br#"{"Functions":[{"FunctionName":"f"},{"FunctionName":7}]}"#).unwrap();
//! let items: Vec<Result<Function, _>> = page.functions.into_iter().map(json::from_value).collect();
//! assert_eq!(items[0].as_ref().unwrap().function_name, "f");
//! assert!(items[1].is_err());
//! assert_eq!(page.next_marker, None);
//! ```

use serde::de::DeserializeOwned;

use crate::Error;

/// Parses a whole JSON document into `T`.
///
/// Fails with [`Error::Parse`] naming `T` when the bytes are not JSON (an HTML page, a cut
/// body) or do not have `T`'s shape.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::parse(short_type_name::<T>(), e))
}

/// Converts an already-parsed JSON value into `T` (one item of a page), failing with
/// [`Error::Parse`] naming `T`.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::parse(short_type_name::<T>(), e))
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    // `a::b::Page<x::Y>` reads better as `Page<x::Y>`.
    let head = full.split('<').next().unwrap_or(full);
    let start = head.rfind("::").map_or(0, |i| i + 2);
    &full[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Tags {
        tags: std::collections::BTreeMap<String, String>,
    }

    #[test]
    fn json_labelled_anything_parses() {
        let tags: Tags = from_slice(br#" {"Tags": {"env": "prod"}} "#).unwrap();
        assert_eq!(tags.tags["env"], "prod");
    }

    #[test]
    fn html_cut_and_misshapen_bodies_are_parse_errors_naming_the_type() {
        for body in [
            &b"<html><body>502</body></html>"[..],
            b"{\"Tags\": {\"env\"",
            b"{\"Tags\": []}",
            b"",
            b"\xff\xfe",
        ] {
            let err = from_slice::<Tags>(body).unwrap_err();
            assert!(
                matches!(&err, Error::Parse { what, .. } if what == "Tags"),
                "{err}"
            );
        }
        let err = from_value::<Tags>(serde_json::json!({"Tags": 1})).unwrap_err();
        assert!(err.to_string().starts_with("cannot parse Tags: "), "{err}");
    }
}
