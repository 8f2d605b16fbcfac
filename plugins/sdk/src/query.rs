//! AWS query-protocol requests (EC2, RDS, IAM, ELB, ...): `POST /` with a form-encoded body
//! holding `Action`, `Version` and the parameters.
//!
//! ```
//! use cloudops_scanner_sdk::query::QueryRequest;
//!
//! let req = QueryRequest::new("ec2", "DescribeVolumes", "2016-11-15")
//!     .param("MaxResults", "500")
//!     .param_list("VolumeId", ["vol-1", "vol-2"]);
//! assert_eq!(
//!     req.body(),
//!     "Action=DescribeVolumes&Version=2016-11-15&MaxResults=500&VolumeId.1=vol-1&VolumeId.2=vol-2"
//! );
//! ```

use crate::bindings::cloudops::scanner::aws;
use crate::{AwsRequest, AwsResponse, Error, Page};

/// The content type of a query-protocol request body.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// One query-protocol API call, built up parameter by parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    service: String,
    action: String,
    version: String,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl QueryRequest {
    /// A call of `action` on `service` (the SigV4 name: `ec2`, `rds`, `iam`, ...) with the
    /// service's API version (`2016-11-15` for EC2).
    pub fn new(
        service: impl Into<String>,
        action: impl Into<String>,
        api_version: impl Into<String>,
    ) -> Self {
        QueryRequest {
            service: service.into(),
            action: action.into(),
            version: api_version.into(),
            params: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds a parameter. Order is kept; values are percent-encoded when sent.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    /// Adds a parameter only when `value` is `Some` (a `NextToken`, an optional filter).
    pub fn param_opt(self, key: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.param(key, v),
            None => self,
        }
    }

    /// Adds a list parameter the query protocol's way: `prefix.1=a&prefix.2=b`.
    /// For a filter, pass `Filter.1.Value` as prefix.
    pub fn param_list<I, V>(mut self, prefix: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        for (i, v) in values.into_iter().enumerate() {
            self.params.push((format!("{prefix}.{}", i + 1), v.into()));
        }
        self
    }

    /// Adds an EC2-style filter as parameter number `n` (from 1):
    /// `Filter.n.Name=name&Filter.n.Value.1=…`.
    pub fn filter<I, V>(self, n: usize, name: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        self.param(format!("Filter.{n}.Name"), name)
            .param_list(&format!("Filter.{n}.Value"), values)
    }

    /// Adds an HTTP header. The host drops `Authorization`, `Host` and `X-Amz-*` headers.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The API action (`DescribeInstances`).
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The service (`ec2`).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The parameters added so far (without `Action` and `Version`).
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The value of the first parameter named `key`, if any.
    pub fn param_value(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The form-encoded body: `Action=…&Version=…&k=v…`, percent-encoded as SigV4 expects
    /// (unreserved characters kept, everything else `%XX`, space as `%20`).
    pub fn body(&self) -> String {
        let mut out = String::new();
        let pairs = [("Action", &self.action[..]), ("Version", &self.version[..])];
        let all = pairs
            .into_iter()
            .chain(self.params.iter().map(|(k, v)| (&k[..], &v[..])));
        for (i, (k, v)) in all.enumerate() {
            if i > 0 {
                out.push('&');
            }
            percent_encode_into(&mut out, k);
            out.push('=');
            percent_encode_into(&mut out, v);
        }
        out
    }

    /// The request handed to the host.
    pub fn to_request(&self) -> AwsRequest {
        let mut headers = vec![("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned())];
        headers.extend(self.headers.iter().cloned());
        AwsRequest {
            service: self.service.clone(),
            method: "POST".to_owned(),
            path: "/".to_owned(),
            query: Vec::new(),
            headers,
            body: self.body().into_bytes(),
        }
    }

    /// Sends the request and returns the response whatever its status.
    /// Fails only with [`Error::Refused`], when the host did not get an answer from AWS.
    pub fn send_raw(&self) -> Result<AwsResponse, Error> {
        aws::send(&self.to_request()).map_err(Error::Refused)
    }

    /// Sends the request and returns the body of a 2xx response; any other status becomes
    /// [`Error::Aws`] with AWS's code and message.
    pub fn send(&self) -> Result<Vec<u8>, Error> {
        let resp = self.send_raw()?;
        check_status(resp.status, resp.body)
    }
}

/// The body of a 2xx response, or the [`Error::Aws`] its error document describes.
pub fn check_status(status: u16, body: Vec<u8>) -> Result<Vec<u8>, Error> {
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(Error::from_response(status, &body))
    }
}

/// Percent-encodes `s` for a query string or form body, as SigV4 canonicalises it.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    percent_encode_into(&mut out, s);
    out
}

fn percent_encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
}

/// What [`paginate`] collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pages<T> {
    /// The items of every page, in order.
    pub items: Vec<T>,
    /// How many requests were sent.
    pub pages: u32,
    /// Why paging stopped early, if it did (a repeated token). Worth a scan warning.
    pub warnings: Vec<String>,
}

/// Follows `NextToken`-style paging to the end.
///
/// `request` builds the call for a token (`None` for the first page); `extract` turns a
/// response body into the page's items and the next token. Paging stops when the token is
/// missing or empty. A token seen before stops it too, with a warning (logged and returned
/// in [`Pages::warnings`]): some emulators hand back the same token forever. The first
/// failing call ends paging with its error.
pub fn paginate<T>(
    request: impl FnMut(Option<&str>) -> QueryRequest,
    extract: impl FnMut(&[u8]) -> Result<(Vec<T>, Option<String>), Error>,
) -> Result<Pages<T>, Error> {
    let pages = paginate_with(QueryRequest::send, request, extract)?;
    for w in &pages.warnings {
        crate::log::warn(w);
    }
    Ok(pages)
}

/// [`paginate`] with the sending step supplied by the caller, so the paging logic can run
/// outside the host (in tests, or over recorded responses). Does not log.
pub fn paginate_with<T>(
    send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
    request: impl FnMut(Option<&str>) -> QueryRequest,
    extract: impl FnMut(&[u8]) -> Result<(Vec<T>, Option<String>), Error>,
) -> Result<Pages<T>, Error> {
    crate::paging::follow(send, request, extract, |req: &QueryRequest, pages| {
        format!(
            "{} returned a NextToken it had already returned; stopped paging after {pages} pages",
            req.action()
        )
    })
}

/// Lists everything a paged call returns: sends `request` for each token over `send`,
/// reads each page with `parse` (usually [`crate::xml::Listing::parse`]) and puts the items
/// into `out` (an [`crate::Emitter`], or a `Vec` to work on further) as the pages come.
///
/// The pages' warnings and a repeated token's (see [`paginate_with`]) go to `warnings`. A
/// failed call or unreadable page ends the listing with `{Action} failed: {error}`; what
/// earlier pages gave stays in `out`.
///
/// ```
/// use cloudops_scanner_sdk::query::{self, QueryRequest};
/// use cloudops_scanner_sdk::xml::Listing;
///
/// let mut pages = vec![
///     "<DescribeVpcsResponse><vpcSet><item>vpc-2</item></vpcSet></DescribeVpcsResponse>",
///     "<DescribeVpcsResponse><vpcSet><item>vpc-1</item></vpcSet><nextToken>t</nextToken></DescribeVpcsResponse>",
/// ];
/// let listing = Listing::item_set("DescribeVpcs", &["vpcSet", "item"]);
/// let (mut ids, mut warnings) = (Vec::new(), Vec::new());
/// query::list(
///     |_req: &QueryRequest| Ok(pages.pop().unwrap().as_bytes().to_vec()),
///     |token| QueryRequest::new("ec2", "DescribeVpcs", "2016-11-15").param_opt("NextToken", token),
///     |body| listing.parse_fragments(body, |item, _| Ok(cloudops_scanner_sdk::xml::first_text(item, "item"))),
///     &mut ids,
///     &mut warnings,
/// )
/// .unwrap();
/// assert_eq!(ids, ["vpc-1", "vpc-2"]);
/// ```
pub fn list<T>(
    send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
    mut request: impl FnMut(Option<&str>) -> QueryRequest,
    parse: impl FnMut(&[u8]) -> Result<Page<T>, Error>,
    out: &mut impl Extend<T>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let action = request(None).action().to_owned();
    crate::paging::list(
        &action,
        |extract| paginate_with(send, request, extract),
        parse,
        out,
        warnings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_percent_encoded() {
        let req = QueryRequest::new("ec2", "DescribeInstances", "2016-11-15")
            .param("Filter.1.Name", "tag:Name")
            .param("Filter.1.Value.1", "web server/α+&=*")
            .param_opt("NextToken", None::<String>)
            .param_opt("MaxResults", Some("5"));
        assert_eq!(
            req.body(),
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName\
             &Filter.1.Value.1=web%20server%2F%CE%B1%2B%26%3D%2A&MaxResults=5"
        );
    }

    #[test]
    fn filters_and_lists_are_numbered_from_one() {
        let req = QueryRequest::new("ec2", "DescribeSnapshots", "2016-11-15")
            .param_list("Owner", ["self"])
            .filter(1, "status", ["completed", "error"]);
        let params: Vec<_> = req
            .params()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            params,
            [
                "Owner.1=self",
                "Filter.1.Name=status",
                "Filter.1.Value.1=completed",
                "Filter.1.Value.2=error"
            ]
        );
    }

    #[test]
    fn request_is_a_form_post_to_the_root() {
        let req = QueryRequest::new("ec2", "DescribeVolumes", "2016-11-15")
            .header("x-custom", "1")
            .to_request();
        assert_eq!(req.service, "ec2");
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/");
        assert!(req.query.is_empty());
        assert_eq!(
            req.headers,
            [
                ("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned()),
                ("x-custom".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(req.body, b"Action=DescribeVolumes&Version=2016-11-15");
    }

    #[test]
    fn non_2xx_becomes_an_aws_error() {
        assert_eq!(check_status(200, b"ok".to_vec()), Ok(b"ok".to_vec()));
        let err = check_status(
            400,
            b"<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>bad</Message></Error></Errors></Response>".to_vec(),
        )
        .unwrap_err();
        assert_eq!(err.aws_code(), Some("InvalidParameterValue"));
    }

    fn page_of(body: &[u8]) -> Result<(Vec<String>, Option<String>), Error> {
        let text = std::str::from_utf8(body).unwrap();
        let (items, token) = text.split_once('|').unwrap();
        let items = items
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        Ok((items, (!token.is_empty()).then(|| token.to_owned())))
    }

    fn replay(responses: Vec<&'static str>) -> (Result<Pages<String>, Error>, Vec<Option<String>>) {
        let mut responses = responses.into_iter();
        let mut tokens = Vec::new();
        let result = paginate_with(
            |_req| {
                responses
                    .next()
                    .map(|b| b.as_bytes().to_vec())
                    .ok_or_else(|| Error::Refused("request budget spent".into()))
            },
            |token| {
                tokens.push(token.map(str::to_owned));
                QueryRequest::new("ec2", "DescribeVolumes", "2016-11-15")
                    .param_opt("NextToken", token)
            },
            page_of,
        );
        (result, tokens)
    }

    #[test]
    fn paging_follows_tokens_until_none() {
        let (result, tokens) = replay(vec!["a,b|t1", "c|t2", "|"]);
        let pages = result.unwrap();
        assert_eq!(pages.items, ["a", "b", "c"]);
        assert_eq!(pages.pages, 3);
        assert!(pages.warnings.is_empty());
        assert_eq!(tokens, [None, Some("t1".into()), Some("t2".into())]);
    }

    #[test]
    fn a_repeated_token_stops_paging_with_a_warning() {
        let (result, _) = replay(vec!["a|t1", "b|t2", "c|t1", "d|"]);
        let pages = result.unwrap();
        assert_eq!(pages.items, ["a", "b", "c"]);
        assert_eq!(
            pages.warnings,
            ["DescribeVolumes returned a NextToken it had already returned; stopped paging after 3 pages"]
        );
    }

    #[test]
    fn a_failing_page_fails_the_whole_listing() {
        let (result, _) = replay(vec!["a|t1"]);
        assert_eq!(
            result.unwrap_err(),
            Error::Refused("request budget spent".into())
        );
    }

    #[test]
    fn list_puts_items_out_page_by_page_and_names_the_failed_action() {
        let mut bodies = vec!["", "b,c|", "a|t1"];
        let (mut out, mut warnings) = (Vec::new(), Vec::new());
        let result = list(
            |req| {
                assert_eq!(req.param_value("MaxResults"), Some("5"));
                match bodies.pop() {
                    Some("") | None => Err(Error::Refused("request budget spent".into())),
                    Some(b) => Ok(b.as_bytes().to_vec()),
                }
            },
            |token| {
                QueryRequest::new("ec2", "DescribeVolumes", "2016-11-15")
                    .param("MaxResults", "5")
                    .param_opt("NextToken", token)
            },
            |body| {
                let (items, next_token) = page_of(body)?;
                let warnings = vec![format!("page of {}", items.len())];
                Ok(Page {
                    items,
                    warnings,
                    next_token,
                })
            },
            &mut out,
            &mut warnings,
        );
        assert_eq!(result, Ok(()));
        assert_eq!(out, ["a", "b", "c"]);
        assert_eq!(warnings, ["page of 1", "page of 2"]);
        assert_eq!(bodies, [""], "no request after the last page");

        let err = list(
            |_| Err(Error::Refused("request budget spent".into())),
            |_| QueryRequest::new("ec2", "DescribeVolumes", "2016-11-15"),
            |_| Ok(Page::<String>::default()),
            &mut out,
            &mut warnings,
        );
        assert_eq!(
            err,
            Err("DescribeVolumes failed: request budget spent".into())
        );
    }
}
