//! EC2: instances as fleets of numbered instances or Auto Scaling groups, their data
//! volumes, orphaned volumes, and snapshots.
//!
//! Every draw from the PRNG happens in the same order as it always has: the same spec
//! gives the same estate.

use std::collections::BTreeMap;

use super::super::estate_file::{
    Attrs, Ec2InstanceAttrs, Ec2SnapshotAttrs, Ec2VolumeAttrs, ResourceKind,
};
use super::tables::{Role, APPS, AUTO_SCALED, FLEET_SIZES, ROLES};
use super::{Gen, Place};

/// One fleet: what runs, how many, where, and how it is named and tagged.
struct Fleet<'r> {
    role: &'r Role,
    size: usize,
    app: &'static str,
    subnets: Vec<String>,
    itype: String,
    tags: BTreeMap<String, String>,
    groups: Vec<String>,
    /// Names are `<base>-1`, `<base>-2`, ...
    base: String,
    stopped: bool,
    /// The seed's example fleet (never stopped).
    demo: bool,
}

/// `quota` instances in fleets, then orphaned volumes and snapshots.
pub(super) fn compute(g: &mut Gen, place: &mut Place, mut quota: usize) {
    let stop_chance = match place.env {
        "production" => 0.02,
        "staging" => 0.15,
        _ => 0.3,
    };
    let is_demo_home = place.account.id == "111111111111" && place.region == "us-west-2";
    let mut data_volumes: Vec<(String, bool)> = Vec::new();
    let mut instances: Vec<String> = Vec::new();
    let mut first = true;
    while quota > 0 {
        let fleet = fleet(g, place, quota, first && is_demo_home, stop_chance);
        first = false;
        quota -= fleet.size;
        if AUTO_SCALED.contains(&fleet.role.name) && fleet.role.data.is_empty() {
            push_auto_scaled(g, place, &fleet);
            continue;
        }
        for n in 1..=fleet.size {
            let name = push_instance(g, place, &fleet, n, stop_chance, &mut data_volumes);
            instances.push(name);
        }
    }
    orphaned_volumes(g, place, instances.len(), &mut data_volumes);
    snapshots(g, place, &data_volumes, &instances);
}

/// Draws the next fleet. The seed's example opens production us-west-2: a web-server
/// fleet of t3.mediums tagged exactly env=production, app=api.
fn fleet(g: &mut Gen, place: &Place, quota: usize, demo: bool, stop_chance: f64) -> Fleet<'static> {
    let (role, size, app) = if demo {
        (&ROLES[0], 24.min(quota), "api")
    } else {
        let total_weight: u32 = ROLES.iter().map(|r| r.weight).sum();
        let mut pick = g.rng.borrow_mut().u32(..total_weight);
        let role = ROLES
            .iter()
            .find(|r| {
                if pick < r.weight {
                    true
                } else {
                    pick -= r.weight;
                    false
                }
            })
            .expect("weights cover the range");
        // Stateful roles (with data volumes) run as small clusters.
        let sizes = if role.data.is_empty() {
            FLEET_SIZES
        } else {
            &[1, 2, 3, 3, 3, 4, 5, 6][..]
        };
        let size = (*g.pick(sizes)).min(quota);
        (role, size, *g.pick(APPS))
    };
    let vpc = g.usize(place.vpcs.len());
    let (vpc_name, public, private) = place.vpcs[vpc].clone();
    let subnets = if role.public { public } else { private };
    let itype = if demo {
        "t3.medium"
    } else {
        *g.pick(role.types)
    };
    let tags = if demo {
        BTreeMap::from([
            ("env".to_owned(), "production".to_owned()),
            ("app".to_owned(), "api".to_owned()),
        ])
    } else {
        g.tags(place.env, app)
    };
    let groups: Vec<String> = match role.name {
        "bastion" | "vpn" | "sftp" => vec!["bastion".into()],
        "web-server" | "nginx-proxy" => vec!["web".into()],
        "cache" | "mongo" | "db-host" => vec!["db".into()],
        _ => vec!["app".into()],
    };
    let base = fleet_base(place, role, app, &vpc_name);
    let stopped = !demo && g.chance(stop_chance / 2.0);
    Fleet {
        role,
        size,
        app,
        subnets,
        itype: itype.to_owned(),
        tags,
        groups,
        base,
        stopped,
        demo,
    }
}

/// Fleet names: `role-n`, else `app-role-n`, else `app-role-purpose-n` (the VPC's
/// purpose), else numbered: the first whose `-1` is free (every fleet starts at 1).
fn fleet_base(place: &Place, role: &Role, app: &str, vpc_name: &str) -> String {
    let purpose = vpc_name.rsplit('-').next().unwrap_or("x");
    let taken = |base: &str| {
        place
            .names
            .contains(&(ResourceKind::Ec2Instance, format!("{base}-1")))
    };
    [
        role.name.to_owned(),
        format!("{app}-{}", role.name),
        format!("{app}-{}-{purpose}", role.name),
    ]
    .into_iter()
    .chain((2..).map(|k| format!("{app}-{}-{k}", role.name)))
    .find(|b| !taken(b))
    .expect("some name is free")
}

/// An Auto Scaling group: one `ec2_instance` entry with a count; every instance carries
/// the group's Name.
fn push_auto_scaled(g: &mut Gen, place: &mut Place, fleet: &Fleet) {
    let env_short = &place.env[..place.env.len().min(4)];
    let base = if fleet.role.name == "k8s-node" {
        format!("eks-{env_short}-{}-nodes", fleet.app)
    } else {
        format!("{}-{}", fleet.app, fleet.role.name)
    };
    let name = Gen::free_name(place, ResourceKind::Ec2Instance, &base);
    let mut tags = fleet.tags.clone();
    tags.insert("aws-autoscaling-group".into(), format!("{name}-asg"));
    let spread = fleet.subnets.len().min(fleet.size.max(1));
    g.push(
        place,
        ResourceKind::Ec2Instance,
        name,
        tags,
        Some(if fleet.stopped { "stopped" } else { "running" }),
        Attrs::Ec2Instance(Ec2InstanceAttrs {
            instance_type: Some(fleet.itype.clone()),
            subnets: fleet.subnets[..spread].to_vec(),
            count: Some(fleet.size as u32),
            security_groups: Some(fleet.groups.clone()),
            root_volume_gib: Some(fleet.role.root_gib),
            ..Default::default()
        }),
    );
}

/// The `n`-th instance of a fleet with its data volumes; returns its name.
fn push_instance(
    g: &mut Gen,
    place: &mut Place,
    fleet: &Fleet,
    n: usize,
    stop_chance: f64,
    data_volumes: &mut Vec<(String, bool)>,
) -> String {
    let name = format!("{}-{n}", fleet.base);
    let stopped = !fleet.demo && (fleet.stopped || g.chance(stop_chance / 2.0));
    let mut volumes = Vec::new();
    for (suffix, size_gib, vtype) in fleet.role.data {
        let volume = format!("{name}-{suffix}");
        let mut t = fleet.tags.clone();
        t.remove("owner");
        g.push(
            place,
            ResourceKind::Ec2Volume,
            volume.clone(),
            t,
            None,
            Attrs::Ec2Volume(Ec2VolumeAttrs {
                size_gib: Some(*size_gib),
                volume_type: Some((*vtype).into()),
                iops: (*vtype == "io2").then_some(6000),
                encrypted: Some(place.env == "production" || g.chance(0.5)),
                ..Default::default()
            }),
        );
        volumes.push(volume.clone());
        data_volumes.push((volume, true));
    }
    let subnet = fleet.subnets[(n - 1) % fleet.subnets.len()].clone();
    g.push(
        place,
        ResourceKind::Ec2Instance,
        name.clone(),
        fleet.tags.clone(),
        Some(if stopped { "stopped" } else { "running" }),
        Attrs::Ec2Instance(Ec2InstanceAttrs {
            instance_type: Some(fleet.itype.clone()),
            image_id: None,
            subnet: Some(subnet),
            subnets: Vec::new(),
            count: None,
            security_groups: Some(fleet.groups.clone()),
            volumes,
            root_volume_gib: Some(fleet.role.root_gib),
            root_volume_type: None,
        }),
    );
    name
}

/// Orphans: volumes left behind by instances long gone (one per 25 instances).
fn orphaned_volumes(
    g: &mut Gen,
    place: &mut Place,
    instances: usize,
    data_volumes: &mut Vec<(String, bool)>,
) {
    let orphans = (instances / 25).max(usize::from(instances > 0));
    for k in 0..orphans {
        let name = Gen::free_name(
            place,
            ResourceKind::Ec2Volume,
            &format!("{}-restore-{}", g.pick(APPS), k + 1),
        );
        let app = name.split('-').next().unwrap_or("main").to_owned();
        let tags = g.tags(place.env, &app);
        g.push(
            place,
            ResourceKind::Ec2Volume,
            name.clone(),
            tags,
            None,
            Attrs::Ec2Volume(Ec2VolumeAttrs {
                size_gib: Some(*g.pick(&[50u32, 100, 250, 500])),
                ..Default::default()
            }),
        );
        data_volumes.push((name, false));
    }
}

/// Snapshots: nightly backups of most data volumes, and a few pre-patch snapshots of
/// root volumes.
fn snapshots(
    g: &mut Gen,
    place: &mut Place,
    data_volumes: &[(String, bool)],
    instances: &[String],
) {
    for (volume, _) in data_volumes {
        if g.chance(0.35) {
            let name = format!("{volume}-nightly");
            let mut tags = BTreeMap::new();
            tags.insert("backup".into(), "nightly".into());
            tags.insert("env".into(), place.env.to_owned());
            g.push(
                place,
                ResourceKind::Ec2Snapshot,
                name,
                tags,
                None,
                Attrs::Ec2Snapshot(Ec2SnapshotAttrs {
                    volume: Some(volume.clone()),
                    description: Some(format!("Nightly backup of {volume}")),
                    ..Default::default()
                }),
            );
        }
    }
    let pre_patch = instances.len() / 100;
    for k in 0..pre_patch {
        let instance = instances[(k * 37) % instances.len()].clone();
        let name = Gen::free_name(
            place,
            ResourceKind::Ec2Snapshot,
            &format!("{instance}-pre-patch"),
        );
        let mut tags = BTreeMap::new();
        tags.insert("env".into(), place.env.to_owned());
        tags.insert("purpose".into(), "pre-patch".into());
        g.push(
            place,
            ResourceKind::Ec2Snapshot,
            name,
            tags,
            None,
            Attrs::Ec2Snapshot(Ec2SnapshotAttrs {
                instance: Some(instance.clone()),
                description: Some(format!("Before patching {instance}")),
                ..Default::default()
            }),
        );
    }
}
