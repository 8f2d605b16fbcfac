//! The REST protocols of the `aws` step kind: Lambda's rest-json and S3's rest-xml.
//!
//! Each operation the playbooks use (and the reads the preflight and waiters make) has a row
//! in [`REST_OPERATIONS`]: its HTTP method, its URI with `{Member}` labels, and for S3 the
//! member that is the XML payload. A step's parameters fill the labels; the rest are the JSON
//! body (Lambda) or the payload, serialised as XML with S3's namespace and the list element
//! names of [`S3_LISTS`] (S3). `tests/protocols.rs` checks both tables against botocore's
//! models for every action of the library.

use base64::Engine as _;
use cloudops_aws::{AwsClient, AwsRequest};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// One REST operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestOp {
    /// The SigV4 / endpoint service (`lambda`, `s3`).
    pub service: &'static str,
    /// The API operation (`PutFunctionConcurrency`).
    pub operation: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The request URI as botocore has it: `{Label}`s and, after `?`, a sub-resource.
    pub uri: &'static str,
    /// The member sent as the XML body (rest-xml), when there is one.
    pub payload: Option<&'static str>,
}

const fn op(
    service: &'static str,
    operation: &'static str,
    method: &'static str,
    uri: &'static str,
    payload: Option<&'static str>,
) -> RestOp {
    RestOp {
        service,
        operation,
        method,
        uri,
        payload,
    }
}

/// The REST operations the host sends, from botocore 1.44's models.
pub const REST_OPERATIONS: &[RestOp] = &[
    op(
        "lambda",
        "DeleteFunction",
        "DELETE",
        "/2015-03-31/functions/{FunctionName}",
        None,
    ),
    op(
        "lambda",
        "DeleteFunctionConcurrency",
        "DELETE",
        "/2017-10-31/functions/{FunctionName}/concurrency",
        None,
    ),
    op(
        "lambda",
        "PublishVersion",
        "POST",
        "/2015-03-31/functions/{FunctionName}/versions",
        None,
    ),
    op(
        "lambda",
        "PutFunctionConcurrency",
        "PUT",
        "/2017-10-31/functions/{FunctionName}/concurrency",
        None,
    ),
    op(
        "lambda",
        "UpdateAlias",
        "PUT",
        "/2015-03-31/functions/{FunctionName}/aliases/{Name}",
        None,
    ),
    op(
        "lambda",
        "UpdateFunctionConfiguration",
        "PUT",
        "/2015-03-31/functions/{FunctionName}/configuration",
        None,
    ),
    op(
        "lambda",
        "GetFunctionConfiguration",
        "GET",
        "/2015-03-31/functions/{FunctionName}/configuration",
        None,
    ),
    op(
        "lambda",
        "GetAlias",
        "GET",
        "/2015-03-31/functions/{FunctionName}/aliases/{Name}",
        None,
    ),
    op("s3", "DeleteBucket", "DELETE", "/{Bucket}", None),
    op("s3", "HeadBucket", "HEAD", "/{Bucket}", None),
    op(
        "s3",
        "PutBucketEncryption",
        "PUT",
        "/{Bucket}?encryption",
        Some("ServerSideEncryptionConfiguration"),
    ),
    op(
        "s3",
        "PutBucketLifecycleConfiguration",
        "PUT",
        "/{Bucket}?lifecycle",
        Some("LifecycleConfiguration"),
    ),
    op(
        "s3",
        "PutBucketTagging",
        "PUT",
        "/{Bucket}?tagging",
        Some("Tagging"),
    ),
    op(
        "s3",
        "PutBucketVersioning",
        "PUT",
        "/{Bucket}?versioning",
        Some("VersioningConfiguration"),
    ),
    op(
        "s3",
        "PutPublicAccessBlock",
        "PUT",
        "/{Bucket}?publicAccessBlock",
        Some("PublicAccessBlockConfiguration"),
    ),
];

/// S3 XML lists by member name: (member, element, flattened). A flattened list repeats its
/// element in place of the member (`<Rule>…</Rule><Rule>…</Rule>`); otherwise the member
/// wraps the elements (`<TagSet><Tag>…</Tag></TagSet>`).
pub const S3_LISTS: &[(&str, &str, bool)] = &[
    ("Rules", "Rule", true),
    ("TagSet", "Tag", false),
    ("Tags", "Tag", true),
    ("Transitions", "Transition", true),
    (
        "NoncurrentVersionTransitions",
        "NoncurrentVersionTransition",
        true,
    ),
    ("EncryptionType", "EncryptionType", true),
];

/// S3's XML namespace.
const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The REST operation `service:operation`, if the host sends it.
pub fn rest_op(service: &str, operation: &str) -> Option<&'static RestOp> {
    REST_OPERATIONS
        .iter()
        .find(|o| o.service == service && o.operation == operation)
}

/// The signed-to-be request for `op` with `params`, or why it cannot be built.
pub fn request(op: &RestOp, params: &Map<String, Value>) -> Result<AwsRequest, String> {
    let (path_template, sub) = match op.uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (op.uri, None),
    };
    let mut rest = params.clone();
    let mut path = String::new();
    for piece in path_template.split_inclusive(['{', '}']) {
        if let Some(label) = piece.strip_suffix('}') {
            let value = rest
                .remove(label)
                .ok_or_else(|| format!("{} needs the parameter {label}", op.operation))?;
            path.push_str(&text(&value));
        } else {
            path.push_str(piece.trim_end_matches('{'));
        }
    }
    let mut request = AwsRequest {
        service: op.service.to_owned(),
        method: op.method.to_owned(),
        path,
        query: sub
            .map(|s| vec![(s.to_owned(), String::new())])
            .unwrap_or_default(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    match op.service {
        "s3" => xml_body(op, rest, &mut request)?,
        _ if !rest.is_empty() => {
            request.body = serde_json::to_vec(&Value::Object(rest)).expect("JSON");
            request
                .headers
                .push(("content-type".into(), "application/json".into()));
        }
        _ => {}
    }
    Ok(request)
}

/// S3: the payload member as XML, with a SHA-256 checksum (S3 wants one on these puts).
fn xml_body(
    op: &RestOp,
    mut rest: Map<String, Value>,
    request: &mut AwsRequest,
) -> Result<(), String> {
    if let Some(payload) = op.payload {
        let value = rest
            .remove(payload)
            .ok_or_else(|| format!("{} needs the parameter {payload}", op.operation))?;
        let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        xml_element(payload, &value, Some(S3_XMLNS), &mut xml);
        let checksum =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(xml.as_bytes()));
        request.headers.extend([
            ("content-type".to_owned(), "application/xml".to_owned()),
            ("x-amz-checksum-sha256".to_owned(), checksum),
            (
                "x-amz-sdk-checksum-algorithm".to_owned(),
                "SHA256".to_owned(),
            ),
        ]);
        request.body = xml.into_bytes();
    }
    if let Some(name) = rest.keys().next() {
        return Err(format!(
            "{}: parameter {name} is neither in the URI nor the body, and the host does not send it",
            op.operation
        ));
    }
    Ok(())
}

/// `<name>…</name>` for a structure or a scalar; lists are placed by their member.
fn xml_element(name: &str, value: &Value, xmlns: Option<&str>, out: &mut String) {
    out.push('<');
    out.push_str(name);
    if let Some(ns) = xmlns {
        out.push_str(&format!(r#" xmlns="{ns}""#));
    }
    out.push('>');
    match value {
        Value::Object(fields) => {
            for (member, v) in fields {
                xml_member(member, v, out);
            }
        }
        scalar => out.push_str(&escape(&text(scalar))),
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn xml_member(name: &str, value: &Value, out: &mut String) {
    let Value::Array(items) = value else {
        return xml_element(name, value, None, out);
    };
    let (element, flattened) = S3_LISTS
        .iter()
        .find(|(member, _, _)| *member == name)
        .map(|(_, e, f)| (*e, *f))
        .unwrap_or(("member", false));
    if !flattened {
        out.push_str(&format!("<{name}>"));
    }
    for item in items {
        xml_element(element, item, None, out);
    }
    if !flattened {
        out.push_str(&format!("</{name}>"));
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A scalar as AWS wants it in a URI or XML text.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A REST call's answer: the body of a 2xx, `Ok(None)` for 404, or the error in words.
pub async fn send(
    client: &AwsClient,
    region: &str,
    op: &RestOp,
    params: &Map<String, Value>,
) -> Result<Option<(Vec<u8>, String)>, String> {
    let request = request(op, params)?;
    let response = client
        .send(&request, region, 16 << 20)
        .await
        .map_err(|e| e.to_string())?;
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let request_id = header("x-amzn-requestid")
        .or_else(|| header("x-amz-request-id"))
        .unwrap_or_else(|| "none".into());
    if response.is_success() {
        return Ok(Some((response.body, request_id)));
    }
    let (code, message) = error_of(op, &response.body, header("x-amzn-errortype"));
    if response.status == 404 && !code.contains("NoSuchPublicAccessBlock") {
        return Ok(None);
    }
    Err(format!(
        "{}:{} failed in {region}: {code}: {message} (HTTP {})",
        op.service, op.operation, response.status
    ))
}

/// The error code and message of a REST answer (JSON for Lambda, XML for S3).
fn error_of(op: &RestOp, body: &[u8], errortype: Option<String>) -> (String, String) {
    if op.service == "s3" {
        return cloudops_aws::xml::error_of(0, body);
    }
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| json.get(*n).and_then(Value::as_str).map(str::to_owned))
    };
    let code = errortype
        .map(|t| t.split(':').next().unwrap_or_default().to_owned())
        .or_else(|| field(&["__type", "Type", "code"]))
        .unwrap_or_else(|| "Unknown".into());
    let message = field(&["message", "Message"]).unwrap_or_default();
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(service: &str, operation: &str, params: Value) -> AwsRequest {
        request(
            rest_op(service, operation).unwrap(),
            params.as_object().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn lambda_labels_fill_the_uri_and_the_rest_is_the_json_body() {
        let r = build(
            "lambda",
            "PutFunctionConcurrency",
            json!({"FunctionName": "orders-api", "ReservedConcurrentExecutions": 5}),
        );
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("PUT", "/2017-10-31/functions/orders-api/concurrency")
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, json!({"ReservedConcurrentExecutions": 5}));
        let r = build(
            "lambda",
            "UpdateAlias",
            json!({"FunctionName": "f", "Name": "live", "FunctionVersion": "3"}),
        );
        assert_eq!(r.path, "/2015-03-31/functions/f/aliases/live");
        let r = build("lambda", "DeleteFunction", json!({"FunctionName": "f"}));
        assert!(r.body.is_empty() && r.method == "DELETE");
    }

    #[test]
    fn s3_payloads_are_namespaced_xml_with_their_list_names() {
        let r = build(
            "s3",
            "PutBucketEncryption",
            json!({"Bucket": "logs", "ServerSideEncryptionConfiguration":
                {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}),
        );
        assert_eq!(r.path, "/logs");
        assert_eq!(r.query, [("encryption".to_owned(), String::new())]);
        let xml = String::from_utf8(r.body).unwrap();
        assert!(xml.ends_with(r#"<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"#), "{xml}");
        let r = build(
            "s3",
            "PutBucketTagging",
            json!({"Bucket": "b", "Tagging": {"TagSet": [{"Key": "a&b", "Value": "1"}]}}),
        );
        let xml = String::from_utf8(r.body).unwrap();
        assert!(
            xml.contains("<TagSet><Tag><Key>a&amp;b</Key><Value>1</Value></Tag></TagSet>"),
            "{xml}"
        );
        assert!(r.headers.iter().any(|(k, _)| k == "x-amz-checksum-sha256"));
    }

    #[test]
    fn a_parameter_with_no_place_is_refused() {
        let err = request(
            rest_op("s3", "PutBucketVersioning").unwrap(),
            json!({"Bucket": "b", "VersioningConfiguration": {"Status": "Enabled"}, "MFA": "x"})
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        assert!(err.contains("MFA"), "{err}");
    }
}
