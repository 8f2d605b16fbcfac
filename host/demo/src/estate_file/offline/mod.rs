//! The offline resources: what each scanner would parse out of the seeded emulator, with
//! deterministic stand-ins for what AWS decides (ids, times, addresses). One function per
//! resource type, in the files of their services.

mod ec2;
mod elb;
mod lambda;
mod network;
mod rds;
mod s3;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::check::parse_cidr;
use super::plan::{Ix, Resolved, SgRef, SubnetRef, VpcRef};
use super::{zones, EstateFile};
use crate::resource::{Relation, Resource, Tag};
/// `prefix-` and 17 hex digits, as EC2 ids are.
fn ec2_id(prefix: &str, seed: &str) -> String {
    format!("{prefix}-{}", &hex_of(seed)[..17])
}

fn hex_of(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))
}

fn seconds_of(seed: &str) -> u64 {
    let d = Sha256::digest(seed.as_bytes());
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// A time in 2025, fixed by `seed`: (year, month, day, hour, minute, second, micros).
fn time_of(seed: &str) -> (i64, u32, u32, u32, u32, u32, u32) {
    // 2025-01-01T00:00:00Z, plus up to 364 days.
    let base_days = 20_089;
    let n = seconds_of(seed);
    let secs = n % (364 * 86_400);
    let micros = ((n >> 40) % 1_000_000) as u32;
    let days = base_days + (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
        micros,
    )
}

/// Howard Hinnant's civil_from_days.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2025-03-04T05:06:07.000Z` (EC2, S3).
fn ec2_time(seed: &str) -> String {
    let (y, mo, d, h, mi, s, _) = time_of(seed);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000Z")
}

/// `2025-03-04T05:06:07.123456Z` (RDS, ELB).
fn micro_time(seed: &str) -> String {
    let (y, mo, d, h, mi, s, us) = time_of(seed);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z")
}

/// `2025-03-04-05-06`, as in automated snapshot names.
fn snapshot_stamp(seed: &str) -> String {
    let (y, mo, d, h, mi, _, _) = time_of(seed);
    format!("{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}")
}

fn uuid_of(seed: &str) -> String {
    let h = hex_of(seed);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn ip_text(ip: u32) -> String {
    std::net::Ipv4Addr::from(ip).to_string()
}

fn tags_of(name: Option<&str>, tags: &BTreeMap<String, String>) -> Vec<Tag> {
    name.map(|n| Tag {
        key: "Name".into(),
        value: n.to_owned(),
    })
    .into_iter()
    .chain(tags.iter().map(|(k, v)| Tag {
        key: k.clone(),
        value: v.clone(),
    }))
    .collect()
}

fn rel(kind: &str, target: String) -> Relation {
    Relation {
        kind: kind.to_owned(),
        target_arn: target,
    }
}

/// The metadata object with its keys in order, as the scanners' JSON has them.
fn object(v: Value) -> Map<String, Value> {
    // Every caller builds its metadata with `json!({ ... })`, an object.
    let Value::Object(m) = v else {
        return Map::new();
    };
    let sorted: BTreeMap<String, Value> = m.into_iter().collect();
    sorted.into_iter().collect()
}

/// The size of the deployment package the seeder uploads (see `seed::zip_package`).
const PACKAGE_BYTES: u64 = 194;

/// Ids and addresses of one account and region.
struct Region<'a> {
    estate: &'a EstateFile,
    account: &'a str,
    region: &'a str,
    zones: Vec<String>,
    ids: HashMap<usize, String>,
    root_volumes: HashMap<usize, String>,
    /// (instance id, root volume id) of each instance of every `ec2_instance`.
    fleets: HashMap<usize, Vec<(String, String)>>,
    default_vpc: String,
    default_subnets: Vec<String>,
    default_groups: HashMap<VpcRef, String>,
    /// Private IP and public IP (if any) of each instance of each fleet.
    addresses: HashMap<(usize, u32), (String, Option<String>)>,
    /// Instances per subnet.
    in_subnet: HashMap<SubnetRef, u32>,
}

impl Region<'_> {
    fn seed(&self, what: &str) -> String {
        format!("{}/{}/{what}", self.account, self.region)
    }

    fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:aws:{service}:{}:{}:{resource}",
            self.region, self.account
        )
    }

    fn ec2_arn(&self, kind: &str, id: &str) -> String {
        self.arn("ec2", &format!("{kind}/{id}"))
    }

    fn vpc_id(&self, v: VpcRef) -> String {
        match v {
            VpcRef::Default => self.default_vpc.clone(),
            VpcRef::File(i) => self.ids[&i.at()].clone(),
        }
    }

    fn subnet_id(&self, s: SubnetRef) -> String {
        match s {
            SubnetRef::Default(z) => self.default_subnets[z].clone(),
            SubnetRef::File(i) => self.ids[&i.at()].clone(),
        }
    }

    fn group_id(&self, g: SgRef) -> String {
        match g {
            SgRef::DefaultOf(v) => self.default_groups[&v].clone(),
            SgRef::File(i) => self.ids[&i.at()].clone(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn resource(
        &self,
        kind: &str,
        identifier: String,
        arn: String,
        name: String,
        state: Option<&str>,
        tags: Vec<Tag>,
        relations: Vec<Relation>,
        metadata: Value,
    ) -> Resource {
        Resource {
            resource_type: kind.to_owned(),
            identifier,
            arn,
            name,
            account_id: self.account.to_owned(),
            region: self.region.to_owned(),
            state: state.map(str::to_owned),
            tags,
            relations,
            metadata: object(metadata),
        }
    }
}

pub(super) fn resources(estate: &EstateFile) -> Vec<Resource> {
    let mut out = Vec::new();
    for ((account, region), indices) in &estate.plan.by_region {
        let zones = zones(region).expect("regions were checked");
        let mut r = Region {
            estate,
            account,
            region,
            zones: zones.clone(),
            ids: HashMap::new(),
            root_volumes: HashMap::new(),
            fleets: HashMap::new(),
            default_vpc: String::new(),
            default_subnets: Vec::new(),
            default_groups: HashMap::new(),
            addresses: HashMap::new(),
            in_subnet: HashMap::new(),
        };
        r.default_vpc = ec2_id("vpc", &r.seed("default-vpc"));
        r.default_subnets = zones
            .iter()
            .map(|z| ec2_id("subnet", &r.seed(&format!("default-subnet/{z}"))))
            .collect();
        r.default_groups.insert(
            VpcRef::Default,
            ec2_id("sg", &r.seed("default-vpc/default-sg")),
        );
        assign_ids(&mut r, indices);
        emit_region(&r, indices, &mut out);
    }
    out
}

fn assign_ids(r: &mut Region, indices: &[usize]) {
    let res = &r.estate.resources;
    let plan = &r.estate.plan;
    for &i in indices {
        let spec = &res[i];
        let seed = r.seed(&format!("{}/{}", spec.kind, spec.key()));
        let id = match &plan.resolved[i] {
            Resolved::Instance(x) => {
                let members: Vec<(String, String)> = (0..x.count)
                    .map(|k| {
                        let seed = if k == 0 {
                            seed.clone()
                        } else {
                            format!("{seed}#{k}")
                        };
                        (ec2_id("i", &seed), ec2_id("vol", &format!("{seed}/root")))
                    })
                    .collect();
                r.root_volumes.insert(i, members[0].1.clone());
                let first = members[0].0.clone();
                r.fleets.insert(i, members);
                first
            }
            Resolved::Volume(_) => ec2_id("vol", &seed),
            Resolved::EbsSnapshot(_) => ec2_id("snap", &seed),
            Resolved::Vpc(_) => {
                if let Some(v) = Ix::of(i, spec) {
                    let group = ec2_id("sg", &format!("{seed}/default-sg"));
                    r.default_groups.insert(VpcRef::File(v), group);
                }
                ec2_id("vpc", &seed)
            }
            Resolved::Subnet(_) => ec2_id("subnet", &seed),
            Resolved::Sg(g) => {
                let vpc = match g.vpc {
                    VpcRef::Default => "default".to_owned(),
                    VpcRef::File(v) => res[v].key().to_owned(),
                };
                ec2_id("sg", &format!("{seed}/{vpc}"))
            }
            Resolved::Lb(_) => format!(
                "arn:aws:elasticloadbalancing:{}:{}:loadbalancer/app/{}/{}",
                r.region,
                r.account,
                spec.key(),
                &hex_of(&seed)[..16]
            ),
            _ => continue,
        };
        r.ids.insert(i, id);
    }
    assign_addresses(r, indices);
}

/// Each instance's addresses: moto hands out a subnet's addresses from .4 upwards, in
/// launch order, and a public one on the default subnets while running.
fn assign_addresses(r: &mut Region, indices: &[usize]) {
    let plan = &r.estate.plan;
    for &i in indices {
        let Resolved::Instance(x) = &plan.resolved[i] else {
            continue;
        };
        for k in 0..x.count {
            let (subnet, _) = &x.subnets[k as usize % x.subnets.len()];
            let n = r.in_subnet.entry(*subnet).or_default();
            let (base, public) = match *subnet {
                SubnetRef::Default(z) => (
                    u32::from(Ipv4Addr::new(172, 31, 0, 0)) + (z as u32) * 4096,
                    true,
                ),
                SubnetRef::File(s) => (parse_cidr(&plan.get(s).cidr).expect("checked").0, false),
            };
            let private = ip_text(base + 4 + *n);
            *n += 1;
            // A public address while running, on subnets that map one at launch.
            let public = (public && !x.stopped).then(|| {
                let h = seconds_of(&format!("{}/public-ip", r.fleets[&i][k as usize].0));
                ip_text(u32::from(Ipv4Addr::new(54, 0, 0, 0)) | (h as u32 & 0x00ff_ffff))
            });
            r.addresses.insert((i, k), (private, public));
        }
    }
}

/// Every resource of one account and region, the default network first.
fn emit_region(r: &Region, indices: &[usize], out: &mut Vec<Resource>) {
    network::default_network(r, indices, out);
    for &i in indices {
        match &r.estate.plan.resolved[i] {
            Resolved::Vpc(v) => network::vpc(r, i, v, out),
            Resolved::Subnet(s) => network::subnet(r, i, s, out),
            Resolved::Sg(g) => network::group(r, i, g, out),
            Resolved::Instance(x) => ec2::instance(r, i, x, out),
            Resolved::Volume(v) => ec2::volume(r, i, v, out),
            Resolved::EbsSnapshot(s) => ec2::snapshot(r, i, s, out),
            Resolved::Rds(x) => rds::instance(r, i, x, out),
            Resolved::Cluster(c) => rds::cluster(r, i, c, out),
            Resolved::RdsSnapshot(s) => rds::snapshot(r, i, s, out),
            Resolved::Bucket(b) => s3::bucket(r, i, b, out),
            Resolved::Function(f) => lambda::function(r, i, f, out),
            Resolved::Alias(a) => lambda::alias(r, i, a, out),
            Resolved::Layer(l) => lambda::layer(r, i, l, out),
            Resolved::Lb(lb) => elb::load_balancer(r, i, lb, out),
        }
    }
}
