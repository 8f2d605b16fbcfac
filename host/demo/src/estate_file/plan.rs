//! The plan: every resource of the file with its references resolved and its defaults
//! applied, decided once so that the seeder and the offline resources agree.
//!
//! References between resources are typed indices ([`Ix`]): a `VpcIx` can only have been
//! made for a `vpc` of the file, so code that follows one never meets a subnet where it
//! expected a VPC.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use super::attrs::{
    Attrs, Ec2InstanceAttrs, Ec2SnapshotAttrs, Ec2VolumeAttrs, LambdaAliasAttrs,
    LambdaFunctionAttrs, LambdaLayerAttrs, LoadBalancerAttrs, RdsClusterAttrs, RdsInstanceAttrs,
    RdsSnapshotAttrs, S3BucketAttrs, SecurityGroupAttrs, VpcAttrs, VpcSubnetAttrs,
};
use super::validate::{check_accounts, check_resources, Ctx};
use super::{resolve::resolve, Account, Problem, ResourceKind, ResourceSpec};

/// The index in the file of a resource whose plan is a `K`. Made only by [`Ix::of`], which
/// checks the resource's type, so following it finds a `K` (see [`Plan::get`]).
pub(crate) struct Ix<K> {
    at: usize,
    kind: PhantomData<fn() -> K>,
}

impl<K: Kind> Ix<K> {
    /// The index of `spec`, the `at`-th resource of the file, if it is a `K`.
    pub fn of(at: usize, spec: &ResourceSpec) -> Option<Self> {
        (spec.kind == K::KIND).then_some(Self {
            at,
            kind: PhantomData,
        })
    }
}

impl<K> Ix<K> {
    /// The index in the file.
    pub fn at(self) -> usize {
        self.at
    }
}

// By hand: derives would demand the same traits of `K`.
impl<K> Clone for Ix<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Ix<K> {}
impl<K> PartialEq for Ix<K> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl<K> Eq for Ix<K> {}
impl<K> PartialOrd for Ix<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Ix<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}
impl<K> Hash for Ix<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.at.hash(state);
    }
}
/// Just the number, as the bare indices printed before.
impl<K> fmt::Debug for Ix<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.at.fmt(f)
    }
}

pub(crate) type VpcIx = Ix<VpcPlan>;
pub(crate) type SubnetIx = Ix<SubnetPlan>;
pub(crate) type SgIx = Ix<SgPlan>;
pub(crate) type InstanceIx = Ix<InstancePlan>;
pub(crate) type VolumeIx = Ix<VolumePlan>;
pub(crate) type RdsIx = Ix<RdsPlan>;
pub(crate) type ClusterIx = Ix<ClusterPlan>;
pub(crate) type LayerIx = Ix<LayerPlan>;
pub(crate) type FunctionIx = Ix<FunctionPlan>;

/// A plan type: the resource type it is made for, its attributes and its [`Resolved`] arm.
pub(crate) trait Kind: Sized {
    const KIND: ResourceKind;
    type Attrs;
    fn plan(r: &Resolved) -> Option<&Self>;
    fn plan_mut(r: &mut Resolved) -> Option<&mut Self>;
    fn wrap(self) -> Resolved;
    fn attrs(a: &Attrs) -> Option<&Self::Attrs>;
}

macro_rules! kinds {
    ($($plan:ident => $kind:ident, $arm:ident, $attrs:ident($attrs_ty:ident);)*) => {$(
        impl Kind for $plan {
            const KIND: ResourceKind = ResourceKind::$kind;
            type Attrs = $attrs_ty;
            fn plan(r: &Resolved) -> Option<&Self> {
                match r {
                    Resolved::$arm(p) => Some(p),
                    _ => None,
                }
            }
            fn plan_mut(r: &mut Resolved) -> Option<&mut Self> {
                match r {
                    Resolved::$arm(p) => Some(p),
                    _ => None,
                }
            }
            fn wrap(self) -> Resolved {
                Resolved::$arm(self)
            }
            fn attrs(a: &Attrs) -> Option<&Self::Attrs> {
                match a {
                    Attrs::$attrs(a) => Some(a),
                    _ => None,
                }
            }
        }
    )*};
}

kinds! {
    InstancePlan => Ec2Instance, Instance, Ec2Instance(Ec2InstanceAttrs);
    VolumePlan => Ec2Volume, Volume, Ec2Volume(Ec2VolumeAttrs);
    EbsSnapshotPlan => Ec2Snapshot, EbsSnapshot, Ec2Snapshot(Ec2SnapshotAttrs);
    RdsPlan => RdsInstance, Rds, RdsInstance(RdsInstanceAttrs);
    ClusterPlan => RdsCluster, Cluster, RdsCluster(RdsClusterAttrs);
    RdsSnapshotPlan => RdsSnapshot, RdsSnapshot, RdsSnapshot(RdsSnapshotAttrs);
    BucketPlan => S3Bucket, Bucket, S3Bucket(S3BucketAttrs);
    FunctionPlan => LambdaFunction, Function, LambdaFunction(LambdaFunctionAttrs);
    LayerPlan => LambdaLayer, Layer, LambdaLayer(LambdaLayerAttrs);
    AliasPlan => LambdaAlias, Alias, LambdaAlias(LambdaAliasAttrs);
    VpcPlan => Vpc, Vpc, Vpc(VpcAttrs);
    SubnetPlan => VpcSubnet, Subnet, VpcSubnet(VpcSubnetAttrs);
    SgPlan => VpcSecurityGroup, Sg, VpcSecurityGroup(SecurityGroupAttrs);
    LbPlan => ElbLoadBalancer, Lb, ElbLoadBalancer(LoadBalancerAttrs);
}

/// A VPC a resource lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum VpcRef {
    /// The default VPC AWS creates in every region.
    Default,
    /// A `vpc` of the file.
    File(VpcIx),
}

/// A subnet a resource lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SubnetRef {
    /// The default VPC's subnet in the region's zone with this index.
    Default(usize),
    /// The `vpc_subnet` at this index of the file.
    File(SubnetIx),
}

/// A security group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SgRef {
    /// The `default` group of a VPC.
    DefaultOf(VpcRef),
    /// A `vpc_security_group` of the file.
    File(SgIx),
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
    pub volumes: Vec<(VolumeIx, String)>,
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
    pub attached: Option<(InstanceIx, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SnapshotSource {
    Volume(VolumeIx),
    RootOf(InstanceIx),
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
    pub cluster: Option<ClusterIx>,
    pub replica_of: Option<RdsIx>,
    /// Replicas of this instance, in file order.
    pub replicas: Vec<RdsIx>,
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
    pub members: Vec<RdsIx>,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RdsSnapshotPlan {
    Instance(RdsIx),
    Cluster(ClusterIx),
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
    pub subnets: Vec<SubnetIx>,
    pub security_groups: Vec<SgRef>,
    pub vpc: Option<VpcRef>,
    /// `(layer index, version)`.
    pub layers: Vec<(LayerIx, u32)>,
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
    pub function: FunctionIx,
    pub version: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubnetPlan {
    pub vpc: VpcIx,
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

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VpcPlan {
    pub cidr: String,
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
    Vpc(VpcPlan),
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
    pub vpc_subnets: HashMap<VpcIx, Vec<SubnetIx>>,
    /// The DB subnet group made of each VPC's subnets, for the VPCs databases use.
    pub db_subnet_groups: BTreeMap<VpcIx, String>,
}

impl Plan {
    /// Checks the accounts, then the resources' own fields and names, then resolves every
    /// reference; each step stops at its problems, since the next relies on it.
    pub(super) fn build(
        accounts: &[Account],
        resources: &[ResourceSpec],
    ) -> Result<Plan, Vec<Problem>> {
        let mut ctx = Ctx {
            accounts,
            resources,
            names: HashMap::new(),
            vpc_subnets: HashMap::new(),
            problems: RefCell::new(Vec::new()),
        };
        let mut by_region: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        check_accounts(&mut ctx, &mut by_region);
        ctx.stop_at_problems()?;
        check_resources(&mut ctx, &mut by_region);
        ctx.stop_at_problems()?;
        let resolved = resolve(&mut ctx);
        ctx.stop_at_problems()?;
        let mut lambda_roles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (i, r) in resources.iter().enumerate() {
            if let Resolved::Function(f) = &resolved[i] {
                lambda_roles
                    .entry(r.account.clone())
                    .or_default()
                    .insert(f.role.clone());
            }
        }
        let db_subnet_groups = db_subnet_groups(resources, &resolved);
        Ok(Plan {
            resolved,
            by_region,
            lambda_roles,
            vpc_subnets: ctx.vpc_subnets,
            db_subnet_groups,
        })
    }

    /// The plan of the resource `ix` names.
    pub fn get<K: Kind>(&self, ix: Ix<K>) -> &K {
        // `Ix::of` checked the resource's type, and the resolver makes a `K` for every
        // resource of that type (or reports a problem, and there is no plan).
        K::plan(&self.resolved[ix.at]).expect("an Ix<K> names a resource planned as a K")
    }
}

/// The DB subnet group made of each VPC's subnets, for the VPCs that databases use; named
/// after the VPC, unique per account and region.
fn db_subnet_groups(resources: &[ResourceSpec], resolved: &[Resolved]) -> BTreeMap<VpcIx, String> {
    let mut db_subnet_groups = BTreeMap::new();
    let mut group_names: BTreeSet<(String, String, String)> = BTreeSet::new();
    for r in resolved {
        let vpc = match r {
            Resolved::Rds(x) if x.cluster.is_none() && x.replica_of.is_none() => x.vpc,
            Resolved::Cluster(c) => c.vpc,
            _ => None,
        };
        let Some(VpcRef::File(v)) = vpc else { continue };
        if db_subnet_groups.contains_key(&v) {
            continue;
        }
        let spec = &resources[v.at()];
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
    db_subnet_groups
}

/// `resources[ix]`: the spec of the resource an index names.
impl<K> std::ops::Index<Ix<K>> for [ResourceSpec] {
    type Output = ResourceSpec;
    fn index(&self, ix: Ix<K>) -> &ResourceSpec {
        &self[ix.at]
    }
}

impl<K> std::ops::Index<Ix<K>> for Vec<ResourceSpec> {
    type Output = ResourceSpec;
    fn index(&self, ix: Ix<K>) -> &ResourceSpec {
        &self[ix.at]
    }
}
