//! Creating estates in the emulator with real, signed API calls: [`seed_estate`] for a
//! whole [`EstateFile`] across accounts and regions. [`seed_ec2`] is a convenience for
//! tests: it writes a small estate file and seeds it the same way.
//!
//! Each account and region is seeded in steps ([`seed_region`]); each step is one function
//! per resource type, in the file of its service.

mod account;
mod ec2;
mod ec2_estate;
mod elb;
mod iam;
mod lambda;
mod rds;
mod s3;
mod site;
mod vpc;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::emulator::Emulator;
use super::estate_file::{EstateFile, Ix, Resolved, ResourceKind, SgRef, SubnetRef, VpcIx, VpcRef};
use crate::aws::{AwsClient, Credentials, Endpoints, HttpTransport, QueryError};
pub use ec2_estate::{seed_ec2, Ec2Estate, InstanceSpec, SeededEc2};
pub use iam::create_iam_user;
pub use lambda::deployment_package;
use site::{all, p, tag_spec, Event, Params, Shared, Site, Task, SETUP};

const EC2_VERSION: &str = "2016-11-15";
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
        self.client_at(emulator.url())
    }

    /// A client for this account that sends every request to `url` (the emulator, or a proxy
    /// in front of it), signing with the role session.
    pub fn client_at(&self, url: &str) -> AwsClient {
        AwsClient::new(
            self.credentials.clone(),
            Endpoints::default().with_global(url),
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
        max_launch: MAX_LAUNCH,
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
        tasks.spawn(async move { account::seed_account(shared, client, id).await });
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

/// Ids AWS assigned, by resource index, plus the defaults AWS made.
#[derive(Default, Clone)]
pub(super) struct Ids {
    pub by_index: HashMap<usize, String>,
    /// Root volume of each instance (the first of a fleet).
    pub root_volumes: HashMap<usize, String>,
    /// Every instance (with its root volume) of each `ec2_instance` entry.
    pub fleets: HashMap<usize, Vec<(String, String)>>,
    pub default_vpc: String,
    /// Default security group of each VPC id.
    pub default_groups: HashMap<String, String>,
    /// Default subnets by zone index.
    pub default_subnets: Vec<String>,
    /// DB subnet group per file VPC.
    pub db_subnet_groups: HashMap<VpcIx, String>,
}

impl Ids {
    /// The id AWS gave the resource `ix` names.
    pub fn id<K>(&self, ix: Ix<K>) -> &String {
        &self.by_index[&ix.at()]
    }

    pub fn vpc(&self, v: VpcRef) -> String {
        match v {
            VpcRef::Default => self.default_vpc.clone(),
            VpcRef::File(i) => self.by_index[&i.at()].clone(),
        }
    }

    pub fn group(&self, g: SgRef) -> String {
        match g {
            SgRef::File(i) => self.by_index[&i.at()].clone(),
            SgRef::DefaultOf(v) => self.default_groups[&self.vpc(v)].clone(),
        }
    }

    pub fn subnet(&self, s: SubnetRef) -> String {
        match s {
            SubnetRef::File(i) => self.by_index[&i.at()].clone(),
            SubnetRef::Default(z) => self.default_subnets[z].clone(),
        }
    }
}

/// Seeds `account`'s resources in `region` of `estate` with `client`, without roles or
/// sessions: the client's own identity stands for the account.
async fn seed_region_with(
    client: &AwsClient,
    estate: EstateFile,
    account: &str,
    region: &str,
) -> Result<Ids, SeedError> {
    // Nobody listens to the progress: sends to a closed channel are ignored.
    let (events, _) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        estate,
        lanes: std::sync::Mutex::new(HashMap::new()),
        permits: Semaphore::new(CONCURRENCY),
        requests: Arc::new(AtomicUsize::new(0)),
        events,
        transport: Arc::new(HttpTransport::new().map_err(|e| SeedError::Task(e.to_string()))?),
        url: String::new(),
        // One reservation per instance, as when tests launched them one by one: the
        // pagination tests count DescribeInstances pages, which moto cuts by reservation.
        max_launch: 1,
    });
    let site = Site {
        shared,
        client: client.clone(),
        account: account.to_owned(),
        region: region.to_owned(),
    };
    seed_region(site).await
}

/// Every resource of one account and region, step by step; returns the ids AWS gave
/// them.
async fn seed_region(site: Site) -> Result<Ids, SeedError> {
    let plan = site.shared.plan();
    let key = (site.account.clone(), site.region.clone());
    let indices: Vec<usize> = plan.by_region.get(&key).cloned().unwrap_or_default();
    let mut ids = Ids::default();
    if indices.is_empty() {
        return Ok(ids);
    }
    // 1. VPCs.
    ids.by_index.extend(all(vpc::vpcs(&site, &indices)).await?);
    // 2. Subnets and security groups; the default groups (and with them the default VPC).
    vpc::subnets_and_groups(&site, &indices, &mut ids).await?;
    // 3. Security group rules and DB subnet groups.
    let (rules, groups) = tokio::join!(
        all(vpc::rules(&site, &indices, &ids)),
        all(rds::subnet_groups(&site, &ids))
    );
    rules?;
    ids.db_subnet_groups.extend(groups?);
    // 4. Everything that needs only the network.
    let ids = Arc::new(ids);
    let launches = ec2::launches(&site.shared.estate, &indices, site.shared.max_launch)
        .into_iter()
        .map(|launch| ec2::run_instances(site.clone(), ids.clone(), launch));
    let (launched, created) = tokio::join!(
        futures_all(launches),
        all(network_only(&site, &indices, &ids))
    );
    let mut ids = Arc::unwrap_or_clone(ids);
    ec2::record_launched(&mut ids, launched?);
    ids.by_index.extend(created?.into_iter().flatten());
    // 5. What needs step 4: attachments, cluster members, replicas, functions; names and
    // tags of the instances.
    let mut tasks = after_launch(&site, &indices, &ids);
    tasks.extend(ec2::tag_instances(&site, &indices, &ids));
    all(tasks).await?;
    // 6. Snapshots, aliases, and stopping the instances the file wants stopped.
    let mut tasks = last(&site, &indices, &ids);
    tasks.extend(ec2::stop(&site, &indices, &ids));
    ids.by_index.extend(all(tasks).await?.into_iter().flatten());
    // RDS instances are stopped last: a stopped source cannot be snapshotted or replicated.
    all(rds::stop(&site, &indices)).await?;
    Ok(ids)
}

/// Runs the launches at once, like [`all`].
async fn futures_all<F>(launches: impl Iterator<Item = F>) -> Result<Vec<ec2::Launched>, SeedError>
where
    F: std::future::Future<Output = Result<ec2::Launched, SeedError>> + Send + 'static,
{
    all(launches
        .map(|f| Box::pin(f) as Task<ec2::Launched>)
        .collect())
    .await
}

/// Step 4: what needs only the network; tasks return the id AWS gave, where later steps
/// need it.
fn network_only(site: &Site, indices: &[usize], ids: &Ids) -> Vec<Task<Option<(usize, String)>>> {
    let res = site.shared.estate.resources();
    let plan = site.shared.plan();
    let mut tasks = Vec::new();
    for &i in indices {
        let (r, site) = (&res[i], site.clone());
        tasks.push(match &plan.resolved[i] {
            Resolved::Volume(v) => ec2::volume(site, i, r, v),
            Resolved::Rds(x) if x.cluster.is_none() && x.replica_of.is_none() => {
                rds::instance(site, ids, r, x)
            }
            Resolved::Cluster(c) => rds::cluster(site, ids, r, c),
            Resolved::Bucket(b) => s3::bucket(site, r, b),
            Resolved::Layer(l) => lambda::layer(site, r, l),
            Resolved::Lb(lb) => elb::load_balancer(site, ids, r, lb),
            _ => continue,
        });
    }
    tasks
}

/// Step 5: attachments, cluster members, read replicas, functions.
fn after_launch(site: &Site, indices: &[usize], ids: &Ids) -> Vec<Task<()>> {
    let res = site.shared.estate.resources();
    let plan = site.shared.plan();
    let mut tasks = Vec::new();
    for &i in indices {
        let (r, site) = (&res[i], site.clone());
        match &plan.resolved[i] {
            Resolved::Instance(x) => tasks.extend(ec2::attachments(&site, ids, i, &x.volumes)),
            Resolved::Cluster(c) => tasks.push(rds::members(site, ids, c)),
            Resolved::Rds(x) => tasks.extend(rds::replica(site, r, x)),
            Resolved::Function(f) => tasks.push(lambda::function(site, ids, r, f)),
            _ => {}
        }
    }
    tasks
}

/// Step 6: snapshots and aliases.
fn last(site: &Site, indices: &[usize], ids: &Ids) -> Vec<Task<Option<(usize, String)>>> {
    let res = site.shared.estate.resources();
    let plan = site.shared.plan();
    let mut tasks = Vec::new();
    for &i in indices {
        let (r, site) = (&res[i], site.clone());
        tasks.push(match &plan.resolved[i] {
            Resolved::EbsSnapshot(s) => ec2::snapshot(site, ids, i, r, s),
            Resolved::RdsSnapshot(s) => rds::snapshot(site, r, s),
            Resolved::Alias(a) => lambda::alias(site, r, a),
            _ => continue,
        });
    }
    tasks
}
