//! Generated estates: [`EstateFile::default_demo`], the seed's three-account estate, and
//! [`generate`] for estates of any size (benchmarks at 10k and 100k resources).
//!
//! Everything is drawn from a seeded PRNG (`fastrand`), so the same [`EstateSpec`] always
//! gives the same estate. The shapes follow what real estates look like: services run as
//! fleets of numbered instances spread over an availability zone's private subnets,
//! databases have replicas and snapshots, buckets follow a naming scheme with the account
//! and region in it, and tagging is good but not perfect.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

mod compute;
mod databases;
mod services;
mod tables;

use tables::{OWNERS, SECURITY_GROUPS, TEAMS};

use super::estate_file::{
    Account, Attrs, EstateFile, Principal, ResourceKind, ResourceSpec, SecurityGroupAttrs,
    VpcAttrs, VpcSubnetAttrs,
};

/// One account to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSpec {
    /// 12-digit id.
    pub id: String,
    /// Name (`production`).
    pub name: String,
    /// The `env` tag of its resources: `production`, `staging` or `development`; it also
    /// decides the principal's policy and how much of the estate the account holds.
    pub env: String,
    /// Its regions.
    pub regions: Vec<String>,
}

/// What [`generate`] makes: totals over all accounts and regions, spread by environment
/// (production holds half) and region (the first holds half).
#[derive(Debug, Clone, PartialEq)]
pub struct EstateSpec {
    /// PRNG seed.
    pub seed: u64,
    /// The accounts.
    pub accounts: Vec<AccountSpec>,
    /// EC2 instances (each with a root volume).
    pub ec2_instances: usize,
    /// RDS DB instances (standalone, replicas and cluster members).
    pub rds_instances: usize,
    /// Aurora clusters (their members count in `rds_instances`).
    pub rds_clusters: usize,
    /// S3 buckets.
    pub s3_buckets: usize,
    /// Lambda functions.
    pub lambda_functions: usize,
    /// Lambda layers (1 to 4 versions each).
    pub lambda_layers: usize,
    /// Lambda aliases.
    pub lambda_aliases: usize,
    /// Load balancers.
    pub load_balancers: usize,
    /// VPCs (each with six subnets and five security groups).
    pub vpcs: usize,
}

/// The company whose estate this is; it prefixes bucket names.
const COMPANY: &str = "acme";

impl EstateSpec {
    /// The seed's estate: production 111111111111, staging 222222222222 and development
    /// 333333333333, each in us-west-2, us-east-1 and eu-west-1; 2,500 instances, 150 DB
    /// instances (9 Aurora clusters), 430 buckets, 85 functions with 18 layers and 40
    /// aliases, 15 VPCs with 90 subnets and 75 security groups, 24 load balancers.
    pub fn demo() -> Self {
        let regions: Vec<String> = ["us-west-2", "us-east-1", "eu-west-1"]
            .map(String::from)
            .into();
        let account = |id: &str, env: &str| AccountSpec {
            id: id.into(),
            name: env.into(),
            env: env.into(),
            regions: regions.clone(),
        };
        Self {
            seed: 20_261_127,
            accounts: vec![
                account("111111111111", "production"),
                account("222222222222", "staging"),
                account("333333333333", "development"),
            ],
            ec2_instances: 2500,
            rds_instances: 150,
            rds_clusters: 9,
            s3_buckets: 430,
            lambda_functions: 85,
            lambda_layers: 18,
            lambda_aliases: 40,
            load_balancers: 24,
            vpcs: 15,
        }
    }

    /// An estate whose scan reports about `resources` resources (what AWS adds included),
    /// with the demo's proportions. Past the demo's size (about 6,500) it grows by adding
    /// accounts, three environments at a time, so no account is much denser than the
    /// demo's.
    pub fn with_resources(resources: usize) -> Self {
        let demo = Self::demo();
        // Scanned resources per unit of the demo's counts, measured on the demo.
        const DEMO_SCANNED: f64 = 6_500.0;
        let scale = (resources as f64 / DEMO_SCANNED).max(0.01);
        let per_env = ((scale / 1.5).ceil() as usize).max(1);
        let regions: Vec<String> = ["us-west-2", "us-east-1", "eu-west-1"]
            .map(String::from)
            .into();
        let mut accounts = Vec::new();
        for n in 0..per_env {
            for (digit, env) in [(1, "production"), (2, "staging"), (3, "development")] {
                let (id, name) = if n == 0 {
                    (format!("{digit}").repeat(12), env.to_owned())
                } else {
                    (
                        format!("{digit}{:011}", 10_000_000_000u64 + n as u64),
                        format!("{env}-{}", n + 1),
                    )
                };
                accounts.push(AccountSpec {
                    id,
                    name,
                    env: env.into(),
                    regions: regions.clone(),
                });
            }
        }
        let n = |x: usize| ((x as f64 * scale).round() as usize).max(1);
        Self {
            seed: demo.seed,
            ec2_instances: n(demo.ec2_instances),
            rds_instances: n(demo.rds_instances),
            rds_clusters: n(demo.rds_clusters),
            s3_buckets: n(demo.s3_buckets),
            lambda_functions: n(demo.lambda_functions),
            lambda_layers: n(demo.lambda_layers),
            lambda_aliases: n(demo.lambda_aliases),
            load_balancers: n(demo.load_balancers),
            vpcs: n(demo.vpcs).max(accounts.len() * 3),
            accounts,
        }
    }
}

impl EstateFile {
    /// The seed's demo estate ([`EstateSpec::demo`]). It holds the seed's examples exactly:
    /// the RDS instance `pg-instance-main1` in production (111111111111) us-west-2, tagged
    /// env=production app=main, PostgreSQL 14.7 on db.r6g.large, Multi-AZ, available; and the
    /// EC2 instance `web-server-1` there, tagged env=production app=api, a running
    /// t3.medium. The production `Developer` may describe, list and get everything and stop
    /// and start instances and databases, but not terminate instances, delete databases,
    /// buckets or functions; staging allows more, development almost everything.
    pub fn default_demo() -> EstateFile {
        generate(&EstateSpec::demo())
    }
}

/// The principal each environment's `Developer` role gets.
fn principal(env: &str) -> Principal {
    let mut allow = Principal::read_only();
    let (extra, deny): (&[&str], &[&str]) = match env {
        "production" => (
            &[
                "ec2:StopInstances",
                "ec2:StartInstances",
                "rds:StopDBInstance",
                "rds:StartDBInstance",
            ],
            &[
                "ec2:TerminateInstances",
                "rds:DeleteDBInstance",
                "s3:DeleteBucket",
                "lambda:DeleteFunction",
            ],
        ),
        "staging" => (
            &[
                "ec2:StopInstances",
                "ec2:StartInstances",
                "ec2:RebootInstances",
                "ec2:CreateSnapshot",
                "ec2:CreateImage",
                "rds:StopDBInstance",
                "rds:StartDBInstance",
                "rds:RebootDBInstance",
                "rds:CreateDBSnapshot",
                "rds:StopDBCluster",
                "rds:StartDBCluster",
                "lambda:InvokeFunction",
                "lambda:UpdateFunctionConfiguration",
                "lambda:UpdateAlias",
                "s3:PutBucketVersioning",
                "s3:PutLifecycleConfiguration",
            ],
            &[
                "ec2:TerminateInstances",
                "rds:DeleteDBInstance",
                "s3:DeleteBucket",
            ],
        ),
        _ => (
            &[
                "ec2:*",
                "rds:*",
                "s3:*",
                "lambda:*",
                "elasticloadbalancing:*",
            ],
            &["s3:PutBucketPublicAccessBlock", "rds:DeleteDBCluster"],
        ),
    };
    allow.extend(extra.iter().map(|a| (*a).to_owned()));
    Principal {
        role: "Developer".into(),
        allow,
        deny: deny.iter().map(|a| (*a).to_owned()).collect(),
    }
}

/// Splits `total` over `weights` (largest remainder), so the parts add up exactly.
fn apportion(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut parts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.partial_cmp(&ra)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut left = total - parts.iter().sum::<usize>();
    for i in order {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

/// Short region names for bucket names (`usw2`).
fn region_short(region: &str) -> String {
    let mut out = String::new();
    for (i, part) in region.split('-').enumerate() {
        match i {
            0 => out.push_str(part),
            _ if part.chars().all(|c| c.is_ascii_digit()) => out.push_str(part),
            _ => out.push(part.chars().next().unwrap_or('x')),
        }
    }
    out
}

/// One account and region being generated.
struct Place<'a> {
    account: &'a AccountSpec,
    region: String,
    env: &'a str,
    /// The zones subnets use (the region's first three).
    zones: Vec<String>,
    /// VPC names with their subnets: (public, private) per zone.
    vpcs: Vec<(String, Vec<String>, Vec<String>)>,
    names: HashSet<(ResourceKind, String)>,
}

struct Gen {
    rng: RefCell<fastrand::Rng>,
    resources: Vec<ResourceSpec>,
    buckets: HashSet<String>,
}

impl Gen {
    fn pick<'s, T>(&self, list: &'s [T]) -> &'s T {
        &list[self.usize(list.len())]
    }

    fn chance(&self, p: f64) -> bool {
        self.rng.borrow_mut().f64() < p
    }

    fn usize(&self, below: usize) -> usize {
        self.rng.borrow_mut().usize(..below)
    }

    /// The usual tags: env, app, team, owner, cost-center (owner and cost-center are
    /// missing now and then, as in real estates).
    fn tags(&self, env: &str, app: &str) -> BTreeMap<String, String> {
        let team_i = self.usize(TEAMS.len());
        let mut t = BTreeMap::new();
        t.insert("env".into(), env.into());
        t.insert("app".into(), app.into());
        t.insert("team".into(), TEAMS[team_i].into());
        if !self.chance(0.08) {
            t.insert("owner".into(), self.pick(OWNERS).to_string());
        }
        if !self.chance(0.12) {
            t.insert(
                "cost-center".into(),
                format!("cc-{}", 1000 + team_i * 10 + 1),
            );
        }
        t
    }

    fn push(
        &mut self,
        place: &mut Place,
        kind: ResourceKind,
        key: String,
        tags: BTreeMap<String, String>,
        state: Option<&str>,
        attrs: Attrs,
    ) {
        let by_name = kind.keyed_by_name();
        place.names.insert((kind, key.clone()));
        self.resources.push(ResourceSpec {
            kind,
            account: place.account.id.clone(),
            region: place.region.clone(),
            id: (!by_name).then(|| key.clone()),
            name: by_name.then_some(key),
            tags,
            state: state.map(str::to_owned),
            attrs,
        });
    }

    /// `base`, or `base-2`, `base-3`, ... whichever is free in `place`.
    fn free_name(place: &Place, kind: ResourceKind, base: &str) -> String {
        if !place.names.contains(&(kind, base.to_owned())) {
            return base.to_owned();
        }
        (2..)
            .map(|n| format!("{base}-{n}"))
            .find(|n| !place.names.contains(&(kind, n.clone())))
            .expect("some suffix is free")
    }
}

/// Generates the estate `spec` describes.
pub fn generate(spec: &EstateSpec) -> EstateFile {
    let mut g = Gen {
        rng: RefCell::new(fastrand::Rng::with_seed(spec.seed)),
        resources: Vec::new(),
        buckets: HashSet::new(),
    };
    // Where everything goes: environment weight × region weight.
    let mut places: Vec<Place> = Vec::new();
    let mut weights = Vec::new();
    for account in &spec.accounts {
        let env_weight = match account.env.as_str() {
            "production" => 2.0,
            _ => 1.0,
        };
        for (r, region) in account.regions.iter().enumerate() {
            let region_weight = [0.5, 0.35, 0.15].get(r).copied().unwrap_or(0.15);
            weights.push(env_weight * region_weight);
            let zones = super::estate_file::zones(region).unwrap_or_default();
            places.push(Place {
                account,
                region: region.clone(),
                env: &account.env,
                zones: zones.into_iter().take(3).collect(),
                vpcs: Vec::new(),
                names: HashSet::new(),
            });
        }
    }
    let share = |total: usize| apportion(total, &weights);
    // Every place gets a VPC; the rest go by weight.
    let extra_vpcs = share(spec.vpcs.saturating_sub(places.len()));
    let instances = share(spec.ec2_instances);
    let clusters = share(spec.rds_clusters);
    let rds = share(spec.rds_instances);
    let buckets = share(spec.s3_buckets);
    let functions = share(spec.lambda_functions);
    let layers = share(spec.lambda_layers);
    let aliases = share(spec.lambda_aliases);
    let lbs = share(spec.load_balancers);
    for (p, place) in places.iter_mut().enumerate() {
        network(&mut g, place, 1 + extra_vpcs[p]);
        compute::compute(&mut g, place, instances[p]);
        databases::databases(&mut g, place, rds[p], clusters[p]);
        services::storage(&mut g, place, buckets[p]);
        services::serverless(&mut g, place, functions[p], layers[p], aliases[p]);
        services::balancers(&mut g, place, lbs[p]);
    }
    let accounts = spec
        .accounts
        .iter()
        .map(|a| Account {
            id: a.id.clone(),
            name: a.name.clone(),
            regions: a.regions.clone(),
            principal: principal(&a.env),
        })
        .collect();
    EstateFile::new(accounts, g.resources)
        .unwrap_or_else(|e| panic!("the generator made an invalid estate: {e}"))
}

fn network(g: &mut Gen, place: &mut Place, vpcs: usize) {
    let purposes = ["main", "data", "shared", "edge", "legacy", "services"];
    for v in 0..vpcs {
        let purpose = purposes
            .get(v)
            .copied()
            .map_or_else(|| format!("vpc{}", v + 1), String::from);
        let name = format!("{}-{purpose}", place.env);
        let mut tags = BTreeMap::new();
        tags.insert("env".into(), place.env.to_owned());
        tags.insert("team".into(), "infra".into());
        tags.insert("managed-by".into(), "terraform".into());
        g.push(
            place,
            ResourceKind::Vpc,
            name.clone(),
            tags.clone(),
            None,
            Attrs::Vpc(VpcAttrs::default()),
        );
        let mut public = Vec::new();
        let mut private = Vec::new();
        let zones = place.zones.clone();
        for (tier, list) in [("public", &mut public), ("private", &mut private)] {
            for zone in &zones {
                let letter = zone.chars().last().unwrap_or('a');
                let subnet = format!("{name}-{tier}-{letter}");
                let mut t = tags.clone();
                t.insert("tier".into(), tier.into());
                g.push(
                    place,
                    ResourceKind::VpcSubnet,
                    subnet.clone(),
                    t,
                    None,
                    Attrs::VpcSubnet(VpcSubnetAttrs {
                        vpc: Some(name.clone()),
                        availability_zone: Some(zone.clone()),
                        ..Default::default()
                    }),
                );
                list.push(subnet);
            }
        }
        for (group, what, rules) in SECURITY_GROUPS {
            g.push_group(place, &name, group, what, rules, &tags);
        }
        place.vpcs.push((name, public, private));
    }
}

impl Gen {
    fn push_group(
        &mut self,
        place: &mut Place,
        vpc: &str,
        group: &str,
        what: &str,
        rules: &[&str],
        tags: &BTreeMap<String, String>,
    ) {
        // Security group names are keys per VPC, so the generated file names them by
        // group name; `names` tracks them per VPC.
        place
            .names
            .insert((ResourceKind::VpcSecurityGroup, format!("{vpc}/{group}")));
        self.resources.push(ResourceSpec {
            kind: ResourceKind::VpcSecurityGroup,
            account: place.account.id.clone(),
            region: place.region.clone(),
            id: None,
            name: Some(group.to_owned()),
            tags: tags.clone(),
            state: None,
            attrs: Attrs::VpcSecurityGroup(SecurityGroupAttrs {
                vpc: Some(vpc.to_owned()),
                description: Some(format!("{} {what}", place.env)),
                ingress: rules.iter().map(|r| (*r).to_owned()).collect(),
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportioning_adds_up() {
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), [4, 3, 3]);
        assert_eq!(apportion(7, &[2.0, 1.0]).iter().sum::<usize>(), 7);
        assert_eq!(apportion(0, &[1.0]), [0]);
    }

    #[test]
    fn region_short_names() {
        assert_eq!(region_short("us-west-2"), "usw2");
        assert_eq!(region_short("eu-central-1"), "euc1");
    }
}
