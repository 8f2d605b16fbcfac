//! Creating estates in the emulator with real, signed API calls: [`seed_estate`] for a
//! whole [`EstateFile`] across accounts and regions, and the older single-region
//! [`seed_ec2`].

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::emulator::{Emulator, DEMO_ACCOUNT};
use super::estate_file::{
    EstateFile, Plan, RdsSnapshotPlan, Resolved, ResourceKind, RuleSource, SgRef, SnapshotSource,
    SubnetRef, VpcRef,
};
use crate::aws::xml::{error_of, first_text, texts};
use crate::aws::{
    AwsClient, AwsRequest, Credentials, Endpoints, HttpTransport, QueryError, Transport,
};

const EC2_VERSION: &str = "2016-11-15";

/// One instance to create.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// The `Name` tag.
    pub name: String,
    /// Other tags.
    pub tags: Vec<(String, String)>,
    /// `t3.micro`, ...
    pub instance_type: String,
    /// Stop it after launch.
    pub stopped: bool,
    /// Attach an extra data volume (and snapshot it).
    pub data_volume_gib: Option<u32>,
}

/// An EC2 estate for one region.
#[derive(Debug, Clone)]
pub struct Ec2Estate {
    /// Instances to launch, all in one VPC/subnet/security group.
    pub instances: Vec<InstanceSpec>,
}

impl Ec2Estate {
    /// The small estate `cloudops demo` shows: a production web tier and database host,
    /// a stopped staging box, each with tags a search would use.
    pub fn demo() -> Self {
        let tags = |env: &str, app: &str| {
            vec![
                ("env".to_owned(), env.to_owned()),
                ("app".to_owned(), app.to_owned()),
            ]
        };
        Self {
            instances: vec![
                InstanceSpec {
                    name: "web-server-1".into(),
                    tags: tags("production", "api"),
                    instance_type: "t3.medium".into(),
                    stopped: false,
                    data_volume_gib: None,
                },
                InstanceSpec {
                    name: "web-server-2".into(),
                    tags: tags("production", "api"),
                    instance_type: "t3.medium".into(),
                    stopped: false,
                    data_volume_gib: None,
                },
                InstanceSpec {
                    name: "db-host-1".into(),
                    tags: tags("production", "main"),
                    instance_type: "r6g.large".into(),
                    stopped: false,
                    data_volume_gib: Some(100),
                },
                InstanceSpec {
                    name: "staging-box".into(),
                    tags: tags("staging", "api"),
                    instance_type: "t3.small".into(),
                    stopped: true,
                    data_volume_gib: None,
                },
            ],
        }
    }
}

/// What seeding created, with the identifiers AWS assigned.
#[derive(Debug, Clone, Default)]
pub struct SeededEc2 {
    /// VPC id.
    pub vpc_id: String,
    /// Subnet id.
    pub subnet_id: String,
    /// Security group id.
    pub security_group_id: String,
    /// `(Name tag, instance id)`, in spec order.
    pub instances: Vec<(String, String)>,
    /// `(instance id, volume id)` of the extra data volumes.
    pub data_volumes: Vec<(String, String)>,
    /// `(volume id, snapshot id)`.
    pub snapshots: Vec<(String, String)>,
}

/// Creates `estate` in `region` and returns the identifiers.
pub async fn seed_ec2(
    client: &AwsClient,
    region: &str,
    estate: &Ec2Estate,
) -> Result<SeededEc2, QueryError> {
    let call = |action: &'static str, params: Vec<(String, String)>| async move {
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        client
            .query(region, "ec2", action, EC2_VERSION, &params)
            .await
    };
    let id = |body: &[u8], tag: &str, action: &str| {
        first_text(body, tag).ok_or_else(|| {
            QueryError::malformed("ec2", action, region, format!("no <{tag}> in the response"))
        })
    };
    let p = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };

    let mut seeded = SeededEc2::default();
    let body = call(
        "CreateVpc",
        p(&[
            ("CidrBlock", "10.0.0.0/16"),
            ("TagSpecification.1.ResourceType", "vpc"),
            ("TagSpecification.1.Tag.1.Key", "Name"),
            ("TagSpecification.1.Tag.1.Value", "demo-vpc"),
        ]),
    )
    .await?;
    seeded.vpc_id = id(&body, "vpcId", "CreateVpc")?;
    let az = format!("{region}a");
    let body = call(
        "CreateSubnet",
        p(&[
            ("VpcId", &seeded.vpc_id),
            ("CidrBlock", "10.0.1.0/24"),
            ("AvailabilityZone", &az),
        ]),
    )
    .await?;
    seeded.subnet_id = id(&body, "subnetId", "CreateSubnet")?;
    let body = call(
        "CreateSecurityGroup",
        p(&[
            ("GroupName", "web"),
            ("GroupDescription", "web tier"),
            ("VpcId", &seeded.vpc_id),
        ]),
    )
    .await?;
    seeded.security_group_id = id(&body, "groupId", "CreateSecurityGroup")?;

    for spec in &estate.instances {
        let mut params = p(&[
            ("ImageId", "ami-12345678"),
            ("InstanceType", &spec.instance_type),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("SubnetId", &seeded.subnet_id),
            ("SecurityGroupId.1", &seeded.security_group_id),
            ("TagSpecification.1.ResourceType", "instance"),
            ("TagSpecification.1.Tag.1.Key", "Name"),
            ("TagSpecification.1.Tag.1.Value", &spec.name),
        ]);
        for (i, (k, v)) in spec.tags.iter().enumerate() {
            params.push((format!("TagSpecification.1.Tag.{}.Key", i + 2), k.clone()));
            params.push((format!("TagSpecification.1.Tag.{}.Value", i + 2), v.clone()));
        }
        let body = call("RunInstances", params).await?;
        let instance_id = id(&body, "instanceId", "RunInstances")?;
        if let Some(size) = spec.data_volume_gib {
            let volume_name = format!("{}-data", spec.name);
            let body = call(
                "CreateVolume",
                p(&[
                    ("Size", &size.to_string()),
                    ("AvailabilityZone", &az),
                    ("VolumeType", "gp3"),
                    ("TagSpecification.1.ResourceType", "volume"),
                    ("TagSpecification.1.Tag.1.Key", "Name"),
                    ("TagSpecification.1.Tag.1.Value", &volume_name),
                ]),
            )
            .await?;
            let volume_id = id(&body, "volumeId", "CreateVolume")?;
            call(
                "AttachVolume",
                p(&[
                    ("VolumeId", &volume_id),
                    ("InstanceId", &instance_id),
                    ("Device", "/dev/sdf"),
                ]),
            )
            .await?;
            let body = call(
                "CreateSnapshot",
                p(&[
                    ("VolumeId", &volume_id),
                    ("Description", &format!("nightly backup of {volume_name}")),
                    ("TagSpecification.1.ResourceType", "snapshot"),
                    ("TagSpecification.1.Tag.1.Key", "Name"),
                    (
                        "TagSpecification.1.Tag.1.Value",
                        &format!("{volume_name}-nightly"),
                    ),
                ]),
            )
            .await?;
            let snapshot_id = id(&body, "snapshotId", "CreateSnapshot")?;
            seeded
                .data_volumes
                .push((instance_id.clone(), volume_id.clone()));
            seeded.snapshots.push((volume_id, snapshot_id));
        }
        if spec.stopped {
            call("StopInstances", p(&[("InstanceId.1", &instance_id)])).await?;
        }
        seeded.instances.push((spec.name.clone(), instance_id));
    }
    Ok(seeded)
}

/// Creates IAM user `user` with an inline policy and an access key; returns
/// `(access key id, secret)`. With the emulator's authentication on, only keys made this
/// way are accepted, and the policy decides what they may do.
pub async fn create_iam_user(
    client: &AwsClient,
    user: &str,
    policy_json: &str,
) -> Result<(String, String), QueryError> {
    const IAM_VERSION: &str = "2010-05-08";
    let region = "us-east-1";
    client
        .query(
            region,
            "iam",
            "CreateUser",
            IAM_VERSION,
            &[("UserName", user)],
        )
        .await?;
    client
        .query(
            region,
            "iam",
            "PutUserPolicy",
            IAM_VERSION,
            &[
                ("UserName", user),
                ("PolicyName", "cloudops-demo"),
                ("PolicyDocument", policy_json),
            ],
        )
        .await?;
    let body = client
        .query(
            region,
            "iam",
            "CreateAccessKey",
            IAM_VERSION,
            &[("UserName", user)],
        )
        .await?;
    let missing = |tag: &str| {
        QueryError::malformed(
            "iam",
            "CreateAccessKey",
            region,
            format!("no <{tag}> in the response"),
        )
    };
    let key = first_text(&body, "AccessKeyId").ok_or_else(|| missing("AccessKeyId"))?;
    let secret = first_text(&body, "SecretAccessKey").ok_or_else(|| missing("SecretAccessKey"))?;
    Ok((key, secret))
}

// ---------------------------------------------------------------------------------------
// Seeding a whole estate file
// ---------------------------------------------------------------------------------------

const RDS_VERSION: &str = "2014-10-31";
const IAM_VERSION: &str = "2010-05-08";
const STS_VERSION: &str = "2011-06-15";
const ELB_VERSION: &str = "2015-12-01";
/// Requests in flight at once. moto serves one request at a time per core (the GIL), so
/// more only queue; a few hide the round trips.
const CONCURRENCY: usize = 8;
/// Instances launched by one RunInstances call.
const MAX_LAUNCH: usize = 50;
/// The session name the seeder's role sessions carry.
const SESSION: &str = "cloudops-demo";

/// How far seeding has come; sent after every resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedProgress {
    /// Resources created so far (layer versions counted one by one).
    pub done: usize,
    /// Resources to create.
    pub total: usize,
    /// AWS requests sent so far.
    pub requests: usize,
    /// The type of the resource just created.
    pub kind: ResourceKind,
    /// Where it was created: `account/region`.
    pub location: String,
}

/// An account the seeder signed in to, with the role session it used.
#[derive(Clone)]
pub struct SeededAccount {
    /// The account id.
    pub id: String,
    /// The account's name in the estate file.
    pub name: String,
    /// The principal role (`arn:aws:iam::<id>:role/<role>`).
    pub role_arn: String,
    /// The role session's keys: the emulator serves them as this account.
    pub credentials: Credentials,
}

impl std::fmt::Debug for SeededAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeededAccount")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role_arn", &self.role_arn)
            .field("access_key_id", &self.credentials.access_key_id())
            .finish_non_exhaustive()
    }
}

impl SeededAccount {
    /// A client for this account on `emulator`, signing with the role session.
    pub fn client(&self, emulator: &Emulator) -> AwsClient {
        AwsClient::new(
            self.credentials.clone(),
            Endpoints::default().with_global(emulator.url()),
            Arc::new(HttpTransport::new().expect("a default HTTP client always builds")),
        )
    }
}

/// What [`seed_estate`] did.
#[derive(Debug, Clone)]
pub struct SeedReport {
    /// Resources created per type, as the file declares them (layer versions one by one;
    /// without what AWS adds by itself, see [`EstateFile::expected_counts`]).
    pub created: BTreeMap<ResourceKind, usize>,
    /// AWS requests sent per resource type, and `iam` for the accounts' roles and
    /// sessions.
    pub requests_by_type: BTreeMap<String, usize>,
    /// All AWS requests sent.
    pub requests: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The accounts, with the role sessions that reach them.
    pub accounts: Vec<SeededAccount>,
}

/// Seeding stopped.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// An AWS call failed.
    #[error("seeding {what} in {account}/{region}: {source}")]
    Aws {
        /// The account.
        account: String,
        /// The region.
        region: String,
        /// What was being created (`rds_instance pg-main`).
        what: String,
        /// The failed call.
        source: Box<QueryError>,
    },
    /// A seeding task failed outside any AWS call (a bug).
    #[error("seeding failed: {0}")]
    Task(String),
}

/// Signs in to `account` on `emulator` by assuming `role` from the emulator's base demo
/// keys, and returns the session's keys. moto keys the session to the role's account: every
/// request signed with them is served as `account` (the role need not exist yet).
pub async fn account_credentials(
    emulator: &Emulator,
    account: &str,
    role: &str,
) -> Result<Credentials, QueryError> {
    let role_arn = format!("arn:aws:iam::{account}:role/{role}");
    crate::aws::iam::session_credentials(
        &emulator.demo_client(),
        "us-east-1",
        &role_arn,
        SESSION,
        43_200,
    )
    .await
}

/// A client for `account` on `emulator` through an AssumeRole session of `role` (see
/// [`account_credentials`]).
pub async fn account_client(
    emulator: &Emulator,
    account: &str,
    role: &str,
) -> Result<AwsClient, QueryError> {
    let credentials = account_credentials(emulator, account, role).await?;
    Ok(AwsClient::new(
        credentials,
        Endpoints::default().with_global(emulator.url()),
        Arc::new(HttpTransport::new().expect("a default HTTP client always builds")),
    ))
}

/// Creates `estate` in `emulator` with real, signed API calls, calling `progress` after
/// every resource.
///
/// For each account: assume its principal role from the demo keys (moto then serves the
/// session as that account: see [`account_credentials`]), create the role with a trust
/// policy for the demo account and its inline policy from `allow`/`deny`
/// ([`super::Principal::policy_document`]), and the Lambda execution roles. Then every
/// region of every account at once, step by step: VPCs; subnets and security groups (and
/// the default groups' ids); rules and DB subnet groups; instances (untagged, one
/// RunInstances per group of launch-identical instances), volumes, databases, buckets with
/// their settings, layers and load balancers; then names and tags (one CreateTags per
/// `ec2_instance` entry, for its instances and their root volumes), attachments, cluster
/// members, replicas and functions; then snapshots and aliases; last, what the file wants
/// stopped.
///
/// At most eight requests are in flight, and one per emulator backend (service,
/// account, region) at a time: moto's backends are not thread-safe. The emulator's own
/// time per request (about 12 ms of one core, most of it request dispatch, logging and
/// response serialisation rather than the action) bounds the speed: the default demo
/// estate takes about 5,000 requests and 60-80 s on a busy two-core machine.
pub async fn seed_estate(
    emulator: &Emulator,
    estate: &EstateFile,
    progress: impl Fn(SeedProgress),
) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    let total: usize = estate.declared_counts().values().sum();
    let (events, mut received) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        estate: estate.clone(),
        lanes: std::sync::Mutex::new(HashMap::new()),
        permits: Semaphore::new(CONCURRENCY),
        requests: Arc::new(AtomicUsize::new(0)),
        events,
        transport: Arc::new(HttpTransport::new().map_err(|e| SeedError::Task(e.to_string()))?),
        url: emulator.url().to_owned(),
    });
    let mut accounts = Vec::new();
    for account in estate.accounts() {
        let credentials = account_credentials(emulator, &account.id, &account.principal.role)
            .await
            .map_err(|source| SeedError::Aws {
                account: account.id.clone(),
                region: "global".into(),
                what: format!("a session of role {}", account.principal.role),
                source: Box::new(source),
            })?;
        shared.requests.fetch_add(1, Ordering::Relaxed);
        accounts.push(SeededAccount {
            id: account.id.clone(),
            name: account.name.clone(),
            role_arn: format!(
                "arn:aws:iam::{}:role/{}",
                account.id, account.principal.role
            ),
            credentials,
        });
    }
    let mut tasks = JoinSet::new();
    for account in &accounts {
        let shared = shared.clone();
        let client = shared.client(account.credentials.clone());
        let id = account.id.clone();
        tasks.spawn(async move { seed_account(shared, client, id).await });
    }
    let mut created: BTreeMap<ResourceKind, usize> = BTreeMap::new();
    let mut requests_by_type: BTreeMap<String, usize> = BTreeMap::new();
    *requests_by_type.entry(SETUP.0.into()).or_default() += accounts.len();
    let mut done = 0;
    // Events arrive until every task has dropped its handle on `shared` (and its sender).
    let requests = shared.requests.clone();
    let shared_requests = move || requests.load(Ordering::Relaxed);
    drop(shared);
    let mut failure = None;
    loop {
        tokio::select! {
            event = received.recv() => match event {
                Some(Event::Created { kind, n, location }) => {
                    done += n;
                    *created.entry(kind).or_default() += n;
                    progress(SeedProgress {
                        done,
                        total,
                        requests: shared_requests(),
                        kind,
                        location,
                    });
                }
                Some(Event::Requests { label, n }) => {
                    *requests_by_type.entry(label.into()).or_default() += n;
                }
                None => break,
            },
            Some(joined) = tasks.join_next() => {
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => { failure.get_or_insert(e); tasks.abort_all(); }
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => { failure.get_or_insert(SeedError::Task(e.to_string())); tasks.abort_all(); }
                }
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                failure.get_or_insert(SeedError::Task(e.to_string()));
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(SeedReport {
        created,
        requests_by_type,
        requests: shared_requests(),
        seconds: started.elapsed().as_secs_f64(),
        accounts,
    })
}

enum Event {
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

struct Shared {
    estate: EstateFile,
    /// One lane per emulator backend (service, account and, for regional services,
    /// region): moto's backends are not thread-safe (two RunInstances in one subnet, or a
    /// CreateDBCluster beside a CreateDBInstance, fail with HTTP 500), so each backend
    /// gets one request at a time while different backends run in parallel.
    lanes: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    permits: Semaphore,
    requests: Arc<AtomicUsize>,
    events: mpsc::UnboundedSender<Event>,
    transport: Arc<HttpTransport>,
    url: String,
}

type Params = Vec<(String, String)>;

/// What a request is counted under in [`SeedReport::requests_by_type`].
#[derive(Clone, Copy)]
struct Counted(&'static str);

impl From<ResourceKind> for Counted {
    fn from(kind: ResourceKind) -> Self {
        Counted(kind.as_str())
    }
}

/// The accounts' roles and sessions.
const SETUP: Counted = Counted("iam");
type Task<T> = Pin<Box<dyn Future<Output = Result<T, SeedError>> + Send>>;

/// Where requests go and what they are about, for errors and counts.
#[derive(Clone)]
struct Site {
    shared: Arc<Shared>,
    client: AwsClient,
    account: String,
    region: String,
}

impl Shared {
    fn client(&self, credentials: Credentials) -> AwsClient {
        let transport: Arc<dyn Transport> = self.transport.clone();
        AwsClient::new(
            credentials,
            Endpoints::default().with_global(&self.url),
            transport,
        )
    }

    fn plan(&self) -> &Plan {
        self.estate.plan()
    }

    /// The lane of `service` in `account` and `region` (global services have one lane per
    /// account).
    fn lane(&self, account: &str, region: &str, service: &str) -> Arc<tokio::sync::Mutex<()>> {
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
    fn fail(&self, what: &str, source: QueryError) -> SeedError {
        SeedError::Aws {
            account: self.account.clone(),
            region: self.region.clone(),
            what: what.to_owned(),
            source: Box::new(source),
        }
    }

    fn count(&self, label: Counted) {
        self.shared.requests.fetch_add(1, Ordering::Relaxed);
        let _ = self.shared.events.send(Event::Requests {
            label: label.0,
            n: 1,
        });
    }

    fn created(&self, kind: ResourceKind, n: usize) {
        let _ = self.shared.events.send(Event::Created {
            kind,
            n,
            location: format!("{}/{}", self.account, self.region),
        });
    }

    /// One query-protocol call.
    async fn query(
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
    async fn rest(
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

    fn id_of(&self, body: &[u8], tag: &str, what: &str, action: &str) -> Result<String, SeedError> {
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
async fn all<T: Send + 'static>(tasks: Vec<Task<T>>) -> Result<Vec<T>, SeedError> {
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
fn tag_spec(
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

fn p(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Ids AWS assigned, by resource index, plus the defaults AWS made.
#[derive(Default, Clone)]
struct Ids {
    by_index: HashMap<usize, String>,
    /// Root volume of each instance (the first of a fleet).
    root_volumes: HashMap<usize, String>,
    /// Every instance (with its root volume) of each `ec2_instance` entry.
    fleets: HashMap<usize, Vec<(String, String)>>,
    default_vpc: String,
    /// Default security group of each VPC id.
    default_groups: HashMap<String, String>,
    /// Default subnets by zone index.
    default_subnets: Vec<String>,
    /// DB subnet group per file VPC.
    db_subnet_groups: HashMap<usize, String>,
}

impl Ids {
    fn vpc(&self, v: VpcRef) -> String {
        match v {
            VpcRef::Default => self.default_vpc.clone(),
            VpcRef::File(i) => self.by_index[&i].clone(),
        }
    }

    fn group(&self, g: SgRef) -> String {
        match g {
            SgRef::File(i) => self.by_index[&i].clone(),
            SgRef::DefaultOf(v) => self.default_groups[&self.vpc(v)].clone(),
        }
    }

    fn subnet(&self, s: SubnetRef) -> String {
        match s {
            SubnetRef::File(i) => self.by_index[&i].clone(),
            SubnetRef::Default(z) => self.default_subnets[z].clone(),
        }
    }
}

async fn seed_account(
    shared: Arc<Shared>,
    client: AwsClient,
    account: String,
) -> Result<(), SeedError> {
    let estate = &shared.estate;
    let spec = estate
        .account(&account)
        .expect("seeding known accounts")
        .clone();
    let site = Site {
        shared: shared.clone(),
        client: client.clone(),
        account: account.clone(),
        region: "us-east-1".into(),
    };
    // The principal role, trusted by the demo account whose keys assume it.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{DEMO_ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let role = spec.principal.role.clone();
    let what = format!("principal role {role}");
    let iam = SETUP;
    site.query(
        iam,
        &what,
        "iam",
        "CreateRole",
        &p(&[
            ("RoleName", &role),
            ("AssumeRolePolicyDocument", &trust),
            ("Description", "The role cloudops demo users sign in with"),
        ]),
    )
    .await?;
    site.query(
        iam,
        &what,
        "iam",
        "PutRolePolicy",
        &p(&[
            ("RoleName", &role),
            ("PolicyName", "cloudops-demo"),
            ("PolicyDocument", &spec.principal.policy_document()),
        ]),
    )
    .await?;
    let lambda_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let roles = shared
        .plan()
        .lambda_roles
        .get(&account)
        .cloned()
        .unwrap_or_default();
    let mut tasks: Vec<Task<()>> = Vec::new();
    for r in roles.into_iter().filter(|r| *r != role) {
        let site = site.clone();
        tasks.push(Box::pin(async move {
            site.query(
                SETUP,
                &format!("Lambda execution role {r}"),
                "iam",
                "CreateRole",
                &p(&[
                    ("RoleName", &r),
                    ("AssumeRolePolicyDocument", lambda_trust),
                    ("Description", "Lambda execution role"),
                ]),
            )
            .await
            .map(|_| ())
        }));
    }
    all(tasks).await?;

    let mut regions: Vec<Task<()>> = Vec::new();
    for region in &spec.regions {
        let site = Site {
            region: region.clone(),
            ..site.clone()
        };
        regions.push(Box::pin(seed_region(site)));
    }
    all(regions).await.map(|_| ())
}

/// Every resource of one account and region, step by step.
async fn seed_region(site: Site) -> Result<(), SeedError> {
    let shared = site.shared.clone();
    let estate = &shared.estate;
    let plan = shared.plan();
    let key = (site.account.clone(), site.region.clone());
    let indices: Vec<usize> = plan.by_region.get(&key).cloned().unwrap_or_default();
    if indices.is_empty() {
        return Ok(());
    }
    let res = estate.resources();
    let mut ids = Ids::default();

    // 1. VPCs.
    let mut tasks: Vec<Task<(usize, String)>> = Vec::new();
    for &i in &indices {
        let Resolved::Vpc { cidr } = &plan.resolved[i] else {
            continue;
        };
        let r = &res[i];
        let mut params = p(&[("CidrBlock", cidr)]);
        tag_spec(&mut params, 1, "vpc", r.name.as_deref(), &r.tags);
        let site = site.clone();
        let what = format!("vpc {}", r.key());
        tasks.push(Box::pin(async move {
            let body = site
                .query(ResourceKind::Vpc, &what, "ec2", "CreateVpc", &params)
                .await?;
            site.created(ResourceKind::Vpc, 1);
            Ok((i, site.id_of(&body, "vpcId", &what, "CreateVpc")?))
        }));
    }
    ids.by_index.extend(all(tasks).await?);

    // 2. Subnets and security groups; the default groups (and with them the default VPC).
    let mut tasks: Vec<Task<(usize, String)>> = Vec::new();
    for &i in &indices {
        let r = &res[i];
        let (kind, action, tag, mut params) = match &plan.resolved[i] {
            Resolved::Subnet(s) => (
                ResourceKind::VpcSubnet,
                "CreateSubnet",
                "subnetId",
                p(&[
                    ("VpcId", &ids.by_index[&s.vpc]),
                    ("CidrBlock", &s.cidr),
                    ("AvailabilityZone", &s.zone),
                ]),
            ),
            Resolved::Sg(g) => {
                let mut params = p(&[("GroupName", r.key()), ("GroupDescription", &g.description)]);
                if let VpcRef::File(v) = g.vpc {
                    params.push(("VpcId".into(), ids.by_index[&v].clone()));
                }
                (
                    ResourceKind::VpcSecurityGroup,
                    "CreateSecurityGroup",
                    "groupId",
                    params,
                )
            }
            _ => continue,
        };
        let resource_type = if kind == ResourceKind::VpcSubnet {
            "subnet"
        } else {
            "security-group"
        };
        tag_spec(&mut params, 1, resource_type, r.name.as_deref(), &r.tags);
        let site = site.clone();
        let what = format!("{kind} {}", r.key());
        tasks.push(Box::pin(async move {
            let body = site.query(kind, &what, "ec2", action, &params).await?;
            site.created(kind, 1);
            Ok((i, site.id_of(&body, tag, &what, action)?))
        }));
    }
    let defaults = {
        let site = site.clone();
        async move {
            let body = site
                .query(
                    ResourceKind::VpcSecurityGroup,
                    "the default security groups",
                    "ec2",
                    "DescribeSecurityGroups",
                    &p(&[
                        ("Filter.1.Name", "group-name"),
                        ("Filter.1.Value.1", "default"),
                    ]),
                )
                .await?;
            Ok::<_, SeedError>(body)
        }
    };
    let (created, defaults) = tokio::join!(all(tasks), defaults);
    ids.by_index.extend(created?);
    let defaults = defaults?;
    let group_ids = texts(&defaults, "groupId");
    let vpc_ids = texts(&defaults, "vpcId");
    let ours: std::collections::HashSet<&String> = ids.by_index.values().collect();
    for (g, v) in group_ids.into_iter().zip(vpc_ids) {
        if !ours.contains(&v) {
            ids.default_vpc = v.clone();
        }
        ids.default_groups.insert(v, g);
    }
    let needs_default_subnets = indices.iter().any(|&i| match &plan.resolved[i] {
        Resolved::Instance(x) => x
            .subnets
            .iter()
            .any(|(s, _)| matches!(s, SubnetRef::Default(_))),
        Resolved::Lb(x) => x.subnets.iter().any(|s| matches!(s, SubnetRef::Default(_))),
        _ => false,
    });
    if needs_default_subnets {
        let body = site
            .query(
                ResourceKind::VpcSubnet,
                "the default subnets",
                "ec2",
                "DescribeSubnets",
                &p(&[
                    ("Filter.1.Name", "default-for-az"),
                    ("Filter.1.Value.1", "true"),
                ]),
            )
            .await?;
        let zones = texts(&body, "availabilityZone");
        let subnets = texts(&body, "subnetId");
        let region_zones = super::estate_file::zones(&site.region).unwrap_or_default();
        ids.default_subnets = region_zones
            .iter()
            .map(|z| {
                zones
                    .iter()
                    .position(|x| x == z)
                    .and_then(|k| subnets.get(k).cloned())
                    .unwrap_or_default()
            })
            .collect();
    }

    // 3. Security group rules and DB subnet groups.
    let mut tasks: Vec<Task<Option<(usize, String)>>> = Vec::new();
    for &i in &indices {
        let Resolved::Sg(g) = &plan.resolved[i] else {
            continue;
        };
        if g.ingress.is_empty() {
            continue;
        }
        let mut params = p(&[("GroupId", &ids.by_index[&i])]);
        for (n, rule) in g.ingress.iter().enumerate() {
            let prefix = format!("IpPermissions.{}", n + 1);
            params.push((format!("{prefix}.IpProtocol"), rule.protocol.to_owned()));
            if rule.protocol != "-1" {
                params.push((format!("{prefix}.FromPort"), rule.from_port.to_string()));
                params.push((format!("{prefix}.ToPort"), rule.to_port.to_string()));
            }
            match &rule.source {
                RuleSource::Cidr(c) => {
                    params.push((format!("{prefix}.IpRanges.1.CidrIp"), c.clone()));
                }
                RuleSource::Group(s) => {
                    params.push((format!("{prefix}.Groups.1.GroupId"), ids.group(*s)));
                }
            }
        }
        let site = site.clone();
        let what = format!("rules of security group {}", res[i].key());
        tasks.push(Box::pin(async move {
            site.query(
                ResourceKind::VpcSecurityGroup,
                &what,
                "ec2",
                "AuthorizeSecurityGroupIngress",
                &params,
            )
            .await
            .map(|_| None)
        }));
    }
    for (&vpc, name) in plan.db_subnet_groups.iter() {
        if res[vpc].account != site.account || res[vpc].region != site.region {
            continue;
        }
        let mut params = p(&[
            ("DBSubnetGroupName", name),
            (
                "DBSubnetGroupDescription",
                &format!("Database subnets of {}", res[vpc].key()),
            ),
        ]);
        for (n, s) in plan.vpc_subnets[&vpc].iter().enumerate() {
            params.push((
                format!("SubnetIds.SubnetIdentifier.{}", n + 1),
                ids.by_index[s].clone(),
            ));
        }
        let site = site.clone();
        let name = name.clone();
        tasks.push(Box::pin(async move {
            site.query(
                ResourceKind::RdsInstance,
                &format!("DB subnet group {name}"),
                "rds",
                "CreateDBSubnetGroup",
                &params,
            )
            .await
            .map(|_| Some((vpc, name)))
        }));
    }
    ids.db_subnet_groups
        .extend(all(tasks).await?.into_iter().flatten());

    // 4. Everything that needs only the network.
    let ids = Arc::new(ids);
    let mut started: Vec<Task<Launched>> = Vec::new();
    for launch in launches(estate, &indices) {
        started.push(Box::pin(run_instances(site.clone(), ids.clone(), launch)));
    }
    let mut tasks: Vec<Task<Option<(usize, String)>>> = Vec::new();
    for &i in &indices {
        let r = &res[i];
        let what = format!("{} {}", r.kind, r.key());
        let site = site.clone();
        let ids = ids.clone();
        match &plan.resolved[i] {
            Resolved::Volume(v) => {
                let mut params = p(&[
                    ("AvailabilityZone", &v.zone),
                    ("Size", &v.size_gib.to_string()),
                    ("VolumeType", &v.volume_type),
                    ("Encrypted", if v.encrypted { "true" } else { "false" }),
                ]);
                if let Some(iops) = v.iops {
                    params.push(("Iops".into(), iops.to_string()));
                }
                tag_spec(&mut params, 1, "volume", r.name.as_deref(), &r.tags);
                tasks.push(Box::pin(async move {
                    let body = site
                        .query(
                            ResourceKind::Ec2Volume,
                            &what,
                            "ec2",
                            "CreateVolume",
                            &params,
                        )
                        .await?;
                    site.created(ResourceKind::Ec2Volume, 1);
                    Ok(Some((
                        i,
                        site.id_of(&body, "volumeId", &what, "CreateVolume")?,
                    )))
                }));
            }
            Resolved::Rds(x) if x.cluster.is_none() && x.replica_of.is_none() => {
                let params = rds_instance_params(estate, &ids, i);
                tasks.push(Box::pin(async move {
                    site.query(
                        ResourceKind::RdsInstance,
                        &what,
                        "rds",
                        "CreateDBInstance",
                        &params,
                    )
                    .await?;
                    site.created(ResourceKind::RdsInstance, 1);
                    Ok(None)
                }));
            }
            Resolved::Cluster(c) => {
                let mut params = p(&[
                    ("DBClusterIdentifier", r.key()),
                    ("Engine", &c.engine),
                    ("EngineVersion", &c.engine_version),
                    ("MasterUsername", "dbadmin"),
                    ("MasterUserPassword", "demo-password-1"),
                    ("BackupRetentionPeriod", &c.retention.to_string()),
                    ("StorageEncrypted", bool_text(c.encrypted)),
                    ("DeletionProtection", bool_text(c.deletion_protection)),
                    ("Port", &c.port.to_string()),
                ]);
                if let Some(VpcRef::File(v)) = c.vpc {
                    params.push(("DBSubnetGroupName".into(), ids.db_subnet_groups[&v].clone()));
                }
                for (n, g) in c.security_groups.iter().enumerate() {
                    params.push((
                        format!("VpcSecurityGroupIds.VpcSecurityGroupId.{}", n + 1),
                        ids.group(*g),
                    ));
                }
                rds_tags(&mut params, &r.tags);
                tasks.push(Box::pin(async move {
                    site.query(
                        ResourceKind::RdsCluster,
                        &what,
                        "rds",
                        "CreateDBCluster",
                        &params,
                    )
                    .await?;
                    site.created(ResourceKind::RdsCluster, 1);
                    Ok(None)
                }));
            }
            Resolved::Bucket(_) => {
                let estate_site = site.clone();
                tasks.push(Box::pin(async move {
                    create_bucket(estate_site, i).await?;
                    Ok(None)
                }));
            }
            Resolved::Layer(l) => {
                let name = r.key().to_owned();
                let l = l.clone();
                tasks.push(Box::pin(async move {
                    for v in 1..=l.versions {
                        let mut body = serde_json::json!({
                            "Content": { "ZipFile": zip_package() },
                            "CompatibleRuntimes": l.runtimes,
                        });
                        if let Some(d) = &l.description {
                            body["Description"] = d.clone().into();
                        }
                        if let Some(d) = &l.license_info {
                            body["LicenseInfo"] = d.clone().into();
                        }
                        site.rest(
                            ResourceKind::LambdaLayer,
                            &format!("{what} version {v}"),
                            "lambda",
                            "POST",
                            format!("/2018-10-31/layers/{name}/versions"),
                            None,
                            body.to_string().into_bytes(),
                        )
                        .await?;
                        site.created(ResourceKind::LambdaLayer, 1);
                    }
                    Ok(None)
                }));
            }
            Resolved::Lb(lb) => {
                let mut params = p(&[
                    ("Name", r.key()),
                    ("Type", &lb.lb_type),
                    ("Scheme", &lb.scheme),
                ]);
                for (n, s) in lb.subnets.iter().enumerate() {
                    params.push((format!("Subnets.member.{}", n + 1), ids.subnet(*s)));
                }
                for (n, g) in lb.security_groups.iter().enumerate() {
                    params.push((format!("SecurityGroups.member.{}", n + 1), ids.group(*g)));
                }
                for (n, (k, v)) in r.tags.iter().enumerate() {
                    params.push((format!("Tags.member.{}.Key", n + 1), k.clone()));
                    params.push((format!("Tags.member.{}.Value", n + 1), v.clone()));
                }
                tasks.push(Box::pin(async move {
                    site.query(
                        ResourceKind::ElbLoadBalancer,
                        &what,
                        "elasticloadbalancing",
                        "CreateLoadBalancer",
                        &params,
                    )
                    .await?;
                    site.created(ResourceKind::ElbLoadBalancer, 1);
                    Ok(None)
                }));
            }
            _ => {}
        }
    }
    let (launched, created) = tokio::join!(all(started), all(tasks));
    let mut ids = Arc::unwrap_or_clone(ids);
    for (i, members) in launched?.into_iter().flatten() {
        let entry = ids.fleets.entry(i).or_default();
        entry.extend(members.iter().cloned());
        let (instance, root) = members.into_iter().next().expect("launches are not empty");
        ids.by_index.entry(i).or_insert(instance);
        ids.root_volumes.entry(i).or_insert(root);
    }
    ids.by_index.extend(created?.into_iter().flatten());
    let ids = Arc::new(ids);

    // 5. What needs step 4: attachments, cluster members, replicas, functions.
    let mut tasks: Vec<Task<()>> = Vec::new();
    for &i in &indices {
        let r = &res[i];
        let what = format!("{} {}", r.kind, r.key());
        let site = site.clone();
        let ids = ids.clone();
        match &plan.resolved[i] {
            Resolved::Instance(x) => {
                for (v, device) in &x.volumes {
                    let params = p(&[
                        ("VolumeId", &ids.by_index[v]),
                        ("InstanceId", &ids.by_index[&i]),
                        ("Device", device),
                    ]);
                    let site = site.clone();
                    let what = format!("attaching {} to {}", res[*v].key(), r.key());
                    tasks.push(Box::pin(async move {
                        site.query(
                            ResourceKind::Ec2Volume,
                            &what,
                            "ec2",
                            "AttachVolume",
                            &params,
                        )
                        .await
                        .map(|_| ())
                    }));
                }
            }
            Resolved::Cluster(c) => {
                let members: Vec<(String, Params)> = c
                    .members
                    .iter()
                    .map(|&m| {
                        (
                            format!("rds_instance {}", res[m].key()),
                            rds_instance_params(estate, &ids, m),
                        )
                    })
                    .collect();
                // In order: the first member becomes the writer.
                tasks.push(Box::pin(async move {
                    for (what, params) in members {
                        site.query(
                            ResourceKind::RdsInstance,
                            &what,
                            "rds",
                            "CreateDBInstance",
                            &params,
                        )
                        .await?;
                        site.created(ResourceKind::RdsInstance, 1);
                    }
                    Ok(())
                }));
            }
            Resolved::Rds(x) if x.replica_of.is_some() => {
                let source = res[x.replica_of.expect("checked")].key();
                let mut params = p(&[
                    ("DBInstanceIdentifier", r.key()),
                    ("SourceDBInstanceIdentifier", source),
                    ("DBInstanceClass", &x.class),
                    ("AvailabilityZone", &x.zone),
                    ("MultiAZ", bool_text(x.multi_az)),
                    ("PubliclyAccessible", bool_text(x.public)),
                ]);
                rds_tags(&mut params, &r.tags);
                tasks.push(Box::pin(async move {
                    site.query(
                        ResourceKind::RdsInstance,
                        &what,
                        "rds",
                        "CreateDBInstanceReadReplica",
                        &params,
                    )
                    .await?;
                    site.created(ResourceKind::RdsInstance, 1);
                    Ok(())
                }));
            }
            Resolved::Function(f) => {
                let mut body = serde_json::json!({
                    "FunctionName": r.key(),
                    "Runtime": f.runtime,
                    "Role": format!("arn:aws:iam::{}:role/{}", r.account, f.role),
                    "Handler": f.handler,
                    "Code": { "ZipFile": zip_package() },
                    "MemorySize": f.memory_size,
                    "Timeout": f.timeout,
                    "Architectures": [f.architecture],
                    "Publish": f.publish,
                    "Tags": r.tags,
                });
                if let Some(d) = &f.description {
                    body["Description"] = d.clone().into();
                }
                if !f.subnets.is_empty() {
                    let subnets: Vec<String> =
                        f.subnets.iter().map(|s| ids.by_index[s].clone()).collect();
                    let groups: Vec<String> =
                        f.security_groups.iter().map(|g| ids.group(*g)).collect();
                    body["VpcConfig"] =
                        serde_json::json!({ "SubnetIds": subnets, "SecurityGroupIds": groups });
                }
                if !f.layers.is_empty() {
                    let layers: Vec<String> = f
                        .layers
                        .iter()
                        .map(|(l, v)| {
                            format!(
                                "arn:aws:lambda:{}:{}:layer:{}:{v}",
                                r.region,
                                r.account,
                                res[*l].key()
                            )
                        })
                        .collect();
                    body["Layers"] = layers.into();
                }
                tasks.push(Box::pin(async move {
                    site.rest(
                        ResourceKind::LambdaFunction,
                        &what,
                        "lambda",
                        "POST",
                        "/2015-03-31/functions".into(),
                        None,
                        body.to_string().into_bytes(),
                    )
                    .await?;
                    site.created(ResourceKind::LambdaFunction, 1);
                    Ok(())
                }));
            }
            _ => {}
        }
    }
    // Names and tags: one CreateTags per entry for its instances and their root volumes
    // (Name first, then the tags in key order).
    for &i in &indices {
        let Resolved::Instance(_) = &plan.resolved[i] else {
            continue;
        };
        let r = &res[i];
        for chunk in ids.fleets[&i].chunks(500) {
            let mut params = Params::new();
            for (n, (instance, root)) in chunk.iter().enumerate() {
                params.push((format!("ResourceId.{}", 2 * n + 1), instance.clone()));
                params.push((format!("ResourceId.{}", 2 * n + 2), root.clone()));
            }
            let all_tags = std::iter::once(("Name", r.key()))
                .chain(r.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            for (n, (k, v)) in all_tags.enumerate() {
                params.push((format!("Tag.{}.Key", n + 1), k.to_owned()));
                params.push((format!("Tag.{}.Value", n + 1), v.to_owned()));
            }
            let site = site.clone();
            let what = format!("tags of ec2_instance {}", r.key());
            tasks.push(Box::pin(async move {
                site.query(
                    ResourceKind::Ec2Instance,
                    &what,
                    "ec2",
                    "CreateTags",
                    &params,
                )
                .await
                .map(|_| ())
            }));
        }
    }
    all(tasks).await?;

    // 6. Snapshots, aliases, and stopping what the file wants stopped.
    let mut tasks: Vec<Task<()>> = Vec::new();
    let mut stop = Vec::new();
    for &i in &indices {
        let r = &res[i];
        let what = format!("{} {}", r.kind, r.key());
        let site = site.clone();
        match &plan.resolved[i] {
            Resolved::Instance(x) if x.stopped => {
                stop.extend(ids.fleets[&i].iter().map(|(instance, _)| instance.clone()))
            }
            Resolved::EbsSnapshot(s) => {
                let volume = match s.source {
                    SnapshotSource::Volume(v) => ids.by_index[&v].clone(),
                    SnapshotSource::RootOf(k) => ids.root_volumes[&k].clone(),
                };
                let mut params = p(&[("VolumeId", &volume), ("Description", &s.description)]);
                tag_spec(&mut params, 1, "snapshot", r.name.as_deref(), &r.tags);
                tasks.push(Box::pin(async move {
                    site.query(
                        ResourceKind::Ec2Snapshot,
                        &what,
                        "ec2",
                        "CreateSnapshot",
                        &params,
                    )
                    .await?;
                    site.created(ResourceKind::Ec2Snapshot, 1);
                    Ok(())
                }));
            }
            Resolved::RdsSnapshot(s) => {
                let (action, mut params) = match s {
                    RdsSnapshotPlan::Instance(k) => (
                        "CreateDBSnapshot",
                        p(&[
                            ("DBSnapshotIdentifier", r.key()),
                            ("DBInstanceIdentifier", res[*k].key()),
                        ]),
                    ),
                    RdsSnapshotPlan::Cluster(k) => (
                        "CreateDBClusterSnapshot",
                        p(&[
                            ("DBClusterSnapshotIdentifier", r.key()),
                            ("DBClusterIdentifier", res[*k].key()),
                        ]),
                    ),
                };
                rds_tags(&mut params, &r.tags);
                tasks.push(Box::pin(async move {
                    site.query(ResourceKind::RdsSnapshot, &what, "rds", action, &params)
                        .await?;
                    site.created(ResourceKind::RdsSnapshot, 1);
                    Ok(())
                }));
            }
            Resolved::Alias(a) => {
                let function = res[a.function].key().to_owned();
                let mut body = serde_json::json!({
                    "Name": r.key(),
                    "FunctionVersion": a.version,
                });
                if let Some(d) = &a.description {
                    body["Description"] = d.clone().into();
                }
                tasks.push(Box::pin(async move {
                    site.rest(
                        ResourceKind::LambdaAlias,
                        &what,
                        "lambda",
                        "POST",
                        format!("/2015-03-31/functions/{function}/aliases"),
                        None,
                        body.to_string().into_bytes(),
                    )
                    .await?;
                    site.created(ResourceKind::LambdaAlias, 1);
                    Ok(())
                }));
            }
            _ => {}
        }
    }
    for chunk in stop.chunks(200) {
        let mut params = Params::new();
        for (n, id) in chunk.iter().enumerate() {
            params.push((format!("InstanceId.{}", n + 1), id.clone()));
        }
        let site = site.clone();
        tasks.push(Box::pin(async move {
            site.query(
                ResourceKind::Ec2Instance,
                "stopping instances",
                "ec2",
                "StopInstances",
                &params,
            )
            .await
            .map(|_| ())
        }));
    }
    all(tasks).await?;
    // RDS instances are stopped last: a stopped source cannot be snapshotted or replicated.
    let mut tasks: Vec<Task<()>> = Vec::new();
    for &i in &indices {
        if let Resolved::Rds(x) = &plan.resolved[i] {
            if x.stopped {
                let site = site.clone();
                let id = res[i].key().to_owned();
                tasks.push(Box::pin(async move {
                    site.query(
                        ResourceKind::RdsInstance,
                        &format!("stopping rds_instance {id}"),
                        "rds",
                        "StopDBInstance",
                        &p(&[("DBInstanceIdentifier", &id)]),
                    )
                    .await
                    .map(|_| ())
                }));
            }
        }
    }
    all(tasks).await.map(|_| ())
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn rds_tags(params: &mut Params, tags: &BTreeMap<String, String>) {
    for (n, (k, v)) in tags.iter().enumerate() {
        params.push((format!("Tags.Tag.{}.Key", n + 1), k.clone()));
        params.push((format!("Tags.Tag.{}.Value", n + 1), v.clone()));
    }
}

fn rds_instance_params(estate: &EstateFile, ids: &Ids, i: usize) -> Params {
    let r = &estate.resources()[i];
    let Resolved::Rds(x) = &estate.plan().resolved[i] else {
        unreachable!("called for rds instances")
    };
    let mut params = p(&[
        ("DBInstanceIdentifier", r.key()),
        ("DBInstanceClass", &x.class),
        ("Engine", &x.engine),
        ("EngineVersion", &x.engine_version),
        ("PubliclyAccessible", bool_text(x.public)),
        ("AvailabilityZone", &x.zone),
    ]);
    match x.cluster {
        Some(c) => params.push((
            "DBClusterIdentifier".into(),
            estate.resources()[c].key().into(),
        )),
        None => {
            params.extend(p(&[
                ("MasterUsername", "dbadmin"),
                ("MasterUserPassword", "demo-password-1"),
                ("MultiAZ", bool_text(x.multi_az)),
                ("BackupRetentionPeriod", &x.retention.to_string()),
                ("StorageEncrypted", bool_text(x.encrypted)),
                ("DeletionProtection", bool_text(x.deletion_protection)),
                ("Port", &x.port.to_string()),
            ]));
            if let Some(gib) = x.storage_gib {
                params.push(("AllocatedStorage".into(), gib.to_string()));
            }
            if let Some(t) = &x.storage_type {
                params.push(("StorageType".into(), t.clone()));
            }
            if let Some(VpcRef::File(v)) = x.vpc {
                params.push(("DBSubnetGroupName".into(), ids.db_subnet_groups[&v].clone()));
            }
            for (n, g) in x.security_groups.iter().enumerate() {
                params.push((
                    format!("VpcSecurityGroupIds.VpcSecurityGroupId.{}", n + 1),
                    ids.group(*g),
                ));
            }
        }
    }
    rds_tags(&mut params, &r.tags);
    params
}

/// One RunInstances call: `n` instances of each listed entry, in one subnet (an index
/// into the entry's subnets).
///
/// Launches carry no tags: the emulator serialises every launched instance's tags by
/// scanning all tags of the region, so launching before anything is tagged keeps each
/// launch cheap; one CreateTags per entry names and tags the instances and their root
/// volumes afterwards.
struct Launch {
    /// `(resource index, how many)`.
    members: Vec<(usize, usize)>,
    subnet: usize,
}

impl Launch {
    fn total(&self) -> usize {
        self.members.iter().map(|(_, n)| n).sum()
    }
}

/// Instances that can be launched together: same type, image, subnet, groups and root
/// volume; at most [`MAX_LAUNCH`] at once. A fleet's instances go to its subnets in turn.
fn launches(estate: &EstateFile, indices: &[usize]) -> Vec<Launch> {
    let mut groups: BTreeMap<String, Vec<(usize, usize, usize)>> = BTreeMap::new();
    for &i in indices {
        let Resolved::Instance(x) = &estate.plan().resolved[i] else {
            continue;
        };
        for s in 0..x.subnets.len() {
            let n = (0..x.count as usize)
                .filter(|k| k % x.subnets.len() == s)
                .count();
            if n == 0 {
                continue;
            }
            let key = format!(
                "{:?}|{}|{}|{:?}|{}|{}",
                x.subnets[s].0,
                x.instance_type,
                x.image_id,
                x.security_groups,
                x.root_gib,
                x.root_type
            );
            groups.entry(key).or_default().push((i, s, n));
        }
    }
    let mut out: Vec<Launch> = Vec::new();
    for (_, members) in groups {
        let mut current = Launch {
            members: Vec::new(),
            subnet: 0,
        };
        for (i, s, mut n) in members {
            while n > 0 {
                let room = MAX_LAUNCH - current.total();
                let take = n.min(room);
                if current.members.is_empty() {
                    current.subnet = s;
                }
                current.members.push((i, take));
                n -= take;
                if current.total() == MAX_LAUNCH {
                    out.push(std::mem::replace(
                        &mut current,
                        Launch {
                            members: Vec::new(),
                            subnet: 0,
                        },
                    ));
                }
            }
        }
        if !current.members.is_empty() {
            out.push(current);
        }
    }
    out
}

/// Per entry of a launch, its instances' (instance id, root volume id).
type Launched = Vec<(usize, Vec<(String, String)>)>;

/// Makes one launch.
async fn run_instances(site: Site, ids: Arc<Ids>, launch: Launch) -> Result<Launched, SeedError> {
    let estate = &site.shared.estate;
    let res = estate.resources();
    let first = launch.members[0].0;
    let Resolved::Instance(x) = &estate.plan().resolved[first] else {
        unreachable!("launches hold instances")
    };
    let total = launch.total();
    let n = total.to_string();
    let mut params = p(&[
        ("ImageId", &x.image_id),
        ("InstanceType", &x.instance_type),
        ("MinCount", &n),
        ("MaxCount", &n),
        ("SubnetId", &ids.subnet(x.subnets[launch.subnet].0)),
        ("BlockDeviceMapping.1.DeviceName", "/dev/xvda"),
        (
            "BlockDeviceMapping.1.Ebs.VolumeSize",
            &x.root_gib.to_string(),
        ),
        ("BlockDeviceMapping.1.Ebs.VolumeType", &x.root_type),
        ("BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true"),
    ]);
    for (k, g) in x.security_groups.iter().enumerate() {
        params.push((format!("SecurityGroupId.{}", k + 1), ids.group(*g)));
    }
    let what = format!("ec2_instance {} and {} more", res[first].key(), total - 1);
    let body = site
        .query(
            ResourceKind::Ec2Instance,
            &what,
            "ec2",
            "RunInstances",
            &params,
        )
        .await?;
    let instances = texts(&body, "instanceId");
    let volumes = texts(&body, "volumeId");
    if instances.len() != total || volumes.len() != total {
        return Err(site.fail(
            &what,
            QueryError::malformed(
                "ec2",
                "RunInstances",
                &site.region,
                format!(
                    "asked for {total} instances, got {} instances and {} root volumes",
                    instances.len(),
                    volumes.len()
                ),
            ),
        ));
    }
    site.created(ResourceKind::Ec2Instance, total);
    let mut pairs = instances.into_iter().zip(volumes);
    Ok(launch
        .members
        .iter()
        .map(|&(i, count)| (i, pairs.by_ref().take(count).collect()))
        .collect())
}

/// Creates bucket `i` and its settings; every call is signed for the bucket's region.
async fn create_bucket(site: Site, i: usize) -> Result<(), SeedError> {
    let estate = &site.shared.estate;
    let r = &estate.resources()[i];
    let Resolved::Bucket(b) = &estate.plan().resolved[i] else {
        unreachable!("called for buckets")
    };
    let name = r.key().to_owned();
    let what = format!("s3_bucket {name}");
    let kind = ResourceKind::S3Bucket;
    let xmlns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
    let create = if site.region == "us-east-1" {
        String::new()
    } else {
        format!(
            "<CreateBucketConfiguration {xmlns}><LocationConstraint>{}</LocationConstraint>\
             </CreateBucketConfiguration>",
            site.region
        )
    };
    let path = format!("/{name}");
    site.rest(
        kind,
        &what,
        "s3",
        "PUT",
        path.clone(),
        None,
        create.into_bytes(),
    )
    .await?;
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut settings: Vec<(&str, String)> = Vec::new();
    if !r.tags.is_empty() {
        let tags: String = r
            .tags
            .iter()
            .map(|(k, v)| {
                format!(
                    "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                    escape(k),
                    escape(v)
                )
            })
            .collect();
        settings.push((
            "tagging",
            format!("<Tagging {xmlns}><TagSet>{tags}</TagSet></Tagging>"),
        ));
    }
    if b.versioning != "Disabled" {
        settings.push((
            "versioning",
            format!(
                "<VersioningConfiguration {xmlns}><Status>{}</Status></VersioningConfiguration>",
                b.versioning
            ),
        ));
    }
    if let Some(algorithm) = &b.encryption {
        let key = b
            .kms_key
            .as_ref()
            .map(|k| format!("<KMSMasterKeyID>{}</KMSMasterKeyID>", escape(k)))
            .unwrap_or_default();
        let bucket_key = if algorithm == "aws:kms" {
            "<BucketKeyEnabled>true</BucketKeyEnabled>"
        } else {
            ""
        };
        settings.push((
            "encryption",
            format!(
                "<ServerSideEncryptionConfiguration {xmlns}><Rule>\
                 <ApplyServerSideEncryptionByDefault><SSEAlgorithm>{algorithm}</SSEAlgorithm>{key}\
                 </ApplyServerSideEncryptionByDefault>{bucket_key}</Rule>\
                 </ServerSideEncryptionConfiguration>"
            ),
        ));
    }
    if !b.lifecycle_rules.is_empty() {
        let rules: String = b
            .lifecycle_rules
            .iter()
            .map(|id| {
                format!(
                    "<Rule><ID>{}</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>\
                     <Expiration><Days>90</Days></Expiration></Rule>",
                    escape(id)
                )
            })
            .collect();
        settings.push((
            "lifecycle",
            format!("<LifecycleConfiguration {xmlns}>{rules}</LifecycleConfiguration>"),
        ));
    }
    if b.block_public_access {
        settings.push((
            "publicAccessBlock",
            format!(
                "<PublicAccessBlockConfiguration {xmlns}><BlockPublicAcls>true</BlockPublicAcls>\
                 <IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy>\
                 <RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
            ),
        ));
    }
    for (sub, body) in settings {
        site.rest(
            kind,
            &what,
            "s3",
            "PUT",
            path.clone(),
            Some(sub),
            body.into_bytes(),
        )
        .await?;
    }
    site.created(kind, 1);
    Ok(())
}

/// The demo's deployment package (see [`deployment_package`]), built once.
fn zip_package() -> String {
    use std::sync::OnceLock;
    static ZIP: OnceLock<String> = OnceLock::new();
    ZIP.get_or_init(|| {
        deployment_package(
            "lambda_function.py",
            "def lambda_handler(event, context):\n    return {\"ok\": True}\n",
        )
    })
    .clone()
}

/// A deployment package: a zip holding one stored (uncompressed) file `name` with `source`,
/// base64-encoded as CreateFunction and PublishLayerVersion take it.
pub fn deployment_package(name: &str, source: &str) -> String {
    use base64::Engine as _;
    let (name, data) = (name.as_bytes(), source.as_bytes());
    let crc = crc32fast::hash(data);
    let (n, d) = (name.len() as u16, data.len() as u32);
    let mut zip = Vec::new();
    zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // version, flags, stored, time/date
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&d.to_le_bytes());
    zip.extend_from_slice(&d.to_le_bytes());
    zip.extend_from_slice(&n.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(name);
    zip.extend_from_slice(data);
    let central = zip.len() as u32;
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&d.to_le_bytes());
    zip.extend_from_slice(&d.to_le_bytes());
    zip.extend_from_slice(&n.to_le_bytes());
    zip.extend_from_slice(&[0; 12]); // extra, comment, disk, internal and external attributes
    zip.extend_from_slice(&0u32.to_le_bytes()); // offset of the local header
    zip.extend_from_slice(name);
    let size = zip.len() as u32 - central;
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&central.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(&zip)
}
