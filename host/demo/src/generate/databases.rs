//! RDS: the seed's example instance, Aurora clusters, standalone instances with read
//! replicas, and manual snapshots. The PRNG is drawn in the same order as always.

use std::collections::BTreeMap;

use super::super::estate_file::{
    Attrs, RdsClusterAttrs, RdsInstanceAttrs, RdsSnapshotAttrs, ResourceKind,
};
use super::tables::APPS;
use super::{Gen, Place};

/// `quota` DB instances: the seed's example, Aurora clusters, standalone instances with
/// replicas; then manual snapshots.
pub(super) fn databases(g: &mut Gen, place: &mut Place, mut quota: usize, clusters: usize) {
    let is_demo_home = place.account.id == "111111111111" && place.region == "us-west-2";
    let mut standalone: Vec<(String, String)> = Vec::new();
    if is_demo_home && quota > 0 {
        // The seed's example, exactly.
        let tags = BTreeMap::from([
            ("env".to_owned(), "production".to_owned()),
            ("app".to_owned(), "main".to_owned()),
        ]);
        g.push(
            place,
            ResourceKind::RdsInstance,
            "pg-instance-main1".into(),
            tags,
            Some("available"),
            Attrs::RdsInstance(RdsInstanceAttrs {
                engine: Some("postgres".into()),
                engine_version: Some("14.7".into()),
                class: Some("db.r6g.large".into()),
                multi_az: Some(true),
                allocated_storage_gib: Some(500),
                storage_encrypted: Some(true),
                backup_retention_period: Some(14),
                deletion_protection: Some(true),
                vpc: Some(place.vpcs[0].0.clone()),
                security_groups: vec!["db".into()],
                ..Default::default()
            }),
        );
        standalone.push(("pg-instance-main1".into(), "postgres".into()));
        quota -= 1;
    }
    // Aurora clusters with two or three members.
    quota = aurora_clusters(g, place, quota, clusters);
    // Standalone instances, some with read replicas.
    standalone_instances(g, place, quota, &mut standalone);
    manual_snapshots(g, place, &standalone);
}

/// Up to `clusters` Aurora clusters with two or three members each (and now and then a
/// snapshot); returns the quota left.
fn aurora_clusters(g: &mut Gen, place: &mut Place, mut quota: usize, clusters: usize) -> usize {
    let prod = place.env == "production";
    for _ in 0..clusters {
        if quota < 2 {
            break;
        }
        let app = *g.pick(APPS);
        let engine = if g.chance(0.7) {
            "aurora-postgresql"
        } else {
            "aurora-mysql"
        };
        let id = Gen::free_name(place, ResourceKind::RdsCluster, &format!("aurora-{app}"));
        let vpc = place.vpcs[g.usize(place.vpcs.len())].0.clone();
        let tags = g.tags(place.env, app);
        g.push(
            place,
            ResourceKind::RdsCluster,
            id.clone(),
            tags.clone(),
            None,
            Attrs::RdsCluster(RdsClusterAttrs {
                engine: Some(engine.into()),
                backup_retention_period: Some(if prod { 14 } else { 3 }),
                storage_encrypted: Some(prod || g.chance(0.5)),
                deletion_protection: Some(prod),
                vpc: Some(vpc),
                security_groups: vec!["db".into()],
                ..Default::default()
            }),
        );
        let members = if quota >= 3 && g.chance(0.5) { 3 } else { 2 };
        for m in 1..=members {
            let class = if prod {
                "db.r6g.xlarge"
            } else {
                "db.r6g.large"
            };
            g.push(
                place,
                ResourceKind::RdsInstance,
                format!("{id}-{m}"),
                tags.clone(),
                None,
                Attrs::RdsInstance(RdsInstanceAttrs {
                    cluster: Some(id.clone()),
                    class: Some(class.into()),
                    ..Default::default()
                }),
            );
        }
        quota -= members;
        if g.chance(0.5) {
            let snap = Gen::free_name(
                place,
                ResourceKind::RdsSnapshot,
                &format!("{id}-pre-upgrade"),
            );
            g.push(
                place,
                ResourceKind::RdsSnapshot,
                snap,
                BTreeMap::new(),
                None,
                Attrs::RdsSnapshot(RdsSnapshotAttrs {
                    cluster: Some(id.clone()),
                    ..Default::default()
                }),
            );
        }
    }
    quota
}

/// Standalone instances until the quota is used, some with read replicas; each goes into
/// `standalone` with its engine.
fn standalone_instances(
    g: &mut Gen,
    place: &mut Place,
    mut quota: usize,
    standalone: &mut Vec<(String, String)>,
) {
    let prod = place.env == "production";
    while quota > 0 {
        let app = *g.pick(APPS);
        let engine = *g.pick(&[
            "postgres",
            "postgres",
            "postgres",
            "mysql",
            "mysql",
            "mariadb",
            "sqlserver-se",
        ]);
        let prefix = match engine {
            "postgres" => "pg",
            "mysql" => "mysql",
            "mariadb" => "mariadb",
            _ => "mssql",
        };
        let id = Gen::free_name(place, ResourceKind::RdsInstance, &format!("{prefix}-{app}"));
        let stopped = !prod && g.chance(if place.env == "staging" { 0.15 } else { 0.3 });
        let classes: &[&str] = if prod {
            &[
                "db.r6g.large",
                "db.r6g.xlarge",
                "db.r5.2xlarge",
                "db.m6g.large",
            ]
        } else {
            &[
                "db.t3.medium",
                "db.t3.large",
                "db.t4g.medium",
                "db.m6g.large",
            ]
        };
        let vpc = place.vpcs[g.usize(place.vpcs.len())].0.clone();
        let tags = g.tags(place.env, app);
        g.push(
            place,
            ResourceKind::RdsInstance,
            id.clone(),
            tags.clone(),
            Some(if stopped { "stopped" } else { "available" }),
            Attrs::RdsInstance(RdsInstanceAttrs {
                engine: Some(engine.into()),
                class: Some(g.pick(classes).to_string()),
                multi_az: Some(prod && g.chance(0.7)),
                allocated_storage_gib: Some(*g.pick(&[20u32, 50, 100, 200, 500, 1000])),
                storage_encrypted: Some(prod || g.chance(0.4)),
                backup_retention_period: Some(if prod {
                    *g.pick(&[7u32, 14, 30])
                } else {
                    *g.pick(&[0u32, 1, 3, 7])
                }),
                deletion_protection: Some(prod && g.chance(0.6)),
                vpc: Some(vpc),
                security_groups: vec!["db".into()],
                ..Default::default()
            }),
        );
        quota -= 1;
        standalone.push((id.clone(), engine.to_owned()));
        // Replicas: mostly in production, of PostgreSQL and MySQL.
        if quota > 0
            && !stopped
            && ["postgres", "mysql"].contains(&engine)
            && g.chance(if prod { 0.25 } else { 0.08 })
        {
            let n = if quota > 1 && g.chance(0.3) { 2 } else { 1 };
            for r in 1..=n {
                g.push(
                    place,
                    ResourceKind::RdsInstance,
                    format!("{id}-replica-{r}"),
                    tags.clone(),
                    None,
                    Attrs::RdsInstance(RdsInstanceAttrs {
                        replica_of: Some(id.clone()),
                        ..Default::default()
                    }),
                );
                quota -= 1;
            }
        }
    }
}

/// Manual snapshots of some standalone instances.
fn manual_snapshots(g: &mut Gen, place: &mut Place, standalone: &[(String, String)]) {
    for (id, _) in standalone {
        if g.chance(0.15) {
            let what = *g.pick(&["before-upgrade", "pre-migration", "final", "manual-backup"]);
            let snap = Gen::free_name(place, ResourceKind::RdsSnapshot, &format!("{id}-{what}"));
            let mut tags = BTreeMap::new();
            tags.insert("purpose".into(), what.into());
            g.push(
                place,
                ResourceKind::RdsSnapshot,
                snap,
                tags,
                None,
                Attrs::RdsSnapshot(RdsSnapshotAttrs {
                    instance: Some(id.clone()),
                    ..Default::default()
                }),
            );
        }
    }
}
