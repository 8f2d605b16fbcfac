//! The small single-region EC2 estate many tests start from. It is written as an estate
//! file and seeded by the one seeder ([`super::seed_region_with`]).

use std::collections::BTreeMap;

use serde_json::json;

use super::super::emulator::DEMO_ACCOUNT;
use super::super::estate_file::{EstateError, EstateFile};
use super::SeedError;
use crate::aws::{AwsClient, QueryError};

/// One instance to create.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// The `Name` tag.
    pub name: String,
    /// Other tags.
    pub tags: Vec<(String, String)>,
    /// `t3.micro`, ...
    pub instance_type: String,
    /// Stop it after launch.
    pub stopped: bool,
    /// Attach an extra data volume (and snapshot it).
    pub data_volume_gib: Option<u32>,
}

/// An EC2 estate for one region.
#[derive(Debug, Clone)]
pub struct Ec2Estate {
    /// Instances to launch, all in one VPC/subnet/security group.
    pub instances: Vec<InstanceSpec>,
}

impl Ec2Estate {
    /// The small estate `cloudops demo` shows: a production web tier and database host,
    /// a stopped staging box, each with tags a search would use.
    pub fn demo() -> Self {
        let tags = |env: &str, app: &str| {
            vec![
                ("env".to_owned(), env.to_owned()),
                ("app".to_owned(), app.to_owned()),
            ]
        };
        Self {
            instances: vec![
                InstanceSpec {
                    name: "web-server-1".into(),
                    tags: tags("production", "api"),
                    instance_type: "t3.medium".into(),
                    stopped: false,
                    data_volume_gib: None,
                },
                InstanceSpec {
                    name: "web-server-2".into(),
                    tags: tags("production", "api"),
                    instance_type: "t3.medium".into(),
                    stopped: false,
                    data_volume_gib: None,
                },
                InstanceSpec {
                    name: "db-host-1".into(),
                    tags: tags("production", "main"),
                    instance_type: "r6g.large".into(),
                    stopped: false,
                    data_volume_gib: Some(100),
                },
                InstanceSpec {
                    name: "staging-box".into(),
                    tags: tags("staging", "api"),
                    instance_type: "t3.small".into(),
                    stopped: true,
                    data_volume_gib: None,
                },
            ],
        }
    }
}

/// What seeding created, with the identifiers AWS assigned.
#[derive(Debug, Clone, Default)]
pub struct SeededEc2 {
    /// VPC id.
    pub vpc_id: String,
    /// Subnet id.
    pub subnet_id: String,
    /// Security group id.
    pub security_group_id: String,
    /// `(Name tag, instance id)`, in spec order.
    pub instances: Vec<(String, String)>,
    /// `(instance id, volume id)` of the extra data volumes.
    pub data_volumes: Vec<(String, String)>,
    /// `(volume id, snapshot id)`.
    pub snapshots: Vec<(String, String)>,
}

impl Ec2Estate {
    /// The estate file this stands for, in account `account` and `region`: a VPC
    /// `demo-vpc` (10.0.0.0/16) with a subnet `demo-subnet` (10.0.1.0/24 in the region's
    /// zone a) and a security group `web`; the instances in them, launched from
    /// `ami-12345678`, each data volume `<name>-data` (gp3, attached as /dev/sdf) with a
    /// snapshot `<name>-data-nightly`.
    pub fn estate_file(&self, account: &str, region: &str) -> Result<EstateFile, EstateError> {
        let at = |kind: &str, name: &str| json!({ "type": kind, "account": account, "region": region, "name": name });
        let mut resources = vec![
            json!({ "type": "vpc", "account": account, "region": region, "name": "demo-vpc",
                    "attrs": { "cidr": "10.0.0.0/16" } }),
            json!({ "type": "vpc_subnet", "account": account, "region": region,
                    "name": "demo-subnet",
                    "attrs": { "cidr": "10.0.1.0/24", "availability_zone": format!("{region}a") } }),
            json!({ "type": "vpc_security_group", "account": account, "region": region,
                    "name": "web", "attrs": { "description": "web tier" } }),
        ];
        for spec in &self.instances {
            let volume = format!("{}-data", spec.name);
            let mut instance = at("ec2_instance", &spec.name);
            let tags: BTreeMap<&str, &str> = spec
                .tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            instance["tags"] = json!(tags);
            if spec.stopped {
                instance["state"] = "stopped".into();
            }
            instance["attrs"] = json!({
                "instance_type": spec.instance_type,
                "image_id": "ami-12345678",
                "subnet": "demo-subnet",
                "security_groups": ["web"],
            });
            if spec.data_volume_gib.is_some() {
                instance["attrs"]["volumes"] = json!([volume]);
            }
            resources.push(instance);
            if let Some(size) = spec.data_volume_gib {
                let mut v = at("ec2_volume", &volume);
                v["attrs"] = json!({ "size_gib": size, "volume_type": "gp3" });
                resources.push(v);
                let mut s = at("ec2_snapshot", &format!("{volume}-nightly"));
                s["attrs"] = json!({ "volume": volume, "description": format!("nightly backup of {volume}") });
                resources.push(s);
            }
        }
        let file = json!({
            "accounts": [{ "id": account, "name": account, "regions": [region] }],
            "resources": resources,
        });
        EstateFile::from_json(&file.to_string())
    }
}

/// Creates `estate` in `region` with `client` (its account is the account of the
/// identifiers) through the one seeder, and returns the identifiers.
pub async fn seed_ec2(
    client: &AwsClient,
    region: &str,
    estate: &Ec2Estate,
) -> Result<SeededEc2, QueryError> {
    let file = estate
        .estate_file(DEMO_ACCOUNT, region)
        .map_err(|e| QueryError::malformed("ec2", "seed", region, e.to_string()))?;
    let ids = super::seed_region_with(client, file.clone(), DEMO_ACCOUNT, region)
        .await
        .map_err(|e| match e {
            SeedError::Aws { source, .. } => *source,
            SeedError::Task(message) => QueryError::malformed("ec2", "seed", region, message),
        })?;
    let id = |name: &str| {
        let i = file
            .resources()
            .iter()
            .position(|r| r.key() == name)
            .expect("the file names it");
        ids.by_index[&i].clone()
    };
    let mut seeded = SeededEc2 {
        vpc_id: id("demo-vpc"),
        subnet_id: id("demo-subnet"),
        security_group_id: id("web"),
        ..SeededEc2::default()
    };
    for spec in &estate.instances {
        let instance = id(&spec.name);
        if spec.data_volume_gib.is_some() {
            let volume = id(&format!("{}-data", spec.name));
            let snapshot = id(&format!("{}-data-nightly", spec.name));
            seeded.data_volumes.push((instance.clone(), volume.clone()));
            seeded.snapshots.push((volume, snapshot));
        }
        seeded.instances.push((spec.name.clone(), instance));
    }
    Ok(seeded)
}
