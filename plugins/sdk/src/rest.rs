//! REST-style AWS requests (S3, Lambda, API Gateway, ...): a method, a path and query
//! parameters, answered in XML ([`crate::xml`]) or JSON ([`crate::json`]).
//!
//! Paths are written unencoded: the host percent-encodes each `/`-separated segment itself,
//! so a function ARN or a bucket name goes into the path as it is.
//!
//! ```
//! use cloudops_scanner_sdk::rest::RestRequest;
//!
//! let req = RestRequest::get("lambda", "/2015-03-31/functions/my-fn/aliases")
//!     .query("MaxItems", "50")
//!     .query_opt("Marker", None::<String>);
//! assert_eq!(req.method(), "GET");
//! assert_eq!(req.query_value("MaxItems"), Some("50"));
//!
//! // S3 sub-resources are query parameters with an empty value: `GET /bucket?tagging`.
//! let tagging = RestRequest::get("s3", "/my-bucket").query("tagging", "");
//! assert_eq!(tagging.to_request().query, [("tagging".to_owned(), String::new())]);
//! ```
//!
//! The host allows REST calls by method: `GET` and `HEAD` unless `plugin.toml` declares
//! `capabilities.methods`, so this module only builds those.

use crate::bindings::cloudops::scanner::aws;
use crate::query::{check_status, Pages};
use crate::{AwsRequest, AwsResponse, Error, Page};

/// One REST API call, built up parameter by parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestRequest {
    service: String,
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl RestRequest {
    /// A `GET` of `path` (starting with `/`, not percent-encoded) on `service` (the SigV4
    /// name: `s3`, `lambda`, ...).
    pub fn get(service: impl Into<String>, path: impl Into<String>) -> Self {
        RestRequest::new(service, "GET", path)
    }

    /// A `HEAD` of `path` on `service`: the status and headers without a body.
    pub fn head(service: impl Into<String>, path: impl Into<String>) -> Self {
        RestRequest::new(service, "HEAD", path)
    }

    fn new(service: impl Into<String>, method: &'static str, path: impl Into<String>) -> Self {
        RestRequest {
            service: service.into(),
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds a query parameter, unencoded; order is kept. An empty value sends a bare
    /// sub-resource such as S3's `?tagging` (as `tagging=`, which S3 reads the same way).
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds a query parameter only when `value` is `Some` (a `Marker`, a continuation token).
    pub fn query_opt(self, key: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    /// Adds an HTTP header. The host drops `Authorization`, `Host` and `X-Amz-*` headers.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The service (`s3`).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The HTTP method (`GET` or `HEAD`).
    pub fn method(&self) -> &str {
        self.method
    }

    /// The path, unencoded.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query parameters added so far, in order.
    pub fn query_params(&self) -> &[(String, String)] {
        &self.query
    }

    /// The value of the first query parameter named `key`, if any.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The request handed to the host.
    pub fn to_request(&self) -> AwsRequest {
        AwsRequest {
            service: self.service.clone(),
            method: self.method.to_owned(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body: Vec::new(),
        }
    }

    /// Sends the request and returns the response whatever its status (a `HEAD`, or a call
    /// whose 404 means "none"). Fails only with [`Error::Refused`], when the host did not
    /// get an answer from AWS.
    pub fn send_raw(&self) -> Result<AwsResponse, Error> {
        aws::send(&self.to_request()).map_err(Error::Refused)
    }

    /// Sends the request and returns the body of a 2xx response; any other status becomes
    /// [`Error::Aws`] with AWS's code and message (XML or JSON error documents alike).
    pub fn send(&self) -> Result<Vec<u8>, Error> {
        let resp = self.send_raw()?;
        check_status(resp.status, resp.body)
    }
}

/// Follows marker-style paging (`Marker`/`NextMarker`, `ContinuationToken`, ...) to the end,
/// sending through the host. `what` names the call in warnings (`ListFunctions`).
///
/// Works as [`crate::query::paginate`] does: `request` builds the call for a marker (`None`
/// first), `extract` returns a page's items and the next marker; an absent or empty marker
/// ends paging, a repeated one ends it with a warning (logged and returned), and the first
/// failing call ends it with its error.
pub fn paginate<T>(
    what: &str,
    request: impl FnMut(Option<&str>) -> RestRequest,
    extract: impl FnMut(&[u8]) -> Result<(Vec<T>, Option<String>), Error>,
) -> Result<Pages<T>, Error> {
    let pages = paginate_with(what, RestRequest::send, request, extract)?;
    for w in &pages.warnings {
        crate::log::warn(w);
    }
    Ok(pages)
}

/// [`paginate`] with the sending step supplied by the caller, so the paging logic can run
/// outside the host (in tests, or over recorded responses). Does not log.
pub fn paginate_with<T>(
    what: &str,
    send: impl FnMut(&RestRequest) -> Result<Vec<u8>, Error>,
    request: impl FnMut(Option<&str>) -> RestRequest,
    extract: impl FnMut(&[u8]) -> Result<(Vec<T>, Option<String>), Error>,
) -> Result<Pages<T>, Error> {
    crate::paging::follow(send, request, extract, |_: &RestRequest, pages| {
        format!(
            "{what} returned a marker it had already returned; stopped paging after {pages} pages"
        )
    })
}

/// Lists everything a marker-paged call returns, as [`crate::query::list`] does: sends
/// `request` for each marker over `send`, reads each page with `parse`, puts the items into
/// `out` and the warnings into `warnings`. A failed call or unreadable page ends the
/// listing with `{what} failed: {error}`.
pub fn list<T>(
    what: &str,
    send: impl FnMut(&RestRequest) -> Result<Vec<u8>, Error>,
    request: impl FnMut(Option<&str>) -> RestRequest,
    parse: impl FnMut(&[u8]) -> Result<Page<T>, Error>,
    out: &mut impl Extend<T>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    crate::paging::list(
        what,
        |extract| paginate_with(what, send, request, extract),
        parse,
        out,
        warnings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_carries_path_query_and_headers_unencoded_and_no_body() {
        let req = RestRequest::get(
            "lambda",
            "/2017-03-31/tags/arn:aws:lambda:eu-west-1:1:function:f",
        )
        .query("Marker", "a b/c")
        .query_opt("MaxItems", Some("5"))
        .query_opt("Skip", None::<&str>)
        .header("accept", "application/json")
        .to_request();
        assert_eq!(req.service, "lambda");
        assert_eq!(req.method, "GET");
        assert_eq!(
            req.path,
            "/2017-03-31/tags/arn:aws:lambda:eu-west-1:1:function:f"
        );
        assert_eq!(
            req.query,
            [
                ("Marker".to_owned(), "a b/c".to_owned()),
                ("MaxItems".to_owned(), "5".to_owned())
            ]
        );
        assert_eq!(
            req.headers,
            [("accept".to_owned(), "application/json".to_owned())]
        );
        assert!(req.body.is_empty());
    }

    #[test]
    fn head_and_accessors() {
        let req = RestRequest::head("s3", "/bucket").query("location", "");
        assert_eq!(req.method(), "HEAD");
        assert_eq!(req.service(), "s3");
        assert_eq!(req.path(), "/bucket");
        assert_eq!(req.query_value("location"), Some(""));
        assert_eq!(req.query_value("tagging"), None);
        assert_eq!(req.query_params().len(), 1);
    }

    fn replay(responses: Vec<&'static str>) -> (Result<Pages<String>, Error>, Vec<Option<String>>) {
        let mut responses = responses.into_iter();
        let mut markers = Vec::new();
        let result = paginate_with(
            "ListThings",
            |req| {
                assert_eq!(req.path(), "/things");
                responses
                    .next()
                    .map(|b| b.as_bytes().to_vec())
                    .ok_or_else(|| Error::Refused("request budget spent".into()))
            },
            |marker| {
                markers.push(marker.map(str::to_owned));
                RestRequest::get("things", "/things").query_opt("Marker", marker)
            },
            |body| {
                #[derive(serde::Deserialize)]
                struct Page {
                    #[serde(rename = "Things")]
                    things: Vec<String>,
                    #[serde(rename = "NextMarker")]
                    next: Option<String>,
                }
                let page: Page = crate::json::from_slice(body)?;
                Ok((page.things, page.next))
            },
        );
        (result, markers)
    }

    #[test]
    fn paging_follows_markers_until_none_or_empty() {
        let (result, markers) = replay(vec![
            r#"{"Things":["a","b"],"NextMarker":"m1"}"#,
            r#"{"Things":["c"],"NextMarker":"m2"}"#,
            r#"{"Things":[],"NextMarker":""}"#,
        ]);
        let pages = result.unwrap();
        assert_eq!(pages.items, ["a", "b", "c"]);
        assert_eq!(pages.pages, 3);
        assert!(pages.warnings.is_empty());
        assert_eq!(markers, [None, Some("m1".into()), Some("m2".into())]);
    }

    #[test]
    fn a_repeated_marker_stops_paging_with_a_warning() {
        let (result, _) = replay(vec![
            r#"{"Things":["a"],"NextMarker":"m1"}"#,
            r#"{"Things":["b"],"NextMarker":"m1"}"#,
        ]);
        let pages = result.unwrap();
        assert_eq!(pages.items, ["a", "b"]);
        assert_eq!(
            pages.warnings,
            ["ListThings returned a marker it had already returned; stopped paging after 2 pages"]
        );
    }

    #[test]
    fn a_failing_or_unparsable_page_fails_the_listing() {
        let (result, _) = replay(vec![r#"{"Things":["a"],"NextMarker":"m1"}"#]);
        assert_eq!(
            result.unwrap_err(),
            Error::Refused("request budget spent".into())
        );
        let (result, _) = replay(vec!["<html><body>Bad Gateway</body></html>"]);
        assert!(matches!(result.unwrap_err(), Error::Parse { what, .. } if what == "Page"));
    }

    #[test]
    fn list_collects_items_and_warnings_and_names_the_failed_call() {
        let mut bodies = vec![
            r#"{"Things":["c"]}"#,
            r#"{"Things":["a","b"],"NextMarker":"m1"}"#,
        ];
        let (mut out, mut warnings) = (Vec::new(), Vec::new());
        let parse = |body: &[u8]| {
            #[derive(serde::Deserialize)]
            struct Raw {
                #[serde(rename = "Things")]
                things: Vec<String>,
                #[serde(rename = "NextMarker")]
                next: Option<String>,
            }
            let raw: Raw = crate::json::from_slice(body)?;
            let warnings = vec![format!("{} things", raw.things.len())];
            Ok(Page {
                items: raw.things,
                warnings,
                next_token: raw.next,
            })
        };
        let result = list(
            "ListThings",
            |_| Ok(bodies.pop().unwrap().as_bytes().to_vec()),
            |marker| RestRequest::get("things", "/things").query_opt("Marker", marker),
            parse,
            &mut out,
            &mut warnings,
        );
        assert_eq!(result, Ok(()));
        assert_eq!(out, ["a", "b", "c"]);
        assert_eq!(warnings, ["2 things", "1 things"]);
        let result = list(
            "ListThings",
            |_| Ok(b"<html/>".to_vec()),
            |_| RestRequest::get("things", "/things"),
            parse,
            &mut out,
            &mut warnings,
        );
        assert!(result
            .unwrap_err()
            .starts_with("ListThings failed: cannot parse Raw"));
    }
}
