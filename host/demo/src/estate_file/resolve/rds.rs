//! RDS clusters, DB instances (standalone, read replicas, cluster members) and snapshots.

use super::super::attrs::{RdsClusterAttrs, RdsInstanceAttrs, RdsSnapshotAttrs};
use super::super::check::stable_hash;
use super::super::defaults::{default_engine_version, engine_port, RDS_ENGINES};
use super::super::plan::{
    ClusterIx, ClusterPlan, Ix, Kind, RdsIx, RdsPlan, RdsSnapshotPlan, SgRef, VpcRef,
};
use super::super::validate::{missing, Ctx};
use super::super::{zones, Attrs, ResourceSpec};
use super::{resolve_groups, Out};

/// Every `rds_cluster`; members join them in [`instances`].
pub(super) fn clusters(ctx: &Ctx, out: &mut Out) {
    for (i, r) in ctx.resources.iter().enumerate() {
        let Attrs::RdsCluster(a) = &r.attrs else {
            continue;
        };
        if let Some(plan) = cluster(ctx, i, r, a) {
            out.set(i, plan);
        }
    }
}

fn cluster(ctx: &Ctx, i: usize, r: &ResourceSpec, a: &RdsClusterAttrs) -> Option<ClusterPlan> {
    let engine = a
        .engine
        .clone()
        .unwrap_or_else(|| "aurora-postgresql".into());
    if !engine.starts_with("aurora") {
        ctx.problem(
            format!("resources[{i}].attrs.engine"),
            format!("`{engine}` is not a cluster engine (aurora-postgresql, aurora-mysql)"),
        );
        return None;
    }
    let (vpc, security_groups) = network(ctx, r, i, a.vpc.as_deref(), &a.security_groups)?;
    Some(ClusterPlan {
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
    })
}

/// Every `rds_instance`, joining its cluster as it goes.
pub(super) fn instances(ctx: &Ctx, out: &mut Out) {
    for (i, r) in ctx.resources.iter().enumerate() {
        let Attrs::RdsInstance(a) = &r.attrs else {
            continue;
        };
        let Some(plan) = instance(ctx, out, i, r, a) else {
            continue;
        };
        let cluster = plan.cluster;
        out.set(i, plan);
        if let (Some(c), Some(this)) = (cluster, Ix::of(i, r)) {
            if let Some(c) = out.get_mut(c) {
                c.members.push(this);
            }
        }
    }
}

/// What a DB instance belongs to: a cluster, a source it replicates, or neither.
enum Role<'a> {
    Member(ClusterIx, &'a ClusterPlan),
    Replica(RdsIx, &'a RdsInstanceAttrs),
    Standalone,
}

fn instance(
    ctx: &Ctx,
    out: &Out,
    i: usize,
    r: &ResourceSpec,
    a: &RdsInstanceAttrs,
) -> Option<RdsPlan> {
    let role = role(ctx, out, i, r, a)?;
    let engine = engine(ctx, i, a, &role)?;
    let (vpc, security_groups) = match &role {
        Role::Member(_, c) => (c.vpc, c.security_groups.clone()),
        Role::Replica(..) => {
            replica_leaves_out_its_own(ctx, i, a)?;
            (None, Vec::new())
        }
        Role::Standalone => network(ctx, r, i, a.vpc.as_deref(), &a.security_groups)?,
    };
    let region_zones = zones(&r.region).expect("regions were checked");
    let zone = region_zones[stable_hash(r.key()) as usize % region_zones.len()].clone();
    let engine_version = match &role {
        Role::Member(_, c) => Some(c.engine_version.clone()),
        Role::Replica(_, sa) => sa.engine_version.clone(),
        Role::Standalone => a.engine_version.clone(),
    }
    .unwrap_or_else(|| default_engine_version(&engine).into());
    let source_class = match &role {
        Role::Replica(_, sa) => sa.class.clone(),
        _ => None,
    };
    let (cluster, replica_of) = match role {
        Role::Member(c, _) => (Some(c), None),
        Role::Replica(s, _) => (None, Some(s)),
        Role::Standalone => (None, None),
    };
    Some(RdsPlan {
        engine_version,
        class: a
            .class
            .clone()
            .or(source_class)
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
    })
}

/// The cluster or source an instance names, checked; `None` if reported.
fn role<'a>(
    ctx: &'a Ctx,
    out: &'a Out,
    i: usize,
    r: &ResourceSpec,
    a: &RdsInstanceAttrs,
) -> Option<Role<'a>> {
    let names = ctx.names_of(r);
    let path = |f: &str| format!("resources[{i}].attrs.{f}");
    let cluster = match &a.cluster {
        Some(c) => match names.clusters.get(c) {
            Some(&j) => Some(j),
            None => {
                let msg = missing("rds_cluster", c, r, names.clusters.keys());
                ctx.problem(path("cluster"), msg);
                return None;
            }
        },
        None => None,
    };
    let replica_of = match &a.replica_of {
        Some(s) => match names.rds.get(s) {
            Some(&j) if j.at() == i => {
                ctx.problem(path("replica_of"), "an instance cannot replicate itself");
                return None;
            }
            Some(&j) => Some(j),
            None => {
                let msg = missing("rds_instance", s, r, names.rds.keys());
                ctx.problem(path("replica_of"), msg);
                return None;
            }
        },
        None => None,
    };
    match (cluster, replica_of) {
        (Some(_), Some(_)) => {
            ctx.problem(
                path("replica_of"),
                "a cluster member cannot also be a read replica; leave out `cluster` or \
                 `replica_of`",
            );
            None
        }
        // A cluster with a problem of its own has no plan: nothing more to say.
        (Some(c), None) => out.get(c).map(|plan| Role::Member(c, plan)),
        (None, Some(s)) => {
            let source = &ctx.resources[s.at()];
            let sa = RdsPlan::attrs(&source.attrs)?;
            if sa.replica_of.is_some() || sa.cluster.is_some() {
                ctx.problem(
                    path("replica_of"),
                    format!(
                        "`{}` is itself a replica or a cluster member; replicate a standalone \
                         instance",
                        source.key()
                    ),
                );
                return None;
            }
            Some(Role::Replica(s, sa))
        }
        (None, None) => Some(Role::Standalone),
    }
}

/// The engine: the cluster's for members, the source's for replicas, else the file's
/// (PostgreSQL by default).
fn engine(ctx: &Ctx, i: usize, a: &RdsInstanceAttrs, role: &Role) -> Option<String> {
    let path = |f: &str| format!("resources[{i}].attrs.{f}");
    let engine = match (role, &a.engine) {
        (Role::Member(_, c), Some(e)) if *e != c.engine => {
            ctx.problem(
                path("engine"),
                format!(
                    "members of `{}` run {}, not {e}",
                    a.cluster.as_deref().unwrap_or(""),
                    c.engine
                ),
            );
            return None;
        }
        (Role::Member(_, c), _) => c.engine.clone(),
        (Role::Replica(_, sa), e) => {
            let se = sa.engine.clone().unwrap_or_else(|| "postgres".into());
            match e {
                Some(e) if *e != se => {
                    ctx.problem(
                        path("engine"),
                        format!("a replica runs its source's engine ({se}), not {e}"),
                    );
                    return None;
                }
                _ => se,
            }
        }
        (Role::Standalone, e) => e.clone().unwrap_or_else(|| "postgres".into()),
    };
    if !RDS_ENGINES.contains(&engine.as_str()) {
        ctx.problem(
            path("engine"),
            format!(
                "`{engine}` is not an RDS engine ({})",
                RDS_ENGINES.join(", ")
            ),
        );
        return None;
    }
    if !matches!(role, Role::Member(..)) && engine.starts_with("aurora") {
        ctx.problem(
            path("cluster"),
            format!("{engine} instances belong to an rds_cluster; name it in `cluster`"),
        );
        return None;
    }
    Some(engine)
}

/// A read replica takes its network, storage and settings from its source: reports the
/// first the file gives it anyway.
fn replica_leaves_out_its_own(ctx: &Ctx, i: usize, a: &RdsInstanceAttrs) -> Option<()> {
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
    match own.iter().find(|(_, set)| *set) {
        Some((field, _)) => {
            ctx.problem(
                format!("resources[{i}].attrs.{field}"),
                format!("a read replica takes `{field}` from its source; leave it out"),
            );
            None
        }
        None => Some(()),
    }
}

/// Gives every source its replicas, in file order, once every instance has a plan.
pub(super) fn link_replicas(ctx: &Ctx, out: &mut Out) {
    for (i, r) in ctx.resources.iter().enumerate() {
        let Some(this) = Ix::<RdsPlan>::of(i, r) else {
            continue;
        };
        let Some(source) = out.get(this).and_then(|p| p.replica_of) else {
            continue;
        };
        if let Some(s) = out.get_mut(source) {
            s.replicas.push(this);
        }
    }
}

/// The VPC (named, else the file's first, else none: the default VPC) and groups of a
/// standalone instance or a cluster; the VPC needs subnets for a DB subnet group.
fn network(
    ctx: &Ctx,
    r: &ResourceSpec,
    i: usize,
    vpc: Option<&str>,
    groups: &[String],
) -> Option<(Option<VpcRef>, Vec<SgRef>)> {
    let vpc = match vpc {
        Some(v) => Some(VpcRef::File(super::named_vpc(ctx, i, r, v)?)),
        None => ctx.names_of(r).vpc_order.first().map(|&j| VpcRef::File(j)),
    };
    if let Some(VpcRef::File(v)) = vpc {
        if ctx.vpc_subnets.get(&v).is_none_or(|s| s.is_empty()) {
            ctx.problem(
                format!("resources[{i}].attrs.vpc"),
                format!(
                    "VPC `{}` has no subnets in the file, so it cannot hold a DB subnet group",
                    ctx.resources[v.at()].key()
                ),
            );
            return None;
        }
    }
    let vpc_or_default = vpc.unwrap_or(VpcRef::Default);
    let path = format!("resources[{i}].attrs.security_groups");
    let mut groups = resolve_groups(ctx, r, &path, vpc_or_default, groups)?;
    if groups.is_empty() {
        // As AWS does: the VPC's default group.
        groups.push(SgRef::DefaultOf(vpc_or_default));
    }
    Some((vpc, groups))
}

/// An `rds_snapshot`: of a standalone instance or replica, or of a cluster.
pub(super) fn snapshot(ctx: &Ctx, out: &mut Out, i: usize, r: &ResourceSpec, a: &RdsSnapshotAttrs) {
    let names = ctx.names_of(r);
    let path = format!("resources[{i}].attrs");
    let plan = match (&a.instance, &a.cluster) {
        (Some(n), None) => match names.rds.get(n) {
            Some(&j) => {
                let attrs = RdsPlan::attrs(&ctx.resources[j.at()].attrs);
                if attrs.is_some_and(|x| x.cluster.is_some()) {
                    ctx.problem(
                        format!("{path}.instance"),
                        format!(
                            "`{n}` is a cluster member; snapshot its cluster with `cluster` \
                             instead"
                        ),
                    );
                    return;
                }
                RdsSnapshotPlan::Instance(j)
            }
            None => {
                let msg = missing("rds_instance", n, r, names.rds.keys());
                ctx.problem(format!("{path}.instance"), msg);
                return;
            }
        },
        (None, Some(c)) => match names.clusters.get(c) {
            Some(&j) => RdsSnapshotPlan::Cluster(j),
            None => {
                let msg = missing("rds_cluster", c, r, names.clusters.keys());
                ctx.problem(format!("{path}.cluster"), msg);
                return;
            }
        },
        _ => {
            ctx.problem(
                path,
                "an rds_snapshot needs exactly one of `instance` (an rds_instance) and \
                 `cluster` (an rds_cluster)",
            );
            return;
        }
    };
    out.set(i, plan);
}
