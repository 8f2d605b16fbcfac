//! RDS responses to resources. Pure functions over response bodies, so they run in tests
//! without the host.

use cloudops_scanner_sdk::xml;
use cloudops_scanner_sdk::{arn, normalize_tags, Error, Relation, Resource, ScanContext, Tag};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One page of a listing: what parsed, what did not, and where to go next.
#[derive(Debug, Default)]
pub struct Page {
    pub resources: Vec<Resource>,
    pub warnings: Vec<String>,
    pub marker: Option<String>,
}

/// Where the resources live: everything an ARN needs.
pub struct Scope<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

impl<'a> Scope<'a> {
    pub fn of(ctx: &'a ScanContext) -> Self {
        Scope {
            partition: &ctx.partition,
            region: &ctx.region,
            account: &ctx.account_id,
        }
    }

    /// RDS ARNs separate the kind with a colon: `arn:aws:rds:…:db:pg-main`.
    pub fn rds(&self, kind: &str, id: &str) -> String {
        // Cross-region replicas name their source by ARN rather than identifier.
        if id.starts_with("arn:") {
            return id.to_owned();
        }
        arn(
            self.partition,
            "rds",
            self.region,
            self.account,
            &format!("{kind}:{id}"),
        )
    }

    /// VPCs, subnets and security groups, as the ec2 and vpc scanners name them.
    pub fn ec2(&self, kind: &str, id: &str) -> String {
        arn(
            self.partition,
            "ec2",
            self.region,
            self.account,
            &format!("{kind}/{id}"),
        )
    }
}

#[derive(Debug, Default, Deserialize)]
struct TagList {
    #[serde(default, rename = "Tag")]
    items: Vec<TagItem>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagItem {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

impl TagList {
    fn into_tags(self) -> Vec<Tag> {
        normalize_tags(self.items.into_iter().map(|t| Tag {
            key: t.key,
            value: t.value,
        }))
    }
}

#[derive(Debug, Default, Deserialize)]
struct SecurityGroups {
    #[serde(default, rename = "VpcSecurityGroupMembership")]
    items: Vec<SecurityGroup>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SecurityGroup {
    vpc_security_group_id: Option<String>,
}

impl SecurityGroups {
    fn relations(self, scope: &Scope, out: &mut Vec<Relation>) {
        for id in self
            .items
            .into_iter()
            .filter_map(|g| present(g.vpc_security_group_id))
        {
            out.push(relation("security_group", scope.ec2("security-group", &id)));
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DbInstance {
    #[serde(rename = "DBInstanceIdentifier")]
    id: Option<String>,
    #[serde(rename = "DBInstanceClass")]
    class: Option<String>,
    #[serde(rename = "DBInstanceStatus")]
    status: Option<String>,
    engine: Option<String>,
    engine_version: Option<String>,
    endpoint: Option<Endpoint>,
    allocated_storage: Option<String>,
    storage_type: Option<String>,
    storage_encrypted: Option<String>,
    kms_key_id: Option<String>,
    #[serde(rename = "MultiAZ")]
    multi_az: Option<String>,
    backup_retention_period: Option<String>,
    availability_zone: Option<String>,
    secondary_availability_zone: Option<String>,
    instance_create_time: Option<String>,
    publicly_accessible: Option<String>,
    deletion_protection: Option<String>,
    #[serde(rename = "DBClusterIdentifier")]
    cluster_id: Option<String>,
    #[serde(rename = "ReadReplicaSourceDBInstanceIdentifier")]
    replica_source: Option<String>,
    #[serde(default, rename = "ReadReplicaDBInstanceIdentifiers")]
    replicas: ReplicaIds,
    #[serde(rename = "DBSubnetGroup")]
    subnet_group: Option<SubnetGroup>,
    #[serde(default)]
    vpc_security_groups: SecurityGroups,
    #[serde(default)]
    tag_list: TagList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Endpoint {
    address: Option<String>,
    port: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ReplicaIds {
    #[serde(default, rename = "ReadReplicaDBInstanceIdentifier")]
    items: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SubnetGroup {
    #[serde(rename = "DBSubnetGroupName")]
    name: Option<String>,
    vpc_id: Option<String>,
    #[serde(default)]
    subnets: Subnets,
}

#[derive(Debug, Default, Deserialize)]
struct Subnets {
    #[serde(default, rename = "Subnet")]
    items: Vec<Subnet>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Subnet {
    subnet_identifier: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DbCluster {
    #[serde(rename = "DBClusterIdentifier")]
    id: Option<String>,
    status: Option<String>,
    engine: Option<String>,
    engine_version: Option<String>,
    engine_mode: Option<String>,
    /// Unlike an instance's, a cluster's endpoint is a bare host name.
    endpoint: Option<String>,
    reader_endpoint: Option<String>,
    port: Option<String>,
    #[serde(rename = "MultiAZ")]
    multi_az: Option<String>,
    backup_retention_period: Option<String>,
    storage_encrypted: Option<String>,
    kms_key_id: Option<String>,
    deletion_protection: Option<String>,
    cluster_create_time: Option<String>,
    #[serde(rename = "DBSubnetGroup")]
    subnet_group: Option<String>,
    #[serde(default, rename = "DBClusterMembers")]
    members: Members,
    #[serde(default)]
    vpc_security_groups: SecurityGroups,
    #[serde(default)]
    tag_list: TagList,
}

#[derive(Debug, Default, Deserialize)]
struct Members {
    #[serde(default, rename = "DBClusterMember")]
    items: Vec<Member>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Member {
    #[serde(rename = "DBInstanceIdentifier")]
    id: Option<String>,
    is_cluster_writer: Option<String>,
}

/// DB snapshots and cluster snapshots share most fields; the identifiers differ.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Snapshot {
    #[serde(rename = "DBSnapshotIdentifier")]
    id: Option<String>,
    #[serde(rename = "DBInstanceIdentifier")]
    instance_id: Option<String>,
    #[serde(rename = "DBClusterSnapshotIdentifier")]
    cluster_snapshot_id: Option<String>,
    #[serde(rename = "DBClusterIdentifier")]
    cluster_id: Option<String>,
    snapshot_type: Option<String>,
    status: Option<String>,
    engine: Option<String>,
    engine_version: Option<String>,
    allocated_storage: Option<String>,
    snapshot_create_time: Option<String>,
    encrypted: Option<String>,
    storage_encrypted: Option<String>,
    kms_key_id: Option<String>,
    vpc_id: Option<String>,
    #[serde(default)]
    tag_list: TagList,
}

/// A page of DescribeDBInstances.
pub fn instances_page(body: &[u8], scope: &Scope) -> Result<Page, Error> {
    parse_page(
        body,
        "DescribeDBInstances",
        &["DBInstances", "DBInstance"],
        |item: DbInstance, w| instance(item, scope, w),
    )
}

/// A page of DescribeDBClusters.
pub fn clusters_page(body: &[u8], scope: &Scope) -> Result<Page, Error> {
    parse_page(
        body,
        "DescribeDBClusters",
        &["DBClusters", "DBCluster"],
        |item: DbCluster, w| cluster(item, scope, w),
    )
}

/// A page of DescribeDBSnapshots.
pub fn snapshots_page(body: &[u8], scope: &Scope) -> Result<Page, Error> {
    parse_page(
        body,
        "DescribeDBSnapshots",
        &["DBSnapshots", "DBSnapshot"],
        |item: Snapshot, w| snapshot(item, scope, w),
    )
}

/// A page of DescribeDBClusterSnapshots.
pub fn cluster_snapshots_page(body: &[u8], scope: &Scope) -> Result<Page, Error> {
    parse_page(
        body,
        "DescribeDBClusterSnapshots",
        &["DBClusterSnapshots", "DBClusterSnapshot"],
        |item: Snapshot, w| cluster_snapshot(item, scope, w),
    )
}

/// Parses each item on its own, so one odd item costs a warning, not the listing. The
/// root element is checked: a different document would otherwise read as an empty
/// account, and the host would forget everything it knew.
fn parse_page<T: serde::de::DeserializeOwned>(
    body: &[u8],
    action: &str,
    list: &[&str],
    mut convert: impl FnMut(T, &mut Vec<String>) -> Result<Resource, String>,
) -> Result<Page, Error> {
    let root = format!("{action}Response");
    let result = format!("{action}Result");
    let doc = std::str::from_utf8(body).map_err(|e| Error::parse(&root, e))?;
    match xml::first_element(doc) {
        Some(name) if name == root => {}
        Some(name) => {
            return Err(Error::parse(
                &root,
                format!("the response is a <{name}> document"),
            ))
        }
        None => return Err(Error::parse(&root, "the response is not an XML document")),
    }
    let mut path = vec![root.as_str(), result.as_str()];
    path.extend_from_slice(list);
    let mut page = Page::default();
    for fragment in xml::fragments(doc, &path)? {
        let converted = xml::from_str::<T>(fragment)
            .map_err(|e| e.to_string())
            .and_then(|item| convert(item, &mut page.warnings));
        match converted {
            Ok(resource) => page.resources.push(resource),
            Err(why) => page
                .warnings
                .push(format!("{action}: skipped an item: {why}")),
        }
    }
    page.marker = xml::text_at(doc, &[&root, &result, "Marker"]).filter(|t| !t.is_empty());
    Ok(page)
}

fn instance(i: DbInstance, scope: &Scope, warnings: &mut Vec<String>) -> Result<Resource, String> {
    let id = present(i.id).ok_or("a DB instance without DBInstanceIdentifier")?;
    let cluster_id = present(i.cluster_id);
    let source = present(i.replica_source);
    let replicas: Vec<String> = i
        .replicas
        .items
        .into_iter()
        .filter_map(|r| present(Some(r)))
        .collect();
    let group = i.subnet_group.unwrap_or_default();
    let vpc_id = present(group.vpc_id);

    let mut relations = Vec::new();
    if let Some(c) = &cluster_id {
        relations.push(relation("cluster", scope.rds("cluster", c)));
    }
    if let Some(s) = &source {
        relations.push(relation("replica_of", scope.rds("db", s)));
    }
    if let Some(v) = &vpc_id {
        relations.push(relation("vpc", scope.ec2("vpc", v)));
    }
    for subnet in group
        .subnets
        .items
        .into_iter()
        .filter_map(|s| present(s.subnet_identifier))
    {
        relations.push(relation("subnet", scope.ec2("subnet", &subnet)));
    }
    i.vpc_security_groups.relations(scope, &mut relations);

    let endpoint = i.endpoint.unwrap_or_default();
    let mut meta = Meta::new(&id, warnings);
    meta.text("engine", i.engine);
    meta.text("engine_version", i.engine_version);
    meta.text("class", i.class);
    meta.boolean("multi_az", i.multi_az);
    meta.number("backup_retention_period", i.backup_retention_period);
    meta.text("endpoint_address", endpoint.address);
    meta.number("endpoint_port", endpoint.port);
    meta.number("allocated_storage_gib", i.allocated_storage);
    meta.text("storage_type", i.storage_type);
    meta.boolean("storage_encrypted", i.storage_encrypted);
    meta.text("kms_key_id", i.kms_key_id);
    meta.text("availability_zone", i.availability_zone);
    meta.text("secondary_availability_zone", i.secondary_availability_zone);
    meta.text("cluster_id", cluster_id);
    meta.text("read_replica_source", source);
    meta.list("read_replicas", replicas);
    meta.text("db_subnet_group", group.name);
    meta.text("vpc_id", vpc_id);
    meta.boolean("publicly_accessible", i.publicly_accessible);
    meta.boolean("deletion_protection", i.deletion_protection);
    meta.text("create_time", i.instance_create_time);
    let metadata = meta.finish();

    Ok(resource(
        "rds_instance",
        scope.rds("db", &id),
        id,
        scope,
        i.status,
        i.tag_list,
        relations,
        metadata,
    ))
}

fn cluster(c: DbCluster, scope: &Scope, warnings: &mut Vec<String>) -> Result<Resource, String> {
    let id = present(c.id).ok_or("a DB cluster without DBClusterIdentifier")?;
    let mut relations = Vec::new();
    let mut members = Vec::new();
    let mut writer = None;
    for m in c.members.items {
        let Some(member) = present(m.id) else {
            continue;
        };
        let is_writer = present(m.is_cluster_writer).as_deref() == Some("true");
        relations.push(relation("instance", scope.rds("db", &member)));
        if is_writer {
            writer = Some(member.clone());
        }
        members.push(serde_json::json!({ "id": member, "writer": is_writer }));
    }
    c.vpc_security_groups.relations(scope, &mut relations);

    let mut meta = Meta::new(&id, warnings);
    meta.text("engine", c.engine);
    meta.text("engine_version", c.engine_version);
    meta.text("engine_mode", c.engine_mode);
    meta.boolean("multi_az", c.multi_az);
    meta.number("backup_retention_period", c.backup_retention_period);
    meta.text("endpoint_address", c.endpoint);
    meta.text("reader_endpoint_address", c.reader_endpoint);
    meta.number("endpoint_port", c.port);
    meta.boolean("storage_encrypted", c.storage_encrypted);
    meta.text("kms_key_id", c.kms_key_id);
    meta.boolean("deletion_protection", c.deletion_protection);
    meta.text("db_subnet_group", c.subnet_group);
    meta.text("create_time", c.cluster_create_time);
    meta.value("members", Value::Array(members));
    meta.text("writer", writer);
    let metadata = meta.finish();

    Ok(resource(
        "rds_cluster",
        scope.rds("cluster", &id),
        id,
        scope,
        c.status,
        c.tag_list,
        relations,
        metadata,
    ))
}

fn snapshot(s: Snapshot, scope: &Scope, warnings: &mut Vec<String>) -> Result<Resource, String> {
    let id = present(s.id.clone()).ok_or("a DB snapshot without DBSnapshotIdentifier")?;
    let source = present(s.instance_id.clone());
    let relations = source
        .iter()
        .map(|i| relation("snapshot_of", scope.rds("db", i)))
        .collect();
    let metadata = snapshot_meta(&id, "instance", source, &s, warnings);
    Ok(resource(
        "rds_snapshot",
        scope.rds("snapshot", &id),
        id,
        scope,
        s.status,
        s.tag_list,
        relations,
        metadata,
    ))
}

/// Cluster snapshots are `rds_snapshot`s too, told apart by `source` in the metadata and
/// by their `cluster-snapshot:` ARN.
fn cluster_snapshot(
    s: Snapshot,
    scope: &Scope,
    warnings: &mut Vec<String>,
) -> Result<Resource, String> {
    let id = present(s.cluster_snapshot_id.clone())
        .ok_or("a DB cluster snapshot without DBClusterSnapshotIdentifier")?;
    let source = present(s.cluster_id.clone());
    let relations = source
        .iter()
        .map(|c| relation("snapshot_of", scope.rds("cluster", c)))
        .collect();
    let metadata = snapshot_meta(&id, "cluster", source, &s, warnings);
    Ok(resource(
        "rds_snapshot",
        scope.rds("cluster-snapshot", &id),
        id,
        scope,
        s.status,
        s.tag_list,
        relations,
        metadata,
    ))
}

fn snapshot_meta(
    id: &str,
    kind: &str,
    source: Option<String>,
    s: &Snapshot,
    warnings: &mut Vec<String>,
) -> String {
    let mut meta = Meta::new(id, warnings);
    meta.text("source", Some(kind.to_owned()));
    meta.text(&format!("{kind}_id"), source);
    meta.text("snapshot_type", s.snapshot_type.clone());
    meta.text("engine", s.engine.clone());
    meta.text("engine_version", s.engine_version.clone());
    meta.number("allocated_storage_gib", s.allocated_storage.clone());
    meta.text("create_time", s.snapshot_create_time.clone());
    meta.boolean(
        "encrypted",
        s.encrypted.clone().or_else(|| s.storage_encrypted.clone()),
    );
    meta.text("kms_key_id", s.kms_key_id.clone());
    meta.text("vpc_id", s.vpc_id.clone());
    meta.finish()
}

#[allow(clippy::too_many_arguments)]
fn resource(
    kind: &str,
    arn: String,
    id: String,
    scope: &Scope,
    state: Option<String>,
    tags: TagList,
    relations: Vec<Relation>,
    metadata: String,
) -> Resource {
    // RDS identifiers are chosen by people, so they already read as names.
    Resource {
        resource_type: kind.into(),
        arn,
        name: id.clone(),
        region: scope.region.to_owned(),
        state: present(state),
        tags: tags.into_tags(),
        relations,
        metadata,
        identifier: id,
    }
}

fn relation(kind: &str, target_arn: String) -> Relation {
    Relation {
        kind: kind.to_owned(),
        target_arn,
    }
}

/// `Some` only for text with something in it: AWS writes empty elements for "none".
fn present(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Builds the metadata object. Absent fields are left out; a value that does not read as
/// its type is left out too, with a warning, because one odd field should not cost the
/// whole resource.
struct Meta<'w> {
    id: String,
    map: Map<String, Value>,
    warnings: &'w mut Vec<String>,
}

impl<'w> Meta<'w> {
    fn new(id: &str, warnings: &'w mut Vec<String>) -> Self {
        Meta {
            id: id.to_owned(),
            map: Map::new(),
            warnings,
        }
    }

    fn value(&mut self, key: &str, value: Value) {
        self.map.insert(key.to_owned(), value);
    }

    fn text(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = present(value) {
            self.value(key, Value::String(v));
        }
    }

    fn list(&mut self, key: &str, values: Vec<String>) {
        if !values.is_empty() {
            self.value(key, Value::from(values));
        }
    }

    fn number(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = present(value) {
            match v.parse::<u64>() {
                Ok(n) => self.value(key, Value::from(n)),
                Err(_) => self.odd(key, &v, "a number"),
            }
        }
    }

    fn boolean(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = present(value) {
            match v.as_str() {
                "true" => self.value(key, Value::Bool(true)),
                "false" => self.value(key, Value::Bool(false)),
                _ => self.odd(key, &v, "true or false"),
            }
        }
    }

    fn odd(&mut self, key: &str, value: &str, expected: &str) {
        self.warnings.push(format!(
            "{}: left out {key}: {value:?} is not {expected}",
            self.id
        ));
    }

    fn finish(self) -> String {
        Value::Object(self.map).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: Scope<'static> = Scope {
        partition: "aws",
        region: "us-west-2",
        account: "123456789012",
    };
    const RDS: &str = "arn:aws:rds:us-west-2:123456789012:";
    const EC2: &str = "arn:aws:ec2:us-west-2:123456789012:";

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn meta(r: &Resource) -> Value {
        serde_json::from_str(&r.metadata).unwrap()
    }

    fn relations(r: &Resource) -> Vec<(String, String)> {
        r.relations
            .iter()
            .map(|x| (x.kind.clone(), x.target_arn.clone()))
            .collect()
    }

    fn pair(kind: &str, arn: String) -> (String, String) {
        (kind.to_owned(), arn)
    }

    fn tags(r: &Resource) -> Vec<(&str, &str)> {
        r.tags.iter().map(|t| (&t.key[..], &t.value[..])).collect()
    }

    #[test]
    fn an_instance_becomes_a_resource_with_relations_and_metadata() {
        let page =
            instances_page(&fixture("moto_describe_db_instances_page1.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        assert!(page.marker.is_some());
        let [main, replica, dev] = &page.resources[..] else {
            panic!("expected three instances, got {:?}", page.resources);
        };
        assert_eq!(main.resource_type, "rds_instance");
        assert_eq!(main.identifier, "pg-main");
        assert_eq!(main.name, "pg-main");
        assert_eq!(main.arn, format!("{RDS}db:pg-main"));
        assert_eq!(main.state.as_deref(), Some("available"));
        assert_eq!(tags(main), [("env", "production"), ("app", "main")]);
        assert_eq!(
            relations(main),
            [
                pair("vpc", format!("{EC2}vpc/vpc-9893079b4f5254ac8")),
                pair("subnet", format!("{EC2}subnet/subnet-29a8e7569d5e00c55")),
                pair("subnet", format!("{EC2}subnet/subnet-7c445e832a9724ed4")),
                pair(
                    "security_group",
                    format!("{EC2}security-group/sg-16c8849d9f0e7cef5")
                ),
            ]
        );
        assert_eq!(
            meta(main),
            serde_json::json!({
                "engine": "postgres",
                "engine_version": "14.7",
                "class": "db.r6g.large",
                "multi_az": true,
                "backup_retention_period": 7,
                "endpoint_address": "pg-main.aaaaaaaaaa.us-west-2.rds.amazonaws.com",
                "endpoint_port": 5432,
                "allocated_storage_gib": 100,
                "storage_type": "gp2",
                "storage_encrypted": false,
                "availability_zone": "us-west-2a",
                "read_replicas": ["pg-main-replica"],
                "db_subnet_group": "main",
                "vpc_id": "vpc-9893079b4f5254ac8",
                "deletion_protection": false,
                "create_time": "2026-11-27T17:05:37.035711Z",
            })
        );
        assert_eq!(
            relations(replica)[0],
            pair("replica_of", format!("{RDS}db:pg-main"))
        );
        assert_eq!(meta(replica)["read_replica_source"], "pg-main");
        assert_eq!(dev.state.as_deref(), Some("stopped"), "moto stops at once");
        assert_eq!(meta(dev)["backup_retention_period"], 0);
        assert!(dev.tags.is_empty());
    }

    #[test]
    fn aurora_members_link_to_their_cluster() {
        let page =
            instances_page(&fixture("moto_describe_db_instances_page2.xml"), &SCOPE).unwrap();
        assert_eq!(page.marker, None);
        let member = &page.resources[0];
        assert_eq!(member.identifier, "aurora-main-1");
        assert_eq!(
            relations(member),
            [
                pair("cluster", format!("{RDS}cluster:aurora-main")),
                pair(
                    "security_group",
                    format!("{EC2}security-group/sg-16c8849d9f0e7cef5")
                ),
            ]
        );
        assert_eq!(meta(member)["cluster_id"], "aurora-main");
        assert_eq!(meta(member)["engine"], "aurora-postgresql");
    }

    #[test]
    fn a_cluster_lists_its_members_and_its_writer() {
        let page = clusters_page(&fixture("moto_describe_db_clusters.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        let [c] = &page.resources[..] else {
            panic!("expected one cluster, got {:?}", page.resources);
        };
        assert_eq!(c.resource_type, "rds_cluster");
        assert_eq!(c.arn, format!("{RDS}cluster:aurora-main"));
        assert_eq!(c.state.as_deref(), Some("available"));
        assert_eq!(tags(c), [("env", "staging")]);
        assert_eq!(
            relations(c),
            [
                pair("instance", format!("{RDS}db:aurora-main-1")),
                pair("instance", format!("{RDS}db:aurora-main-2")),
                pair(
                    "security_group",
                    format!("{EC2}security-group/sg-16c8849d9f0e7cef5")
                ),
            ]
        );
        let m = meta(c);
        assert_eq!(
            m["members"],
            serde_json::json!([
                {"id": "aurora-main-1", "writer": true},
                {"id": "aurora-main-2", "writer": false},
            ])
        );
        assert_eq!(m["writer"], "aurora-main-1");
        assert_eq!(m["engine_mode"], "provisioned");
        assert_eq!(m["backup_retention_period"], 5);
        assert_eq!(m["endpoint_port"], 5432);
        assert_eq!(
            m["reader_endpoint_address"],
            "aurora-main.cluster-ro-zo0nth9q5oxh.us-west-2.rds.amazonaws.com"
        );
    }

    #[test]
    fn snapshots_link_to_their_instance_or_cluster() {
        let page = snapshots_page(&fixture("moto_describe_db_snapshots.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        assert_eq!(page.resources.len(), 5);
        let manual = page.resources.last().unwrap();
        assert_eq!(manual.identifier, "pg-main-before-upgrade");
        assert_eq!(manual.arn, format!("{RDS}snapshot:pg-main-before-upgrade"));
        assert_eq!(tags(manual), [("purpose", "upgrade")]);
        assert_eq!(
            relations(manual),
            [pair("snapshot_of", format!("{RDS}db:pg-main"))]
        );
        let m = meta(manual);
        assert_eq!(m["snapshot_type"], "manual");
        assert_eq!(m["source"], "instance");
        assert_eq!(m["instance_id"], "pg-main");
        assert_eq!(m["allocated_storage_gib"], 100);
        let automated = &page.resources[0];
        assert_eq!(
            automated.arn,
            format!("{RDS}snapshot:rds:pg-main-2026-11-27-17-05")
        );
        assert_eq!(meta(automated)["snapshot_type"], "automated");

        let page =
            cluster_snapshots_page(&fixture("moto_describe_db_cluster_snapshots.xml"), &SCOPE)
                .unwrap();
        let [auto, manual] = &page.resources[..] else {
            panic!("expected two cluster snapshots, got {:?}", page.resources);
        };
        assert_eq!(auto.resource_type, "rds_snapshot");
        assert_eq!(
            manual.arn,
            format!("{RDS}cluster-snapshot:aurora-main-manual")
        );
        assert_eq!(
            relations(manual),
            [pair("snapshot_of", format!("{RDS}cluster:aurora-main"))]
        );
        assert_eq!(meta(manual)["source"], "cluster");
        assert_eq!(meta(manual)["cluster_id"], "aurora-main");
        assert_eq!(meta(auto)["snapshot_type"], "automated");
    }

    #[test]
    fn odd_instances_become_warnings_and_the_page_goes_on() {
        let page = instances_page(&fixture("describe_db_instances_odd.xml"), &SCOPE).unwrap();
        assert_eq!(page.marker.as_deref(), Some("bWFya2VyLTI="));
        let ids: Vec<_> = page.resources.iter().map(|r| &r.identifier[..]).collect();
        assert_eq!(ids, ["orders-replica-eu", "bare"]);
        assert_eq!(page.warnings.len(), 3, "{:?}", page.warnings);
        assert_eq!(
            page.warnings[0],
            "orders-replica-eu: left out multi_az: \"maybe\" is not true or false"
        );
        assert_eq!(
            page.warnings[1],
            "DescribeDBInstances: skipped an item: a DB instance without DBInstanceIdentifier"
        );
        assert!(page.warnings[2].starts_with("DescribeDBInstances: skipped an item: cannot parse"));

        let replica = &page.resources[0];
        assert_eq!(tags(replica), [("team", "orders & billing"), ("empty", "")]);
        assert_eq!(
            relations(replica),
            [
                pair(
                    "replica_of",
                    "arn:aws:rds:eu-west-1:123456789012:db:orders".into()
                ),
                pair("vpc", format!("{EC2}vpc/vpc-0a1b2c3d4e5f60718")),
                pair("subnet", format!("{EC2}subnet/subnet-0aaa1111bbbb2222c")),
                pair(
                    "security_group",
                    format!("{EC2}security-group/sg-0123456789abcdef0")
                ),
            ]
        );
        let m = meta(replica);
        assert!(m.get("multi_az").is_none());
        assert_eq!(m["deletion_protection"], true);
        assert_eq!(m["storage_encrypted"], true);
        assert_eq!(m["endpoint_port"], 3306);
        assert_eq!(meta(&page.resources[1]), serde_json::json!({}));
        assert_eq!(page.resources[1].state, None);
    }

    #[test]
    fn other_documents_are_errors_not_empty_pages() {
        let err = instances_page(&fixture("moto_describe_db_clusters.xml"), &SCOPE).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot parse DescribeDBInstancesResponse: the response is a <DescribeDBClustersResponse> document"
        );
        assert!(clusters_page(b"<html><body>oops", &SCOPE).is_err());
        assert!(snapshots_page(b"", &SCOPE).is_err());
        let cut = &fixture("moto_describe_db_instances_page1.xml")[..900];
        assert!(instances_page(cut, &SCOPE).is_err());
    }

    #[test]
    fn an_empty_listing_is_an_empty_page() {
        let body = br#"<DescribeDBClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBClustersResult><DBClusters/></DescribeDBClustersResult></DescribeDBClustersResponse>"#;
        let page = clusters_page(body, &SCOPE).unwrap();
        assert!(page.resources.is_empty() && page.warnings.is_empty());
        assert_eq!(page.marker, None);
    }
}
