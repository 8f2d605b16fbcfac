//! Where the seeder's requests go: one [`Site`] per account and region, sharing the
//! estate, the request permits, one lane per emulator backend, and the progress events.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::super::estate_file::{EstateFile, Plan, ResourceKind};
use super::{SeedError, EC2_VERSION, ELB_VERSION, IAM_VERSION, RDS_VERSION, STS_VERSION};
use crate::aws::xml::{error_of, first_text};
use crate::aws::{
    AwsClient, AwsRequest, Credentials, Endpoints, HttpTransport, QueryError, Transport,
};

pub(super) enum Event {
    Created {
        kind: ResourceKind,
        n: usize,
        location: String,
    },
    Requests {
        label: &'static str,
        n: usize,
    },
}

pub(super) struct Shared {
    pub estate: EstateFile,
    /// One lane per emulator backend (service, account and, for regional services,
    /// region): moto's backends are not thread-safe (two RunInstances in one subnet, or a
    /// CreateDBCluster beside a CreateDBInstance, fail with HTTP 500), so each backend
    /// gets one request at a time while different backends run in parallel.
    pub lanes: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub permits: Semaphore,
    pub requests: Arc<AtomicUsize>,
    pub events: mpsc::UnboundedSender<Event>,
    pub transport: Arc<HttpTransport>,
    pub url: String,
    /// Instances launched by one RunInstances call.
    pub max_launch: usize,
}

pub(super) type Params = Vec<(String, String)>;

/// What a request is counted under in [`SeedReport::requests_by_type`].
#[derive(Clone, Copy)]
pub(super) struct Counted(pub &'static str);

impl From<ResourceKind> for Counted {
    fn from(kind: ResourceKind) -> Self {
        Counted(kind.as_str())
    }
}

/// The accounts' roles and sessions.
pub(super) const SETUP: Counted = Counted("iam");
pub(super) type Task<T> = Pin<Box<dyn Future<Output = Result<T, SeedError>> + Send>>;

/// Where requests go and what they are about, for errors and counts.
#[derive(Clone)]
pub(super) struct Site {
    pub shared: Arc<Shared>,
    pub client: AwsClient,
    pub account: String,
    pub region: String,
}

impl Shared {
    pub fn client(&self, credentials: Credentials) -> AwsClient {
        let transport: Arc<dyn Transport> = self.transport.clone();
        AwsClient::new(
            credentials,
            Endpoints::default().with_global(&self.url),
            transport,
        )
    }

    pub fn plan(&self) -> &Plan {
        self.estate.plan()
    }

    /// The lane of `service` in `account` and `region` (global services have one lane per
    /// account).
    pub fn lane(&self, account: &str, region: &str, service: &str) -> Arc<tokio::sync::Mutex<()>> {
        let key = match service {
            "s3" | "iam" | "sts" => format!("{account}/{service}"),
            _ => format!("{account}/{region}/{service}"),
        };
        self.lanes
            .lock()
            .expect("lane map lock")
            .entry(key)
            .or_default()
            .clone()
    }
}

impl Site {
    pub fn fail(&self, what: &str, source: QueryError) -> SeedError {
        SeedError::Aws {
            account: self.account.clone(),
            region: self.region.clone(),
            what: what.to_owned(),
            source: Box::new(source),
        }
    }

    pub fn count(&self, label: Counted) {
        self.shared.requests.fetch_add(1, Ordering::Relaxed);
        let _ = self.shared.events.send(Event::Requests {
            label: label.0,
            n: 1,
        });
    }

    pub fn created(&self, kind: ResourceKind, n: usize) {
        let _ = self.shared.events.send(Event::Created {
            kind,
            n,
            location: format!("{}/{}", self.account, self.region),
        });
    }

    /// One query-protocol call.
    pub async fn query(
        &self,
        kind: impl Into<Counted>,
        what: &str,
        service: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<Vec<u8>, SeedError> {
        let version = match service {
            "ec2" => EC2_VERSION,
            "rds" => RDS_VERSION,
            "iam" => IAM_VERSION,
            "elasticloadbalancing" => ELB_VERSION,
            _ => STS_VERSION,
        };
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let lane = self.shared.lane(&self.account, &self.region, service);
        let _lane = lane.lock().await;
        let _permit = self.shared.permits.acquire().await.expect("never closed");
        self.count(kind.into());
        self.client
            .query(&self.region, service, action, version, &params)
            .await
            .map_err(|e| self.fail(what, e))
    }

    /// One REST call (S3, Lambda); a non-2xx answer is an error.
    #[allow(clippy::too_many_arguments)]
    pub async fn rest(
        &self,
        kind: impl Into<Counted>,
        what: &str,
        service: &str,
        method: &str,
        path: String,
        query: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, SeedError> {
        let content_type = if service == "s3" {
            "application/xml"
        } else {
            "application/json"
        };
        let request = AwsRequest {
            service: service.to_owned(),
            method: method.to_owned(),
            path,
            query: query
                .map(|q| (q.to_owned(), String::new()))
                .into_iter()
                .collect(),
            headers: vec![("content-type".into(), content_type.into())],
            body,
        };
        let lane = self.shared.lane(&self.account, &self.region, service);
        let _lane = lane.lock().await;
        let _permit = self.shared.permits.acquire().await.expect("never closed");
        self.count(kind.into());
        let action = format!("{method} {}", request.path);
        let response = self
            .client
            .send(&request, &self.region, 16 << 20)
            .await
            .map_err(|e| self.fail(what, QueryError::Send(e)))?;
        if response.is_success() {
            return Ok(response.body);
        }
        let (code, message) = error_of(response.status, &response.body);
        Err(self.fail(
            what,
            QueryError::Aws {
                service: service.to_owned(),
                action,
                region: self.region.clone(),
                status: response.status,
                code,
                message,
            },
        ))
    }

    pub fn id_of(
        &self,
        body: &[u8],
        tag: &str,
        what: &str,
        action: &str,
    ) -> Result<String, SeedError> {
        first_text(body, tag).ok_or_else(|| {
            self.fail(
                what,
                QueryError::malformed(
                    "ec2",
                    action,
                    &self.region,
                    format!("no <{tag}> in the response"),
                ),
            )
        })
    }
}

/// Runs `tasks` at once (each waits for a request permit) and returns their results in
/// order; the first failure cancels the rest.
pub(super) async fn all<T: Send + 'static>(tasks: Vec<Task<T>>) -> Result<Vec<T>, SeedError> {
    let mut set = JoinSet::new();
    let n = tasks.len();
    for (i, t) in tasks.into_iter().enumerate() {
        set.spawn(async move { t.await.map(|v| (i, v)) });
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (i, v) = joined.map_err(|e| SeedError::Task(e.to_string()))??;
        out[i] = Some(v);
    }
    Ok(out
        .into_iter()
        .map(|v| v.expect("every task reported"))
        .collect())
}

/// `TagSpecification.1` for `resource_type`: the Name first (if any), then the tags in key
/// order, as the offline resources expect them.
pub(super) fn tag_spec(
    params: &mut Params,
    n: usize,
    resource_type: &str,
    name: Option<&str>,
    tags: &BTreeMap<String, String>,
) {
    let prefix = format!("TagSpecification.{n}");
    params.push((format!("{prefix}.ResourceType"), resource_type.to_owned()));
    let all = name
        .map(|n| ("Name", n))
        .into_iter()
        .chain(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (i, (k, v)) in all.enumerate() {
        params.push((format!("{prefix}.Tag.{}.Key", i + 1), k.to_owned()));
        params.push((format!("{prefix}.Tag.{}.Value", i + 1), v.to_owned()));
    }
}

pub(super) fn p(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
