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

use super::estate_file::{
    Account, Attrs, Ec2InstanceAttrs, Ec2SnapshotAttrs, Ec2VolumeAttrs, EstateFile,
    LambdaAliasAttrs, LambdaFunctionAttrs, LambdaLayerAttrs, LoadBalancerAttrs, Principal,
    RdsClusterAttrs, RdsInstanceAttrs, RdsSnapshotAttrs, ResourceKind, ResourceSpec, S3BucketAttrs,
    SecurityGroupAttrs, VpcAttrs, VpcSubnetAttrs,
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

/// Application names for generated resources. `main` is left out on purpose: it belongs to
/// the seed's own stack (pg-instance-main1, env=production app=main), so that the seed's
/// examples ("env=prod AND app=main") keep the one answer the seed gives them.
const APPS: &[&str] = &[
    "api",
    "web",
    "checkout",
    "orders",
    "payments",
    "inventory",
    "search",
    "auth",
    "billing",
    "notifications",
    "catalog",
    "reporting",
    "analytics",
    "etl",
    "ml",
    "media",
    "gateway",
    "admin",
    "crm",
    "recommendations",
    "shipping",
    "pricing",
    "fraud",
    "ledger",
    "identity",
    "cms",
    "email",
];
const TEAMS: &[&str] = &[
    "platform", "payments", "growth", "data", "ml", "mobile", "core", "infra", "security",
    "commerce", "search", "sre",
];
const OWNERS: &[&str] = &[
    "alice.nguyen",
    "bob.martins",
    "carla.diaz",
    "dev.patel",
    "erik.larsen",
    "fatima.khan",
    "george.chen",
    "hana.sato",
    "ivan.petrov",
    "julia.rossi",
    "kwame.mensah",
    "lena.schmidt",
    "marco.silva",
    "nora.obrien",
    "omar.haddad",
    "priya.iyer",
    "quinn.taylor",
    "rosa.lopez",
    "sam.cohen",
    "tara.walsh",
    "umar.farouk",
    "vera.novak",
    "will.jones",
    "xin.li",
];

/// An instance role: its name, instance types, tier, root volume size, and data volumes.
struct Role {
    name: &'static str,
    types: &'static [&'static str],
    public: bool,
    root_gib: u32,
    /// Data volume names' suffixes, sizes and types.
    data: &'static [(&'static str, u32, &'static str)],
    weight: u32,
}

const ROLES: &[Role] = &[
    Role {
        name: "web-server",
        types: &["t3.medium", "t3.large", "m5.large"],
        public: false,
        root_gib: 20,
        data: &[],
        weight: 14,
    },
    Role {
        name: "api-gateway",
        types: &["c5.large", "c6i.large"],
        public: false,
        root_gib: 20,
        data: &[],
        weight: 6,
    },
    Role {
        name: "api",
        types: &["m5.large", "m6i.large", "t3.large"],
        public: false,
        root_gib: 20,
        data: &[],
        weight: 12,
    },
    Role {
        name: "worker",
        types: &["c5.xlarge", "c6i.2xlarge", "m5.xlarge"],
        public: false,
        root_gib: 30,
        data: &[],
        weight: 12,
    },
    Role {
        name: "queue-worker",
        types: &["c5.large", "t3.large"],
        public: false,
        root_gib: 20,
        data: &[],
        weight: 6,
    },
    Role {
        name: "batch-worker",
        types: &["c5.2xlarge", "m5.2xlarge"],
        public: false,
        root_gib: 50,
        data: &[],
        weight: 6,
    },
    Role {
        name: "k8s-node",
        types: &["m5.2xlarge", "m6i.xlarge", "m6i.2xlarge"],
        public: false,
        root_gib: 100,
        data: &[],
        weight: 12,
    },
    Role {
        name: "cache",
        types: &["r5.large", "r6g.large"],
        public: false,
        root_gib: 20,
        data: &[],
        weight: 3,
    },
    Role {
        name: "kafka-broker",
        types: &["r5.xlarge", "m5.2xlarge"],
        public: false,
        root_gib: 30,
        data: &[("data", 1000, "st1")],
        weight: 3,
    },
    Role {
        name: "elasticsearch-data",
        types: &["r5.2xlarge", "i3.xlarge"],
        public: false,
        root_gib: 30,
        data: &[("data", 500, "gp3")],
        weight: 3,
    },
    Role {
        name: "mongo",
        types: &["r5.xlarge", "r6g.xlarge"],
        public: false,
        root_gib: 30,
        data: &[("data", 400, "io2"), ("logs", 50, "gp3")],
        weight: 2,
    },
    Role {
        name: "db-host",
        types: &["r6g.large", "r5.xlarge"],
        public: false,
        root_gib: 30,
        data: &[("data", 200, "gp3")],
        weight: 2,
    },
    Role {
        name: "jenkins-agent",
        types: &["c5.xlarge", "m5.large"],
        public: false,
        root_gib: 100,
        data: &[],
        weight: 4,
    },
    Role {
        name: "build-runner",
        types: &["c6i.2xlarge", "c5.4xlarge"],
        public: false,
        root_gib: 100,
        data: &[],
        weight: 3,
    },
    Role {
        name: "nginx-proxy",
        types: &["t3.small", "t3.medium"],
        public: true,
        root_gib: 8,
        data: &[],
        weight: 3,
    },
    Role {
        name: "bastion",
        types: &["t3.micro", "t3.nano"],
        public: true,
        root_gib: 8,
        data: &[],
        weight: 1,
    },
    Role {
        name: "prometheus",
        types: &["m5.large"],
        public: false,
        root_gib: 20,
        data: &[("tsdb", 300, "gp3")],
        weight: 1,
    },
    Role {
        name: "grafana",
        types: &["t3.medium"],
        public: false,
        root_gib: 20,
        data: &[],
        weight: 1,
    },
    Role {
        name: "airflow-worker",
        types: &["m5.xlarge", "r5.large"],
        public: false,
        root_gib: 50,
        data: &[],
        weight: 2,
    },
    Role {
        name: "spark-executor",
        types: &["r5.2xlarge", "r5.4xlarge"],
        public: false,
        root_gib: 100,
        data: &[],
        weight: 3,
    },
    Role {
        name: "gpu-inference",
        types: &["g4dn.xlarge", "g5.xlarge"],
        public: false,
        root_gib: 100,
        data: &[],
        weight: 1,
    },
    Role {
        name: "ml-trainer",
        types: &["p3.2xlarge", "g5.2xlarge"],
        public: false,
        root_gib: 200,
        data: &[("scratch", 1000, "gp3")],
        weight: 1,
    },
    Role {
        name: "vpn",
        types: &["t3.small"],
        public: true,
        root_gib: 8,
        data: &[],
        weight: 1,
    },
    Role {
        name: "consul-server",
        types: &["t3.medium"],
        public: false,
        root_gib: 20,
        data: &[],
        weight: 1,
    },
    Role {
        name: "vault",
        types: &["t3.medium"],
        public: false,
        root_gib: 20,
        data: &[("data", 50, "gp3")],
        weight: 1,
    },
    Role {
        name: "sftp",
        types: &["t3.small"],
        public: true,
        root_gib: 20,
        data: &[("uploads", 200, "gp3")],
        weight: 1,
    },
];

/// Roles whose instances run in Auto Scaling groups, all with the group's Name.
const AUTO_SCALED: &[&str] = &[
    "worker",
    "k8s-node",
    "batch-worker",
    "queue-worker",
    "spark-executor",
    "jenkins-agent",
    "build-runner",
    "airflow-worker",
];

const FLEET_SIZES: &[usize] = &[1, 1, 2, 2, 3, 3, 4, 4, 6, 8, 10, 12, 16, 20, 24, 30, 40];

const SECURITY_GROUPS: &[(&str, &str, &[&str])] = &[
    (
        "alb",
        "load balancers",
        &["tcp 443 from 0.0.0.0/0", "tcp 80 from 0.0.0.0/0"],
    ),
    ("bastion", "SSH jump hosts", &["tcp 22 from 203.0.113.0/24"]),
    (
        "web",
        "web tier",
        &["tcp 80 from alb", "tcp 443 from alb", "tcp 22 from bastion"],
    ),
    (
        "app",
        "application tier",
        &[
            "tcp 8080 from alb",
            "tcp 8080 from web",
            "tcp 22 from bastion",
        ],
    ),
    (
        "db",
        "databases and caches",
        &[
            "tcp 5432 from app",
            "tcp 3306 from app",
            "tcp 6379 from app",
        ],
    ),
];

const RUNTIMES: &[&str] = &[
    "python3.12",
    "python3.12",
    "python3.11",
    "python3.9",
    "nodejs20.x",
    "nodejs20.x",
    "nodejs18.x",
    "java17",
    "provided.al2023",
    "ruby3.2",
];

/// Function names, each with the description its team gave it: a line about what it does,
/// written as people write them (AWS shows it beside the name; search embeds it).
const FUNCTIONS: &[(&str, &str)] = &[
    ("etl-nightly", "Loads yesterday's orders into the warehouse"),
    ("thumbnail-generator", "Makes thumbnails for new uploads"),
    (
        "orders-webhook-handler",
        "Accepts order webhooks from the storefront",
    ),
    (
        "slack-notifier",
        "Posts CloudWatch alarms to the #ops channel",
    ),
    (
        "log-shipper",
        "Forwards CloudWatch log groups to the central archive",
    ),
    ("cost-report", "Monthly Cost Explorer breakdown per team"),
    (
        "user-signup-trigger",
        "Creates the CRM record after registration",
    ),
    (
        "image-resize",
        "Resizes product photos to the catalog sizes",
    ),
    ("pdf-renderer", "HTML to PDF for statements and receipts"),
    ("cleanup-snapshots", "Deletes EBS snapshots past retention"),
    ("rotate-secrets", "Rotates RDS passwords in Secrets Manager"),
    (
        "sync-inventory",
        "Pulls stock levels from the warehouse API",
    ),
    (
        "invoice-mailer",
        "Sends each customer their monthly invoice through SES",
    ),
    (
        "audit-export",
        "Copies CloudTrail events to the compliance account",
    ),
    ("stripe-webhook", "Receives Stripe payment events"),
    (
        "search-indexer",
        "Reindexes products when the catalog changes",
    ),
    ("cache-warmer", "Preloads popular pages into Redis"),
    ("health-check", "Probes public endpoints every minute"),
    (
        "backup-verifier",
        "Restores last night's snapshot into a scratch instance and runs checks",
    ),
    ("session-cleanup", "Expires stale login sessions"),
    ("geoip-lookup", "Maps client IPs to countries"),
    ("price-updater", "Applies scheduled price changes"),
    ("fraud-scorer", "Scores card payments for fraud risk"),
    (
        "report-builder",
        "Produces the weekly sales PDFs for finance",
    ),
    (
        "dlq-replayer",
        "Replays messages from the dead-letter queue",
    ),
    (
        "s3-event-router",
        "Fans out object-created notifications to SQS",
    ),
    ("kinesis-consumer", "Reads clickstream records from Kinesis"),
    ("cognito-trigger", "Pre-sign-up checks for the user pool"),
    (
        "daily-digest",
        "Once a day, sends users a recap of their account activity",
    ),
    ("feature-flags-sync", "Publishes flag changes to the apps"),
    ("sitemap-generator", "Rebuilds sitemap.xml every night"),
    ("tag-enforcer", "Flags resources missing required tags"),
];

const LAYERS: &[(&str, &str)] = &[
    ("common-utils", "python3.12"),
    ("pandas", "python3.12"),
    ("observability", "python3.12"),
    ("pg-driver", "python3.11"),
    ("aws-sdk-extras", "nodejs20.x"),
    ("sharp-image", "nodejs20.x"),
    ("otel-collector", "python3.12"),
    ("requests", "python3.9"),
];

const BUCKET_PURPOSES: &[&str] = &[
    "assets",
    "uploads",
    "exports",
    "backups",
    "logs",
    "artifacts",
    "data-lake",
    "reports",
    "static",
    "media",
    "config",
    "tmp",
    "archive",
    "ml-datasets",
    "athena-results",
    "invoices",
    "snapshots",
    "releases",
    "public-assets",
    "terraform-state",
    "cloudtrail",
    "access-logs",
];

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
        compute(&mut g, place, instances[p]);
        databases(&mut g, place, rds[p], clusters[p]);
        storage(&mut g, place, buckets[p]);
        serverless(&mut g, place, functions[p], layers[p], aliases[p]);
        balancers(&mut g, place, lbs[p]);
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

fn compute(g: &mut Gen, place: &mut Place, mut quota: usize) {
    let total_weight: u32 = ROLES.iter().map(|r| r.weight).sum();
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
        // The seed's example opens production us-west-2: a web-server fleet of t3.mediums
        // tagged exactly env=production, app=api.
        let (role, size, app) = if first && is_demo_home {
            (&ROLES[0], 24.min(quota), "api")
        } else {
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
        let demo_fleet = first && is_demo_home;
        first = false;
        quota -= size;
        let vpc = g.usize(place.vpcs.len());
        let (vpc_name, public, private) = place.vpcs[vpc].clone();
        let subnets = if role.public { public } else { private };
        let itype = if demo_fleet {
            "t3.medium"
        } else {
            *g.pick(role.types)
        };
        let tags = if demo_fleet {
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
        // Fleet names: `role-n`, else `app-role-n`, else `app-role-purpose-n` (the VPC's
        // purpose), else numbered: the first whose `-1` is free (every fleet starts at 1).
        let purpose = vpc_name.rsplit('-').next().unwrap_or("x");
        let taken = |base: &str| {
            place
                .names
                .contains(&(ResourceKind::Ec2Instance, format!("{base}-1")))
        };
        let base = [
            role.name.to_owned(),
            format!("{app}-{}", role.name),
            format!("{app}-{}-{purpose}", role.name),
        ]
        .into_iter()
        .chain((2..).map(|k| format!("{app}-{}-{k}", role.name)))
        .find(|b| !taken(b))
        .expect("some name is free");
        let fleet_stopped = !demo_fleet && g.chance(stop_chance / 2.0);
        if AUTO_SCALED.contains(&role.name) && role.data.is_empty() {
            // An Auto Scaling group: every instance carries the group's Name.
            let env_short = &place.env[..place.env.len().min(4)];
            let base = if role.name == "k8s-node" {
                format!("eks-{env_short}-{app}-nodes")
            } else {
                format!("{app}-{}", role.name)
            };
            let name = Gen::free_name(place, ResourceKind::Ec2Instance, &base);
            let mut tags = tags.clone();
            tags.insert("aws-autoscaling-group".into(), format!("{name}-asg"));
            let spread = subnets.len().min(size.max(1));
            g.push(
                place,
                ResourceKind::Ec2Instance,
                name,
                tags,
                Some(if fleet_stopped { "stopped" } else { "running" }),
                Attrs::Ec2Instance(Ec2InstanceAttrs {
                    instance_type: Some(itype.into()),
                    subnets: subnets[..spread].to_vec(),
                    count: Some(size as u32),
                    security_groups: Some(groups.clone()),
                    root_volume_gib: Some(role.root_gib),
                    ..Default::default()
                }),
            );
            continue;
        }
        for n in 1..=size {
            let name = format!("{base}-{n}");
            let stopped = !demo_fleet && (fleet_stopped || g.chance(stop_chance / 2.0));
            let mut volumes = Vec::new();
            for (suffix, size_gib, vtype) in role.data {
                let volume = format!("{name}-{suffix}");
                let mut t = tags.clone();
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
            let subnet = subnets[(n - 1) % subnets.len()].clone();
            g.push(
                place,
                ResourceKind::Ec2Instance,
                name.clone(),
                tags.clone(),
                Some(if stopped { "stopped" } else { "running" }),
                Attrs::Ec2Instance(Ec2InstanceAttrs {
                    instance_type: Some(itype.into()),
                    image_id: None,
                    subnet: Some(subnet),
                    subnets: Vec::new(),
                    count: None,
                    security_groups: Some(groups.clone()),
                    volumes,
                    root_volume_gib: Some(role.root_gib),
                    root_volume_type: None,
                }),
            );
            instances.push(name);
        }
    }
    // Orphans: volumes left behind by instances long gone.
    let orphans = (instances.len() / 25).max(usize::from(!instances.is_empty()));
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
    // Snapshots: nightly backups of most data volumes, and a few pre-patch snapshots of
    // root volumes.
    for (volume, _) in &data_volumes {
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

fn databases(g: &mut Gen, place: &mut Place, mut quota: usize, clusters: usize) {
    let prod = place.env == "production";
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
    // Standalone instances, some with read replicas.
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
    for (id, _) in &standalone {
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

fn storage(g: &mut Gen, place: &mut Place, quota: usize) {
    let prod = place.env == "production";
    let short = region_short(&place.region);
    let env_short = match place.env {
        "production" => "prod",
        "staging" => "staging",
        _ => "dev",
    };
    let mut made = 0;
    let mut attempt = 0;
    while made < quota {
        attempt += 1;
        let purpose = *g.pick(BUCKET_PURPOSES);
        let app = *g.pick(APPS);
        let base = match purpose {
            "cloudtrail" | "access-logs" | "terraform-state" => {
                format!("{COMPANY}-{purpose}-{}-{short}", place.account.id)
            }
            _ if g.chance(0.3) => format!("{COMPANY}-{env_short}-{app}-{purpose}-{short}"),
            _ => format!("{COMPANY}-{env_short}-{app}-{purpose}"),
        };
        let mut name = base.clone();
        let mut n = 2;
        while g.buckets.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        if attempt > quota * 20 + 100 {
            // Out of ideas: a plain numbered name.
            name = format!("{COMPANY}-{env_short}-{}-{short}-{made}", place.account.id);
        } else if name.len() > 63 {
            continue;
        }
        g.buckets.insert(name.clone());
        let public = purpose == "public-assets" || purpose == "static" && g.chance(0.3);
        let logs =
            ["logs", "access-logs", "cloudtrail", "athena-results", "tmp"].contains(&purpose);
        let mut lifecycle = Vec::new();
        if logs || g.chance(0.15) {
            lifecycle.push(if logs {
                "expire-after-90-days".to_owned()
            } else {
                "transition-to-glacier".to_owned()
            });
            if g.chance(0.3) {
                lifecycle.push("abort-incomplete-uploads".into());
            }
        }
        let kms = g.chance(if prod { 0.3 } else { 0.1 });
        let tags = if g.chance(0.1) {
            BTreeMap::new()
        } else {
            g.tags(place.env, app)
        };
        let attrs = Attrs::S3Bucket(S3BucketAttrs {
            versioning: Some(
                if purpose == "terraform-state" || (prod && g.chance(0.5)) {
                    "Enabled"
                } else if g.chance(0.05) {
                    "Suspended"
                } else {
                    "Disabled"
                }
                .into(),
            ),
            encryption: Some(if kms { "aws:kms" } else { "AES256" }.into()),
            kms_key: kms.then(|| format!("alias/{app}-s3")),
            lifecycle_rules: lifecycle,
            block_public_access: Some(!public),
        });
        g.push(place, ResourceKind::S3Bucket, name, tags, None, attrs);
        made += 1;
    }
}

fn serverless(g: &mut Gen, place: &mut Place, functions: usize, layers: usize, aliases: usize) {
    let mut layer_names = Vec::new();
    for k in 0..layers {
        let (base, runtime) = LAYERS[k % LAYERS.len()];
        let name = Gen::free_name(place, ResourceKind::LambdaLayer, base);
        g.push(
            place,
            ResourceKind::LambdaLayer,
            name.clone(),
            BTreeMap::new(),
            None,
            Attrs::LambdaLayer(LambdaLayerAttrs {
                versions: Some(*g.pick(&[1u32, 1, 2, 2, 3, 4])),
                compatible_runtimes: Some(vec![runtime.into()]),
                description: Some(format!("{base} for {runtime}")),
                license_info: g.chance(0.3).then(|| "MIT".to_owned()),
            }),
        );
        layer_names.push(name);
    }
    let mut made = Vec::new();
    for k in 0..functions {
        let (base, description) = FUNCTIONS[(k + g.usize(FUNCTIONS.len())) % FUNCTIONS.len()];
        let name = Gen::free_name(place, ResourceKind::LambdaFunction, base);
        let app = match base.split('-').next() {
            Some(a) if APPS.contains(&a) => a.to_owned(),
            _ => g.pick(APPS).to_string(),
        };
        let runtime = *g.pick(RUNTIMES);
        let in_vpc = g.chance(0.3);
        let (subnets, groups) = if in_vpc {
            let (_, _, private) = &place.vpcs[g.usize(place.vpcs.len())];
            (
                private.iter().take(2).cloned().collect(),
                vec!["app".to_owned()],
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let layers: Vec<String> = if !layer_names.is_empty() && g.chance(0.35) {
            vec![g.pick(&layer_names).clone()]
        } else {
            Vec::new()
        };
        let tags = g.tags(place.env, &app);
        g.push(
            place,
            ResourceKind::LambdaFunction,
            name.clone(),
            tags,
            None,
            Attrs::LambdaFunction(LambdaFunctionAttrs {
                runtime: Some(runtime.into()),
                memory_size: Some(*g.pick(&[128u32, 128, 256, 512, 1024, 1536, 3008])),
                timeout: Some(*g.pick(&[3u32, 10, 30, 60, 300, 900])),
                description: Some(description.to_owned()),
                role: g.chance(0.3).then(|| format!("{app}-lambda-role")),
                architecture: g.chance(0.25).then(|| "arm64".to_owned()),
                subnets,
                security_groups: groups,
                layers,
                ..Default::default()
            }),
        );
        made.push(name);
    }
    for k in 0..aliases.min(made.len() * 2) {
        let function = made[k % made.len()].clone();
        let alias = if k < made.len() { "live" } else { "canary" };
        g.push_alias(place, &function, alias);
    }
}

impl Gen {
    fn push_alias(&mut self, place: &mut Place, function: &str, alias: &str) {
        self.resources.push(ResourceSpec {
            kind: ResourceKind::LambdaAlias,
            account: place.account.id.clone(),
            region: place.region.clone(),
            id: Some(alias.to_owned()),
            name: None,
            tags: BTreeMap::new(),
            state: None,
            attrs: Attrs::LambdaAlias(LambdaAliasAttrs {
                function: Some(function.to_owned()),
                version: Some(if alias == "canary" { "$LATEST" } else { "1" }.into()),
                description: Some(format!("{alias} traffic")),
            }),
        });
    }
}

fn balancers(g: &mut Gen, place: &mut Place, quota: usize) {
    for _ in 0..quota {
        let app = *g.pick(APPS);
        let network = g.chance(0.25);
        let base = if network {
            format!("{app}-nlb")
        } else {
            format!("{app}-alb")
        };
        let id = Gen::free_name(place, ResourceKind::ElbLoadBalancer, &base);
        if id.len() > 32 {
            continue;
        }
        let (_, public, private) = place.vpcs[g.usize(place.vpcs.len())].clone();
        let internal = network || g.chance(0.2);
        let subnets = if internal { private } else { public };
        let tags = g.tags(place.env, app);
        g.push(
            place,
            ResourceKind::ElbLoadBalancer,
            id,
            tags,
            None,
            Attrs::ElbLoadBalancer(LoadBalancerAttrs {
                lb_type: Some(if network { "network" } else { "application" }.into()),
                scheme: Some(
                    if internal {
                        "internal"
                    } else {
                        "internet-facing"
                    }
                    .into(),
                ),
                subnets,
                vpc: None,
                security_groups: if network {
                    Vec::new()
                } else {
                    vec!["alb".into()]
                },
            }),
        );
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
