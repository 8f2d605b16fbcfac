//! EC2: instances launched in groups (step 4) and then named, tagged and given their
//! data volumes (step 5); volumes (step 4); snapshots and stopping (step 6).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::estate_file::{
    EbsSnapshotPlan, EstateFile, InstanceIx, InstancePlan, Ix, Resolved, ResourceKind,
    ResourceSpec, SnapshotSource, VolumePlan,
};
use super::{p, tag_spec, Ids, Params, SeedError, Site, Task};
use crate::aws::xml::texts;
use crate::aws::QueryError;

/// Records what the launches made: each entry's instances with their root volumes, the
/// first of them as the entry's id.
pub(super) fn record_launched(ids: &mut Ids, launched: Vec<Launched>) {
    for (i, members) in launched.into_iter().flatten() {
        let Some((instance, root)) = members.first().cloned() else {
            continue;
        };
        ids.fleets.entry(i).or_default().extend(members);
        ids.by_index.entry(i).or_insert(instance);
        ids.root_volumes.entry(i).or_insert(root);
    }
}

/// Creates a data volume; the task returns `(resource index, volume id)`.
pub(super) fn volume(
    site: Site,
    i: usize,
    r: &ResourceSpec,
    v: &VolumePlan,
) -> Task<Option<(usize, String)>> {
    let what = format!("{} {}", r.kind, r.key());
    let mut params = p(&[
        ("AvailabilityZone", &v.zone),
        ("Size", &v.size_gib.to_string()),
        ("VolumeType", &v.volume_type),
        ("Encrypted", if v.encrypted { "true" } else { "false" }),
    ]);
    if let Some(iops) = v.iops {
        params.push(("Iops".into(), iops.to_string()));
    }
    tag_spec(&mut params, 1, "volume", r.name.as_deref(), &r.tags);
    Box::pin(async move {
        let body = site
            .query(
                ResourceKind::Ec2Volume,
                &what,
                "ec2",
                "CreateVolume",
                &params,
            )
            .await?;
        site.created(ResourceKind::Ec2Volume, 1);
        Ok(Some((
            i,
            site.id_of(&body, "volumeId", &what, "CreateVolume")?,
        )))
    })
}

/// Attaches an instance's data volumes.
pub(super) fn attachments(
    site: &Site,
    ids: &Ids,
    i: usize,
    volumes: &[(super::super::estate_file::VolumeIx, String)],
) -> Vec<Task<()>> {
    let res = site.shared.estate.resources();
    let mut tasks: Vec<Task<()>> = Vec::new();
    for (v, device) in volumes {
        let params = p(&[
            ("VolumeId", ids.id(*v)),
            ("InstanceId", &ids.by_index[&i]),
            ("Device", device),
        ]);
        let site = site.clone();
        let what = format!("attaching {} to {}", res[*v].key(), res[i].key());
        tasks.push(Box::pin(async move {
            site.query(
                ResourceKind::Ec2Volume,
                &what,
                "ec2",
                "AttachVolume",
                &params,
            )
            .await
            .map(|_| ())
        }));
    }
    tasks
}

/// Names and tags: one CreateTags per entry (and 500 instances) for its instances and
/// their root volumes, Name first, then the tags in key order.
pub(super) fn tag_instances(site: &Site, indices: &[usize], ids: &Ids) -> Vec<Task<()>> {
    let res = site.shared.estate.resources();
    let plan = site.shared.plan();
    let mut tasks: Vec<Task<()>> = Vec::new();
    for &i in indices {
        let Resolved::Instance(_) = &plan.resolved[i] else {
            continue;
        };
        let r = &res[i];
        for chunk in ids.fleets[&i].chunks(500) {
            let mut params = Params::new();
            for (n, (instance, root)) in chunk.iter().enumerate() {
                params.push((format!("ResourceId.{}", 2 * n + 1), instance.clone()));
                params.push((format!("ResourceId.{}", 2 * n + 2), root.clone()));
            }
            let all_tags = std::iter::once(("Name", r.key()))
                .chain(r.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            for (n, (k, v)) in all_tags.enumerate() {
                params.push((format!("Tag.{}.Key", n + 1), k.to_owned()));
                params.push((format!("Tag.{}.Value", n + 1), v.to_owned()));
            }
            let site = site.clone();
            let what = format!("tags of ec2_instance {}", r.key());
            tasks.push(Box::pin(async move {
                site.query(
                    ResourceKind::Ec2Instance,
                    &what,
                    "ec2",
                    "CreateTags",
                    &params,
                )
                .await
                .map(|_| ())
            }));
        }
    }
    tasks
}

/// Snapshots a data volume or an instance's root volume; the task returns
/// `(resource index, snapshot id)`.
pub(super) fn snapshot(
    site: Site,
    ids: &Ids,
    i: usize,
    r: &ResourceSpec,
    s: &EbsSnapshotPlan,
) -> Task<Option<(usize, String)>> {
    let what = format!("{} {}", r.kind, r.key());
    let volume = match s.source {
        SnapshotSource::Volume(v) => ids.id(v).clone(),
        SnapshotSource::RootOf(k) => ids.root_volumes[&k.at()].clone(),
    };
    let mut params = p(&[("VolumeId", &volume), ("Description", &s.description)]);
    tag_spec(&mut params, 1, "snapshot", r.name.as_deref(), &r.tags);
    Box::pin(async move {
        let body = site
            .query(
                ResourceKind::Ec2Snapshot,
                &what,
                "ec2",
                "CreateSnapshot",
                &params,
            )
            .await?;
        site.created(ResourceKind::Ec2Snapshot, 1);
        let id = site.id_of(&body, "snapshotId", &what, "CreateSnapshot")?;
        Ok(Some((i, id)))
    })
}

/// Stops the instances the file wants stopped, 200 per call.
pub(super) fn stop(
    site: &Site,
    indices: &[usize],
    ids: &Ids,
) -> Vec<Task<Option<(usize, String)>>> {
    let plan = site.shared.plan();
    let mut stop = Vec::new();
    for &i in indices {
        if let Resolved::Instance(x) = &plan.resolved[i] {
            if x.stopped {
                stop.extend(ids.fleets[&i].iter().map(|(instance, _)| instance.clone()));
            }
        }
    }
    let mut tasks: Vec<Task<Option<(usize, String)>>> = Vec::new();
    for chunk in stop.chunks(200) {
        let mut params = Params::new();
        for (n, id) in chunk.iter().enumerate() {
            params.push((format!("InstanceId.{}", n + 1), id.clone()));
        }
        let site = site.clone();
        tasks.push(Box::pin(async move {
            site.query(
                ResourceKind::Ec2Instance,
                "stopping instances",
                "ec2",
                "StopInstances",
                &params,
            )
            .await
            .map(|_| None)
        }));
    }
    tasks
}

/// One RunInstances call: `n` instances of each listed entry, in one subnet (an index
/// into the entry's subnets).
///
/// Launches carry no tags: the emulator serialises every launched instance's tags by
/// scanning all tags of the region, so launching before anything is tagged keeps each
/// launch cheap; one CreateTags per entry names and tags the instances and their root
/// volumes afterwards.
pub(super) struct Launch {
    /// `(instance entry, how many)`.
    members: Vec<(InstanceIx, usize)>,
    subnet: usize,
}

impl Launch {
    fn total(&self) -> usize {
        self.members.iter().map(|(_, n)| n).sum()
    }
}

/// Instances that can be launched together: same type, image, subnet, groups and root
/// volume; at most `max_launch` at once. A fleet's instances go to its subnets in turn.
pub(super) fn launches(estate: &EstateFile, indices: &[usize], max_launch: usize) -> Vec<Launch> {
    let mut groups: BTreeMap<String, Vec<(InstanceIx, usize, usize)>> = BTreeMap::new();
    for &i in indices {
        let Some(i) = Ix::of(i, &estate.resources()[i]) else {
            continue;
        };
        let x = estate.plan().get::<InstancePlan>(i);
        for s in 0..x.subnets.len() {
            let n = (0..x.count as usize)
                .filter(|k| k % x.subnets.len() == s)
                .count();
            if n == 0 {
                continue;
            }
            let key = format!(
                "{:?}|{}|{}|{:?}|{}|{}",
                x.subnets[s].0,
                x.instance_type,
                x.image_id,
                x.security_groups,
                x.root_gib,
                x.root_type
            );
            groups.entry(key).or_default().push((i, s, n));
        }
    }
    let mut out: Vec<Launch> = Vec::new();
    for (_, members) in groups {
        let mut current = Launch {
            members: Vec::new(),
            subnet: 0,
        };
        for (i, s, mut n) in members {
            while n > 0 {
                let room = max_launch - current.total();
                let take = n.min(room);
                if current.members.is_empty() {
                    current.subnet = s;
                }
                current.members.push((i, take));
                n -= take;
                if current.total() == max_launch {
                    out.push(std::mem::replace(
                        &mut current,
                        Launch {
                            members: Vec::new(),
                            subnet: 0,
                        },
                    ));
                }
            }
        }
        if !current.members.is_empty() {
            out.push(current);
        }
    }
    out
}

/// Per entry of a launch, its instances' (instance id, root volume id).
pub(super) type Launched = Vec<(usize, Vec<(String, String)>)>;

/// Makes one launch.
pub(super) async fn run_instances(
    site: Site,
    ids: Arc<Ids>,
    launch: Launch,
) -> Result<Launched, SeedError> {
    let estate = &site.shared.estate;
    let res = estate.resources();
    let first = launch.members[0].0;
    let x = estate.plan().get(first);
    let total = launch.total();
    let n = total.to_string();
    let mut params = p(&[
        ("ImageId", &x.image_id),
        ("InstanceType", &x.instance_type),
        ("MinCount", &n),
        ("MaxCount", &n),
        ("SubnetId", &ids.subnet(x.subnets[launch.subnet].0)),
        ("BlockDeviceMapping.1.DeviceName", "/dev/xvda"),
        (
            "BlockDeviceMapping.1.Ebs.VolumeSize",
            &x.root_gib.to_string(),
        ),
        ("BlockDeviceMapping.1.Ebs.VolumeType", &x.root_type),
        ("BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true"),
    ]);
    for (k, g) in x.security_groups.iter().enumerate() {
        params.push((format!("SecurityGroupId.{}", k + 1), ids.group(*g)));
    }
    let what = format!("ec2_instance {} and {} more", res[first].key(), total - 1);
    let body = site
        .query(
            ResourceKind::Ec2Instance,
            &what,
            "ec2",
            "RunInstances",
            &params,
        )
        .await?;
    let instances = texts(&body, "instanceId");
    let volumes = texts(&body, "volumeId");
    if instances.len() != total || volumes.len() != total {
        return Err(site.fail(
            &what,
            QueryError::malformed(
                "ec2",
                "RunInstances",
                &site.region,
                format!(
                    "asked for {total} instances, got {} instances and {} root volumes",
                    instances.len(),
                    volumes.len()
                ),
            ),
        ));
    }
    site.created(ResourceKind::Ec2Instance, total);
    let mut pairs = instances.into_iter().zip(volumes);
    Ok(launch
        .members
        .iter()
        .map(|&(i, count)| (i.at(), pairs.by_ref().take(count).collect()))
        .collect())
}
