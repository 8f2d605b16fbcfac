//! Recording and replaying a plugin's AWS traffic, for `cloudops plugin test`.
//!
//! A *case* is a folder holding `case.json` (where the scan ran), `exchanges.json` (every
//! request the plugin made and the response it got) and `expected.json` (the resources it
//! emitted). Recording runs the plugin against a live endpoint; replaying answers the
//! plugin from `exchanges.json` with no network and compares what it emits.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::aws::{RawResponse, SendFuture, Transport, TransportError};
use crate::resource::Resource;

/// Where a recorded scan ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseInfo {
    /// Account id the scan reported.
    pub account_id: String,
    /// Region scanned.
    pub region: String,
    /// Plugin settings.
    #[serde(default)]
    pub settings: Vec<(String, String)>,
}

/// One request and its response, as the plugin saw them (no signature, no endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// HTTP method.
    pub method: String,
    /// Path and query string, as sent.
    pub path_and_query: String,
    /// Request body (text).
    #[serde(default)]
    pub request_body: String,
    /// Response status.
    pub status: u16,
    /// Response headers.
    #[serde(default)]
    pub response_headers: Vec<(String, String)>,
    /// Response body (text).
    pub response_body: String,
}

/// A recorded case, loaded.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case folder.
    pub dir: PathBuf,
    /// Where it ran.
    pub info: CaseInfo,
    /// The traffic.
    pub exchanges: Vec<Exchange>,
    /// What the plugin emitted.
    pub expected: Vec<Resource>,
}

/// A case that cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CaseError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl Case {
    /// Reads the case in `dir`.
    pub fn load(dir: &Path) -> Result<Self, CaseError> {
        fn read<T: serde::de::DeserializeOwned>(path: PathBuf) -> Result<T, CaseError> {
            let text = std::fs::read_to_string(&path).map_err(|e| CaseError {
                path: path.clone(),
                message: e.to_string(),
            })?;
            serde_json::from_str(&text).map_err(|e| CaseError {
                path,
                message: e.to_string(),
            })
        }
        Ok(Self {
            dir: dir.to_owned(),
            info: read(dir.join("case.json"))?,
            exchanges: read(dir.join("exchanges.json"))?,
            expected: read(dir.join("expected.json"))?,
        })
    }

    /// Writes the case into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<(), CaseError> {
        let io = |path: &Path, e: std::io::Error| CaseError {
            path: path.to_owned(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let write = |name: &str, value: serde_json::Value| {
            let path = dir.join(name);
            let text = serde_json::to_string_pretty(&value).expect("JSON values serialize") + "\n";
            std::fs::write(&path, text).map_err(|e| io(&path, e))
        };
        write(
            "case.json",
            serde_json::to_value(&self.info).expect("serializable"),
        )?;
        write(
            "exchanges.json",
            serde_json::to_value(&self.exchanges).expect("serializable"),
        )?;
        write(
            "expected.json",
            serde_json::to_value(&self.expected).expect("serializable"),
        )
    }

    /// The case folders under `root` (each subfolder with a `case.json`), sorted.
    pub fn discover(root: &Path) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("case.json").is_file())
            .collect();
        dirs.sort();
        dirs
    }
}

fn path_and_query(request: &http::Request<Vec<u8>>) -> String {
    request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into())
}

/// Passes requests to another transport and keeps a copy of each exchange.
pub struct RecordingTransport {
    inner: Arc<dyn Transport>,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl RecordingTransport {
    /// Records what goes through `inner`.
    pub fn new(inner: Arc<dyn Transport>) -> Self {
        Self {
            inner,
            log: Arc::default(),
        }
    }

    /// The exchanges so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().expect("recording lock").clone()
    }
}

impl Transport for RecordingTransport {
    fn send(&self, request: http::Request<Vec<u8>>, max_body: usize) -> SendFuture<'_> {
        let method = request.method().to_string();
        let path_and_query = path_and_query(&request);
        let request_body = String::from_utf8_lossy(request.body()).into_owned();
        Box::pin(async move {
            let response = self.inner.send(request, max_body).await?;
            self.log.lock().expect("recording lock").push(Exchange {
                method,
                path_and_query,
                request_body,
                status: response.status().as_u16(),
                response_headers: response
                    .headers()
                    .iter()
                    .filter(|(k, _)| k.as_str().starts_with("content-"))
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                response_body: String::from_utf8_lossy(response.body()).into_owned(),
            });
            Ok(response)
        })
    }
}

/// Answers each request with the recorded response for the same method, path, query and
/// body; a request that was not recorded fails like an unreachable endpoint.
pub struct ReplayTransport {
    remaining: Mutex<Vec<VecDeque<Exchange>>>,
}

impl ReplayTransport {
    /// Replays `exchanges`. Identical requests get their recorded responses in order.
    pub fn new(exchanges: Vec<Exchange>) -> Self {
        let mut groups: Vec<VecDeque<Exchange>> = Vec::new();
        for e in exchanges {
            match groups.iter_mut().find(|g| same_request(&g[0], &e)) {
                Some(group) => group.push_back(e),
                None => groups.push(VecDeque::from([e])),
            }
        }
        Self {
            remaining: Mutex::new(groups),
        }
    }
}

fn same_request(a: &Exchange, b: &Exchange) -> bool {
    a.method == b.method && a.path_and_query == b.path_and_query && a.request_body == b.request_body
}

impl Transport for ReplayTransport {
    fn send(&self, request: http::Request<Vec<u8>>, _max_body: usize) -> SendFuture<'_> {
        let wanted = Exchange {
            method: request.method().to_string(),
            path_and_query: path_and_query(&request),
            request_body: String::from_utf8_lossy(request.body()).into_owned(),
            status: 0,
            response_headers: Vec::new(),
            response_body: String::new(),
        };
        let found = {
            let mut groups = self.remaining.lock().expect("replay lock");
            groups
                .iter_mut()
                .find(|g| !g.is_empty() && same_request(&g[0], &wanted))
                .and_then(|g| {
                    // The last response of a group answers any further identical request.
                    if g.len() > 1 {
                        g.pop_front()
                    } else {
                        g.front().cloned()
                    }
                })
        };
        Box::pin(async move {
            let exchange = found.ok_or_else(|| TransportError::Network {
                url: wanted.path_and_query.clone(),
                reason: format!(
                    "no recorded response for {} {} (body: {}); record the case again",
                    wanted.method, wanted.path_and_query, wanted.request_body
                ),
            })?;
            let mut builder = http::Response::builder().status(exchange.status);
            for (k, v) in &exchange.response_headers {
                builder = builder.header(k, v);
            }
            let response: RawResponse =
                builder
                    .body(exchange.response_body.into_bytes())
                    .map_err(|e| TransportError::Network {
                        url: wanted.path_and_query,
                        reason: format!("recorded response is invalid: {e}"),
                    })?;
            Ok(response)
        })
    }
}

/// How the emitted resources differ from the expected ones, or `None` when they match.
/// Order does not matter; the message names the first difference.
pub fn compare(expected: &[Resource], got: &[Resource]) -> Option<String> {
    let key = |r: &Resource| (r.resource_type.clone(), r.identifier.clone());
    let mut expected: Vec<&Resource> = expected.iter().collect();
    let mut got: Vec<&Resource> = got.iter().collect();
    expected.sort_by_key(|r| key(r));
    got.sort_by_key(|r| key(r));
    for e in &expected {
        match got.iter().find(|g| key(g) == key(e)) {
            None => return Some(format!("missing {} `{}`", e.resource_type, e.identifier)),
            Some(g) if g != e => {
                let (ej, gj) = (
                    serde_json::to_value(e).expect("ser"),
                    serde_json::to_value(g).expect("ser"),
                );
                let field = ej
                    .as_object()
                    .expect("resource is an object")
                    .iter()
                    .find(|(k, v)| gj.get(k.as_str()) != Some(v))
                    .map(|(k, v)| format!("`{k}`: expected {v}, got {}", gj[k.as_str()]))
                    .unwrap_or_default();
                return Some(format!(
                    "{} `{}` differs in {field}",
                    e.resource_type, e.identifier
                ));
            }
            Some(_) => {}
        }
    }
    got.iter()
        .find(|g| !expected.iter().any(|e| key(e) == key(g)))
        .map(|g| format!("unexpected {} `{}`", g.resource_type, g.identifier))
}

/// The result of replaying one case.
#[derive(Debug)]
pub struct CaseOutcome {
    /// `None` when the plugin emitted exactly the expected resources.
    pub mismatch: Option<String>,
    /// The scan report, or why the scan failed.
    pub result: Result<super::ScanReport, super::PluginError>,
}

/// A client that answers from `exchanges` and never touches the network. Its requests are
/// still checked and signed, with throwaway keys, so plugins and playbook components run
/// exactly as in production.
pub fn replay_client(exchanges: Vec<Exchange>) -> crate::aws::AwsClient {
    crate::aws::AwsClient::new(
        crate::aws::Credentials::new("AKIDREPLAY", "replay", None, None, "replay"),
        crate::aws::Endpoints::default().with_global("http://replay.invalid"),
        Arc::new(ReplayTransport::new(exchanges)),
    )
    // A replay answers the same way every time: a missing exchange is final.
    .with_retry(crate::aws::RetryPolicy {
        max_attempts: 1,
        ..Default::default()
    })
}

/// A client that sends through the network as usual and keeps a copy of every exchange in
/// the recorder it returns.
pub fn recording_client(
    credentials: crate::aws::Credentials,
    endpoints: crate::aws::Endpoints,
) -> Result<(crate::aws::AwsClient, Arc<RecordingTransport>), crate::aws::TransportError> {
    let recorder = Arc::new(RecordingTransport::new(Arc::new(
        crate::aws::HttpTransport::new()?,
    )));
    let client = crate::aws::AwsClient::new(credentials, endpoints, recorder.clone());
    Ok((client, recorder))
}

/// Runs `plugin` over `case` with no network and compares what it emits.
pub async fn replay_case(plugin: &super::Plugin, case: &Case) -> CaseOutcome {
    let client = replay_client(case.exchanges.clone());
    let scan = crate::scan::scan_region(
        plugin,
        &client,
        &case.info.account_id,
        &case.info.region,
        &case.info.settings,
    )
    .await;
    let mismatch = match &scan.result {
        Ok(_) => compare(&case.expected, &scan.resources),
        Err(_) => None,
    };
    CaseOutcome {
        mismatch,
        result: scan.result,
    }
}

/// Runs `plugin` against a live endpoint through `client`'s transport wrapped in a
/// recorder, and returns the case it makes.
pub async fn record_case(
    plugin: &super::Plugin,
    credentials: crate::aws::Credentials,
    endpoints: crate::aws::Endpoints,
    info: CaseInfo,
) -> Result<Case, super::PluginError> {
    let (client, recorder) =
        recording_client(credentials, endpoints).map_err(|e| super::PluginError::Invalid {
            plugin: plugin.name().to_owned(),
            reason: e.to_string(),
        })?;
    let scan = crate::scan::scan_region(
        plugin,
        &client,
        &info.account_id,
        &info.region,
        &info.settings,
    )
    .await;
    scan.result?;
    Ok(Case {
        dir: PathBuf::new(),
        info,
        exchanges: recorder.exchanges(),
        expected: scan.resources,
    })
}
