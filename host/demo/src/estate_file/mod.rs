//! The estate file (DESIGN.md §6): one JSON document that describes a demo or test estate,
//! seeded into the emulator by [`super::seed_estate`] and, for benchmarks and search
//! evaluation without an emulator, turned straight into the resources the first-party
//! scanners would report ([`EstateFile::offline_resources`]).
//!
//! Parsing is strict: an unknown field is an error naming its JSON path
//! (`resources[12].attrs.colour`), and every reference by name (`subnet`, `vpc`,
//! `security_groups`, `volumes`, `volume`, `instance`, `cluster`, `replica_of`, `function`,
//! `layers`, `subnets`) must name a resource of the right type in the same account and
//! region. Everything optional has a realistic default, decided here once so that the seeder
//! and the offline resources agree.
//!
//! ```
//! use cloudops_demo::EstateFile;
//! let estate = EstateFile::from_json(r#"{
//!   "accounts": [{ "id": "111111111111", "name": "production", "regions": ["us-west-2"] }],
//!   "resources": [
//!     { "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "main" },
//!     { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "app-a" },
//!     { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
//!       "name": "web-server-1", "tags": { "env": "production" },
//!       "attrs": { "instance_type": "t3.medium", "subnet": "app-a" } }
//!   ]
//! }"#).unwrap();
//! assert_eq!(estate.resources().len(), 3);
//! let err = EstateFile::from_json(r#"{ "accounts": [], "resource": [] }"#).unwrap_err();
//! assert!(err.to_string().contains("resource"), "{err}");
//! ```

mod attrs;
mod check;
mod defaults;
mod offline;
mod plan;
mod resolve;
#[cfg(test)]
mod tests;
mod validate;
mod zones;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use attrs::{
    Attrs, Ec2InstanceAttrs, Ec2SnapshotAttrs, Ec2VolumeAttrs, LambdaAliasAttrs,
    LambdaFunctionAttrs, LambdaLayerAttrs, LoadBalancerAttrs, RdsClusterAttrs, RdsInstanceAttrs,
    RdsSnapshotAttrs, S3BucketAttrs, SecurityGroupAttrs, VpcAttrs, VpcSubnetAttrs,
};
use attrs::{RawEstate, RawEstateOut, RawResource};
pub(crate) use plan::{
    AliasPlan, BucketPlan, ClusterPlan, EbsSnapshotPlan, FunctionPlan, InstanceIx, InstancePlan,
    Ix, LayerPlan, LbPlan, Plan, RdsPlan, RdsSnapshotPlan, Resolved, RuleSource, SgPlan, SgRef,
    SnapshotSource, SubnetPlan, SubnetRef, VolumeIx, VolumePlan, VpcIx, VpcPlan, VpcRef,
};
pub(crate) use zones::zone_id;
pub use zones::zones;

// ---------------------------------------------------------------------------------------
// Resource types
// ---------------------------------------------------------------------------------------

/// A resource type the first-party scanners emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// An EC2 instance (its root volume comes with it).
    Ec2Instance,
    /// An extra EBS volume.
    Ec2Volume,
    /// An EBS snapshot.
    Ec2Snapshot,
    /// An RDS DB instance (standalone, read replica or cluster member).
    RdsInstance,
    /// An RDS DB cluster (Aurora).
    RdsCluster,
    /// A manual RDS DB or cluster snapshot.
    RdsSnapshot,
    /// An S3 bucket.
    S3Bucket,
    /// A Lambda function.
    LambdaFunction,
    /// A Lambda layer (each version is a resource).
    LambdaLayer,
    /// A Lambda alias.
    LambdaAlias,
    /// A VPC.
    Vpc,
    /// A VPC subnet.
    VpcSubnet,
    /// A VPC security group.
    VpcSecurityGroup,
    /// An Elastic Load Balancing v2 load balancer.
    ElbLoadBalancer,
}

impl ResourceKind {
    /// Every type, in the order the scanners are listed in DESIGN.md.
    pub const ALL: [ResourceKind; 14] = [
        ResourceKind::Ec2Instance,
        ResourceKind::Ec2Volume,
        ResourceKind::Ec2Snapshot,
        ResourceKind::RdsInstance,
        ResourceKind::RdsCluster,
        ResourceKind::RdsSnapshot,
        ResourceKind::S3Bucket,
        ResourceKind::LambdaFunction,
        ResourceKind::LambdaLayer,
        ResourceKind::LambdaAlias,
        ResourceKind::Vpc,
        ResourceKind::VpcSubnet,
        ResourceKind::VpcSecurityGroup,
        ResourceKind::ElbLoadBalancer,
    ];

    /// The name scanners use (`ec2_instance`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Ec2Instance => "ec2_instance",
            ResourceKind::Ec2Volume => "ec2_volume",
            ResourceKind::Ec2Snapshot => "ec2_snapshot",
            ResourceKind::RdsInstance => "rds_instance",
            ResourceKind::RdsCluster => "rds_cluster",
            ResourceKind::RdsSnapshot => "rds_snapshot",
            ResourceKind::S3Bucket => "s3_bucket",
            ResourceKind::LambdaFunction => "lambda_function",
            ResourceKind::LambdaLayer => "lambda_layer",
            ResourceKind::LambdaAlias => "lambda_alias",
            ResourceKind::Vpc => "vpc",
            ResourceKind::VpcSubnet => "vpc_subnet",
            ResourceKind::VpcSecurityGroup => "vpc_security_group",
            ResourceKind::ElbLoadBalancer => "elb_load_balancer",
        }
    }

    /// The type named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// True where AWS assigns the identifier and the file names the resource by its `Name`
    /// tag (`name`); false where the user chooses the identifier (`id`).
    pub fn keyed_by_name(self) -> bool {
        matches!(
            self,
            ResourceKind::Ec2Instance
                | ResourceKind::Ec2Volume
                | ResourceKind::Ec2Snapshot
                | ResourceKind::Vpc
                | ResourceKind::VpcSubnet
                | ResourceKind::VpcSecurityGroup
        )
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// Accounts and principals
// ---------------------------------------------------------------------------------------

/// One AWS account of the estate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The 12-digit account id.
    pub id: String,
    /// A name for people (`production`); defaults to the id.
    #[serde(default)]
    pub name: String,
    /// The regions the account uses; every resource of the account lives in one of them.
    pub regions: Vec<String>,
    /// The IAM role the demo signs in with, and what it may do.
    #[serde(default)]
    pub principal: Principal,
}

/// The IAM role of an account that the demo assumes, with an inline policy built from
/// `allow` and `deny` (action patterns such as `ec2:Describe*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// Role name; default `Developer`.
    #[serde(default = "Principal::default_role")]
    pub role: String,
    /// Allowed action patterns; default read-only on every scanned service.
    #[serde(default = "Principal::read_only")]
    pub allow: Vec<String>,
    /// Explicitly denied action patterns; default none.
    #[serde(default)]
    pub deny: Vec<String>,
}

impl Default for Principal {
    fn default() -> Self {
        Self {
            role: Self::default_role(),
            allow: Self::read_only(),
            deny: Vec::new(),
        }
    }
}

impl Principal {
    fn default_role() -> String {
        "Developer".into()
    }

    /// Describe/List/Get on every service the first-party scanners read.
    pub fn read_only() -> Vec<String> {
        [
            "ec2:Describe*",
            "rds:Describe*",
            "rds:ListTagsForResource",
            "s3:List*",
            "s3:Get*",
            "lambda:List*",
            "lambda:Get*",
            "elasticloadbalancing:Describe*",
        ]
        .map(String::from)
        .to_vec()
    }

    /// The inline policy document: `allow`, then `deny` as an explicit deny. The
    /// statement cloudops itself needs to learn who it is and what it may do
    /// (`sts:GetCallerIdentity`, `iam:SimulatePrincipalPolicy`, `iam:GetRole`) is added
    /// unless `deny` names those actions.
    pub fn policy_document(&self) -> String {
        let mut statements = vec![serde_json::json!({
            "Sid": "Allowed",
            "Effect": "Allow",
            "Action": self.allow,
            "Resource": "*",
        })];
        statements.push(serde_json::json!({
            "Sid": "CloudopsDiscovery",
            "Effect": "Allow",
            "Action": ["sts:GetCallerIdentity", "iam:SimulatePrincipalPolicy", "iam:GetRole"],
            "Resource": "*",
        }));
        if !self.deny.is_empty() {
            statements.push(serde_json::json!({
                "Sid": "Denied",
                "Effect": "Deny",
                "Action": self.deny,
                "Resource": "*",
            }));
        }
        serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
    }
}

// ---------------------------------------------------------------------------------------
// Resources and their type-specific attributes
// ---------------------------------------------------------------------------------------

/// One resource of the estate.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSpec {
    /// The type.
    pub kind: ResourceKind,
    /// The account id.
    pub account: String,
    /// The region.
    pub region: String,
    /// The identifier, for types whose identifier the user chooses (RDS, S3, Lambda, ELB).
    pub id: Option<String>,
    /// The `Name` tag, for types whose identifier AWS assigns (EC2, VPC).
    pub name: Option<String>,
    /// Tags (besides `Name`), in key order.
    pub tags: BTreeMap<String, String>,
    /// The lifecycle state, where the demo can choose one (`running`/`stopped` for EC2
    /// instances, `available`/`stopped` for RDS instances, `available` for clusters).
    pub state: Option<String>,
    /// The type-specific attributes.
    pub attrs: Attrs,
}

impl ResourceSpec {
    /// The name or id the file knows the resource by.
    pub fn key(&self) -> &str {
        self.name.as_deref().or(self.id.as_deref()).unwrap_or("")
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// One thing wrong with an estate file, at a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `resources[3].attrs.subnet`.
    pub path: String,
    /// What, and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// An estate file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EstateError {
    /// The file could not be read.
    #[error("cannot read the estate file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The JSON does not have the estate file's shape (syntax, unknown or missing field,
    /// wrong type).
    #[error("{origin}: {problem}")]
    Parse {
        /// The file name, or `estate file`.
        origin: String,
        /// Where and what.
        problem: Problem,
    },
    /// The JSON has the right shape but describes an impossible estate.
    #[error("{origin} is not a valid estate:\n  {}", problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n  "))]
    Invalid {
        /// The file name, or `estate file`.
        origin: String,
        /// Every problem found (at most 50).
        problems: Vec<Problem>,
    },
}

impl EstateError {
    /// The problems, with their paths.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            EstateError::Read { .. } => Vec::new(),
            EstateError::Parse { problem, .. } => vec![problem.clone()],
            EstateError::Invalid { problems, .. } => problems.clone(),
        }
    }
}

fn parse_problem(path: String, e: &serde_json::Error) -> Problem {
    let path = if path.is_empty() || path == "." {
        "(top level)".to_owned()
    } else {
        path
    };
    Problem {
        path,
        message: e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// The estate file
// ---------------------------------------------------------------------------------------

/// A validated estate: accounts with their regions and principals, and resources.
///
/// Built by [`EstateFile::from_json`], [`EstateFile::load`], [`EstateFile::new`] or the
/// generators ([`EstateFile::default_demo`], [`super::generate`]); always valid, so the
/// seeder and [`EstateFile::offline_resources`] cannot meet a dangling reference.
#[derive(Debug, Clone)]
pub struct EstateFile {
    accounts: Vec<Account>,
    resources: Vec<ResourceSpec>,
    plan: Plan,
}

impl PartialEq for EstateFile {
    fn eq(&self, other: &Self) -> bool {
        self.accounts == other.accounts && self.resources == other.resources
    }
}

impl EstateFile {
    /// Reads and validates the estate file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, EstateError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| EstateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates an estate file's JSON.
    pub fn from_json(json: &str) -> Result<Self, EstateError> {
        Self::parse(json, "estate file")
    }

    fn parse(json: &str, origin: &str) -> Result<Self, EstateError> {
        let parse_error = |problem| EstateError::Parse {
            origin: origin.to_owned(),
            problem,
        };
        let de = &mut serde_json::Deserializer::from_str(json);
        let raw: RawEstate = serde_path_to_error::deserialize(de)
            .map_err(|e| parse_error(parse_problem(e.path().to_string(), e.inner())))?;
        let mut problems = Vec::new();
        let mut resources = Vec::with_capacity(raw.resources.len());
        for (i, r) in raw.resources.into_iter().enumerate() {
            let Some(kind) = ResourceKind::parse(&r.kind) else {
                problems.push(Problem {
                    path: format!("resources[{i}].type"),
                    message: format!(
                        "unknown resource type `{}`; expected one of {}",
                        r.kind,
                        ResourceKind::ALL.map(|k| k.as_str()).join(", ")
                    ),
                });
                continue;
            };
            let attrs = match Attrs::parse(kind, Value::Object(r.attrs)) {
                Ok(a) => a,
                Err(e) => {
                    let inner = e.path().to_string();
                    return Err(parse_error(parse_problem(
                        format!("resources[{i}].attrs.{inner}"),
                        e.inner(),
                    )));
                }
            };
            resources.push(ResourceSpec {
                kind,
                account: r.account,
                region: r.region,
                id: r.id,
                name: r.name,
                tags: r.tags,
                state: r.state,
                attrs,
            });
        }
        if !problems.is_empty() {
            return Err(EstateError::Invalid {
                origin: origin.to_owned(),
                problems,
            });
        }
        Self::build(raw.accounts, resources, origin)
    }

    /// Validates accounts and resources built in code.
    pub fn new(accounts: Vec<Account>, resources: Vec<ResourceSpec>) -> Result<Self, EstateError> {
        Self::build(accounts, resources, "estate")
    }

    fn build(
        mut accounts: Vec<Account>,
        resources: Vec<ResourceSpec>,
        origin: &str,
    ) -> Result<Self, EstateError> {
        for a in &mut accounts {
            if a.name.trim().is_empty() {
                a.name = a.id.clone();
            }
        }
        match Plan::build(&accounts, &resources) {
            Ok(plan) => Ok(Self {
                accounts,
                resources,
                plan,
            }),
            Err(mut problems) => {
                problems.truncate(50);
                Err(EstateError::Invalid {
                    origin: origin.to_owned(),
                    problems,
                })
            }
        }
    }

    /// The accounts.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The resources, in file order.
    pub fn resources(&self) -> &[ResourceSpec] {
        &self.resources
    }

    /// The account with id `id`.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// The estate as pretty-printed JSON that [`EstateFile::from_json`] reads back.
    pub fn to_json(&self) -> String {
        let out = RawEstateOut {
            accounts: &self.accounts,
            resources: self
                .resources
                .iter()
                .map(|r| RawResource {
                    kind: r.kind.as_str().to_owned(),
                    account: r.account.clone(),
                    region: r.region.clone(),
                    id: r.id.clone(),
                    name: r.name.clone(),
                    tags: r.tags.clone(),
                    state: r.state.clone(),
                    attrs: match r.attrs.to_value() {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    },
                })
                .collect(),
        };
        serde_json::to_string_pretty(&out).expect("plain data serializes")
    }

    /// How many resources of each type the file describes (layer versions counted one by
    /// one), without what AWS adds by itself; see [`EstateFile::expected_counts`] for what
    /// a scan finds.
    pub fn declared_counts(&self) -> BTreeMap<ResourceKind, usize> {
        let mut counts = BTreeMap::new();
        for (i, r) in self.resources.iter().enumerate() {
            let n = match &self.plan.resolved[i] {
                Resolved::Layer(l) => l.versions as usize,
                Resolved::Instance(x) => x.count as usize,
                _ => 1,
            };
            *counts.entry(r.kind).or_default() += n;
        }
        counts
    }

    pub(crate) fn plan(&self) -> &Plan {
        &self.plan
    }
}

// ---------------------------------------------------------------------------------------
// What a scan finds
// ---------------------------------------------------------------------------------------

impl EstateFile {
    /// How many resources of each type the first-party scanners report for each
    /// `(account, region, type)` after [`super::seed_estate`]: what the file declares plus
    /// what AWS (and the emulator) add by themselves:
    ///
    /// - every region of every account has a default VPC with a default subnet per zone
    ///   and a `default` security group, and every VPC of the file has its own `default`
    ///   group;
    /// - every instance has a root volume (`ec2_volume`);
    /// - every DB instance that is not a read replica, and every cluster, has an automated
    ///   snapshot (`rds_snapshot` named `rds:<id>-<time>`);
    /// - each version of a layer is a `lambda_layer`.
    ///
    /// Types with no resources are left out.
    pub fn expected_counts(&self) -> BTreeMap<(String, String, String), usize> {
        let mut out: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        let mut add = |account: &str, region: &str, kind: ResourceKind, n: usize| {
            if n > 0 {
                *out.entry((
                    account.to_owned(),
                    region.to_owned(),
                    kind.as_str().to_owned(),
                ))
                .or_default() += n;
            }
        };
        for (account, region) in self.plan.by_region.keys() {
            let zones = zones(region).map_or(0, |z| z.len());
            add(account, region, ResourceKind::Vpc, 1);
            add(account, region, ResourceKind::VpcSubnet, zones);
            add(account, region, ResourceKind::VpcSecurityGroup, 1);
        }
        for (i, r) in self.resources.iter().enumerate() {
            let (a, g) = (r.account.as_str(), r.region.as_str());
            match &self.plan.resolved[i] {
                Resolved::Instance(x) => add(a, g, r.kind, x.count as usize),
                _ => add(a, g, r.kind, 1),
            }
            match &self.plan.resolved[i] {
                Resolved::Vpc(_) => add(a, g, ResourceKind::VpcSecurityGroup, 1),
                Resolved::Instance(x) => add(a, g, ResourceKind::Ec2Volume, x.count as usize),
                Resolved::Rds(x) if x.replica_of.is_none() => {
                    add(a, g, ResourceKind::RdsSnapshot, 1)
                }
                Resolved::Cluster(_) => add(a, g, ResourceKind::RdsSnapshot, 1),
                Resolved::Layer(l) => add(a, g, ResourceKind::LambdaLayer, l.versions as usize - 1),
                _ => {}
            }
        }
        out
    }

    /// The resources the first-party scanners report after [`super::seed_estate`] of this
    /// estate, without an emulator: same types, identifier rules, names, ARNs, tags, states,
    /// relations and metadata (keys and values), with deterministic synthetic ids where AWS
    /// assigns them (`i-…`, `vol-…`, `vpc-…`, load balancer ARNs, automated snapshot
    /// names) and deterministic stand-ins for what AWS decides at run time (times, IP
    /// addresses, KMS key ids, endpoint hashes, alias revision ids). Includes what AWS adds
    /// by itself (see [`EstateFile::expected_counts`]). The order is by account and
    /// region, then as the scanners list them.
    ///
    /// The emulator's own ways are reproduced, since a scan of the seeded emulator is what
    /// this stands for: Aurora members and cluster snapshots carry the KMS key id
    /// `default_kms_key_id` and 1 GiB of storage, a VPC function's `vpc_id` is
    /// `vpc-123abc`, network load balancers have `app/` ARNs, every instance reports
    /// `x86_64`, and default security groups have no inbound rules.
    pub fn offline_resources(&self) -> Vec<crate::resource::Resource> {
        offline::resources(self)
    }
}
