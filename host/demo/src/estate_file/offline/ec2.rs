//! EC2 instances (with their root volumes), volumes and snapshots.

use serde_json::json;

use super::super::plan::{EbsSnapshotPlan, InstancePlan, SnapshotSource, VolumePlan};
use super::{ec2_time, rel, tags_of, uuid_of, Region};
use crate::resource::Resource;

/// Each instance of an `ec2_instance` (a fleet has several) and its root volume.
pub(super) fn instance(r: &Region, i: usize, x: &InstancePlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    let key = spec.key();
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
            relations.push(rel("volume", r.ec2_arn("volume", &r.ids[&v.at()])));
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
            tags_of(Some(key), &spec.tags),
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
            tags_of(Some(key), &spec.tags),
            vec![rel("instance", r.ec2_arn("instance", id))],
            meta,
        ));
    }
}

/// A data volume.
pub(super) fn volume(r: &Region, i: usize, v: &VolumePlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    let key = spec.key();
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
        .map(|(k, _)| rel("instance", r.ec2_arn("instance", &r.ids[&k.at()])))
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
        tags_of(Some(key), &spec.tags),
        relations,
        meta,
    ));
}

/// A snapshot of a data volume or of an instance's root volume.
pub(super) fn snapshot(r: &Region, i: usize, s: &EbsSnapshotPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    let key = spec.key();
    let id = r.ids[&i].clone();
    let (volume, size, encrypted) = match s.source {
        SnapshotSource::Volume(v) => {
            let p = r.estate.plan.get(v);
            (r.ids[&v.at()].clone(), p.size_gib, p.encrypted)
        }
        SnapshotSource::RootOf(k) => {
            let p = r.estate.plan.get(k);
            (r.root_volumes[&k.at()].clone(), p.root_gib, false)
        }
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
        tags_of(Some(key), &spec.tags),
        vec![rel("snapshot_of", r.ec2_arn("volume", &volume))],
        meta,
    ));
}
