//! RDS: DB subnet groups (step 3), standalone instances and clusters (step 4), cluster
//! members and read replicas (step 5), snapshots (step 6), stopping (last).

use std::collections::BTreeMap;

use super::super::estate_file::{
    ClusterPlan, RdsPlan, RdsSnapshotPlan, Resolved, ResourceKind, ResourceSpec, SgRef, VpcIx,
    VpcRef,
};
use super::{p, Ids, Params, Site, Task};

/// Creates the DB subnet group of every VPC of the region that databases use; each task
/// returns `(VPC, group name)`.
pub(super) fn subnet_groups(site: &Site, ids: &Ids) -> Vec<Task<(VpcIx, String)>> {
    let res = site.shared.estate.resources();
    let plan = site.shared.plan();
    let mut tasks: Vec<Task<(VpcIx, String)>> = Vec::new();
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
                ids.id(*s).clone(),
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
            .map(|_| (vpc, name))
        }));
    }
    tasks
}

/// Creates a standalone instance (not a member, not a replica).
pub(super) fn instance(
    site: Site,
    ids: &Ids,
    r: &ResourceSpec,
    x: &RdsPlan,
) -> Task<Option<(usize, String)>> {
    let what = format!("{} {}", r.kind, r.key());
    let params = instance_params(&site, ids, r, x);
    Box::pin(async move {
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
    })
}

/// Creates a cluster (its members come in step 5).
pub(super) fn cluster(
    site: Site,
    ids: &Ids,
    r: &ResourceSpec,
    c: &ClusterPlan,
) -> Task<Option<(usize, String)>> {
    let what = format!("{} {}", r.kind, r.key());
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
    network_params(&mut params, ids, c.vpc, &c.security_groups);
    rds_tags(&mut params, &r.tags);
    Box::pin(async move {
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
    })
}

/// Creates the members of a cluster, in order: the first becomes the writer.
pub(super) fn members(site: Site, ids: &Ids, c: &ClusterPlan) -> Task<()> {
    let estate = &site.shared.estate;
    let members: Vec<(String, Params)> = c
        .members
        .iter()
        .map(|&m| {
            let r = &estate.resources()[m];
            (
                format!("rds_instance {}", r.key()),
                instance_params(&site, ids, r, estate.plan().get(m)),
            )
        })
        .collect();
    Box::pin(async move {
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
    })
}

/// Creates a read replica of its source (made in step 4).
pub(super) fn replica(site: Site, r: &ResourceSpec, x: &RdsPlan) -> Option<Task<()>> {
    let what = format!("{} {}", r.kind, r.key());
    let source = site.shared.estate.resources()[x.replica_of?].key();
    let mut params = p(&[
        ("DBInstanceIdentifier", r.key()),
        ("SourceDBInstanceIdentifier", source),
        ("DBInstanceClass", &x.class),
        ("AvailabilityZone", &x.zone),
        ("MultiAZ", bool_text(x.multi_az)),
        ("PubliclyAccessible", bool_text(x.public)),
    ]);
    rds_tags(&mut params, &r.tags);
    Some(Box::pin(async move {
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
    }))
}

/// Creates a manual snapshot of an instance or a cluster.
pub(super) fn snapshot(
    site: Site,
    r: &ResourceSpec,
    s: &RdsSnapshotPlan,
) -> Task<Option<(usize, String)>> {
    let what = format!("{} {}", r.kind, r.key());
    let res = site.shared.estate.resources();
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
    Box::pin(async move {
        site.query(ResourceKind::RdsSnapshot, &what, "rds", action, &params)
            .await?;
        site.created(ResourceKind::RdsSnapshot, 1);
        Ok(None)
    })
}

/// Stops the instances the file wants stopped; last, since a stopped source cannot be
/// snapshotted or replicated.
pub(super) fn stop(site: &Site, indices: &[usize]) -> Vec<Task<()>> {
    let plan = site.shared.plan();
    let mut tasks: Vec<Task<()>> = Vec::new();
    for &i in indices {
        let Resolved::Rds(x) = &plan.resolved[i] else {
            continue;
        };
        if !x.stopped {
            continue;
        }
        let site = site.clone();
        let id = site.shared.estate.resources()[i].key().to_owned();
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
    tasks
}

/// The DB subnet group of the VPC (the default VPC needs none) and the security groups of
/// an instance or a cluster.
fn network_params(params: &mut Params, ids: &Ids, vpc: Option<VpcRef>, groups: &[SgRef]) {
    if let Some(VpcRef::File(v)) = vpc {
        params.push(("DBSubnetGroupName".into(), ids.db_subnet_groups[&v].clone()));
    }
    for (n, g) in groups.iter().enumerate() {
        params.push((
            format!("VpcSecurityGroupIds.VpcSecurityGroupId.{}", n + 1),
            ids.group(*g),
        ));
    }
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

/// CreateDBInstance's parameters for a standalone instance or a cluster member.
fn instance_params(site: &Site, ids: &Ids, r: &ResourceSpec, x: &RdsPlan) -> Params {
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
            site.shared.estate.resources()[c].key().into(),
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
            network_params(&mut params, ids, x.vpc, &x.security_groups);
        }
    }
    rds_tags(&mut params, &r.tags);
    params
}
