//! Creating a known EC2 estate in the emulator with real, signed API calls.

use crate::aws::xml::first_text;
use crate::aws::{AwsClient, QueryError};

const EC2_VERSION: &str = "2016-11-15";

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

/// Creates `estate` in `region` and returns the identifiers.
pub async fn seed_ec2(
    client: &AwsClient,
    region: &str,
    estate: &Ec2Estate,
) -> Result<SeededEc2, QueryError> {
    let call = |action: &'static str, params: Vec<(String, String)>| async move {
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        client
            .query(region, "ec2", action, EC2_VERSION, &params)
            .await
    };
    let id = |body: &[u8], tag: &str, action: &str| {
        first_text(body, tag).ok_or_else(|| {
            QueryError::malformed("ec2", action, region, format!("no <{tag}> in the response"))
        })
    };
    let p = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };

    let mut seeded = SeededEc2::default();
    let body = call(
        "CreateVpc",
        p(&[
            ("CidrBlock", "10.0.0.0/16"),
            ("TagSpecification.1.ResourceType", "vpc"),
            ("TagSpecification.1.Tag.1.Key", "Name"),
            ("TagSpecification.1.Tag.1.Value", "demo-vpc"),
        ]),
    )
    .await?;
    seeded.vpc_id = id(&body, "vpcId", "CreateVpc")?;
    let az = format!("{region}a");
    let body = call(
        "CreateSubnet",
        p(&[
            ("VpcId", &seeded.vpc_id),
            ("CidrBlock", "10.0.1.0/24"),
            ("AvailabilityZone", &az),
        ]),
    )
    .await?;
    seeded.subnet_id = id(&body, "subnetId", "CreateSubnet")?;
    let body = call(
        "CreateSecurityGroup",
        p(&[
            ("GroupName", "web"),
            ("GroupDescription", "web tier"),
            ("VpcId", &seeded.vpc_id),
        ]),
    )
    .await?;
    seeded.security_group_id = id(&body, "groupId", "CreateSecurityGroup")?;

    for spec in &estate.instances {
        let mut params = p(&[
            ("ImageId", "ami-12345678"),
            ("InstanceType", &spec.instance_type),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("SubnetId", &seeded.subnet_id),
            ("SecurityGroupId.1", &seeded.security_group_id),
            ("TagSpecification.1.ResourceType", "instance"),
            ("TagSpecification.1.Tag.1.Key", "Name"),
            ("TagSpecification.1.Tag.1.Value", &spec.name),
        ]);
        for (i, (k, v)) in spec.tags.iter().enumerate() {
            params.push((format!("TagSpecification.1.Tag.{}.Key", i + 2), k.clone()));
            params.push((format!("TagSpecification.1.Tag.{}.Value", i + 2), v.clone()));
        }
        let body = call("RunInstances", params).await?;
        let instance_id = id(&body, "instanceId", "RunInstances")?;
        if let Some(size) = spec.data_volume_gib {
            let volume_name = format!("{}-data", spec.name);
            let body = call(
                "CreateVolume",
                p(&[
                    ("Size", &size.to_string()),
                    ("AvailabilityZone", &az),
                    ("VolumeType", "gp3"),
                    ("TagSpecification.1.ResourceType", "volume"),
                    ("TagSpecification.1.Tag.1.Key", "Name"),
                    ("TagSpecification.1.Tag.1.Value", &volume_name),
                ]),
            )
            .await?;
            let volume_id = id(&body, "volumeId", "CreateVolume")?;
            call(
                "AttachVolume",
                p(&[
                    ("VolumeId", &volume_id),
                    ("InstanceId", &instance_id),
                    ("Device", "/dev/sdf"),
                ]),
            )
            .await?;
            let body = call(
                "CreateSnapshot",
                p(&[
                    ("VolumeId", &volume_id),
                    ("Description", &format!("nightly backup of {volume_name}")),
                    ("TagSpecification.1.ResourceType", "snapshot"),
                    ("TagSpecification.1.Tag.1.Key", "Name"),
                    (
                        "TagSpecification.1.Tag.1.Value",
                        &format!("{volume_name}-nightly"),
                    ),
                ]),
            )
            .await?;
            let snapshot_id = id(&body, "snapshotId", "CreateSnapshot")?;
            seeded
                .data_volumes
                .push((instance_id.clone(), volume_id.clone()));
            seeded.snapshots.push((volume_id, snapshot_id));
        }
        if spec.stopped {
            call("StopInstances", p(&[("InstanceId.1", &instance_id)])).await?;
        }
        seeded.instances.push((spec.name.clone(), instance_id));
    }
    Ok(seeded)
}

/// Creates IAM user `user` with an inline policy and an access key; returns
/// `(access key id, secret)`. With the emulator's authentication on, only keys made this
/// way are accepted, and the policy decides what they may do.
pub async fn create_iam_user(
    client: &AwsClient,
    user: &str,
    policy_json: &str,
) -> Result<(String, String), QueryError> {
    const IAM_VERSION: &str = "2010-05-08";
    let region = "us-east-1";
    client
        .query(
            region,
            "iam",
            "CreateUser",
            IAM_VERSION,
            &[("UserName", user)],
        )
        .await?;
    client
        .query(
            region,
            "iam",
            "PutUserPolicy",
            IAM_VERSION,
            &[
                ("UserName", user),
                ("PolicyName", "cloudops-demo"),
                ("PolicyDocument", policy_json),
            ],
        )
        .await?;
    let body = client
        .query(
            region,
            "iam",
            "CreateAccessKey",
            IAM_VERSION,
            &[("UserName", user)],
        )
        .await?;
    let missing = |tag: &str| {
        QueryError::malformed(
            "iam",
            "CreateAccessKey",
            region,
            format!("no <{tag}> in the response"),
        )
    };
    let key = first_text(&body, "AccessKeyId").ok_or_else(|| missing("AccessKeyId"))?;
    let secret = first_text(&body, "SecretAccessKey").ok_or_else(|| missing("SecretAccessKey"))?;
    Ok((key, secret))
}
