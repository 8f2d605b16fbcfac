//! EC2 instances (and fleets), volumes and snapshots.

use std::collections::HashMap;

use super::super::attrs::{Ec2InstanceAttrs, Ec2SnapshotAttrs, Ec2VolumeAttrs};
use super::super::defaults::DEFAULT_IMAGE;
use super::super::plan::{
    EbsSnapshotPlan, InstanceIx, InstancePlan, Ix, Kind, SgRef, SnapshotSource, SubnetRef,
    VolumeIx, VolumePlan, VpcRef,
};
use super::super::validate::{missing, Ctx};
use super::super::{zones, Attrs, ResourceSpec};
use super::{items, named_subnets, resolve_groups, Out};

/// The instance each data volume is attached to, and the device.
pub(super) type Attached = HashMap<VolumeIx, (InstanceIx, String)>;

/// Every `ec2_instance`; returns where the data volumes attach.
pub(super) fn instances(ctx: &Ctx, out: &mut Out) -> Attached {
    let mut attached = Attached::new();
    for (i, r) in ctx.resources.iter().enumerate() {
        let Attrs::Ec2Instance(a) = &r.attrs else {
            continue;
        };
        if let Some(plan) = instance(ctx, out, &mut attached, i, r, a) {
            out.set(i, plan);
        }
    }
    attached
}

fn instance(
    ctx: &Ctx,
    out: &Out,
    attached: &mut Attached,
    i: usize,
    r: &ResourceSpec,
    a: &Ec2InstanceAttrs,
) -> Option<InstancePlan> {
    let count = a.count.unwrap_or(1);
    if !(1..=1000).contains(&count) {
        ctx.problem(
            format!("resources[{i}].attrs.count"),
            "a fleet has 1 to 1000 instances",
        );
        return None;
    }
    if count > 1 && !a.volumes.is_empty() {
        ctx.problem(
            format!("resources[{i}].attrs.volumes"),
            "data volumes attach to one instance; give them to single instances, not to a \
             fleet (`count` > 1)",
        );
        return None;
    }
    let (subnets, vpc) = instance_subnets(ctx, out, i, r, a)?;
    let security_groups = match &a.security_groups {
        Some(list) => {
            let path = format!("resources[{i}].attrs.security_groups");
            resolve_groups(ctx, r, &path, vpc, list)?
        }
        None => vec![SgRef::DefaultOf(vpc)],
    };
    let this = Ix::of(i, r)?;
    let volumes = data_volumes(ctx, attached, i, r, this, &a.volumes);
    Some(InstancePlan {
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
    })
}

/// The subnets (with zones) an instance or fleet goes to, and their VPC: those it names,
/// else the first subnet of the file in its account and region, else the default VPC's
/// first.
#[allow(clippy::type_complexity)]
fn instance_subnets(
    ctx: &Ctx,
    out: &Out,
    i: usize,
    r: &ResourceSpec,
    a: &Ec2InstanceAttrs,
) -> Option<(Vec<(SubnetRef, String)>, VpcRef)> {
    let named = match (&a.subnet, a.subnets.is_empty()) {
        (Some(_), false) => {
            ctx.problem(
                format!("resources[{i}].attrs.subnets"),
                "give `subnet` or `subnets`, not both",
            );
            return None;
        }
        (Some(s), true) => vec![(format!("resources[{i}].attrs.subnet"), s)],
        (None, _) => items(i, "subnets", &a.subnets),
    };
    if !named.is_empty() {
        let path = format!("resources[{i}].attrs.subnets");
        let (subnets, vpc) = named_subnets(ctx, out, r, &named, path, "a fleet")?;
        let subnets = subnets
            .into_iter()
            .map(|(k, p)| (SubnetRef::File(k), p.zone))
            .collect();
        return Some((subnets, vpc.map_or(VpcRef::Default, VpcRef::File)));
    }
    let first = ctx.names_of(r).subnets_order.first().copied();
    Some(match first.and_then(|j| out.get(j).map(|p| (j, p))) {
        Some((j, p)) => (
            vec![(SubnetRef::File(j), p.zone.clone())],
            VpcRef::File(p.vpc),
        ),
        None => {
            let zone = zones(&r.region).expect("regions were checked")[0].clone();
            (vec![(SubnetRef::Default(0), zone)], VpcRef::Default)
        }
    })
}

/// The data volumes of instance `this` with their devices (`/dev/sdf` on); reports
/// missing volumes and volumes attached twice.
fn data_volumes(
    ctx: &Ctx,
    attached: &mut Attached,
    i: usize,
    r: &ResourceSpec,
    this: InstanceIx,
    named: &[String],
) -> Vec<(VolumeIx, String)> {
    let names = ctx.names_of(r);
    let mut volumes = Vec::new();
    for (j, v) in named.iter().enumerate() {
        let path = format!("resources[{i}].attrs.volumes[{j}]");
        let Some(&k) = names.volumes.get(v) else {
            let msg = missing("ec2_volume", v, r, names.volumes.keys());
            ctx.problem(path, msg);
            continue;
        };
        if j >= 10 {
            ctx.problem(path, "at most 10 data volumes per instance");
            continue;
        }
        let device = format!("/dev/sd{}", (b'f' + j as u8) as char);
        if let Some((other, _)) = attached.insert(k, (this, device.clone())) {
            let msg = format!(
                "volume `{v}` is already attached to `{}`",
                ctx.resources[other.at()].key()
            );
            ctx.problem(path, msg);
            continue;
        }
        volumes.push((k, device));
    }
    volumes
}

/// Every `ec2_volume`, in the zone of the instance it is attached to by default.
pub(super) fn volumes(ctx: &Ctx, out: &mut Out, attached: &Attached) {
    for (i, r) in ctx.resources.iter().enumerate() {
        let Attrs::Ec2Volume(a) = &r.attrs else {
            continue;
        };
        let Some(this) = Ix::of(i, r) else { continue };
        let attached = attached.get(&this).cloned();
        let instance_zone = attached
            .as_ref()
            .and_then(|(k, _)| out.get(*k))
            .map(|p| p.subnets[0].1.clone());
        if let Some(plan) = volume(ctx, i, r, a, attached, instance_zone) {
            out.set(i, plan);
        }
    }
}

fn volume(
    ctx: &Ctx,
    i: usize,
    r: &ResourceSpec,
    a: &Ec2VolumeAttrs,
    attached: Option<(InstanceIx, String)>,
    instance_zone: Option<String>,
) -> Option<VolumePlan> {
    let region_zones = zones(&r.region).expect("regions were checked");
    let path = |f: &str| format!("resources[{i}].attrs.{f}");
    let zone = match (&a.availability_zone, instance_zone) {
        (Some(z), _) if !region_zones.contains(z) => {
            ctx.problem(
                path("availability_zone"),
                format!("`{z}` is not a zone of {}", r.region),
            );
            return None;
        }
        (Some(z), Some(iz)) if *z != iz => {
            ctx.problem(
                path("availability_zone"),
                format!("the volume is in {z}, but the instance it is attached to is in {iz}"),
            );
            return None;
        }
        (Some(z), _) => z.clone(),
        (None, Some(iz)) => iz,
        (None, None) => region_zones[0].clone(),
    };
    let volume_type = a.volume_type.clone().unwrap_or_else(|| "gp3".into());
    if !["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"].contains(&volume_type.as_str()) {
        ctx.problem(
            path("volume_type"),
            format!("`{volume_type}` is not an EBS volume type (gp3, gp2, io2, io1, st1, sc1)"),
        );
        return None;
    }
    if ["io1", "io2"].contains(&volume_type.as_str()) && a.iops.is_none() {
        ctx.problem(path("iops"), format!("{volume_type} volumes need `iops`"));
        return None;
    }
    Some(VolumePlan {
        size_gib: a.size_gib.unwrap_or(100).max(1),
        volume_type,
        iops: a.iops,
        encrypted: a.encrypted.unwrap_or(false),
        zone,
        attached,
    })
}

/// An `ec2_snapshot`: of a data volume, or of a single instance's root volume.
pub(super) fn snapshot(ctx: &Ctx, out: &mut Out, i: usize, r: &ResourceSpec, a: &Ec2SnapshotAttrs) {
    let names = ctx.names_of(r);
    let path = format!("resources[{i}].attrs");
    let source = match (&a.volume, &a.instance) {
        (Some(v), None) => match names.volumes.get(v) {
            Some(&j) => SnapshotSource::Volume(j),
            None => {
                let msg = missing("ec2_volume", v, r, names.volumes.keys());
                ctx.problem(format!("{path}.volume"), msg);
                return;
            }
        },
        (None, Some(n)) => match names.instances.get(n) {
            Some(&j) => {
                let attrs = InstancePlan::attrs(&ctx.resources[j.at()].attrs);
                if attrs.is_some_and(|x| x.count.unwrap_or(1) > 1) {
                    ctx.problem(
                        format!("{path}.instance"),
                        format!("`{n}` is a fleet (`count` > 1); snapshot a single instance"),
                    );
                    return;
                }
                SnapshotSource::RootOf(j)
            }
            None => {
                let msg = missing("ec2_instance", n, r, names.instances.keys());
                ctx.problem(format!("{path}.instance"), msg);
                return;
            }
        },
        _ => {
            ctx.problem(
                path,
                "an ec2_snapshot needs exactly one of `volume` (an ec2_volume) and `instance` \
                 (an ec2_instance, for its root volume)",
            );
            return;
        }
    };
    let of = match source {
        SnapshotSource::Volume(j) => ctx.resources[j.at()].key(),
        SnapshotSource::RootOf(j) => ctx.resources[j.at()].key(),
    };
    out.set(
        i,
        EbsSnapshotPlan {
            description: a
                .description
                .clone()
                .unwrap_or_else(|| format!("Backup of {of}")),
            source,
        },
    );
}
