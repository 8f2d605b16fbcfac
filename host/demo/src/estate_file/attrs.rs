//! The type-specific attributes of each resource type, as the file spells them, and the
//! raw JSON shapes they are read from.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Account, ResourceKind};

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
    pub(super) fn parse(
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

    pub(super) fn to_value(&self) -> Value {
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
pub(super) struct RawResource {
    #[serde(rename = "type")]
    pub kind: String,
    pub account: String,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attrs: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEstate {
    pub accounts: Vec<Account>,
    #[serde(default)]
    pub resources: Vec<RawResource>,
}

#[derive(Serialize)]
pub(super) struct RawEstateOut<'a> {
    pub accounts: &'a [Account],
    pub resources: Vec<RawResource>,
}
