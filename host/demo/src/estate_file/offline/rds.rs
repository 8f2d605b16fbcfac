//! RDS DB instances, clusters and snapshots, automated ones included.

use std::collections::BTreeSet;

use serde_json::json;

use super::super::plan::{ClusterIx, ClusterPlan, Ix, RdsIx, RdsPlan, RdsSnapshotPlan, VpcRef};
use super::{hex_of, micro_time, rel, snapshot_stamp, tags_of, Region};
use crate::resource::{Resource, Tag};

/// A DB instance and, unless it is a replica, its automated snapshot.
pub(super) fn instance(r: &Region, i: usize, x: &RdsPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    if let Some(this) = Ix::of(i, spec) {
        out.extend(rds_instance_resources(
            r,
            this,
            x,
            tags_of(None, &spec.tags),
        ));
    }
}

/// A cluster and its automated snapshot.
pub(super) fn cluster(r: &Region, i: usize, c: &ClusterPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    if let Some(this) = Ix::of(i, spec) {
        out.extend(cluster_resources(r, this, c, tags_of(None, &spec.tags)));
    }
}

/// A manual snapshot.
pub(super) fn snapshot(r: &Region, i: usize, s: &RdsSnapshotPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    out.push(rds_snapshot_resource(
        r,
        spec.key(),
        s,
        "manual",
        tags_of(None, &spec.tags),
    ));
}

fn rds_arn(r: &Region, kind: &str, id: &str) -> String {
    r.arn("rds", &format!("{kind}:{id}"))
}

/// The instance (with its network and storage as the emulator reports them: replicas
/// copy their source's, members their cluster's) and its automated snapshot.
fn rds_instance_resources(r: &Region, this: RdsIx, x: &RdsPlan, tags: Vec<Tag>) -> Vec<Resource> {
    let res = &r.estate.resources;
    let plan = &r.estate.plan;
    let key = res[this].key();
    // Network and storage come from the source for replicas.
    let base = match x.replica_of {
        Some(s) => plan.get(s),
        None => x,
    };
    let cluster = x.cluster.map(|c| (c, plan.get(c)));
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
                let vpc = r.ids[&v.at()].clone();
                relations.push(rel("vpc", r.ec2_arn("vpc", &vpc)));
                for s in &plan.vpc_subnets[&v] {
                    relations.push(rel("subnet", r.ec2_arn("subnet", &r.ids[&s.at()])));
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
            &RdsSnapshotPlan::Instance(this),
            "automated",
            Vec::new(),
        ));
    }
    out
}

fn cluster_resources(
    r: &Region,
    this: ClusterIx,
    c: &ClusterPlan,
    tags: Vec<Tag>,
) -> Vec<Resource> {
    let res = &r.estate.resources;
    let plan = &r.estate.plan;
    let key = res[this].key();
    let arn = rds_arn(r, "cluster", key);
    let mut relations = Vec::new();
    let mut members = Vec::new();
    let mut zones = BTreeSet::new();
    for (n, &m) in c.members.iter().enumerate() {
        relations.push(rel("instance", rds_arn(r, "db", res[m].key())));
        members.push(json!({ "id": res[m].key(), "writer": n == 0 }));
        zones.insert(plan.get(m).zone.clone());
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
            &RdsSnapshotPlan::Cluster(this),
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
            let x = plan.get(k);
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
            let c = plan.get(k);
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
