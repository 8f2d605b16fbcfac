//! Deriving the operation a request will run, by the service's own routing rules, and
//! rebuilding the request from what was understood.
//!
//! The gate never trusts what a request *claims*: it reads the request the way the service
//! will, refuses whatever that reading leaves open (two candidate operations, an extra
//! parameter, bytes it cannot decode, a header that frames or routes), and then sends a
//! request the host serialized itself from what it understood. So the operation that is
//! checked, budgeted and logged is the one the service executes.

use percent_encoding::percent_decode_str;

use crate::aws::AwsRequest;

use super::model::{path_segments, Api, Model, Op, Protocol};
use super::{shown, Operation, Refusal};

/// Size caps for what a plugin may send (set from [`Limits`](crate::Limits)); a
/// legitimate scanner request is far smaller.
#[derive(Debug, Clone, Copy)]
pub struct RequestCaps {
    /// Longest path, in bytes.
    pub path: usize,
    /// Longest query string (keys and values), in bytes.
    pub query: usize,
    /// Largest body, in bytes.
    pub body: usize,
}

/// A request the gate understood, rebuilt by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// What the service will execute.
    pub operation: Operation,
    /// The request to sign and send: the plugin's parameters, the host's framing.
    pub request: AwsRequest,
    /// REST path labels and their values (`Bucket` → `my-bucket`).
    pub labels: Vec<(&'static str, String)>,
}

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

pub(crate) fn classify(req: &AwsRequest, caps: RequestCaps) -> Result<Classified, Refusal> {
    let model = Model::get();
    let apis = model
        .apis(&req.service)
        .ok_or_else(|| Refusal::UnknownService {
            service: shown(&req.service),
            table: model.source,
        })?;
    check_shape(req, caps)?;
    let accept = plugin_headers(req, apis)?;
    let protocol = apis[0].protocol;
    let mut out = match protocol {
        Protocol::Query | Protocol::Ec2 => query_protocol(req, apis)?,
        Protocol::Json => json_protocol(req, apis)?,
        Protocol::RestJson | Protocol::RestXml => rest_protocol(req, apis)?,
    };
    if let Some(accept) = accept {
        out.request.headers.push(("accept".into(), accept));
    }
    Ok(out)
}

/// Method, path and sizes: what every protocol requires.
fn check_shape(req: &AwsRequest, caps: RequestCaps) -> Result<(), Refusal> {
    let malformed = |why: String| Err(Refusal::Malformed { why });
    if !matches!(
        req.method.as_str(),
        "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH"
    ) {
        return malformed(format!(
            "method {} is not an AWS API method",
            shown(&req.method)
        ));
    }
    if !req.path.starts_with('/') {
        return malformed(format!("path {} must start with `/`", shown(&req.path)));
    }
    if req.path.len() > caps.path {
        return malformed(format!(
            "path is {} bytes, over the {}-byte cap",
            req.path.len(),
            caps.path
        ));
    }
    if path_segments(&req.path).any(|s| s == "." || s == "..") {
        return malformed(format!(
            "path {} has `.` or `..` segments",
            shown(&req.path)
        ));
    }
    let query_bytes: usize = req.query.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if query_bytes > caps.query {
        return malformed(format!(
            "query string is {query_bytes} bytes, over the {}-byte cap",
            caps.query
        ));
    }
    if req.body.len() > caps.body {
        return malformed(format!(
            "body is {} bytes, over the {}-byte cap",
            req.body.len(),
            caps.body
        ));
    }
    let text = |s: &str| s.chars().any(char::is_control);
    if text(&req.path) || req.query.iter().any(|(k, v)| text(k) || text(v)) {
        return malformed("path or query holds control characters".into());
    }
    let mut keys: Vec<&str> = req.query.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        return malformed(format!("query parameter {} appears twice", shown(w[0])));
    }
    Ok(())
}

/// The headers a plugin may set: `accept` (kept), `content-type` (replaced by the host's)
/// and, for JSON-protocol services, `x-amz-target` (read as the operation, then re-set by
/// the host). Every other header frames, routes or authenticates, and those are the host's.
fn plugin_headers(req: &AwsRequest, apis: &[Api]) -> Result<Option<String>, Refusal> {
    let mut accept = None;
    for (name, value) in &req.headers {
        match name.to_ascii_lowercase().as_str() {
            "accept" if value.len() <= 256 && value.bytes().all(|b| (0x20..0x7f).contains(&b)) => {
                accept = Some(value.clone())
            }
            "content-type" => {}
            "x-amz-target" if apis[0].protocol == Protocol::Json => {}
            other => return Err(Refusal::Header { name: shown(other) }),
        }
    }
    Ok(accept)
}

/// `Action` and `Version` in a form body, and nothing in the query string: the form the
/// AWS SDKs send. The body is decoded strictly and sent re-encoded by the host.
fn query_protocol(req: &AwsRequest, apis: &[Api]) -> Result<Classified, Refusal> {
    if req.method != "POST" || req.path != "/" || !req.query.is_empty() {
        return Err(Refusal::Malformed {
            why: "query-protocol calls are `POST /` with every parameter, `Action` included, \
                  in the form body"
                .into(),
        });
    }
    let pairs = decode_form(&req.body)?;
    let one = |key: &str| {
        let mut found = pairs.iter().filter(|(k, _)| k == key);
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Ok(v.clone()),
            _ => Err(Refusal::Malformed {
                why: format!("the form body must hold exactly one `{key}`"),
            }),
        }
    };
    let (action, version) = (one("Action")?, one("Version")?);
    // Several APIs can share an endpoint and a version (RDS, Neptune and DocumentDB all
    // serve `rds` at 2014-10-31): the operation is the one any of them defines.
    let mut versioned = apis.iter().filter(|api| api.version == version).peekable();
    if versioned.peek().is_none() {
        return Err(Refusal::UnknownVersion {
            service: req.service.clone(),
            version: shown(&version),
            known: apis.iter().map(|a| a.version).collect(),
        });
    }
    let (api, op) = versioned
        .find_map(|api| {
            api.ops
                .iter()
                .find(|op| op.name == action)
                .map(|op| (api, op))
        })
        .ok_or_else(|| Refusal::UnknownOperation {
            service: req.service.clone(),
            operation: shown(&action),
        })?;
    let mut body = format!("Action={}&Version={}", encode(op.name), encode(api.version));
    for (k, v) in pairs
        .iter()
        .filter(|(k, _)| k != "Action" && k != "Version")
    {
        body.push('&');
        body.push_str(&encode(k));
        body.push('=');
        body.push_str(&encode(v));
    }
    Ok(Classified {
        operation: Operation::new(&req.service, op.name),
        request: rebuilt(
            req,
            "POST",
            Vec::new(),
            body.into_bytes(),
            vec![("content-type".into(), FORM.into())],
        ),
        labels: Vec::new(),
    })
}

/// `X-Amz-Target: Prefix.Operation`, a JSON object body, `POST /`.
fn json_protocol(req: &AwsRequest, apis: &[Api]) -> Result<Classified, Refusal> {
    if req.method != "POST" || req.path != "/" || !req.query.is_empty() {
        return Err(Refusal::Malformed {
            why: "JSON-protocol calls are `POST /` with no query string".into(),
        });
    }
    let mut targets = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"));
    let target =
        match (targets.next(), targets.next()) {
            (Some((_, v)), None) => v,
            _ => return Err(Refusal::Malformed {
                why:
                    "JSON-protocol calls name their operation in exactly one `X-Amz-Target` header"
                        .into(),
            }),
        };
    let (prefix, action) = target.rsplit_once('.').unwrap_or(("", target));
    let api = apis
        .iter()
        .find(|a| a.target_prefix == Some(prefix))
        .ok_or_else(|| Refusal::Malformed {
            why: format!(
                "X-Amz-Target {} names no API of `{}`",
                shown(target),
                req.service
            ),
        })?;
    let op = find_op(api, &req.service, action)?;
    let body = canonical_json(&req.body)?.unwrap_or_else(|| b"{}".to_vec());
    let headers = vec![
        (
            "content-type".into(),
            format!(
                "application/x-amz-json-{}",
                api.json_version.unwrap_or("1.0")
            ),
        ),
        ("x-amz-target".into(), format!("{prefix}.{}", op.name)),
    ];
    Ok(Classified {
        operation: Operation::new(&req.service, op.name),
        request: rebuilt(req, "POST", Vec::new(), body, headers),
        labels: Vec::new(),
    })
}

/// REST: the most specific (method, path template, query literals) route wins, as in the
/// services' routers; a tie between different operations, or a query parameter the winner
/// does not define, is refused rather than guessed.
fn rest_protocol(req: &AwsRequest, apis: &[Api]) -> Result<Classified, Refusal> {
    let segments: Vec<&str> = path_segments(&req.path).collect();
    let has = |key: &str, value: Option<&str>| {
        req.query
            .iter()
            .any(|(k, v)| k == key && value.is_none_or(|value| v == value))
    };
    let mut candidates: Vec<Candidate> = Vec::new();
    for op in apis
        .iter()
        .filter(|a| a.protocol.is_rest())
        .flat_map(|a| &a.ops)
    {
        let Some(route) = &op.route else { continue };
        if route.method != req.method
            || !route.literals.iter().all(|(k, v)| has(k, *v))
            || !op.required_query.iter().all(|k| has(k, None))
        {
            continue;
        }
        if let Some(labels) = route.match_path(&segments) {
            candidates.push((op, labels, route.specificity(op.required_query.len())));
        }
    }
    let route_text = || {
        let keys: Vec<&str> = req.query.iter().map(|(k, _)| k.as_str()).collect();
        shown(&format!("{} {}?{}", req.method, req.path, keys.join("&")))
    };
    let best = candidates
        .iter()
        .map(|c| c.2)
        .max()
        .ok_or_else(|| Refusal::NoRoute {
            service: req.service.clone(),
            route: route_text(),
        })?;
    candidates.retain(|c| c.2 == best);
    let mut names: Vec<&str> = candidates.iter().map(|c| c.0.name).collect();
    names.dedup();
    if names.len() > 1 {
        return Err(Refusal::Ambiguous {
            service: req.service.clone(),
            route: route_text(),
            operations: names.iter().map(|s| s.to_string()).collect(),
        });
    }
    let (op, labels, _) = candidates.swap_remove(0);
    let route = op.route.as_ref().expect("candidates have routes");
    if let Some((key, _)) = req.query.iter().find(|(k, _)| {
        !route.literals.iter().any(|(lit, _)| lit == k) && !op.query_members.contains(&k.as_str())
    }) {
        return Err(Refusal::UnexpectedParameter {
            operation: Operation::new(&req.service, op.name).to_string(),
            parameter: shown(key),
        });
    }
    let (body, headers) = match (req.body.is_empty(), apis[0].protocol) {
        (true, _) => (Vec::new(), Vec::new()),
        (false, _) if matches!(req.method.as_str(), "GET" | "HEAD" | "DELETE") => {
            return Err(Refusal::Malformed {
                why: format!("a {} request has no body", req.method),
            })
        }
        (false, Protocol::RestJson) => (
            canonical_json(&req.body)?.unwrap_or_default(),
            vec![("content-type".into(), "application/json".into())],
        ),
        (false, _) => {
            std::str::from_utf8(&req.body).map_err(|_| Refusal::Malformed {
                why: "the body is not UTF-8 text".into(),
            })?;
            (
                req.body.clone(),
                vec![("content-type".into(), "application/xml".into())],
            )
        }
    };
    Ok(Classified {
        operation: Operation::new(&req.service, op.name),
        request: rebuilt(req, &req.method, req.query.clone(), body, headers),
        labels,
    })
}

/// A REST operation whose route matches: its labels' values and its specificity.
type Candidate<'a> = (&'a Op, Vec<(&'static str, String)>, (usize, usize));

fn find_op<'a>(api: &'a Api, service: &str, name: &str) -> Result<&'a Op, Refusal> {
    api.ops
        .iter()
        .find(|op| op.name == name)
        .ok_or_else(|| Refusal::UnknownOperation {
            service: service.to_owned(),
            operation: shown(name),
        })
}

fn rebuilt(
    req: &AwsRequest,
    method: &str,
    query: Vec<(String, String)>,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
) -> AwsRequest {
    AwsRequest {
        service: req.service.clone(),
        method: method.to_owned(),
        path: req.path.clone(),
        query,
        headers,
        body,
    }
}

/// A form body, decoded strictly: UTF-8, valid `%XX` escapes, `+` as space, no empty or
/// repeated keys. Anything a lenient parser might read differently is refused.
fn decode_form(body: &[u8]) -> Result<Vec<(String, String)>, Refusal> {
    let malformed = |why: &str| Refusal::Malformed {
        why: format!("the form body {why}"),
    };
    let text = std::str::from_utf8(body).map_err(|_| malformed("is not UTF-8 text"))?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| -> Result<String, Refusal> {
            let bytes = s.as_bytes();
            let bad_escape = bytes.iter().enumerate().any(|(i, &b)| {
                b == b'%'
                    && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                        && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            });
            if bad_escape || s.contains(';') {
                return Err(malformed("has an invalid escape or separator"));
            }
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| malformed("decodes to bytes that are not UTF-8"))
        };
        let (k, v) = (decode(k)?, decode(v)?);
        if k.is_empty() || pairs.iter().any(|(seen, _)| *seen == k) {
            return Err(malformed("has an empty or repeated parameter name"));
        }
        if k.chars().chain(v.chars()).any(char::is_control) {
            return Err(malformed("holds control characters"));
        }
        pairs.push((k, v));
    }
    Ok(pairs)
}

/// An empty body (`None`) or a JSON object, re-serialized so that what is sent is exactly
/// what was read (no duplicate keys, no trailing bytes, no other encoding).
fn canonical_json(body: &[u8]) -> Result<Option<Vec<u8>>, Refusal> {
    if body.is_empty() {
        return Ok(None);
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(Some(v.to_string().into_bytes())),
        _ => Err(Refusal::Malformed {
            why: "the body is not a JSON object".into(),
        }),
    }
}

fn encode(s: &str) -> String {
    crate::aws::aws_encode(s)
}
