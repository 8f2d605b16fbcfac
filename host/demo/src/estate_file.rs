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

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// Type-specific attributes; every field is optional and has a realistic default.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Attrs {
    Ec2Instance(Ec2InstanceAttrs),
    Ec2Volume(Ec2VolumeAttrs),
    Ec2Snapshot(Ec2SnapshotAttrs),
    RdsInstance(RdsInstanceAttrs),
    RdsCluster(RdsClusterAttrs),
    RdsSnapshot(RdsSnapshotAttrs),
    S3Bucket(S3BucketAttrs),
    LambdaFunction(LambdaFunctionAttrs),
    LambdaLayer(LambdaLayerAttrs),
    LambdaAlias(LambdaAliasAttrs),
    Vpc(VpcAttrs),
    VpcSubnet(VpcSubnetAttrs),
    VpcSecurityGroup(SecurityGroupAttrs),
    ElbLoadBalancer(LoadBalancerAttrs),
}

/// `ec2_instance` attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2InstanceAttrs {
    /// Default `t3.micro`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Default `ami-0a8b4cd432b1c3063`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// A `vpc_subnet` name; default the first subnet of the account and region in the file,
    /// else the default VPC's subnet in zone `a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// Instead of `subnet`: `vpc_subnet` names (one VPC) the instances of a fleet
    /// (`count` > 1) are spread over in turn, as an Auto Scaling group spreads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// How many identical instances share this Name, as an Auto Scaling group's do;
    /// default 1. A fleet cannot have data `volumes` or be named by a snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// `vpc_security_group` names in the subnet's VPC (`default` is the VPC's default
    /// group); default `["default"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    /// `ec2_volume` names to attach as data volumes (`/dev/sdf`, `/dev/sdg`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// Root volume size; default 8 GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_volume_gib: Option<u32>,
    /// Root volume type; default `gp3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_volume_type: Option<String>,
}

/// `ec2_volume` attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2VolumeAttrs {
    /// Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_gib: Option<u32>,
    /// Default `gp3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    /// Provisioned IOPS (io1/io2, optional for gp3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// Default: the zone of the instance it is attached to, else zone `a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

/// `ec2_snapshot` attributes: exactly one of `volume` and `instance`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2SnapshotAttrs {
    /// The `ec2_volume` (by name) the snapshot is of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// The `ec2_instance` (by name) whose root volume the snapshot is of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Default `Backup of <volume or instance name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `rds_instance` attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdsInstanceAttrs {
    /// Default `postgres` (the cluster's engine for members, the source's for replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Default: a current version of the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Instance class; default `db.t3.medium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_az: Option<bool>,
    /// Default 20 GiB (not for cluster members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_storage_gib: Option<u32>,
    /// Default `gp3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_encrypted: Option<bool>,
    /// Days; default 7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<u32>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publicly_accessible: Option<bool>,
    /// The `vpc` (by name) whose subnets form the DB subnet group; default the first VPC
    /// of the account and region in the file, else none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// `vpc_security_group` names in that VPC; default `["default"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// The `rds_cluster` (by id) this instance is a member of; the first member in the file
    /// is the writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The `rds_instance` (by id) this is a read replica of. A replica runs its source's
    /// engine in its source's network, with its source's storage; `class` defaults to the
    /// source's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_of: Option<String>,
}

/// `rds_cluster` attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdsClusterAttrs {
    /// Default `aurora-postgresql`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Default: a current version of the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Days; default 7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<u32>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_encrypted: Option<bool>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// As for `rds_instance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// As for `rds_instance`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
}

/// `rds_snapshot` attributes: exactly one of `instance` and `cluster`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdsSnapshotAttrs {
    /// The `rds_instance` (by id) of a DB snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The `rds_cluster` (by id) of a cluster snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// `s3_bucket` attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3BucketAttrs {
    /// `Enabled`, `Suspended` or `Disabled` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<String>,
    /// Default encryption: `AES256` (default, as AWS does for new buckets), `aws:kms` or
    /// `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    /// With `aws:kms`: the key (ARN, `alias/...` or key id); default none (the AWS key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// Ids of lifecycle rules (each expires objects after 90 days); default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_rules: Vec<String>,
    /// Block all public access (default true, as AWS does for new buckets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_public_access: Option<bool>,
}

/// `lambda_function` attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaFunctionAttrs {
    /// Default `python3.12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Default: the runtime's usual handler (`lambda_function.lambda_handler`,
    /// `index.handler`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// MiB; default 128.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_size: Option<u32>,
    /// Seconds; default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The execution role's name, created in the account if needed; default
    /// `lambda-basic-execution`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `x86_64` (default) or `arm64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// `vpc_subnet` names (all in one VPC) for a VPC function; default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// `vpc_security_group` names in that VPC.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// `lambda_layer` ids, optionally `:version` (default the latest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

/// `lambda_layer` attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaLayerAttrs {
    /// How many versions to publish; default 1. Each version is a resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<u32>,
    /// Default `["python3.12"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatible_runtimes: Option<Vec<String>>,
    /// Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_info: Option<String>,
}

/// `lambda_alias` attributes (`id` is the alias name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaAliasAttrs {
    /// The `lambda_function` (by id); required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// `1` (default: the function's first published version) or `$LATEST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `vpc` attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcAttrs {
    /// Default `10.<n>.0.0/16`, n counting the account and region's VPCs from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
}

/// `vpc_subnet` attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcSubnetAttrs {
    /// The `vpc` (by name); default the first VPC of the account and region in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// Default: the next free /24 (or smaller) block of the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// Default: the region's zones in turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

/// `vpc_security_group` attributes (`name` is the group name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupAttrs {
    /// The `vpc` (by name); default the first VPC of the account and region in the file,
    /// else the default VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// Default `<name> security group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Inbound rules as the vpc scanner summarises them: `tcp 443 from 0.0.0.0/0`,
    /// `tcp 8000-8100 from 10.0.0.0/8`, `udp 53 from 10.1.0.0/16`, `icmp from 0.0.0.0/0`,
    /// `all from <group name>` (a group of the same VPC).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<String>,
}

/// `elb_load_balancer` attributes (`id` is the load balancer name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerAttrs {
    /// `application` (default), `network` or `gateway`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub lb_type: Option<String>,
    /// `internet-facing` (default) or `internal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// `vpc_subnet` names (one VPC); default the subnets of `vpc`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// The `vpc` (by name) whose subnets to use when `subnets` is empty; default the first
    /// VPC of the account and region in the file, else the default VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// `vpc_security_group` names in that VPC.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
}

impl Attrs {
    fn parse(
        kind: ResourceKind,
        value: Value,
    ) -> Result<Self, serde_path_to_error::Error<serde_json::Error>> {
        fn de<T: DeserializeOwned>(
            v: Value,
        ) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
            serde_path_to_error::deserialize(v)
        }
        Ok(match kind {
            ResourceKind::Ec2Instance => Attrs::Ec2Instance(de(value)?),
            ResourceKind::Ec2Volume => Attrs::Ec2Volume(de(value)?),
            ResourceKind::Ec2Snapshot => Attrs::Ec2Snapshot(de(value)?),
            ResourceKind::RdsInstance => Attrs::RdsInstance(de(value)?),
            ResourceKind::RdsCluster => Attrs::RdsCluster(de(value)?),
            ResourceKind::RdsSnapshot => Attrs::RdsSnapshot(de(value)?),
            ResourceKind::S3Bucket => Attrs::S3Bucket(de(value)?),
            ResourceKind::LambdaFunction => Attrs::LambdaFunction(de(value)?),
            ResourceKind::LambdaLayer => Attrs::LambdaLayer(de(value)?),
            ResourceKind::LambdaAlias => Attrs::LambdaAlias(de(value)?),
            ResourceKind::Vpc => Attrs::Vpc(de(value)?),
            ResourceKind::VpcSubnet => Attrs::VpcSubnet(de(value)?),
            ResourceKind::VpcSecurityGroup => Attrs::VpcSecurityGroup(de(value)?),
            ResourceKind::ElbLoadBalancer => Attrs::ElbLoadBalancer(de(value)?),
        })
    }

    /// The default (empty) attributes of `kind`.
    pub fn empty(kind: ResourceKind) -> Self {
        Self::parse(kind, Value::Object(Map::new())).expect("every field has a default")
    }

    fn to_value(&self) -> Value {
        let v = match self {
            Attrs::Ec2Instance(a) => serde_json::to_value(a),
            Attrs::Ec2Volume(a) => serde_json::to_value(a),
            Attrs::Ec2Snapshot(a) => serde_json::to_value(a),
            Attrs::RdsInstance(a) => serde_json::to_value(a),
            Attrs::RdsCluster(a) => serde_json::to_value(a),
            Attrs::RdsSnapshot(a) => serde_json::to_value(a),
            Attrs::S3Bucket(a) => serde_json::to_value(a),
            Attrs::LambdaFunction(a) => serde_json::to_value(a),
            Attrs::LambdaLayer(a) => serde_json::to_value(a),
            Attrs::LambdaAlias(a) => serde_json::to_value(a),
            Attrs::Vpc(a) => serde_json::to_value(a),
            Attrs::VpcSubnet(a) => serde_json::to_value(a),
            Attrs::VpcSecurityGroup(a) => serde_json::to_value(a),
            Attrs::ElbLoadBalancer(a) => serde_json::to_value(a),
        };
        v.expect("attributes are plain data")
    }
}

/// The resource as written in the file, before its `attrs` are read for its type.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    #[serde(rename = "type")]
    kind: String,
    account: String,
    region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    attrs: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEstate {
    accounts: Vec<Account>,
    #[serde(default)]
    resources: Vec<RawResource>,
}

#[derive(Serialize)]
struct RawEstateOut<'a> {
    accounts: &'a [Account],
    resources: Vec<RawResource>,
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
// Regions and zones (moto 5.2's, which follow AWS's)
// ---------------------------------------------------------------------------------------

/// The availability zones of `region` as the emulator (and, for these regions, AWS)
/// knows them, or `None` for a region the estate file does not support.
pub fn zones(region: &str) -> Option<Vec<String>> {
    let letters: &str = match region {
        "us-east-1" => "abcdef",
        "us-west-2" | "ap-northeast-2" => "abcd",
        "us-west-1" => "ab",
        "ap-northeast-1" => "acd",
        "ca-central-1" => "abd",
        "af-south-1" | "ap-east-1" | "ap-northeast-3" | "ap-south-1" | "ap-south-2"
        | "ap-southeast-1" | "ap-southeast-2" | "ap-southeast-3" | "ap-southeast-4"
        | "ca-west-1" | "eu-central-1" | "eu-central-2" | "eu-north-1" | "eu-south-1"
        | "eu-south-2" | "eu-west-1" | "eu-west-2" | "eu-west-3" | "il-central-1"
        | "me-central-1" | "me-south-1" | "sa-east-1" | "us-east-2" => "abc",
        _ => return None,
    };
    Some(letters.chars().map(|c| format!("{region}{c}")).collect())
}

/// The zone id (`usw2-az2`) of a zone, as moto reports it for the regions it maps
/// specially; other regions number zones in order.
pub(crate) fn zone_id(zone: &str) -> String {
    let special: &[(&str, &str)] = &[
        ("us-east-1a", "use1-az6"),
        ("us-east-1b", "use1-az1"),
        ("us-east-1c", "use1-az2"),
        ("us-east-1d", "use1-az4"),
        ("us-east-1e", "use1-az3"),
        ("us-east-1f", "use1-az5"),
        ("us-west-2a", "usw2-az2"),
        ("us-west-2b", "usw2-az1"),
        ("us-west-2c", "usw2-az3"),
        ("us-west-2d", "usw2-az4"),
        ("us-west-1a", "usw1-az3"),
        ("us-west-1b", "usw1-az1"),
        ("eu-west-1a", "euw1-az3"),
        ("eu-west-1b", "euw1-az1"),
        ("eu-west-1c", "euw1-az2"),
        ("eu-west-2a", "euw2-az2"),
        ("eu-west-2b", "euw2-az3"),
        ("eu-west-2c", "euw2-az1"),
        ("ap-south-1b", "aps1-az3"),
        ("ap-south-1c", "aps1-az2"),
        ("ap-northeast-1a", "apne1-az4"),
        ("ap-northeast-1c", "apne1-az1"),
        ("ap-northeast-1d", "apne1-az2"),
        ("ap-southeast-2b", "apse2-az3"),
        ("ap-southeast-2c", "apse2-az2"),
        ("ca-central-1d", "cac1-az4"),
    ];
    if let Some((_, id)) = special.iter().find(|(z, _)| *z == zone) {
        return (*id).to_owned();
    }
    let (region, letter) = zone.split_at(zone.len() - 1);
    let mut short = String::new();
    for (i, part) in region.split('-').enumerate() {
        match i {
            0 => short.push_str(part),
            _ if part.chars().all(|c| c.is_ascii_digit()) => short.push_str(part),
            _ => short.push(part.chars().next().unwrap_or('x')),
        }
    }
    let n = letter.as_bytes()[0].saturating_sub(b'a') + 1;
    format!("{short}-az{n}")
}

// ---------------------------------------------------------------------------------------
// Resolution: references and defaults, decided once
// ---------------------------------------------------------------------------------------

/// A VPC a resource lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum VpcRef {
    /// The default VPC AWS creates in every region.
    Default,
    /// The `vpc` at this index of the file.
    File(usize),
}

/// A subnet a resource lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SubnetRef {
    /// The default VPC's subnet in the region's zone with this index.
    Default(usize),
    /// The `vpc_subnet` at this index of the file.
    File(usize),
}

/// A security group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SgRef {
    /// The `default` group of a VPC.
    DefaultOf(VpcRef),
    /// The `vpc_security_group` at this index of the file.
    File(usize),
}

/// Where a security group rule lets traffic in from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RuleSource {
    Cidr(String),
    Group(SgRef),
}

/// One inbound rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    /// `tcp`, `udp`, `icmp` or `-1`.
    pub protocol: &'static str,
    pub from_port: i32,
    pub to_port: i32,
    pub source: RuleSource,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InstancePlan {
    pub instance_type: String,
    pub image_id: String,
    /// The subnets (with their zones) instance k of the fleet goes to k mod n; one for a
    /// single instance.
    pub subnets: Vec<(SubnetRef, String)>,
    pub vpc: VpcRef,
    /// How many identical instances (1 unless a fleet).
    pub count: u32,
    pub security_groups: Vec<SgRef>,
    /// Data volumes with their device names.
    pub volumes: Vec<(usize, String)>,
    pub root_gib: u32,
    pub root_type: String,
    pub stopped: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VolumePlan {
    pub size_gib: u32,
    pub volume_type: String,
    pub iops: Option<u32>,
    pub encrypted: bool,
    pub zone: String,
    /// The instance it is attached to, and the device.
    pub attached: Option<(usize, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SnapshotSource {
    Volume(usize),
    RootOf(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EbsSnapshotPlan {
    pub source: SnapshotSource,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RdsPlan {
    pub engine: String,
    pub engine_version: String,
    pub class: String,
    pub multi_az: bool,
    /// None for cluster members.
    pub storage_gib: Option<u32>,
    pub storage_type: Option<String>,
    pub encrypted: bool,
    pub retention: u32,
    pub deletion_protection: bool,
    pub public: bool,
    pub vpc: Option<VpcRef>,
    pub security_groups: Vec<SgRef>,
    pub cluster: Option<usize>,
    pub replica_of: Option<usize>,
    /// Replicas of this instance, in file order.
    pub replicas: Vec<usize>,
    pub stopped: bool,
    pub port: u16,
    pub zone: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClusterPlan {
    pub engine: String,
    pub engine_version: String,
    pub retention: u32,
    pub encrypted: bool,
    pub deletion_protection: bool,
    pub vpc: Option<VpcRef>,
    pub security_groups: Vec<SgRef>,
    /// Members in file order; the first is the writer.
    pub members: Vec<usize>,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RdsSnapshotPlan {
    Instance(usize),
    Cluster(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BucketPlan {
    pub versioning: String,
    /// `AES256`, `aws:kms` or none.
    pub encryption: Option<String>,
    pub kms_key: Option<String>,
    pub lifecycle_rules: Vec<String>,
    pub block_public_access: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FunctionPlan {
    pub runtime: String,
    pub handler: String,
    pub memory_size: u32,
    pub timeout: u32,
    pub description: Option<String>,
    pub role: String,
    pub architecture: String,
    pub subnets: Vec<usize>,
    pub security_groups: Vec<SgRef>,
    pub vpc: Option<VpcRef>,
    /// `(layer index, version)`.
    pub layers: Vec<(usize, u32)>,
    /// Published as version 1 (an alias points at it).
    pub publish: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayerPlan {
    pub versions: u32,
    pub runtimes: Vec<String>,
    pub description: Option<String>,
    pub license_info: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AliasPlan {
    pub function: usize,
    pub version: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubnetPlan {
    pub vpc: usize,
    pub cidr: String,
    pub zone: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SgPlan {
    pub vpc: VpcRef,
    pub description: String,
    pub ingress: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LbPlan {
    pub lb_type: String,
    pub scheme: String,
    pub vpc: VpcRef,
    pub subnets: Vec<SubnetRef>,
    pub security_groups: Vec<SgRef>,
}

/// A resource with its references resolved and its defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    Instance(InstancePlan),
    Volume(VolumePlan),
    EbsSnapshot(EbsSnapshotPlan),
    Rds(RdsPlan),
    Cluster(ClusterPlan),
    RdsSnapshot(RdsSnapshotPlan),
    Bucket(BucketPlan),
    Function(FunctionPlan),
    Layer(LayerPlan),
    Alias(AliasPlan),
    Vpc { cidr: String },
    Subnet(SubnetPlan),
    Sg(SgPlan),
    Lb(LbPlan),
}

/// Everything the seeder and the offline resources need, decided from the file.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// One per resource, in file order.
    pub resolved: Vec<Resolved>,
    /// Resource indices per (account, region), in file order; every region of every
    /// account has an entry.
    pub by_region: BTreeMap<(String, String), Vec<usize>>,
    /// Lambda execution roles per account.
    pub lambda_roles: BTreeMap<String, BTreeSet<String>>,
    /// The subnets of each file VPC, in file order.
    pub vpc_subnets: HashMap<usize, Vec<usize>>,
    /// The DB subnet group made of each VPC's subnets, for the VPCs databases use.
    pub db_subnet_groups: BTreeMap<usize, String>,
}

/// Names in one (account, region).
#[derive(Default)]
struct Names {
    vpcs: HashMap<String, usize>,
    vpc_order: Vec<usize>,
    subnets: HashMap<String, usize>,
    subnet_order: Vec<usize>,
    /// (vpc, group name) → index.
    groups: HashMap<(VpcRef, String), usize>,
    instances: HashMap<String, usize>,
    volumes: HashMap<String, usize>,
    snapshots: HashMap<String, usize>,
    rds: HashMap<String, usize>,
    clusters: HashMap<String, usize>,
    rds_snapshots: HashMap<String, usize>,
    functions: HashMap<String, usize>,
    layers: HashMap<String, usize>,
    aliases: HashMap<(String, String), usize>,
    lbs: HashMap<String, usize>,
}

struct Ctx<'a> {
    accounts: &'a [Account],
    resources: &'a [ResourceSpec],
    names: HashMap<(String, String), Names>,
    /// The subnets of each file VPC, in file order (known after the first pass).
    vpc_subnets: HashMap<usize, Vec<usize>>,
    problems: RefCell<Vec<Problem>>,
}

impl Ctx<'_> {
    fn problem(&self, path: String, message: impl Into<String>) {
        self.problems.borrow_mut().push(Problem {
            path,
            message: message.into(),
        });
    }
}

fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

fn valid_action_pattern(p: &str) -> bool {
    if p == "*" {
        return true;
    }
    let Some((service, action)) = p.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !action.is_empty()
        && action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
}

fn valid_role_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// Why `key` cannot be the identifier or name of a `kind`, if it cannot.
fn key_problem(kind: ResourceKind, key: &str) -> Option<String> {
    let alnum_hyphen = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    match kind {
        ResourceKind::RdsInstance | ResourceKind::RdsCluster | ResourceKind::RdsSnapshot => {
            let ok = (1..=63).contains(&key.len())
                && key.as_bytes()[0].is_ascii_alphabetic()
                && alnum_hyphen(key)
                && !key.ends_with('-')
                && !key.contains("--");
            (!ok).then(|| {
                format!(
                    "`{key}` is not an RDS identifier: 1-63 letters, digits and single hyphens, \
                     starting with a letter"
                )
            })
        }
        ResourceKind::S3Bucket => {
            let ok = (3..=63).contains(&key.len())
                && key.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                })
                && key.as_bytes()[0].is_ascii_alphanumeric()
                && key.as_bytes()[key.len() - 1].is_ascii_alphanumeric()
                && !key.contains("..")
                && key.parse::<Ipv4Addr>().is_err();
            (!ok).then(|| {
                format!(
                    "`{key}` is not an S3 bucket name: 3-63 lowercase letters, digits, hyphens \
                     and dots, starting and ending with a letter or digit"
                )
            })
        }
        ResourceKind::LambdaFunction | ResourceKind::LambdaLayer | ResourceKind::LambdaAlias => {
            let ok = (1..=64).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !(kind == ResourceKind::LambdaAlias && key.bytes().all(|b| b.is_ascii_digit()));
            (!ok).then(|| {
                format!(
                    "`{key}` is not a Lambda name: 1-64 letters, digits, hyphens and underscores"
                )
            })
        }
        ResourceKind::ElbLoadBalancer => {
            let ok = (1..=32).contains(&key.len())
                && alnum_hyphen(key)
                && !key.starts_with('-')
                && !key.ends_with('-')
                && !key.starts_with("internal-");
            (!ok).then(|| {
                format!(
                    "`{key}` is not a load balancer name: 1-32 letters, digits and hyphens, \
                     not starting or ending with a hyphen"
                )
            })
        }
        ResourceKind::VpcSecurityGroup => {
            let ok = (1..=255).contains(&key.len())
                && key != "default"
                && !key.to_ascii_lowercase().starts_with("sg-");
            (!ok).then(|| {
                format!(
                    "`{key}` cannot be a security group name: 1-255 characters, not `default` \
                     (every VPC has that group already) and not starting with `sg-`"
                )
            })
        }
        _ => (key.trim().is_empty() || key.len() > 256 || key.trim() != key)
            .then(|| format!("`{key}` cannot be a Name tag: 1-256 characters, no outer spaces")),
    }
}

fn parse_cidr(s: &str) -> Option<(u32, u8)> {
    let (ip, prefix) = s.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    if prefix > 32 {
        return None;
    }
    let ip = u32::from(ip);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (ip & mask == ip).then_some((ip, prefix))
}

fn cidr_text(ip: u32, prefix: u8) -> String {
    format!("{}/{prefix}", Ipv4Addr::from(ip))
}

fn cidr_contains(outer: (u32, u8), inner: (u32, u8)) -> bool {
    inner.1 >= outer.1 && {
        let mask = if outer.1 == 0 {
            0
        } else {
            u32::MAX << (32 - outer.1)
        };
        inner.0 & mask == outer.0
    }
}

fn cidrs_overlap(a: (u32, u8), b: (u32, u8)) -> bool {
    cidr_contains(a, b) || cidr_contains(b, a)
}

/// The usual default version of each engine.
pub(crate) fn default_engine_version(engine: &str) -> &'static str {
    match engine {
        "postgres" => "16.3",
        "mysql" => "8.0.36",
        "mariadb" => "10.11.8",
        "aurora-postgresql" => "15.4",
        "aurora-mysql" => "8.0.mysql_aurora.3.05.2",
        "oracle-ee" | "oracle-se2" => "19.0.0.0.ru-2024-04.rur-2024-04.r1",
        "sqlserver-ee" | "sqlserver-se" | "sqlserver-ex" | "sqlserver-web" => "16.00.4125.3.v1",
        _ => "1.0",
    }
}

/// The default port of each engine.
pub(crate) fn engine_port(engine: &str) -> u16 {
    match engine {
        "postgres" | "aurora-postgresql" => 5432,
        "mysql" | "mariadb" | "aurora-mysql" | "aurora" => 3306,
        e if e.starts_with("oracle") => 1521,
        e if e.starts_with("sqlserver") => 1433,
        _ => 5432,
    }
}

const RDS_ENGINES: &[&str] = &[
    "postgres",
    "mysql",
    "mariadb",
    "oracle-ee",
    "oracle-se2",
    "sqlserver-ee",
    "sqlserver-se",
    "sqlserver-ex",
    "sqlserver-web",
    "aurora-postgresql",
    "aurora-mysql",
];

/// The usual handler of a runtime's hello-world function.
pub(crate) fn default_handler(runtime: &str) -> &'static str {
    if runtime.starts_with("python") {
        "lambda_function.lambda_handler"
    } else if runtime.starts_with("nodejs") {
        "index.handler"
    } else if runtime.starts_with("java") {
        "com.example.Handler::handleRequest"
    } else if runtime.starts_with("dotnet") {
        "Function::Function.Handler::FunctionHandler"
    } else if runtime.starts_with("ruby") {
        "lambda_function.lambda_handler"
    } else {
        "bootstrap"
    }
}

/// The image instances launch from when the file names none.
pub(crate) const DEFAULT_IMAGE: &str = "ami-0a8b4cd432b1c3063";
/// The execution role Lambda functions get when the file names none.
pub(crate) const DEFAULT_LAMBDA_ROLE: &str = "lambda-basic-execution";

/// Parses `tcp 443 from 0.0.0.0/0` and friends.
fn parse_rule(text: &str) -> Result<(&'static str, i32, i32, String), String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let bad = || {
        format!(
            "`{text}` is not a rule; write `tcp 443 from 0.0.0.0/0`, `udp 1024-65535 from \
             10.0.0.0/8`, `icmp from 0.0.0.0/0` or `all from <group name>`"
        )
    };
    let (protocol, ports, rest) = match words.as_slice() {
        [p @ ("tcp" | "udp"), ports, "from", rest @ ..] => (*p, Some(*ports), rest),
        [p @ ("icmp" | "all"), "from", rest @ ..] => (*p, None, rest),
        _ => return Err(bad()),
    };
    let [source] = rest else { return Err(bad()) };
    let (from, to) = match ports {
        None => (-1, -1),
        Some("all") => (0, 65535),
        Some(p) => {
            let (a, b) = p.split_once('-').unwrap_or((p, p));
            let a: i32 = a.parse().map_err(|_| bad())?;
            let b: i32 = b.parse().map_err(|_| bad())?;
            if !(0..=65535).contains(&a) || !(a..=65535).contains(&b) {
                return Err(bad());
            }
            (a, b)
        }
    };
    let protocol = match protocol {
        "tcp" => "tcp",
        "udp" => "udp",
        "icmp" => "icmp",
        _ => "-1",
    };
    Ok((protocol, from, to, (*source).to_owned()))
}

impl Plan {
    fn build(accounts: &[Account], resources: &[ResourceSpec]) -> Result<Plan, Vec<Problem>> {
        let mut ctx = Ctx {
            accounts,
            resources,
            names: HashMap::new(),
            vpc_subnets: HashMap::new(),
            problems: RefCell::new(Vec::new()),
        };
        let mut by_region: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        check_accounts(&mut ctx, &mut by_region);
        if !ctx.problems.borrow().is_empty() {
            return Err(ctx.problems.into_inner());
        }
        check_resources(&mut ctx, &mut by_region);
        if !ctx.problems.borrow().is_empty() {
            return Err(ctx.problems.into_inner());
        }
        let resolved = resolve(&mut ctx);
        if !ctx.problems.borrow().is_empty() {
            return Err(ctx.problems.into_inner());
        }
        let mut lambda_roles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (i, r) in resources.iter().enumerate() {
            if let Resolved::Function(f) = &resolved[i] {
                lambda_roles
                    .entry(r.account.clone())
                    .or_default()
                    .insert(f.role.clone());
            }
        }
        let mut db_subnet_groups = BTreeMap::new();
        let mut group_names: BTreeSet<(String, String, String)> = BTreeSet::new();
        for r in &resolved {
            let vpc = match r {
                Resolved::Rds(x) if x.cluster.is_none() && x.replica_of.is_none() => x.vpc,
                Resolved::Cluster(c) => c.vpc,
                _ => None,
            };
            let Some(VpcRef::File(v)) = vpc else { continue };
            if db_subnet_groups.contains_key(&v) {
                continue;
            }
            let spec = &resources[v];
            let base: String = spec
                .key()
                .to_ascii_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_. ".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .take(200)
                .collect();
            let mut name = format!("{base}-db-subnets");
            let mut n = 2;
            while !group_names.insert((spec.account.clone(), spec.region.clone(), name.clone())) {
                name = format!("{base}-db-subnets-{n}");
                n += 1;
            }
            db_subnet_groups.insert(v, name);
        }
        Ok(Plan {
            resolved,
            by_region,
            lambda_roles,
            vpc_subnets: ctx.vpc_subnets,
            db_subnet_groups,
        })
    }
}

fn check_accounts(ctx: &mut Ctx, by_region: &mut BTreeMap<(String, String), Vec<usize>>) {
    if ctx.accounts.is_empty() {
        ctx.problem("accounts".into(), "the estate needs at least one account");
    }
    let mut seen = BTreeSet::new();
    for (i, a) in ctx.accounts.iter().enumerate() {
        let path = |f: &str| format!("accounts[{i}].{f}");
        if !valid_account_id(&a.id) {
            ctx.problem(
                path("id"),
                format!("`{}` is not a 12-digit account id", a.id),
            );
        } else if !seen.insert(a.id.clone()) {
            ctx.problem(path("id"), format!("account `{}` appears twice", a.id));
        }
        if a.regions.is_empty() {
            ctx.problem(path("regions"), "list at least one region");
        }
        let mut regions = BTreeSet::new();
        for (j, r) in a.regions.iter().enumerate() {
            if zones(r).is_none() {
                ctx.problem(
                    format!("accounts[{i}].regions[{j}]"),
                    format!(
                        "`{r}` is not a region the estate file supports (commercial AWS regions \
                         such as us-east-1, us-west-2, eu-west-1)"
                    ),
                );
            } else if !regions.insert(r) {
                ctx.problem(
                    format!("accounts[{i}].regions[{j}]"),
                    format!("region `{r}` appears twice"),
                );
            } else {
                by_region.insert((a.id.clone(), r.clone()), Vec::new());
                ctx.names
                    .insert((a.id.clone(), r.clone()), Names::default());
            }
        }
        let p = &a.principal;
        if !valid_role_name(&p.role) {
            ctx.problem(
                path("principal.role"),
                format!("`{}` is not an IAM role name", p.role),
            );
        }
        for (list, what) in [(&p.allow, "allow"), (&p.deny, "deny")] {
            for (j, action) in list.iter().enumerate() {
                if !valid_action_pattern(action) {
                    ctx.problem(
                        format!("accounts[{i}].principal.{what}[{j}]"),
                        format!(
                            "`{action}` is not an IAM action pattern such as `ec2:Describe*` or \
                             `rds:StopDBInstance`"
                        ),
                    );
                }
            }
        }
    }
}

/// Checks what each resource says about itself and indexes names; returns nothing, the
/// names go into `ctx.names`.
fn check_resources(ctx: &mut Ctx, by_region: &mut BTreeMap<(String, String), Vec<usize>>) {
    let mut buckets: HashMap<String, usize> = HashMap::new();
    let resources = ctx.resources;
    // Security groups are indexed by VPC, which needs the VPCs first.
    let mut deferred_groups = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let path = |f: &str| format!("resources[{i}].{f}");
        let Some(account) = ctx.accounts.iter().find(|a| a.id == r.account) else {
            let known: Vec<&str> = ctx.accounts.iter().map(|a| a.id.as_str()).collect();
            ctx.problem(
                path("account"),
                format!(
                    "no account `{}` in `accounts` (known: {})",
                    r.account,
                    known.join(", ")
                ),
            );
            continue;
        };
        if !account.regions.contains(&r.region) {
            ctx.problem(
                path("region"),
                format!(
                    "region `{}` is not one of account {} ({})'s regions: {}",
                    r.region,
                    account.id,
                    account.name,
                    account.regions.join(", ")
                ),
            );
            continue;
        }
        // The key: a name where AWS assigns the id, an id where the user chooses it.
        let key = if r.kind.keyed_by_name() {
            if r.id.is_some() {
                ctx.problem(
                    path("id"),
                    format!(
                        "AWS assigns the identifiers of {} resources; name it with `name` (its \
                         Name tag) instead",
                        r.kind
                    ),
                );
            }
            match &r.name {
                Some(n) => n.clone(),
                None => {
                    ctx.problem(
                        path("name"),
                        format!("a {} needs a `name` (its Name tag)", r.kind),
                    );
                    continue;
                }
            }
        } else {
            if r.name.is_some() {
                ctx.problem(
                    path("name"),
                    format!(
                        "{} resources are named by their identifier: use `id` (and a `Name` tag \
                         in `tags` if you want one)",
                        r.kind
                    ),
                );
            }
            match &r.id {
                Some(n) => n.clone(),
                None => {
                    ctx.problem(path("id"), format!("a {} needs an `id`", r.kind));
                    continue;
                }
            }
        };
        if let Some(why) = key_problem(r.kind, &key) {
            let field = if r.kind.keyed_by_name() { "name" } else { "id" };
            ctx.problem(path(field), why);
            continue;
        }
        if r.tags.len() > 49 {
            ctx.problem(path("tags"), "at most 49 tags besides Name");
        }
        for (k, v) in &r.tags {
            if k.trim().is_empty() || k.trim() != k || k.len() > 128 || v.len() > 256 {
                ctx.problem(
                    format!("resources[{i}].tags.{k}"),
                    "tag keys are 1-128 characters without outer spaces, values at most 256",
                );
            } else if k.starts_with("aws:") {
                ctx.problem(
                    format!("resources[{i}].tags.{k}"),
                    "the `aws:` prefix is reserved for AWS",
                );
            } else if k == "Name" && r.kind.keyed_by_name() {
                ctx.problem(
                    format!("resources[{i}].tags.{k}"),
                    format!("the Name of a {} goes in `name`, not in `tags`", r.kind),
                );
            }
        }
        let states: &[&str] = match r.kind {
            ResourceKind::Ec2Instance => &["running", "stopped"],
            ResourceKind::RdsInstance => &["available", "stopped"],
            // Stopping a cluster leaves its members `available` in the emulator, which AWS
            // never shows; so clusters are seeded running.
            ResourceKind::RdsCluster => &["available"],
            _ => &[],
        };
        if let Some(s) = &r.state {
            if states.is_empty() {
                ctx.problem(
                    path("state"),
                    format!(
                        "the state of a {} follows from the rest of the file; leave `state` out",
                        r.kind
                    ),
                );
            } else if !states.contains(&s.as_str()) {
                ctx.problem(
                    path("state"),
                    format!(
                        "`{s}` is not a state a {} can be seeded in; use one of: {}",
                        r.kind,
                        states.join(", ")
                    ),
                );
            }
        }
        if r.kind == ResourceKind::S3Bucket {
            if let Some(first) = buckets.insert(key.clone(), i) {
                ctx.problem(
                    path("id"),
                    format!(
                        "bucket `{key}` is also resources[{first}]; bucket names are unique \
                         across all accounts and regions"
                    ),
                );
                continue;
            }
        }
        by_region
            .get_mut(&(r.account.clone(), r.region.clone()))
            .expect("every account region has an entry")
            .push(i);
        if r.kind == ResourceKind::VpcSecurityGroup {
            deferred_groups.push(i);
            continue;
        }
        let names = ctx
            .names
            .get_mut(&(r.account.clone(), r.region.clone()))
            .expect("every account region has names");
        let map = match r.kind {
            ResourceKind::Vpc => {
                names.vpc_order.push(i);
                &mut names.vpcs
            }
            ResourceKind::VpcSubnet => {
                names.subnet_order.push(i);
                &mut names.subnets
            }
            ResourceKind::Ec2Instance => &mut names.instances,
            ResourceKind::Ec2Volume => &mut names.volumes,
            ResourceKind::Ec2Snapshot => &mut names.snapshots,
            ResourceKind::RdsInstance => &mut names.rds,
            ResourceKind::RdsCluster => &mut names.clusters,
            ResourceKind::RdsSnapshot => &mut names.rds_snapshots,
            ResourceKind::LambdaFunction => &mut names.functions,
            ResourceKind::LambdaLayer => &mut names.layers,
            ResourceKind::ElbLoadBalancer => &mut names.lbs,
            ResourceKind::S3Bucket => continue,
            ResourceKind::LambdaAlias => {
                let Attrs::LambdaAlias(a) = &r.attrs else {
                    unreachable!("attrs match the kind")
                };
                let Some(function) = a.function.clone() else {
                    ctx.problem(
                        format!("resources[{i}].attrs.function"),
                        "a lambda_alias needs `function`: the lambda_function it points at",
                    );
                    continue;
                };
                if let Some(first) = names.aliases.insert((function.clone(), key.clone()), i) {
                    ctx.problem(
                        path("id"),
                        format!(
                            "alias `{key}` of function `{function}` is also resources[{first}]"
                        ),
                    );
                }
                continue;
            }
            ResourceKind::VpcSecurityGroup => unreachable!("deferred above"),
        };
        if let Some(first) = map.insert(key.clone(), i) {
            let field = if r.kind.keyed_by_name() { "name" } else { "id" };
            ctx.problem(
                path(field),
                format!(
                    "{} `{key}` is also resources[{first}] in {}/{}; names must be unique per \
                     type, account and region",
                    r.kind, r.account, r.region
                ),
            );
        }
    }
    for i in deferred_groups {
        let r = &resources[i];
        let Attrs::VpcSecurityGroup(a) = &r.attrs else {
            unreachable!("attrs match the kind")
        };
        let names = &ctx.names[&(r.account.clone(), r.region.clone())];
        let vpc = match &a.vpc {
            Some(v) => match names.vpcs.get(v) {
                Some(&j) => VpcRef::File(j),
                None => {
                    let msg = missing("vpc", v, r, names.vpcs.keys());
                    ctx.problem(format!("resources[{i}].attrs.vpc"), msg);
                    continue;
                }
            },
            None => names
                .vpc_order
                .first()
                .map_or(VpcRef::Default, |&j| VpcRef::File(j)),
        };
        let key = r.key().to_owned();
        let names = ctx
            .names
            .get_mut(&(r.account.clone(), r.region.clone()))
            .expect("every account region has names");
        if let Some(first) = names.groups.insert((vpc, key.clone()), i) {
            ctx.problem(
                format!("resources[{i}].name"),
                format!("security group `{key}` is also resources[{first}] in the same VPC"),
            );
        }
    }
}

fn missing<'a>(
    kind: &str,
    name: &str,
    r: &ResourceSpec,
    known: impl Iterator<Item = &'a String>,
) -> String {
    let mut known: Vec<&String> = known.collect();
    known.sort();
    let known = if known.is_empty() {
        "there are none".to_owned()
    } else {
        let shown: Vec<&str> = known.iter().take(10).map(|s| s.as_str()).collect();
        format!(
            "known: {}{}",
            shown.join(", "),
            if known.len() > 10 { ", ..." } else { "" }
        )
    };
    format!("no {kind} `{name}` in {}/{} ({known})", r.account, r.region)
}

fn resolve(ctx: &mut Ctx) -> Vec<Resolved> {
    let resources = ctx.resources;
    let mut out: Vec<Option<Resolved>> = vec![None; resources.len()];
    // Pass 1: VPCs, subnets and groups, which everything else refers to.
    let mut vpc_cidrs: HashMap<usize, (u32, u8)> = HashMap::new();
    let mut vpc_ordinal: HashMap<(String, String), u32> = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        if let Attrs::Vpc(a) = &r.attrs {
            let n = vpc_ordinal
                .entry((r.account.clone(), r.region.clone()))
                .or_default();
            let cidr = match &a.cidr {
                Some(c) => match parse_cidr(c) {
                    Some(p) if (16..=28).contains(&p.1) => p,
                    _ => {
                        ctx.problem(
                            format!("resources[{i}].attrs.cidr"),
                            format!("`{c}` is not an IPv4 block from /16 to /28 (10.0.0.0/16)"),
                        );
                        continue;
                    }
                },
                None => (u32::from(Ipv4Addr::new(10, (*n % 256) as u8, 0, 0)), 16),
            };
            *n += 1;
            vpc_cidrs.insert(i, cidr);
            out[i] = Some(Resolved::Vpc {
                cidr: cidr_text(cidr.0, cidr.1),
            });
        }
    }
    // Subnets: explicit blocks first, then defaults in the gaps.
    let mut taken: HashMap<usize, Vec<(u32, u8)>> = HashMap::new();
    let mut subnet_vpc: HashMap<usize, usize> = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        let Attrs::VpcSubnet(a) = &r.attrs else {
            continue;
        };
        let names = &ctx.names[&(r.account.clone(), r.region.clone())];
        let vpc = match &a.vpc {
            Some(v) => match names.vpcs.get(v) {
                Some(&j) => j,
                None => {
                    let msg = missing("vpc", v, r, names.vpcs.keys());
                    ctx.problem(format!("resources[{i}].attrs.vpc"), msg);
                    continue;
                }
            },
            None => match names.vpc_order.first() {
                Some(&j) => j,
                None => {
                    ctx.problem(
                        format!("resources[{i}].attrs.vpc"),
                        format!(
                            "a vpc_subnet needs a vpc, and {}/{} has none in the file",
                            r.account, r.region
                        ),
                    );
                    continue;
                }
            },
        };
        subnet_vpc.insert(i, vpc);
        if let Some(c) = &a.cidr {
            let Some(&vpc_cidr) = vpc_cidrs.get(&vpc) else {
                continue;
            };
            match parse_cidr(c) {
                Some(block) if cidr_contains(vpc_cidr, block) && block.1 <= 28 => {
                    if taken
                        .get(&vpc)
                        .is_some_and(|t| t.iter().any(|&b| cidrs_overlap(b, block)))
                    {
                        ctx.problem(
                            format!("resources[{i}].attrs.cidr"),
                            format!("`{c}` overlaps another subnet of the VPC"),
                        );
                    }
                    taken.entry(vpc).or_default().push(block);
                }
                _ => ctx.problem(
                    format!("resources[{i}].attrs.cidr"),
                    format!(
                        "`{c}` is not a block of at most /28 inside the VPC's {}",
                        cidr_text(vpc_cidr.0, vpc_cidr.1)
                    ),
                ),
            }
        }
    }
    let mut next_block: HashMap<usize, u32> = HashMap::new();
    let mut zone_turn: HashMap<usize, usize> = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        let Attrs::VpcSubnet(a) = &r.attrs else {
            continue;
        };
        let Some(&vpc) = subnet_vpc.get(&i) else {
            continue;
        };
        let Some(&vpc_cidr) = vpc_cidrs.get(&vpc) else {
            continue;
        };
        let region_zones = zones(&r.region).expect("regions were checked");
        let turn = zone_turn.entry(vpc).or_default();
        let zone = match &a.availability_zone {
            Some(z) if region_zones.contains(z) => z.clone(),
            Some(z) => {
                ctx.problem(
                    format!("resources[{i}].attrs.availability_zone"),
                    format!(
                        "`{z}` is not a zone of {} ({})",
                        r.region,
                        region_zones.join(", ")
                    ),
                );
                continue;
            }
            None => region_zones[*turn % region_zones.len()].clone(),
        };
        *turn += 1;
        let cidr = match &a.cidr {
            Some(c) => c.clone(),
            None => {
                let prefix = if vpc_cidr.1 <= 22 {
                    24
                } else {
                    (vpc_cidr.1 + 2).min(28)
                };
                let size = 1u32 << (32 - prefix);
                let capacity = 1u32 << (prefix - vpc_cidr.1);
                let k = next_block.entry(vpc).or_default();
                let found = loop {
                    if *k >= capacity {
                        break None;
                    }
                    let block = (vpc_cidr.0 + *k * size, prefix);
                    *k += 1;
                    if !taken
                        .get(&vpc)
                        .is_some_and(|t| t.iter().any(|&b| cidrs_overlap(b, block)))
                    {
                        break Some(block);
                    }
                };
                match found {
                    Some(b) => cidr_text(b.0, b.1),
                    None => {
                        ctx.problem(
                            format!("resources[{i}].attrs.cidr"),
                            "the VPC has no free block left for this subnet; give the VPC a \
                             larger `cidr`",
                        );
                        continue;
                    }
                }
            }
        };
        ctx.vpc_subnets.entry(vpc).or_default().push(i);
        out[i] = Some(Resolved::Subnet(SubnetPlan { vpc, cidr, zone }));
    }
    // Which VPC each subnet is in, for the references below.
    let subnet_plan = |out: &Vec<Option<Resolved>>, j: usize| match &out[j] {
        Some(Resolved::Subnet(s)) => Some(s.clone()),
        _ => None,
    };

    // Groups: their rules may name other groups of the same VPC.
    for (i, r) in resources.iter().enumerate() {
        let Attrs::VpcSecurityGroup(a) = &r.attrs else {
            continue;
        };
        let names = &ctx.names[&(r.account.clone(), r.region.clone())];
        let vpc = match &a.vpc {
            Some(v) => match names.vpcs.get(v) {
                Some(&j) => VpcRef::File(j),
                None => continue, // reported while indexing
            },
            None => names
                .vpc_order
                .first()
                .map_or(VpcRef::Default, |&j| VpcRef::File(j)),
        };
        let mut ingress = Vec::new();
        for (j, text) in a.ingress.iter().enumerate() {
            match parse_rule(text) {
                Ok((protocol, from_port, to_port, source)) => {
                    let source = if source.contains('/') {
                        if parse_cidr(&source).is_none() {
                            ctx.problem(
                                format!("resources[{i}].attrs.ingress[{j}]"),
                                format!("`{source}` is not an IPv4 block such as 10.0.0.0/8"),
                            );
                            continue;
                        }
                        RuleSource::Cidr(source)
                    } else {
                        match group_ref(names, vpc, &source) {
                            Some(g) => RuleSource::Group(g),
                            None => {
                                let msg = format!(
                                    "no security group `{source}` in the same VPC as `{}`",
                                    r.key()
                                );
                                ctx.problem(format!("resources[{i}].attrs.ingress[{j}]"), msg);
                                continue;
                            }
                        }
                    };
                    ingress.push(Rule {
                        protocol,
                        from_port,
                        to_port,
                        source,
                    });
                }
                Err(msg) => ctx.problem(format!("resources[{i}].attrs.ingress[{j}]"), msg),
            }
        }
        out[i] = Some(Resolved::Sg(SgPlan {
            vpc,
            description: a
                .description
                .clone()
                .unwrap_or_else(|| format!("{} security group", r.key())),
            ingress,
        }));
    }

    // Pass 2: everything else. Volumes and instances first (instances decide volume zones).
    let mut attached: HashMap<usize, (usize, String)> = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        let Attrs::Ec2Instance(a) = &r.attrs else {
            continue;
        };
        let names = &ctx.names[&(r.account.clone(), r.region.clone())];
        let region_zones = zones(&r.region).expect("regions were checked");
        let count = a.count.unwrap_or(1);
        if !(1..=1000).contains(&count) {
            ctx.problem(
                format!("resources[{i}].attrs.count"),
                "a fleet has 1 to 1000 instances",
            );
            continue;
        }
        if count > 1 && !a.volumes.is_empty() {
            ctx.problem(
                format!("resources[{i}].attrs.volumes"),
                "data volumes attach to one instance; give them to single instances, not to a \
                 fleet (`count` > 1)",
            );
            continue;
        }
        let named: Vec<(usize, &String)> = match (&a.subnet, a.subnets.is_empty()) {
            (Some(_), false) => {
                ctx.problem(
                    format!("resources[{i}].attrs.subnets"),
                    "give `subnet` or `subnets`, not both",
                );
                continue;
            }
            (Some(s), true) => vec![(usize::MAX, s)],
            (None, _) => a.subnets.iter().enumerate().collect(),
        };
        let mut subnets = Vec::new();
        let mut vpcs = BTreeSet::new();
        for (j, s) in named {
            let path = if j == usize::MAX {
                format!("resources[{i}].attrs.subnet")
            } else {
                format!("resources[{i}].attrs.subnets[{j}]")
            };
            match names.subnets.get(s) {
                Some(&k) => {
                    if let Some(p) = subnet_plan(&out, k) {
                        vpcs.insert(p.vpc);
                        subnets.push((SubnetRef::File(k), p.zone));
                    }
                }
                None => {
                    let msg = missing("vpc_subnet", s, r, names.subnets.keys());
                    ctx.problem(path, msg);
                }
            }
        }
        if vpcs.len() > 1 {
            ctx.problem(
                format!("resources[{i}].attrs.subnets"),
                "the subnets of a fleet are in one VPC",
            );
            continue;
        }
        if subnets.is_empty() {
            if a.subnet.is_some() || !a.subnets.is_empty() {
                continue;
            }
            match names
                .subnet_order
                .first()
                .and_then(|&j| subnet_plan(&out, j).map(|p| (j, p)))
            {
                Some((j, p)) => {
                    vpcs.insert(p.vpc);
                    subnets.push((SubnetRef::File(j), p.zone));
                }
                None => subnets.push((SubnetRef::Default(0), region_zones[0].clone())),
            }
        }
        let vpc = vpcs.first().map_or(VpcRef::Default, |&v| VpcRef::File(v));
        let security_groups = match &a.security_groups {
            Some(list) => {
                let path = format!("resources[{i}].attrs.security_groups");
                resolve_groups(ctx, r, &path, vpc, list)
            }
            None => Some(vec![SgRef::DefaultOf(vpc)]),
        };
        let Some(security_groups) = security_groups else {
            continue;
        };
        let names = &ctx.names[&(r.account.clone(), r.region.clone())];
        let mut volumes = Vec::new();
        for (j, v) in a.volumes.iter().enumerate() {
            let path = format!("resources[{i}].attrs.volumes[{j}]");
            match names.volumes.get(v) {
                Some(&k) => {
                    let device = format!("/dev/sd{}", (b'f' + j as u8) as char);
                    if j >= 10 {
                        ctx.problem(path, "at most 10 data volumes per instance");
                        continue;
                    }
                    if let Some((other, _)) = attached.insert(k, (i, device.clone())) {
                        let msg = format!(
                            "volume `{v}` is already attached to `{}`",
                            resources[other].key()
                        );
                        ctx.problem(path, msg);
                        continue;
                    }
                    volumes.push((k, device));
                }
                None => {
                    let msg = missing("ec2_volume", v, r, names.volumes.keys());
                    ctx.problem(path, msg);
                }
            }
        }
        out[i] = Some(Resolved::Instance(InstancePlan {
            instance_type: a.instance_type.clone().unwrap_or_else(|| "t3.micro".into()),
            image_id: a.image_id.clone().unwrap_or_else(|| DEFAULT_IMAGE.into()),
            subnets,
            vpc,
            count,
            security_groups,
            volumes,
            root_gib: a.root_volume_gib.unwrap_or(8).max(1),
            root_type: a.root_volume_type.clone().unwrap_or_else(|| "gp3".into()),
            stopped: r.state.as_deref() == Some("stopped"),
        }));
    }
    for (i, r) in resources.iter().enumerate() {
        let Attrs::Ec2Volume(a) = &r.attrs else {
            continue;
        };
        let region_zones = zones(&r.region).expect("regions were checked");
        let attached = attached.get(&i).cloned();
        let instance_zone = attached.as_ref().and_then(|(k, _)| match &out[*k] {
            Some(Resolved::Instance(p)) => Some(p.subnets[0].1.clone()),
            _ => None,
        });
        let zone = match (&a.availability_zone, instance_zone) {
            (Some(z), _) if !region_zones.contains(z) => {
                ctx.problem(
                    format!("resources[{i}].attrs.availability_zone"),
                    format!("`{z}` is not a zone of {}", r.region),
                );
                continue;
            }
            (Some(z), Some(iz)) if *z != iz => {
                ctx.problem(
                    format!("resources[{i}].attrs.availability_zone"),
                    format!("the volume is in {z}, but the instance it is attached to is in {iz}"),
                );
                continue;
            }
            (Some(z), _) => z.clone(),
            (None, Some(iz)) => iz,
            (None, None) => region_zones[0].clone(),
        };
        let volume_type = a.volume_type.clone().unwrap_or_else(|| "gp3".into());
        if !["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"].contains(&volume_type.as_str()) {
            ctx.problem(
                format!("resources[{i}].attrs.volume_type"),
                format!("`{volume_type}` is not an EBS volume type (gp3, gp2, io2, io1, st1, sc1)"),
            );
            continue;
        }
        if ["io1", "io2"].contains(&volume_type.as_str()) && a.iops.is_none() {
            ctx.problem(
                format!("resources[{i}].attrs.iops"),
                format!("{volume_type} volumes need `iops`"),
            );
            continue;
        }
        out[i] = Some(Resolved::Volume(VolumePlan {
            size_gib: a.size_gib.unwrap_or(100).max(1),
            volume_type,
            iops: a.iops,
            encrypted: a.encrypted.unwrap_or(false),
            zone,
            attached,
        }));
    }
    // RDS clusters before instances (members take the cluster's engine).
    for (i, r) in resources.iter().enumerate() {
        let Attrs::RdsCluster(a) = &r.attrs else {
            continue;
        };
        let engine = a
            .engine
            .clone()
            .unwrap_or_else(|| "aurora-postgresql".into());
        if !engine.starts_with("aurora") {
            ctx.problem(
                format!("resources[{i}].attrs.engine"),
                format!("`{engine}` is not a cluster engine (aurora-postgresql, aurora-mysql)"),
            );
            continue;
        }
        let Some((vpc, security_groups)) =
            rds_network(ctx, r, i, a.vpc.as_deref(), &a.security_groups)
        else {
            continue;
        };
        out[i] = Some(Resolved::Cluster(ClusterPlan {
            engine_version: a
                .engine_version
                .clone()
                .unwrap_or_else(|| default_engine_version(&engine).into()),
            port: engine_port(&engine),
            engine,
            retention: a.backup_retention_period.unwrap_or(7),
            encrypted: a.storage_encrypted.unwrap_or(false),
            deletion_protection: a.deletion_protection.unwrap_or(false),
            vpc,
            security_groups,
            members: Vec::new(),
        }));
    }
    for (i, r) in resources.iter().enumerate() {
        let Attrs::RdsInstance(a) = &r.attrs else {
            continue;
        };
        let names = &ctx.names[&(r.account.clone(), r.region.clone())];
        let path = |f: &str| format!("resources[{i}].attrs.{f}");
        let cluster = match &a.cluster {
            Some(c) => match names.clusters.get(c) {
                Some(&j) => Some(j),
                None => {
                    let msg = missing("rds_cluster", c, r, names.clusters.keys());
                    ctx.problem(path("cluster"), msg);
                    continue;
                }
            },
            None => None,
        };
        let replica_of = match &a.replica_of {
            Some(s) => match names.rds.get(s) {
                Some(&j) if j == i => {
                    ctx.problem(path("replica_of"), "an instance cannot replicate itself");
                    continue;
                }
                Some(&j) => Some(j),
                None => {
                    let msg = missing("rds_instance", s, r, names.rds.keys());
                    ctx.problem(path("replica_of"), msg);
                    continue;
                }
            },
            None => None,
        };
        if cluster.is_some() && replica_of.is_some() {
            ctx.problem(
                path("replica_of"),
                "a cluster member cannot also be a read replica; leave out `cluster` or \
                 `replica_of`",
            );
            continue;
        }
        if let Some(j) = replica_of {
            let source = &resources[j];
            let Attrs::RdsInstance(sa) = &source.attrs else {
                unreachable!("rds names index rds_instances")
            };
            if sa.replica_of.is_some() || sa.cluster.is_some() {
                ctx.problem(
                    path("replica_of"),
                    format!(
                        "`{}` is itself a replica or a cluster member; replicate a standalone \
                         instance",
                        source.key()
                    ),
                );
                continue;
            }
        }
        let cluster_plan = cluster.and_then(|j| match &out[j] {
            Some(Resolved::Cluster(c)) => Some(c.clone()),
            _ => None,
        });
        if cluster.is_some() && cluster_plan.is_none() {
            continue;
        }
        let source_engine = replica_of.and_then(|j| match &resources[j].attrs {
            Attrs::RdsInstance(sa) => Some(sa.engine.clone().unwrap_or_else(|| "postgres".into())),
            _ => None,
        });
        let engine = match (&cluster_plan, &source_engine, &a.engine) {
            (Some(c), _, Some(e)) if *e != c.engine => {
                ctx.problem(
                    path("engine"),
                    format!(
                        "members of `{}` run {}, not {e}",
                        a.cluster.as_deref().unwrap_or(""),
                        c.engine
                    ),
                );
                continue;
            }
            (Some(c), _, _) => c.engine.clone(),
            (None, Some(se), Some(e)) if se != e => {
                ctx.problem(
                    path("engine"),
                    format!("a replica runs its source's engine ({se}), not {e}"),
                );
                continue;
            }
            (None, Some(se), _) => se.clone(),
            (None, None, Some(e)) => e.clone(),
            (None, None, None) => "postgres".into(),
        };
        if !RDS_ENGINES.contains(&engine.as_str()) {
            ctx.problem(
                path("engine"),
                format!(
                    "`{engine}` is not an RDS engine ({})",
                    RDS_ENGINES.join(", ")
                ),
            );
            continue;
        }
        if cluster.is_none() && engine.starts_with("aurora") {
            ctx.problem(
                path("cluster"),
                format!("{engine} instances belong to an rds_cluster; name it in `cluster`"),
            );
            continue;
        }
        let (vpc, security_groups) = match (&cluster_plan, replica_of) {
            (Some(c), _) => (c.vpc, c.security_groups.clone()),
            (None, Some(_)) => {
                let own = [
                    ("vpc", a.vpc.is_some()),
                    ("security_groups", !a.security_groups.is_empty()),
                    ("allocated_storage_gib", a.allocated_storage_gib.is_some()),
                    ("storage_type", a.storage_type.is_some()),
                    ("storage_encrypted", a.storage_encrypted.is_some()),
                    (
                        "backup_retention_period",
                        a.backup_retention_period.is_some(),
                    ),
                    ("deletion_protection", a.deletion_protection.is_some()),
                    ("engine_version", a.engine_version.is_some()),
                ];
                if let Some((field, _)) = own.iter().find(|(_, set)| *set) {
                    ctx.problem(
                        path(field),
                        format!("a read replica takes `{field}` from its source; leave it out"),
                    );
                    continue;
                }
                (None, Vec::new())
            }
            (None, None) => match rds_network(ctx, r, i, a.vpc.as_deref(), &a.security_groups) {
                Some(n) => n,
                None => continue,
            },
        };
        let region_zones = zones(&r.region).expect("regions were checked");
        let zone = region_zones[stable_hash(r.key()) as usize % region_zones.len()].clone();
        let engine_version = match (&cluster_plan, replica_of) {
            (Some(c), _) => c.engine_version.clone(),
            (None, Some(j)) => match &resources[j].attrs {
                Attrs::RdsInstance(sa) => sa
                    .engine_version
                    .clone()
                    .unwrap_or_else(|| default_engine_version(&engine).into()),
                _ => unreachable!("rds names index rds_instances"),
            },
            (None, None) => a
                .engine_version
                .clone()
                .unwrap_or_else(|| default_engine_version(&engine).into()),
        };
        out[i] = Some(Resolved::Rds(RdsPlan {
            engine_version,
            class: a
                .class
                .clone()
                .or_else(|| {
                    replica_of.and_then(|j| match &resources[j].attrs {
                        Attrs::RdsInstance(sa) => sa.class.clone(),
                        _ => None,
                    })
                })
                .unwrap_or_else(|| "db.t3.medium".into()),
            multi_az: a.multi_az.unwrap_or(false),
            storage_gib: cluster
                .is_none()
                .then(|| a.allocated_storage_gib.unwrap_or(20)),
            storage_type: cluster
                .is_none()
                .then(|| a.storage_type.clone().unwrap_or_else(|| "gp3".into())),
            encrypted: a.storage_encrypted.unwrap_or(false),
            retention: a.backup_retention_period.unwrap_or(7),
            deletion_protection: a.deletion_protection.unwrap_or(false),
            public: a.publicly_accessible.unwrap_or(false),
            vpc,
            security_groups,
            cluster,
            replica_of,
            replicas: Vec::new(),
            stopped: r.state.as_deref() == Some("stopped"),
            port: engine_port(&engine),
            engine,
            zone,
        }));
        if let Some(j) = cluster {
            if let Some(Resolved::Cluster(c)) = &mut out[j] {
                c.members.push(i);
            }
        }
    }
    // Replicas, now that every instance has a plan.
    for i in 0..resources.len() {
        let source = match &out[i] {
            Some(Resolved::Rds(p)) => p.replica_of,
            _ => None,
        };
        if let Some(j) = source {
            if let Some(Resolved::Rds(s)) = &mut out[j] {
                s.replicas.push(i);
            }
        }
    }
    for (i, r) in resources.iter().enumerate() {
        let names = &ctx.names[&(r.account.clone(), r.region.clone())];
        match &r.attrs {
            Attrs::Ec2Snapshot(a) => {
                let path = format!("resources[{i}].attrs");
                let source = match (&a.volume, &a.instance) {
                    (Some(v), None) => match names.volumes.get(v) {
                        Some(&j) => SnapshotSource::Volume(j),
                        None => {
                            let msg = missing("ec2_volume", v, r, names.volumes.keys());
                            ctx.problem(format!("{path}.volume"), msg);
                            continue;
                        }
                    },
                    (None, Some(n)) => {
                        match names.instances.get(n) {
                            Some(&j) if matches!(&resources[j].attrs, Attrs::Ec2Instance(x) if x.count.unwrap_or(1) > 1) =>
                            {
                                ctx.problem(
                                format!("{path}.instance"),
                                format!("`{n}` is a fleet (`count` > 1); snapshot a single instance"),
                            );
                                continue;
                            }
                            Some(&j) => SnapshotSource::RootOf(j),
                            None => {
                                let msg = missing("ec2_instance", n, r, names.instances.keys());
                                ctx.problem(format!("{path}.instance"), msg);
                                continue;
                            }
                        }
                    }
                    _ => {
                        ctx.problem(
                            path,
                            "an ec2_snapshot needs exactly one of `volume` (an ec2_volume) and \
                             `instance` (an ec2_instance, for its root volume)",
                        );
                        continue;
                    }
                };
                let of = match &source {
                    SnapshotSource::Volume(j) | SnapshotSource::RootOf(j) => resources[*j].key(),
                };
                out[i] = Some(Resolved::EbsSnapshot(EbsSnapshotPlan {
                    description: a
                        .description
                        .clone()
                        .unwrap_or_else(|| format!("Backup of {of}")),
                    source,
                }));
            }
            Attrs::RdsSnapshot(a) => {
                let path = format!("resources[{i}].attrs");
                out[i] = Some(Resolved::RdsSnapshot(match (&a.instance, &a.cluster) {
                    (Some(n), None) => match names.rds.get(n) {
                        Some(&j) => {
                            if matches!(&resources[j].attrs, Attrs::RdsInstance(x) if x.cluster.is_some())
                            {
                                ctx.problem(
                                    format!("{path}.instance"),
                                    format!(
                                        "`{n}` is a cluster member; snapshot its cluster with \
                                         `cluster` instead"
                                    ),
                                );
                                continue;
                            }
                            RdsSnapshotPlan::Instance(j)
                        }
                        None => {
                            let msg = missing("rds_instance", n, r, names.rds.keys());
                            ctx.problem(format!("{path}.instance"), msg);
                            continue;
                        }
                    },
                    (None, Some(c)) => match names.clusters.get(c) {
                        Some(&j) => RdsSnapshotPlan::Cluster(j),
                        None => {
                            let msg = missing("rds_cluster", c, r, names.clusters.keys());
                            ctx.problem(format!("{path}.cluster"), msg);
                            continue;
                        }
                    },
                    _ => {
                        ctx.problem(
                            path,
                            "an rds_snapshot needs exactly one of `instance` (an rds_instance) \
                             and `cluster` (an rds_cluster)",
                        );
                        continue;
                    }
                }));
            }
            Attrs::S3Bucket(a) => {
                let path = |f: &str| format!("resources[{i}].attrs.{f}");
                let versioning = a.versioning.clone().unwrap_or_else(|| "Disabled".into());
                if !["Enabled", "Suspended", "Disabled"].contains(&versioning.as_str()) {
                    ctx.problem(
                        path("versioning"),
                        format!("`{versioning}` is not Enabled, Suspended or Disabled"),
                    );
                    continue;
                }
                let encryption = match a.encryption.as_deref() {
                    None | Some("AES256") => Some("AES256".to_owned()),
                    Some("aws:kms") => Some("aws:kms".to_owned()),
                    Some("none") => None,
                    Some(other) => {
                        ctx.problem(
                            path("encryption"),
                            format!("`{other}` is not AES256, aws:kms or none"),
                        );
                        continue;
                    }
                };
                if a.kms_key.is_some() && encryption.as_deref() != Some("aws:kms") {
                    ctx.problem(path("kms_key"), "`kms_key` goes with `encryption: aws:kms`");
                    continue;
                }
                out[i] = Some(Resolved::Bucket(BucketPlan {
                    versioning,
                    encryption,
                    kms_key: a.kms_key.clone(),
                    lifecycle_rules: a.lifecycle_rules.clone(),
                    block_public_access: a.block_public_access.unwrap_or(true),
                }));
            }
            Attrs::LambdaLayer(a) => {
                let versions = a.versions.unwrap_or(1);
                if !(1..=100).contains(&versions) {
                    ctx.problem(
                        format!("resources[{i}].attrs.versions"),
                        "a layer has from 1 to 100 versions",
                    );
                    continue;
                }
                out[i] = Some(Resolved::Layer(LayerPlan {
                    versions,
                    runtimes: a
                        .compatible_runtimes
                        .clone()
                        .unwrap_or_else(|| vec!["python3.12".into()]),
                    description: a.description.clone(),
                    license_info: a.license_info.clone(),
                }));
            }
            Attrs::ElbLoadBalancer(a) => {
                let path = |f: &str| format!("resources[{i}].attrs.{f}");
                let lb_type = a.lb_type.clone().unwrap_or_else(|| "application".into());
                if !["application", "network", "gateway"].contains(&lb_type.as_str()) {
                    ctx.problem(
                        path("type"),
                        format!("`{lb_type}` is not application, network or gateway"),
                    );
                    continue;
                }
                let scheme = a.scheme.clone().unwrap_or_else(|| "internet-facing".into());
                if !["internet-facing", "internal"].contains(&scheme.as_str()) {
                    ctx.problem(
                        path("scheme"),
                        format!("`{scheme}` is not internet-facing or internal"),
                    );
                    continue;
                }
                let mut subnets = Vec::new();
                let mut vpcs = BTreeSet::new();
                let mut bad = false;
                for (j, s) in a.subnets.iter().enumerate() {
                    match names
                        .subnets
                        .get(s)
                        .and_then(|&k| subnet_plan(&out, k).map(|p| (k, p)))
                    {
                        Some((k, p)) => {
                            vpcs.insert(p.vpc);
                            subnets.push(SubnetRef::File(k));
                        }
                        None => {
                            let msg = missing("vpc_subnet", s, r, names.subnets.keys());
                            ctx.problem(path(&format!("subnets[{j}]")), msg);
                            bad = true;
                        }
                    }
                }
                if bad {
                    continue;
                }
                if vpcs.len() > 1 {
                    ctx.problem(
                        path("subnets"),
                        "the subnets of a load balancer are in one VPC",
                    );
                    continue;
                }
                let vpc = match (vpcs.first(), &a.vpc) {
                    (Some(&v), _) => VpcRef::File(v),
                    (None, Some(v)) => match names.vpcs.get(v) {
                        Some(&k) => VpcRef::File(k),
                        None => {
                            let msg = missing("vpc", v, r, names.vpcs.keys());
                            ctx.problem(path("vpc"), msg);
                            continue;
                        }
                    },
                    (None, None) => names
                        .vpc_order
                        .first()
                        .map_or(VpcRef::Default, |&k| VpcRef::File(k)),
                };
                if subnets.is_empty() {
                    subnets = match vpc {
                        VpcRef::File(v) => names
                            .subnet_order
                            .iter()
                            .filter(|&&k| subnet_plan(&out, k).is_some_and(|p| p.vpc == v))
                            .map(|&k| SubnetRef::File(k))
                            .collect(),
                        VpcRef::Default => (0..zones(&r.region).map_or(1, |z| z.len()))
                            .map(SubnetRef::Default)
                            .collect(),
                    };
                    if subnets.is_empty() {
                        ctx.problem(
                            path("subnets"),
                            "the load balancer's VPC has no subnets in the file; add some or \
                             name them in `subnets`",
                        );
                        continue;
                    }
                }
                let Some(security_groups) = resolve_groups(
                    ctx,
                    r,
                    &format!("resources[{i}].attrs.security_groups"),
                    vpc,
                    &a.security_groups,
                ) else {
                    continue;
                };
                out[i] = Some(Resolved::Lb(LbPlan {
                    lb_type,
                    scheme,
                    vpc,
                    subnets,
                    security_groups,
                }));
            }
            _ => {}
        }
    }
    // Functions (they name layers), then aliases (they name functions).
    let mut published = BTreeSet::new();
    for r in resources {
        if let Attrs::LambdaAlias(a) = &r.attrs {
            if a.version.as_deref() != Some("$LATEST") {
                if let Some(f) = &a.function {
                    published.insert((r.account.clone(), r.region.clone(), f.clone()));
                }
            }
        }
    }
    for (i, r) in resources.iter().enumerate() {
        let Attrs::LambdaFunction(a) = &r.attrs else {
            continue;
        };
        let names = &ctx.names[&(r.account.clone(), r.region.clone())];
        let path = |f: &str| format!("resources[{i}].attrs.{f}");
        let role = a.role.clone().unwrap_or_else(|| DEFAULT_LAMBDA_ROLE.into());
        if !valid_role_name(&role) {
            ctx.problem(path("role"), format!("`{role}` is not an IAM role name"));
            continue;
        }
        let mut subnets = Vec::new();
        let mut vpcs = BTreeSet::new();
        let mut bad = false;
        for (j, s) in a.subnets.iter().enumerate() {
            match names
                .subnets
                .get(s)
                .and_then(|&k| subnet_plan(&out, k).map(|p| (k, p)))
            {
                Some((k, p)) => {
                    vpcs.insert(p.vpc);
                    subnets.push(k);
                }
                None => {
                    let msg = missing("vpc_subnet", s, r, names.subnets.keys());
                    ctx.problem(path(&format!("subnets[{j}]")), msg);
                    bad = true;
                }
            }
        }
        let mut layers = Vec::new();
        for (j, l) in a.layers.iter().enumerate() {
            let (name, version) = match l.rsplit_once(':') {
                Some((n, v)) => match v.parse::<u32>() {
                    Ok(v) => (n, Some(v)),
                    Err(_) => (l.as_str(), None),
                },
                None => (l.as_str(), None),
            };
            match names.layers.get(name) {
                Some(&k) => {
                    let versions = match &out[k] {
                        Some(Resolved::Layer(p)) => p.versions,
                        _ => {
                            bad = true;
                            continue;
                        }
                    };
                    let v = version.unwrap_or(versions);
                    if v == 0 || v > versions {
                        ctx.problem(
                            path(&format!("layers[{j}]")),
                            format!("layer `{name}` has versions 1 to {versions}, not {v}"),
                        );
                        bad = true;
                        continue;
                    }
                    layers.push((k, v));
                }
                None => {
                    let msg = missing("lambda_layer", name, r, names.layers.keys());
                    ctx.problem(path(&format!("layers[{j}]")), msg);
                    bad = true;
                }
            }
        }
        if layers.len() > 5 {
            ctx.problem(path("layers"), "a function uses at most 5 layers");
            continue;
        }
        if bad {
            continue;
        }
        if vpcs.len() > 1 {
            ctx.problem(path("subnets"), "the subnets of a function are in one VPC");
            continue;
        }
        let vpc = vpcs.first().map(|&v| VpcRef::File(v));
        if vpc.is_none() && !a.security_groups.is_empty() {
            ctx.problem(
                path("security_groups"),
                "security groups go with `subnets`: a function without subnets is not in a VPC",
            );
            continue;
        }
        if vpc.is_some() && a.security_groups.is_empty() {
            ctx.problem(
                path("security_groups"),
                "a function in a VPC needs at least one security group",
            );
            continue;
        }
        let Some(security_groups) = resolve_groups(
            ctx,
            r,
            &path("security_groups"),
            vpc.unwrap_or(VpcRef::Default),
            &a.security_groups,
        ) else {
            continue;
        };
        let runtime = a.runtime.clone().unwrap_or_else(|| "python3.12".into());
        let architecture = a.architecture.clone().unwrap_or_else(|| "x86_64".into());
        if !["x86_64", "arm64"].contains(&architecture.as_str()) {
            ctx.problem(
                path("architecture"),
                format!("`{architecture}` is not x86_64 or arm64"),
            );
            continue;
        }
        out[i] = Some(Resolved::Function(FunctionPlan {
            handler: a
                .handler
                .clone()
                .unwrap_or_else(|| default_handler(&runtime).into()),
            runtime,
            memory_size: a.memory_size.unwrap_or(128).clamp(128, 10240),
            timeout: a.timeout.unwrap_or(3).clamp(1, 900),
            description: a.description.clone().filter(|d| !d.is_empty()),
            role,
            architecture,
            subnets,
            security_groups,
            vpc,
            layers,
            publish: published.contains(&(r.account.clone(), r.region.clone(), r.key().to_owned())),
        }));
    }
    for (i, r) in resources.iter().enumerate() {
        let Attrs::LambdaAlias(a) = &r.attrs else {
            continue;
        };
        let names = &ctx.names[&(r.account.clone(), r.region.clone())];
        let Some(f) = &a.function else { continue };
        let function = match names.functions.get(f) {
            Some(&j) => j,
            None => {
                let msg = missing("lambda_function", f, r, names.functions.keys());
                ctx.problem(format!("resources[{i}].attrs.function"), msg);
                continue;
            }
        };
        let version = a.version.clone().unwrap_or_else(|| "1".into());
        if version != "1" && version != "$LATEST" {
            ctx.problem(
                format!("resources[{i}].attrs.version"),
                format!(
                    "`{version}` is not a version the seeder publishes; use `1` (the published \
                     version) or `$LATEST`"
                ),
            );
            continue;
        }
        out[i] = Some(Resolved::Alias(AliasPlan {
            function,
            version,
            description: a.description.clone().filter(|d| !d.is_empty()),
        }));
    }
    if !ctx.problems.borrow().is_empty() {
        return Vec::new();
    }
    out.into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                panic!(
                    "resources[{i}] was neither resolved nor reported; this is a bug in \
                     estate_file.rs"
                )
            })
        })
        .collect()
}

/// The group named `name` in `vpc` (`default` is the VPC's default group).
fn group_ref(names: &Names, vpc: VpcRef, name: &str) -> Option<SgRef> {
    if name == "default" {
        return Some(SgRef::DefaultOf(vpc));
    }
    names
        .groups
        .get(&(vpc, name.to_owned()))
        .map(|&j| SgRef::File(j))
}

fn resolve_groups(
    ctx: &Ctx,
    r: &ResourceSpec,
    path: &str,
    vpc: VpcRef,
    list: &[String],
) -> Option<Vec<SgRef>> {
    let names = &ctx.names[&(r.account.clone(), r.region.clone())];
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (j, g) in list.iter().enumerate() {
        match group_ref(names, vpc, g) {
            Some(s) if out.contains(&s) => {}
            Some(s) => out.push(s),
            None => {
                let in_vpc = match vpc {
                    VpcRef::Default => "the default VPC".to_owned(),
                    VpcRef::File(v) => format!("VPC `{}`", ctx.resources[v].key()),
                };
                let known: Vec<String> = names
                    .groups
                    .keys()
                    .filter(|(v, _)| *v == vpc)
                    .map(|(_, n)| n.clone())
                    .chain(["default".to_owned()])
                    .collect();
                problems.push((
                    format!("{path}[{j}]"),
                    format!(
                        "no security group `{g}` in {in_vpc} of {}/{} (known: {})",
                        r.account,
                        r.region,
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    let ok = problems.is_empty();
    for (p, m) in problems {
        ctx.problem(p, m);
    }
    ok.then_some(out)
}

type RdsNetwork = (Option<VpcRef>, Vec<SgRef>);

fn rds_network(
    ctx: &Ctx,
    r: &ResourceSpec,
    i: usize,
    vpc: Option<&str>,
    groups: &[String],
) -> Option<RdsNetwork> {
    let names = &ctx.names[&(r.account.clone(), r.region.clone())];
    let vpc = match vpc {
        Some(v) => match names.vpcs.get(v) {
            Some(&j) => Some(VpcRef::File(j)),
            None => {
                let msg = missing("vpc", v, r, names.vpcs.keys());
                ctx.problem(format!("resources[{i}].attrs.vpc"), msg);
                return None;
            }
        },
        None => names.vpc_order.first().map(|&j| VpcRef::File(j)),
    };
    if let Some(VpcRef::File(v)) = vpc {
        if ctx.vpc_subnets.get(&v).is_none_or(|s| s.is_empty()) {
            ctx.problem(
                format!("resources[{i}].attrs.vpc"),
                format!(
                    "VPC `{}` has no subnets in the file, so it cannot hold a DB subnet group",
                    ctx.resources[v].key()
                ),
            );
            return None;
        }
    }
    let mut groups = resolve_groups(
        ctx,
        r,
        &format!("resources[{i}].attrs.security_groups"),
        vpc.unwrap_or(VpcRef::Default),
        groups,
    )?;
    if groups.is_empty() {
        // As AWS does: the VPC's default group.
        groups.push(SgRef::DefaultOf(vpc.unwrap_or(VpcRef::Default)));
    }
    Some((vpc, groups))
}

/// A small stable hash (FNV-1a), for deterministic choices that must not change between
/// Rust versions.
pub(crate) fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
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
                Resolved::Vpc { .. } => add(a, g, ResourceKind::VpcSecurityGroup, 1),
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

/// The offline resources: what each scanner would parse out of the seeded emulator.
mod offline {
    use std::collections::HashMap;

    use serde_json::{json, Map, Value};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::resource::{Relation, Resource, Tag};

    /// `prefix-` and 17 hex digits, as EC2 ids are.
    fn ec2_id(prefix: &str, seed: &str) -> String {
        format!("{prefix}-{}", &hex_of(seed)[..17])
    }

    fn hex_of(seed: &str) -> String {
        hex::encode(Sha256::digest(seed.as_bytes()))
    }

    fn seconds_of(seed: &str) -> u64 {
        let d = Sha256::digest(seed.as_bytes());
        u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
    }

    /// A time in 2025, fixed by `seed`: (year, month, day, hour, minute, second, micros).
    fn time_of(seed: &str) -> (i64, u32, u32, u32, u32, u32, u32) {
        // 2025-01-01T00:00:00Z, plus up to 364 days.
        let base_days = 20_089;
        let n = seconds_of(seed);
        let secs = n % (364 * 86_400);
        let micros = ((n >> 40) % 1_000_000) as u32;
        let days = base_days + (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        (
            y,
            m,
            d,
            (rem / 3600) as u32,
            (rem / 60 % 60) as u32,
            (rem % 60) as u32,
            micros,
        )
    }

    /// Howard Hinnant's civil_from_days.
    fn civil_from_days(z: i64) -> (i64, u32, u32) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    /// `2025-03-04T05:06:07.000Z` (EC2, S3).
    fn ec2_time(seed: &str) -> String {
        let (y, mo, d, h, mi, s, _) = time_of(seed);
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000Z")
    }

    /// `2025-03-04T05:06:07.123456Z` (RDS, ELB).
    fn micro_time(seed: &str) -> String {
        let (y, mo, d, h, mi, s, us) = time_of(seed);
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z")
    }

    /// `2025-03-04-05-06`, as in automated snapshot names.
    fn snapshot_stamp(seed: &str) -> String {
        let (y, mo, d, h, mi, _, _) = time_of(seed);
        format!("{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}")
    }

    fn uuid_of(seed: &str) -> String {
        let h = hex_of(seed);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    fn ip_text(ip: u32) -> String {
        std::net::Ipv4Addr::from(ip).to_string()
    }

    fn tags_of(name: Option<&str>, tags: &BTreeMap<String, String>) -> Vec<Tag> {
        name.map(|n| Tag {
            key: "Name".into(),
            value: n.to_owned(),
        })
        .into_iter()
        .chain(tags.iter().map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        }))
        .collect()
    }

    fn rel(kind: &str, target: String) -> Relation {
        Relation {
            kind: kind.to_owned(),
            target_arn: target,
        }
    }

    /// The metadata object with its keys in order, as the scanners' JSON has them.
    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => {
                let sorted: BTreeMap<String, Value> = m.into_iter().collect();
                sorted.into_iter().collect()
            }
            _ => unreachable!("metadata is built as an object"),
        }
    }

    /// The size of the deployment package the seeder uploads (see `seed::zip_package`).
    const PACKAGE_BYTES: u64 = 194;

    /// Ids and addresses of one account and region.
    struct Region<'a> {
        estate: &'a EstateFile,
        account: &'a str,
        region: &'a str,
        zones: Vec<String>,
        ids: HashMap<usize, String>,
        root_volumes: HashMap<usize, String>,
        /// (instance id, root volume id) of each instance of every `ec2_instance`.
        fleets: HashMap<usize, Vec<(String, String)>>,
        default_vpc: String,
        default_subnets: Vec<String>,
        default_groups: HashMap<VpcRef, String>,
        /// Private IP and public IP (if any) of each instance of each fleet.
        addresses: HashMap<(usize, u32), (String, Option<String>)>,
        /// Instances per subnet.
        in_subnet: HashMap<SubnetRef, u32>,
    }

    impl Region<'_> {
        fn seed(&self, what: &str) -> String {
            format!("{}/{}/{what}", self.account, self.region)
        }

        fn arn(&self, service: &str, resource: &str) -> String {
            format!(
                "arn:aws:{service}:{}:{}:{resource}",
                self.region, self.account
            )
        }

        fn ec2_arn(&self, kind: &str, id: &str) -> String {
            self.arn("ec2", &format!("{kind}/{id}"))
        }

        fn vpc_id(&self, v: VpcRef) -> String {
            match v {
                VpcRef::Default => self.default_vpc.clone(),
                VpcRef::File(i) => self.ids[&i].clone(),
            }
        }

        fn subnet_id(&self, s: SubnetRef) -> String {
            match s {
                SubnetRef::Default(z) => self.default_subnets[z].clone(),
                SubnetRef::File(i) => self.ids[&i].clone(),
            }
        }

        fn group_id(&self, g: SgRef) -> String {
            match g {
                SgRef::DefaultOf(v) => self.default_groups[&v].clone(),
                SgRef::File(i) => self.ids[&i].clone(),
            }
        }

        #[allow(clippy::too_many_arguments)]
        fn resource(
            &self,
            kind: &str,
            identifier: String,
            arn: String,
            name: String,
            state: Option<&str>,
            tags: Vec<Tag>,
            relations: Vec<Relation>,
            metadata: Value,
        ) -> Resource {
            Resource {
                resource_type: kind.to_owned(),
                identifier,
                arn,
                name,
                account_id: self.account.to_owned(),
                region: self.region.to_owned(),
                state: state.map(str::to_owned),
                tags,
                relations,
                metadata: object(metadata),
            }
        }
    }

    pub(super) fn resources(estate: &EstateFile) -> Vec<Resource> {
        let mut out = Vec::new();
        for ((account, region), indices) in &estate.plan.by_region {
            let zones = zones(region).expect("regions were checked");
            let mut r = Region {
                estate,
                account,
                region,
                zones: zones.clone(),
                ids: HashMap::new(),
                root_volumes: HashMap::new(),
                fleets: HashMap::new(),
                default_vpc: String::new(),
                default_subnets: Vec::new(),
                default_groups: HashMap::new(),
                addresses: HashMap::new(),
                in_subnet: HashMap::new(),
            };
            r.default_vpc = ec2_id("vpc", &r.seed("default-vpc"));
            r.default_subnets = zones
                .iter()
                .map(|z| ec2_id("subnet", &r.seed(&format!("default-subnet/{z}"))))
                .collect();
            r.default_groups.insert(
                VpcRef::Default,
                ec2_id("sg", &r.seed("default-vpc/default-sg")),
            );
            assign_ids(&mut r, indices);
            emit_region(&r, indices, &mut out);
        }
        out
    }

    fn assign_ids(r: &mut Region, indices: &[usize]) {
        let res = &r.estate.resources;
        let plan = &r.estate.plan;
        for &i in indices {
            let spec = &res[i];
            let seed = r.seed(&format!("{}/{}", spec.kind, spec.key()));
            let id = match &plan.resolved[i] {
                Resolved::Instance(x) => {
                    let members: Vec<(String, String)> = (0..x.count)
                        .map(|k| {
                            let seed = if k == 0 {
                                seed.clone()
                            } else {
                                format!("{seed}#{k}")
                            };
                            (ec2_id("i", &seed), ec2_id("vol", &format!("{seed}/root")))
                        })
                        .collect();
                    r.root_volumes.insert(i, members[0].1.clone());
                    let first = members[0].0.clone();
                    r.fleets.insert(i, members);
                    first
                }
                Resolved::Volume(_) => ec2_id("vol", &seed),
                Resolved::EbsSnapshot(_) => ec2_id("snap", &seed),
                Resolved::Vpc { .. } => {
                    r.default_groups
                        .insert(VpcRef::File(i), ec2_id("sg", &format!("{seed}/default-sg")));
                    ec2_id("vpc", &seed)
                }
                Resolved::Subnet(_) => ec2_id("subnet", &seed),
                Resolved::Sg(g) => {
                    let vpc = match g.vpc {
                        VpcRef::Default => "default".to_owned(),
                        VpcRef::File(v) => res[v].key().to_owned(),
                    };
                    ec2_id("sg", &format!("{seed}/{vpc}"))
                }
                Resolved::Lb(_) => format!(
                    "arn:aws:elasticloadbalancing:{}:{}:loadbalancer/app/{}/{}",
                    r.region,
                    r.account,
                    spec.key(),
                    &hex_of(&seed)[..16]
                ),
                _ => continue,
            };
            r.ids.insert(i, id);
        }
        // Addresses: moto hands out a subnet's addresses from .4 upwards, in launch order.
        for &i in indices {
            let Resolved::Instance(x) = &plan.resolved[i] else {
                continue;
            };
            for k in 0..x.count {
                let (subnet, _) = &x.subnets[k as usize % x.subnets.len()];
                let n = r.in_subnet.entry(*subnet).or_default();
                let (base, public) = match *subnet {
                    SubnetRef::Default(z) => (
                        u32::from(Ipv4Addr::new(172, 31, 0, 0)) + (z as u32) * 4096,
                        true,
                    ),
                    SubnetRef::File(s) => match &plan.resolved[s] {
                        Resolved::Subnet(p) => (parse_cidr(&p.cidr).expect("checked").0, false),
                        _ => unreachable!("subnet refs name subnets"),
                    },
                };
                let private = ip_text(base + 4 + *n);
                *n += 1;
                // A public address while running, on subnets that map one at launch.
                let public = (public && !x.stopped).then(|| {
                    let h = seconds_of(&format!("{}/public-ip", r.fleets[&i][k as usize].0));
                    ip_text(u32::from(Ipv4Addr::new(54, 0, 0, 0)) | (h as u32 & 0x00ff_ffff))
                });
                r.addresses.insert((i, k), (private, public));
            }
        }
    }

    fn emit_region(r: &Region, indices: &[usize], out: &mut Vec<Resource>) {
        let res = &r.estate.resources;
        let plan = &r.estate.plan;
        let account = r.account;
        // The default VPC, its subnets, and the default group of every VPC.
        out.push(vpc_resource(
            r,
            r.default_vpc.clone(),
            "172.31.0.0/16",
            true,
            Vec::new(),
        ));
        for (z, zone) in r.zones.iter().enumerate() {
            let id = r.default_subnets[z].clone();
            let cidr = cidr_text(
                u32::from(Ipv4Addr::new(172, 31, 0, 0)) + z as u32 * 4096,
                20,
            );
            let used = r
                .in_subnet
                .get(&SubnetRef::Default(z))
                .copied()
                .unwrap_or(0);
            out.push(subnet_resource(
                r,
                id,
                VpcRef::Default,
                &cidr,
                zone,
                true,
                used,
                Vec::new(),
            ));
        }
        let mut vpcs = vec![VpcRef::Default];
        vpcs.extend(
            indices
                .iter()
                .filter(|&&i| matches!(plan.resolved[i], Resolved::Vpc { .. }))
                .map(|&i| VpcRef::File(i)),
        );
        for v in vpcs {
            out.push(group_resource(
                r,
                r.default_groups[&v].clone(),
                "default",
                "default VPC security group",
                v,
                &[],
                Vec::new(),
            ));
        }
        for &i in indices {
            let spec = &res[i];
            let key = spec.key();
            let tags_named = || tags_of(Some(key), &spec.tags);
            let tags_plain = || tags_of(None, &spec.tags);
            match &plan.resolved[i] {
                Resolved::Vpc { cidr } => {
                    out.push(vpc_resource(
                        r,
                        r.ids[&i].clone(),
                        cidr,
                        false,
                        tags_named(),
                    ));
                }
                Resolved::Subnet(s) => {
                    let used = r.in_subnet.get(&SubnetRef::File(i)).copied().unwrap_or(0);
                    out.push(subnet_resource(
                        r,
                        r.ids[&i].clone(),
                        VpcRef::File(s.vpc),
                        &s.cidr,
                        &s.zone,
                        false,
                        used,
                        tags_named(),
                    ));
                }
                Resolved::Sg(g) => out.push(group_resource(
                    r,
                    r.ids[&i].clone(),
                    key,
                    &g.description,
                    g.vpc,
                    &g.ingress,
                    tags_named(),
                )),
                Resolved::Instance(x) => {
                    for (k, (id, root)) in r.fleets[&i].iter().enumerate() {
                        let (subnet, zone) = &x.subnets[k % x.subnets.len()];
                        let mut relations = vec![
                            rel("subnet", r.ec2_arn("subnet", &r.subnet_id(*subnet))),
                            rel("vpc", r.ec2_arn("vpc", &r.vpc_id(x.vpc))),
                        ];
                        for g in &x.security_groups {
                            relations.push(rel(
                                "security_group",
                                r.ec2_arn("security-group", &r.group_id(*g)),
                            ));
                        }
                        relations.push(rel("volume", r.ec2_arn("volume", root)));
                        for (v, _) in &x.volumes {
                            relations.push(rel("volume", r.ec2_arn("volume", &r.ids[v])));
                        }
                        let (private, public) = r.addresses[&(i, k as u32)].clone();
                        let launched = ec2_time(&format!("{id}/launch"));
                        let mut meta = json!({
                            "architecture": "x86_64",
                            "availability_zone": zone,
                            "ebs_optimized": false,
                            "image_id": x.image_id,
                            "instance_type": x.instance_type,
                            "launch_time": launched,
                            "private_ip": private,
                            "root_device_type": "ebs",
                        });
                        if let Some(p) = public {
                            meta["public_ip"] = p.into();
                        }
                        let state = if x.stopped { "stopped" } else { "running" };
                        out.push(r.resource(
                            "ec2_instance",
                            id.clone(),
                            r.ec2_arn("instance", id),
                            key.to_owned(),
                            Some(state),
                            tags_named(),
                            relations,
                            meta,
                        ));
                        let mut meta = json!({
                            "availability_zone": zone,
                            "create_time": launched,
                            "encrypted": false,
                            "size_gib": x.root_gib,
                            "volume_type": x.root_type,
                        });
                        if x.root_type == "gp3" {
                            meta["iops"] = 3000.into();
                        }
                        out.push(r.resource(
                            "ec2_volume",
                            root.clone(),
                            r.ec2_arn("volume", root),
                            key.to_owned(),
                            Some("in-use"),
                            tags_named(),
                            vec![rel("instance", r.ec2_arn("instance", id))],
                            meta,
                        ));
                    }
                }
                Resolved::Volume(v) => {
                    let id = r.ids[&i].clone();
                    let mut meta = json!({
                        "availability_zone": v.zone,
                        "create_time": ec2_time(&format!("{id}/create")),
                        "encrypted": v.encrypted,
                        "size_gib": v.size_gib,
                        "volume_type": v.volume_type,
                    });
                    match (v.iops, v.volume_type.as_str()) {
                        (Some(n), "gp3" | "io1" | "io2") => meta["iops"] = n.into(),
                        (None, "gp3") => meta["iops"] = 3000.into(),
                        _ => {}
                    }
                    if v.encrypted {
                        // The region's default EBS key.
                        let key_id = uuid_of(&r.seed("default-ebs-key"));
                        meta["kms_key_id"] = r.arn("kms", &format!("key/{key_id}")).into();
                    }
                    let relations = v
                        .attached
                        .iter()
                        .map(|(k, _)| rel("instance", r.ec2_arn("instance", &r.ids[k])))
                        .collect();
                    let state = if v.attached.is_some() {
                        "in-use"
                    } else {
                        "available"
                    };
                    out.push(r.resource(
                        "ec2_volume",
                        id.clone(),
                        r.ec2_arn("volume", &id),
                        key.to_owned(),
                        Some(state),
                        tags_named(),
                        relations,
                        meta,
                    ));
                }
                Resolved::EbsSnapshot(s) => {
                    let id = r.ids[&i].clone();
                    let (volume, size, encrypted) = match s.source {
                        SnapshotSource::Volume(v) => match &plan.resolved[v] {
                            Resolved::Volume(p) => (r.ids[&v].clone(), p.size_gib, p.encrypted),
                            _ => unreachable!("volume refs name volumes"),
                        },
                        SnapshotSource::RootOf(k) => match &plan.resolved[k] {
                            Resolved::Instance(p) => {
                                (r.root_volumes[&k].clone(), p.root_gib, false)
                            }
                            _ => unreachable!("instance refs name instances"),
                        },
                    };
                    let meta = json!({
                        "description": s.description,
                        "encrypted": encrypted,
                        "progress": "100%",
                        "start_time": ec2_time(&format!("{id}/start")),
                        "volume_id": volume,
                        "volume_size_gib": size,
                    });
                    out.push(r.resource(
                        "ec2_snapshot",
                        id.clone(),
                        format!("arn:aws:ec2:{}::snapshot/{id}", r.region),
                        key.to_owned(),
                        Some("completed"),
                        tags_named(),
                        vec![rel("snapshot_of", r.ec2_arn("volume", &volume))],
                        meta,
                    ));
                }
                Resolved::Rds(x) => {
                    out.extend(rds_instance_resources(r, i, x, tags_plain()));
                }
                Resolved::Cluster(c) => {
                    out.extend(cluster_resources(r, i, c, tags_plain()));
                }
                Resolved::RdsSnapshot(s) => {
                    out.push(rds_snapshot_resource(r, key, s, "manual", tags_plain()));
                }
                Resolved::Bucket(b) => {
                    let mut relations = Vec::new();
                    let encryption = match &b.encryption {
                        None => Value::Null,
                        Some(algorithm) => {
                            let mut e = json!({
                                "algorithm": algorithm,
                                "bucket_key_enabled": algorithm == "aws:kms",
                            });
                            if let Some(k) = &b.kms_key {
                                e["kms_key_id"] = k.clone().into();
                                let arn = if k.starts_with("arn:") {
                                    k.clone()
                                } else if k.starts_with("alias/") {
                                    r.arn("kms", k)
                                } else {
                                    r.arn("kms", &format!("key/{k}"))
                                };
                                relations.push(rel("kms_key", arn));
                            }
                            e
                        }
                    };
                    let block = if b.block_public_access {
                        json!({
                            "block_public_acls": true,
                            "block_public_policy": true,
                            "ignore_public_acls": true,
                            "restrict_public_buckets": true,
                        })
                    } else {
                        Value::Null
                    };
                    let meta = json!({
                        "creation_date": ec2_time(&format!("s3/{key}")),
                        "encryption": encryption,
                        "lifecycle_rule_ids": b.lifecycle_rules,
                        "lifecycle_rules": b.lifecycle_rules.len(),
                        "public_access_block": block,
                        "versioning": b.versioning,
                    });
                    out.push(r.resource(
                        "s3_bucket",
                        key.to_owned(),
                        format!("arn:aws:s3:::{key}"),
                        key.to_owned(),
                        None,
                        tags_plain(),
                        relations,
                        meta,
                    ));
                }
                Resolved::Function(f) => {
                    let arn = r.arn("lambda", &format!("function:{key}"));
                    let role = format!("arn:aws:iam::{account}:role/{}", f.role);
                    let mut relations = vec![rel("role", role.clone())];
                    let subnets: Vec<String> = f.subnets.iter().map(|s| r.ids[s].clone()).collect();
                    let groups: Vec<String> =
                        f.security_groups.iter().map(|g| r.group_id(*g)).collect();
                    for s in &subnets {
                        relations.push(rel("subnet", r.ec2_arn("subnet", s)));
                    }
                    for g in &groups {
                        relations.push(rel("security_group", r.ec2_arn("security-group", g)));
                    }
                    let layers: Vec<String> = f
                        .layers
                        .iter()
                        .map(|(l, v)| r.arn("lambda", &format!("layer:{}:{v}", res[*l].key())))
                        .collect();
                    for l in &layers {
                        relations.push(rel("layer", l.clone()));
                    }
                    let (y, mo, d, h, mi, s, us) = time_of(&arn);
                    let mut meta = json!({
                        "architectures": [f.architecture],
                        "code_size": PACKAGE_BYTES,
                        "ephemeral_storage": 512,
                        "handler": f.handler,
                        "last_modified": format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}000Z"),
                        "layers": layers,
                        "memory_size": f.memory_size,
                        "package_type": "Zip",
                        "role": role,
                        "runtime": f.runtime,
                        "security_group_ids": groups,
                        "subnet_ids": subnets,
                        "timeout": f.timeout,
                        "version": "$LATEST",
                    });
                    if let Some(desc) = &f.description {
                        meta["description"] = desc.clone().into();
                    }
                    if !f.security_groups.is_empty() {
                        // What the emulator reports for every VPC function.
                        meta["vpc_id"] = "vpc-123abc".into();
                    }
                    out.push(r.resource(
                        "lambda_function",
                        key.to_owned(),
                        arn,
                        key.to_owned(),
                        Some("Active"),
                        tags_plain(),
                        relations,
                        meta,
                    ));
                }
                Resolved::Alias(a) => {
                    let function = res[a.function].key();
                    let function_arn = r.arn("lambda", &format!("function:{function}"));
                    let id = format!("{function}:{key}");
                    let mut meta = json!({
                        "alias_name": key,
                        "function_name": function,
                        "function_version": a.version,
                        "revision_id": uuid_of(&format!("{function_arn}:{key}")),
                        "routing": {},
                    });
                    if let Some(desc) = &a.description {
                        meta["description"] = desc.clone().into();
                    }
                    out.push(r.resource(
                        "lambda_alias",
                        id.clone(),
                        format!("{function_arn}:{key}"),
                        id,
                        None,
                        Vec::new(),
                        vec![rel("function", function_arn)],
                        meta,
                    ));
                }
                Resolved::Layer(l) => {
                    for v in (1..=l.versions).rev() {
                        let id = format!("{key}:{v}");
                        let arn = r.arn("lambda", &format!("layer:{id}"));
                        let (y, mo, d, h, mi, s, us) = time_of(&arn);
                        let mut meta = json!({
                            "code_size": PACKAGE_BYTES,
                            "compatible_architectures": [],
                            "compatible_runtimes": l.runtimes,
                            "created_date": format!(
                                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}+0000",
                                us / 1000
                            ),
                            "latest": v == l.versions,
                            "layer_name": key,
                            "version": v,
                        });
                        if let Some(desc) = &l.description {
                            meta["description"] = desc.clone().into();
                        }
                        if let Some(lic) = &l.license_info {
                            meta["license_info"] = lic.clone().into();
                        }
                        out.push(r.resource(
                            "lambda_layer",
                            id.clone(),
                            arn,
                            id,
                            None,
                            Vec::new(),
                            Vec::new(),
                            meta,
                        ));
                    }
                }
                Resolved::Lb(lb) => {
                    let arn = r.ids[&i].clone();
                    let vpc = r.vpc_id(lb.vpc);
                    let mut relations = vec![rel("vpc", r.ec2_arn("vpc", &vpc))];
                    let mut zones = Vec::new();
                    for s in &lb.subnets {
                        relations.push(rel("subnet", r.ec2_arn("subnet", &r.subnet_id(*s))));
                        zones.push(match s {
                            SubnetRef::Default(z) => r.zones[*z].clone(),
                            SubnetRef::File(k) => match &plan.resolved[*k] {
                                Resolved::Subnet(p) => p.zone.clone(),
                                _ => unreachable!("subnet refs name subnets"),
                            },
                        });
                    }
                    for g in &lb.security_groups {
                        relations.push(rel(
                            "security_group",
                            r.ec2_arn("security-group", &r.group_id(*g)),
                        ));
                    }
                    let meta = json!({
                        "availability_zones": zones,
                        "created_time": micro_time(&arn),
                        "dns_name": format!("{key}-1.{}.elb.amazonaws.com", r.region),
                        "scheme": lb.scheme,
                        "type": lb.lb_type,
                        "vpc_id": vpc,
                    });
                    let name = spec
                        .tags
                        .get("Name")
                        .cloned()
                        .unwrap_or_else(|| key.to_owned());
                    out.push(r.resource(
                        "elb_load_balancer",
                        arn.clone(),
                        arn,
                        name,
                        Some("active"),
                        tags_plain(),
                        relations,
                        meta,
                    ));
                }
            }
        }
    }

    fn vpc_resource(r: &Region, id: String, cidr: &str, default: bool, tags: Vec<Tag>) -> Resource {
        let name = tags
            .iter()
            .find(|t| t.key == "Name")
            .map_or_else(|| id.clone(), |t| t.value.clone());
        let meta = json!({
            "cidr_block": cidr,
            "cidr_blocks": [cidr],
            "dhcp_options_id": "default",
            "instance_tenancy": "default",
            "is_default": default,
            "owner_id": r.account,
        });
        r.resource(
            "vpc",
            id.clone(),
            r.ec2_arn("vpc", &id),
            name,
            Some("available"),
            tags,
            Vec::new(),
            meta,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn subnet_resource(
        r: &Region,
        id: String,
        vpc: VpcRef,
        cidr: &str,
        zone: &str,
        default: bool,
        used: u32,
        tags: Vec<Tag>,
    ) -> Resource {
        let name = tags
            .iter()
            .find(|t| t.key == "Name")
            .map_or_else(|| id.clone(), |t| t.value.clone());
        let (_, prefix) = parse_cidr(cidr).expect("checked");
        let vpc_id = r.vpc_id(vpc);
        let meta = json!({
            "availability_zone": zone,
            "availability_zone_id": zone_id(zone),
            "available_ip_address_count": (1u64 << (32 - prefix)) - 5 - u64::from(used),
            "cidr_block": cidr,
            "default_for_az": default,
            "map_public_ip_on_launch": default,
            "owner_id": r.account,
            "vpc_id": vpc_id,
        });
        r.resource(
            "vpc_subnet",
            id.clone(),
            r.ec2_arn("subnet", &id),
            name,
            Some("available"),
            tags,
            vec![rel("vpc", r.ec2_arn("vpc", &vpc_id))],
            meta,
        )
    }

    fn group_resource(
        r: &Region,
        id: String,
        group_name: &str,
        description: &str,
        vpc: VpcRef,
        ingress: &[Rule],
        tags: Vec<Tag>,
    ) -> Resource {
        let name = tags
            .iter()
            .find(|t| t.key == "Name")
            .map_or_else(|| group_name.to_owned(), |t| t.value.clone());
        // The emulator merges rules with the same protocol and ports into one permission,
        // in the order they first appear; the scanner lists its address ranges, then its
        // groups.
        struct Permission<'a> {
            protocol: &'a str,
            from: i32,
            to: i32,
            cidrs: Vec<String>,
            groups: Vec<String>,
        }
        let mut permissions: Vec<Permission> = Vec::new();
        for rule in ingress {
            let at = match permissions.iter().position(|p| {
                (p.protocol, p.from, p.to) == (rule.protocol, rule.from_port, rule.to_port)
            }) {
                Some(at) => at,
                None => {
                    permissions.push(Permission {
                        protocol: rule.protocol,
                        from: rule.from_port,
                        to: rule.to_port,
                        cidrs: Vec::new(),
                        groups: Vec::new(),
                    });
                    permissions.len() - 1
                }
            };
            match &rule.source {
                RuleSource::Cidr(c) => permissions[at].cidrs.push(c.clone()),
                RuleSource::Group(g) => permissions[at].groups.push(r.group_id(*g)),
            }
        }
        let mut rules = Vec::new();
        let mut open = false;
        for p in &permissions {
            let (from, to) = (&p.from, &p.to);
            let what = match p.protocol {
                "-1" => "all".to_owned(),
                "icmp" => "icmp".to_owned(),
                p if (*from, *to) == (0, 65535) => format!("{p} all"),
                p if from == to => format!("{p} {from}"),
                p => format!("{p} {from}-{to}"),
            };
            for source in p.cidrs.iter().chain(&p.groups) {
                open |= source == "0.0.0.0/0";
                rules.push(format!("{what} from {source}"));
            }
        }
        let vpc_id = r.vpc_id(vpc);
        let mut meta = json!({
            "description": description,
            "egress": ["all to 0.0.0.0/0"],
            "egress_rule_count": 1,
            "group_name": group_name,
            "ingress_rule_count": rules.len(),
            "open_to_world": open,
            "owner_id": r.account,
            "vpc_id": vpc_id,
        });
        if !rules.is_empty() {
            meta["ingress"] = rules.into();
        }
        r.resource(
            "vpc_security_group",
            id.clone(),
            r.ec2_arn("security-group", &id),
            name,
            None,
            tags,
            vec![rel("vpc", r.ec2_arn("vpc", &vpc_id))],
            meta,
        )
    }

    fn rds_arn(r: &Region, kind: &str, id: &str) -> String {
        r.arn("rds", &format!("{kind}:{id}"))
    }

    /// The instance (with its network and storage as the emulator reports them: replicas
    /// copy their source's, members their cluster's) and its automated snapshot.
    fn rds_instance_resources(r: &Region, i: usize, x: &RdsPlan, tags: Vec<Tag>) -> Vec<Resource> {
        let res = &r.estate.resources;
        let plan = &r.estate.plan;
        let key = res[i].key();
        // Network and storage come from the source for replicas.
        let base = match x.replica_of {
            Some(s) => match &plan.resolved[s] {
                Resolved::Rds(p) => p,
                _ => unreachable!("replicas name instances"),
            },
            None => x,
        };
        let cluster = x.cluster.map(|c| match &plan.resolved[c] {
            Resolved::Cluster(p) => (c, p),
            _ => unreachable!("members name clusters"),
        });
        let mut relations = Vec::new();
        let mut meta = json!({
            "availability_zone": x.zone,
            "class": x.class,
            "create_time": micro_time(&rds_arn(r, "db", key)),
            "endpoint_address": format!("{key}.aaaaaaaaaa.{}.rds.amazonaws.com", r.region),
            "engine": x.engine,
            "engine_version": x.engine_version,
            "multi_az": x.multi_az && cluster.is_none(),
            "publicly_accessible": x.public,
        });
        let kms = match cluster {
            Some((c, cp)) => {
                relations.push(rel("cluster", rds_arn(r, "cluster", res[c].key())));
                meta["allocated_storage_gib"] = 1.into();
                meta["backup_retention_period"] = cp.retention.into();
                meta["cluster_id"] = res[c].key().into();
                meta["deletion_protection"] = false.into();
                meta["endpoint_port"] = cp.port.into();
                meta["storage_encrypted"] = cp.encrypted.into();
                meta["storage_type"] = "aurora".into();
                for g in &cp.security_groups {
                    relations.push(rel(
                        "security_group",
                        r.ec2_arn("security-group", &r.group_id(*g)),
                    ));
                }
                Some("default_kms_key_id")
            }
            None => {
                if let Some(s) = x.replica_of {
                    relations.push(rel("replica_of", rds_arn(r, "db", res[s].key())));
                    meta["read_replica_source"] = res[s].key().into();
                }
                if let Some(VpcRef::File(v)) = base.vpc {
                    let vpc = r.ids[&v].clone();
                    relations.push(rel("vpc", r.ec2_arn("vpc", &vpc)));
                    for s in &plan.vpc_subnets[&v] {
                        relations.push(rel("subnet", r.ec2_arn("subnet", &r.ids[s])));
                    }
                    meta["db_subnet_group"] = plan.db_subnet_groups[&v].clone().into();
                    meta["vpc_id"] = vpc.into();
                }
                for g in &base.security_groups {
                    relations.push(rel(
                        "security_group",
                        r.ec2_arn("security-group", &r.group_id(*g)),
                    ));
                }
                meta["allocated_storage_gib"] = base.storage_gib.unwrap_or(20).into();
                meta["backup_retention_period"] = base.retention.into();
                meta["deletion_protection"] = base.deletion_protection.into();
                meta["endpoint_port"] = base.port.into();
                meta["storage_encrypted"] = base.encrypted.into();
                meta["storage_type"] = base.storage_type.clone().unwrap_or_default().into();
                if !x.replicas.is_empty() {
                    let replicas: Vec<&str> = x.replicas.iter().map(|k| res[*k].key()).collect();
                    meta["read_replicas"] = replicas.into();
                }
                base.encrypted.then_some("default_kms_key_id")
            }
        };
        if let Some(k) = kms {
            meta["kms_key_id"] = k.into();
        }
        let state = if x.stopped { "stopped" } else { "available" };
        let mut out = vec![r.resource(
            "rds_instance",
            key.to_owned(),
            rds_arn(r, "db", key),
            key.to_owned(),
            Some(state),
            tags,
            relations,
            meta,
        )];
        if x.replica_of.is_none() {
            let id = format!("rds:{key}-{}", snapshot_stamp(&rds_arn(r, "db", key)));
            out.push(rds_snapshot_resource(
                r,
                &id,
                &RdsSnapshotPlan::Instance(i),
                "automated",
                Vec::new(),
            ));
        }
        out
    }

    fn cluster_resources(r: &Region, i: usize, c: &ClusterPlan, tags: Vec<Tag>) -> Vec<Resource> {
        let res = &r.estate.resources;
        let plan = &r.estate.plan;
        let key = res[i].key();
        let arn = rds_arn(r, "cluster", key);
        let mut relations = Vec::new();
        let mut members = Vec::new();
        let mut zones = BTreeSet::new();
        for (n, &m) in c.members.iter().enumerate() {
            relations.push(rel("instance", rds_arn(r, "db", res[m].key())));
            members.push(json!({ "id": res[m].key(), "writer": n == 0 }));
            if let Resolved::Rds(p) = &plan.resolved[m] {
                zones.insert(p.zone.clone());
            }
        }
        for g in &c.security_groups {
            relations.push(rel(
                "security_group",
                r.ec2_arn("security-group", &r.group_id(*g)),
            ));
        }
        let host: String = hex_of(&arn)
            .bytes()
            .take(12)
            .map(|b| match b {
                b'0'..=b'9' => b as char,
                _ => (b'g' + (b - b'a')) as char,
            })
            .collect();
        let mut meta = json!({
            "backup_retention_period": c.retention,
            "create_time": micro_time(&arn),
            "deletion_protection": c.deletion_protection,
            "endpoint_address": format!("{key}.cluster-{host}.{}.rds.amazonaws.com", r.region),
            "endpoint_port": c.port,
            "engine": c.engine,
            "engine_mode": "provisioned",
            "engine_version": c.engine_version,
            "kms_key_id": "default_kms_key_id",
            "members": members,
            "multi_az": zones.len() > 1,
            "reader_endpoint_address": format!("{key}.cluster-ro-{host}.{}.rds.amazonaws.com", r.region),
            "storage_encrypted": c.encrypted,
        });
        if let Some(VpcRef::File(v)) = c.vpc {
            meta["db_subnet_group"] = plan.db_subnet_groups[&v].clone().into();
        }
        if let Some(&w) = c.members.first() {
            meta["writer"] = res[w].key().into();
        }
        let id = format!("rds:{key}-{}", snapshot_stamp(&arn));
        vec![
            r.resource(
                "rds_cluster",
                key.to_owned(),
                arn,
                key.to_owned(),
                Some("available"),
                tags,
                relations,
                meta,
            ),
            rds_snapshot_resource(
                r,
                &id,
                &RdsSnapshotPlan::Cluster(i),
                "automated",
                Vec::new(),
            ),
        ]
    }

    fn rds_snapshot_resource(
        r: &Region,
        id: &str,
        source: &RdsSnapshotPlan,
        snapshot_type: &str,
        tags: Vec<Tag>,
    ) -> Resource {
        let res = &r.estate.resources;
        let plan = &r.estate.plan;
        let (arn, relations, meta) = match *source {
            RdsSnapshotPlan::Instance(k) => {
                let Resolved::Rds(x) = &plan.resolved[k] else {
                    unreachable!("snapshots name instances")
                };
                let (storage, kms) = match x.cluster {
                    Some(_) => (1, Some("default_kms_key_id")),
                    None => (
                        x.storage_gib.unwrap_or(20),
                        x.encrypted.then_some("default_kms_key_id"),
                    ),
                };
                let arn = rds_arn(r, "snapshot", id);
                let mut meta = json!({
                    "allocated_storage_gib": storage,
                    "create_time": micro_time(&arn),
                    "encrypted": kms.is_some(),
                    "engine": x.engine,
                    "engine_version": x.engine_version,
                    "instance_id": res[k].key(),
                    "snapshot_type": snapshot_type,
                    "source": "instance",
                });
                if let Some(k) = kms {
                    meta["kms_key_id"] = k.into();
                }
                let relations = vec![rel("snapshot_of", rds_arn(r, "db", res[k].key()))];
                (arn, relations, meta)
            }
            RdsSnapshotPlan::Cluster(k) => {
                let Resolved::Cluster(c) = &plan.resolved[k] else {
                    unreachable!("snapshots name clusters")
                };
                let arn = rds_arn(r, "cluster-snapshot", id);
                let meta = json!({
                    "allocated_storage_gib": 1,
                    "cluster_id": res[k].key(),
                    "create_time": micro_time(&arn),
                    "encrypted": c.encrypted,
                    "engine": c.engine,
                    "engine_version": c.engine_version,
                    "kms_key_id": "default_kms_key_id",
                    "snapshot_type": snapshot_type,
                    "source": "cluster",
                });
                let relations = vec![rel("snapshot_of", rds_arn(r, "cluster", res[k].key()))];
                (arn, relations, meta)
            }
        };
        r.resource(
            "rds_snapshot",
            id.to_owned(),
            arn,
            id.to_owned(),
            Some("available"),
            tags,
            relations,
            meta,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str =
        r#"{ "id": "111111111111", "name": "production", "regions": ["us-west-2"] }"#;

    fn estate(resources: &str) -> Result<EstateFile, EstateError> {
        EstateFile::from_json(&format!(
            r#"{{ "accounts": [{ACCOUNT}], "resources": [{resources}] }}"#
        ))
    }

    fn problems(resources: &str) -> Vec<String> {
        estate(resources)
            .unwrap_err()
            .problems()
            .iter()
            .map(Problem::to_string)
            .collect()
    }

    #[test]
    fn unknown_fields_are_errors_naming_their_path() {
        let err = EstateFile::from_json(r#"{ "accounts": [], "resource": [] }"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `resource`"),
            "{err}"
        );
        let err = EstateFile::from_json(
            r#"{ "accounts": [{ "id": "111111111111", "regions": ["us-west-2"], "colour": 1 }] }"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("accounts[0].colour"), "{err}");
        let err = estate(
            r#"{ "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
                 "name": "web", "attrs": { "instance_typo": "t3.micro" } }"#,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("resources[0].attrs.instance_typo"), "{text}");
        assert!(text.contains("unknown field `instance_typo`"), "{text}");
        assert!(
            text.contains("instance_type"),
            "the message lists the known fields: {text}"
        );
        let err = estate(
            r#"{ "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "x" },
               { "type": "s3_bucket", "account": "111111111111", "region": "us-west-2",
                 "id": "b-1-bucket", "owner": "me" }"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("resources[1].owner"), "{err}");
    }

    #[test]
    fn wrong_types_and_syntax_name_the_path_too() {
        let err = estate(
            r#"{ "type": "ec2_volume", "account": "111111111111", "region": "us-west-2",
                 "name": "v", "attrs": { "size_gib": "big" } }"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("resources[0].attrs.size_gib"),
            "{err}"
        );
        let err = EstateFile::from_json(r#"{ "accounts": [ }"#).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn bad_references_are_errors_naming_their_path_and_the_candidates() {
        let p = problems(
            r#"{ "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "main" },
               { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "app-a" },
               { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
                 "name": "web", "attrs": { "subnet": "app-z", "volumes": ["nope"] } },
               { "type": "rds_instance", "account": "111111111111", "region": "us-west-2",
                 "id": "pg-replica", "attrs": { "replica_of": "pg-main" } },
               { "type": "lambda_alias", "account": "111111111111", "region": "us-west-2",
                 "id": "live", "attrs": { "function": "ghost" } },
               { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
                 "name": "db", "attrs": { "security_groups": ["web"] } }"#,
        );
        let all = p.join("\n");
        assert!(
            all.contains("resources[2].attrs.subnet: no vpc_subnet `app-z` in 111111111111/us-west-2 (known: app-a)"),
            "{all}"
        );
        assert!(
            all.contains("resources[3].attrs.replica_of: no rds_instance `pg-main`"),
            "{all}"
        );
        assert!(
            all.contains("resources[4].attrs.function: no lambda_function `ghost`"),
            "{all}"
        );
        assert!(
            all.contains(
                "resources[5].attrs.security_groups[0]: no security group `web` in VPC `main`"
            ),
            "{all}"
        );
    }

    #[test]
    fn accounts_regions_types_and_duplicates_are_checked() {
        let p = problems(
            r#"{ "type": "ec2_instance", "account": "999999999999", "region": "us-west-2", "name": "a" },
               { "type": "ec2_instance", "account": "111111111111", "region": "eu-west-1", "name": "b" },
               { "type": "ec2_instanse", "account": "111111111111", "region": "us-west-2", "name": "c" }"#,
        );
        assert_eq!(
            p,
            [
                "resources[2].type: unknown resource type `ec2_instanse`; expected one of \
                 ec2_instance, ec2_volume, ec2_snapshot, rds_instance, rds_cluster, rds_snapshot, \
                 s3_bucket, lambda_function, lambda_layer, lambda_alias, vpc, vpc_subnet, \
                 vpc_security_group, elb_load_balancer"
            ]
        );
        let p = problems(
            r#"{ "type": "ec2_instance", "account": "999999999999", "region": "us-west-2", "name": "a" },
               { "type": "ec2_instance", "account": "111111111111", "region": "eu-west-1", "name": "b" },
               { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2", "name": "c" },
               { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2", "name": "c" },
               { "type": "rds_instance", "account": "111111111111", "region": "us-west-2", "name": "d" },
               { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
                 "name": "e", "state": "terminated" }"#,
        );
        assert_eq!(p.len(), 6, "{p:#?}");
        assert!(
            p[0].starts_with("resources[0].account: no account `999999999999`"),
            "{}",
            p[0]
        );
        assert!(
            p[1].starts_with("resources[1].region: region `eu-west-1` is not one of"),
            "{}",
            p[1]
        );
        assert!(
            p[2].starts_with("resources[3].name: ec2_instance `c` is also resources[2]"),
            "{}",
            p[2]
        );
        assert!(
            p[3].starts_with(
                "resources[4].name: rds_instance resources are named by their identifier"
            ),
            "{}",
            p[3]
        );
        assert!(
            p[4].starts_with("resources[4].id: a rds_instance needs an `id`"),
            "{}",
            p[4]
        );
        assert!(
            p[5].starts_with("resources[5].state: `terminated` is not a state"),
            "{}",
            p[5]
        );
        let err = EstateFile::from_json(
            r#"{ "accounts": [{ "id": "1234", "regions": ["mars-north-1"],
                 "principal": { "allow": ["ec2 describe"] } }] }"#,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("accounts[0].id: `1234` is not a 12-digit account id"),
            "{text}"
        );
        assert!(
            text.contains("accounts[0].regions[0]: `mars-north-1` is not a region"),
            "{text}"
        );
        assert!(text.contains("accounts[0].principal.allow[0]"), "{text}");
    }

    #[test]
    fn bucket_names_are_unique_across_accounts() {
        let err = EstateFile::from_json(
            r#"{ "accounts": [
                   { "id": "111111111111", "regions": ["us-west-2"] },
                   { "id": "222222222222", "regions": ["us-east-1"] } ],
                 "resources": [
                   { "type": "s3_bucket", "account": "111111111111", "region": "us-west-2", "id": "shared-name" },
                   { "type": "s3_bucket", "account": "222222222222", "region": "us-east-1", "id": "shared-name" } ] }"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("resources[1].id: bucket `shared-name` is also resources[0]"),
            "{err}"
        );
    }

    #[test]
    fn defaults_are_realistic() {
        let e = estate(
            r#"{ "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "main" },
               { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "a" },
               { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "b" },
               { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2", "name": "web" },
               { "type": "rds_instance", "account": "111111111111", "region": "us-west-2", "id": "pg" }"#,
        )
        .unwrap();
        let plan = e.plan();
        assert_eq!(
            plan.resolved[0],
            Resolved::Vpc {
                cidr: "10.0.0.0/16".into()
            }
        );
        let Resolved::Subnet(b) = &plan.resolved[2] else {
            panic!()
        };
        assert_eq!(
            (b.cidr.as_str(), b.zone.as_str()),
            ("10.0.1.0/24", "us-west-2b")
        );
        let Resolved::Instance(i) = &plan.resolved[3] else {
            panic!()
        };
        assert_eq!(i.instance_type, "t3.micro");
        assert_eq!(i.subnets, [(SubnetRef::File(1), "us-west-2a".to_owned())]);
        assert_eq!(i.security_groups, [SgRef::DefaultOf(VpcRef::File(0))]);
        let Resolved::Rds(r) = &plan.resolved[4] else {
            panic!()
        };
        assert_eq!(
            (r.engine.as_str(), r.engine_version.as_str(), r.port),
            ("postgres", "16.3", 5432)
        );
        assert_eq!(plan.db_subnet_groups[&0], "main-db-subnets");
        assert_eq!(plan.vpc_subnets[&0], [1, 2]);
    }

    #[test]
    fn the_json_round_trips() {
        let e = estate(
            r#"{ "type": "s3_bucket", "account": "111111111111", "region": "us-west-2",
                 "id": "acme-logs", "tags": { "env": "production" },
                 "attrs": { "versioning": "Enabled", "lifecycle_rules": ["expire"] } },
               { "type": "elb_load_balancer", "account": "111111111111", "region": "us-west-2",
                 "id": "web-alb", "attrs": { "type": "network" } }"#,
        )
        .unwrap();
        let again = EstateFile::from_json(&e.to_json()).unwrap();
        assert_eq!(again, e);
        assert!(e.to_json().contains(r#""type": "network""#));
    }

    #[test]
    fn offline_resources_match_the_expected_counts() {
        let e = estate(
            r#"{ "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "main" },
               { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "a" },
               { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2", "name": "web" },
               { "type": "rds_cluster", "account": "111111111111", "region": "us-west-2", "id": "aurora" },
               { "type": "rds_instance", "account": "111111111111", "region": "us-west-2",
                 "id": "aurora-1", "attrs": { "cluster": "aurora" } },
               { "type": "lambda_layer", "account": "111111111111", "region": "us-west-2",
                 "id": "libs", "attrs": { "versions": 3 } }"#,
        )
        .unwrap();
        let mut counts: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for r in e.offline_resources() {
            *counts
                .entry((r.account_id, r.region, r.resource_type))
                .or_default() += 1;
        }
        assert_eq!(counts, e.expected_counts());
        let key = |t: &str| {
            (
                "111111111111".to_owned(),
                "us-west-2".to_owned(),
                t.to_owned(),
            )
        };
        assert_eq!(counts[&key("vpc")], 2, "the default VPC and main");
        assert_eq!(counts[&key("vpc_subnet")], 5, "four default subnets and a");
        assert_eq!(counts[&key("vpc_security_group")], 2, "two default groups");
        assert_eq!(counts[&key("ec2_volume")], 1, "the root volume");
        assert_eq!(
            counts[&key("rds_snapshot")],
            2,
            "automated snapshots of aurora and aurora-1"
        );
        assert_eq!(counts[&key("lambda_layer")], 3);
    }

    #[test]
    fn offline_resources_look_like_the_scanners_output() {
        let e = estate(
            r#"{ "type": "vpc", "account": "111111111111", "region": "us-west-2", "name": "main" },
               { "type": "vpc_subnet", "account": "111111111111", "region": "us-west-2", "name": "app-a" },
               { "type": "vpc_security_group", "account": "111111111111", "region": "us-west-2",
                 "name": "web", "attrs": { "ingress": ["tcp 443 from 0.0.0.0/0"] } },
               { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
                 "name": "web-server-1", "tags": { "env": "production", "app": "api" },
                 "attrs": { "instance_type": "t3.medium", "security_groups": ["web"] } }"#,
        )
        .unwrap();
        let all = e.offline_resources();
        let web = all
            .iter()
            .find(|r| r.name == "web-server-1" && r.resource_type == "ec2_instance")
            .unwrap();
        assert!(
            web.identifier.starts_with("i-") && web.identifier.len() == 19,
            "{}",
            web.identifier
        );
        assert_eq!(
            web.arn,
            format!(
                "arn:aws:ec2:us-west-2:111111111111:instance/{}",
                web.identifier
            )
        );
        assert_eq!(web.state.as_deref(), Some("running"));
        let tags: Vec<(&str, &str)> = web
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(
            tags,
            [
                ("Name", "web-server-1"),
                ("app", "api"),
                ("env", "production")
            ]
        );
        let kinds: Vec<&str> = web.relations.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["subnet", "vpc", "security_group", "volume"]);
        assert_eq!(web.metadata["instance_type"], "t3.medium");
        assert_eq!(web.metadata["private_ip"], "10.0.0.4");
        let keys: Vec<&String> = web.metadata.keys().collect();
        assert_eq!(
            keys,
            [
                "architecture",
                "availability_zone",
                "ebs_optimized",
                "image_id",
                "instance_type",
                "launch_time",
                "private_ip",
                "root_device_type"
            ]
        );
        let group = all.iter().find(|r| r.name == "web").unwrap();
        assert_eq!(
            group.metadata["ingress"],
            serde_json::json!(["tcp 443 from 0.0.0.0/0"])
        );
        assert_eq!(group.metadata["open_to_world"], true);
        // Deterministic: the same file gives the same resources.
        assert_eq!(e.offline_resources(), all);
    }

    #[test]
    fn the_default_demo_has_the_seeds_scale_and_examples() {
        let started = std::time::Instant::now();
        let demo = EstateFile::default_demo();
        let generated = started.elapsed();
        let declared = demo.declared_counts();
        assert_eq!(declared[&ResourceKind::Ec2Instance], 2500);
        assert_eq!(declared[&ResourceKind::RdsInstance], 150);
        assert_eq!(declared[&ResourceKind::RdsCluster], 9);
        assert_eq!(declared[&ResourceKind::S3Bucket], 430);
        assert_eq!(declared[&ResourceKind::LambdaFunction], 85);
        assert_eq!(declared[&ResourceKind::LambdaAlias], 40);
        assert_eq!(declared[&ResourceKind::Vpc], 15);
        assert_eq!(declared[&ResourceKind::VpcSubnet], 90);
        assert_eq!(declared[&ResourceKind::VpcSecurityGroup], 75);
        let accounts: Vec<(&str, &str)> = demo
            .accounts()
            .iter()
            .map(|a| (a.id.as_str(), a.name.as_str()))
            .collect();
        assert_eq!(
            accounts,
            [
                ("111111111111", "production"),
                ("222222222222", "staging"),
                ("333333333333", "development")
            ]
        );
        let find = |kind: ResourceKind, key: &str| {
            demo.resources()
                .iter()
                .find(|r| r.kind == kind && r.key() == key)
                .unwrap_or_else(|| panic!("{kind} {key} is in the demo"))
        };
        let tags = |r: &ResourceSpec| {
            r.tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let pg = find(ResourceKind::RdsInstance, "pg-instance-main1");
        assert_eq!(
            (pg.account.as_str(), pg.region.as_str()),
            ("111111111111", "us-west-2")
        );
        assert_eq!(tags(pg), "app=main,env=production");
        assert_eq!(pg.state.as_deref(), Some("available"));
        let Attrs::RdsInstance(a) = &pg.attrs else {
            panic!()
        };
        assert_eq!(a.engine.as_deref(), Some("postgres"));
        assert_eq!(a.engine_version.as_deref(), Some("14.7"));
        assert_eq!(a.class.as_deref(), Some("db.r6g.large"));
        assert_eq!(a.multi_az, Some(true));
        let web = find(ResourceKind::Ec2Instance, "web-server-1");
        assert_eq!(
            (web.account.as_str(), web.region.as_str()),
            ("111111111111", "us-west-2")
        );
        assert_eq!(tags(web), "app=api,env=production");
        assert_eq!(web.state.as_deref(), Some("running"));
        let Attrs::Ec2Instance(a) = &web.attrs else {
            panic!()
        };
        assert_eq!(a.instance_type.as_deref(), Some("t3.medium"));
        let production = &demo.accounts()[0].principal;
        assert!(production.allow.contains(&"ec2:StopInstances".to_owned()));
        assert!(production
            .deny
            .contains(&"ec2:TerminateInstances".to_owned()));
        assert!(demo.accounts()[2]
            .principal
            .allow
            .contains(&"ec2:*".to_owned()));
        // Deterministic, and what a scan finds adds up.
        assert_eq!(EstateFile::default_demo(), demo);
        let offline = demo.offline_resources();
        let mut counts: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for r in &offline {
            *counts
                .entry((
                    r.account_id.clone(),
                    r.region.clone(),
                    r.resource_type.clone(),
                ))
                .or_default() += 1;
        }
        assert_eq!(counts, demo.expected_counts());
        // The file reads back as itself.
        assert_eq!(EstateFile::from_json(&demo.to_json()).unwrap(), demo);
        eprintln!(
            "default demo: {} file resources, {} scanned resources, generated in {generated:?}; \
             declared {declared:?}",
            demo.resources().len(),
            offline.len()
        );
        let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
        for r in &offline {
            *by_type.entry(r.resource_type.clone()).or_default() += 1;
        }
        eprintln!("scanned by type: {by_type:?}");
    }

    #[test]
    fn generated_estates_scale() {
        for target in [10_000usize, 100_000] {
            let started = std::time::Instant::now();
            let e = super::super::generate(&super::super::EstateSpec::with_resources(target));
            let offline = e.offline_resources();
            let n = offline.len();
            eprintln!("{target}: {n} resources in {:?}", started.elapsed());
            assert!(
                (n as f64) > target as f64 * 0.85 && (n as f64) < target as f64 * 1.15,
                "{target}: {n}"
            );
            let ids: std::collections::HashSet<(&str, &str, &str)> = offline
                .iter()
                .map(|r| (r.account_id.as_str(), r.region.as_str(), r.arn.as_str()))
                .collect();
            assert_eq!(ids.len(), n, "ARNs are unique");
        }
    }
}
