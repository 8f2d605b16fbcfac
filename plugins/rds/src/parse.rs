//! RDS responses to resources. Pure functions over response bodies, so they run in tests
//! without the host.

use cloudops_scanner_sdk::xml::{Listing, Members, TagList};
use cloudops_scanner_sdk::{present, relation, Error, Metadata, Page, Relation, Resource, Scope};
use serde::Deserialize;
use serde_json::Value;

/// RDS ARNs separate the kind with a colon: `arn:aws:rds:…:db:pg-main`.
fn rds_arn(scope: &Scope, kind: &str, id: &str) -> String {
    // Cross-region replicas name their source by ARN rather than identifier.
    if id.starts_with("arn:") {
        return id.to_owned();
    }
    scope.arn("rds", &format!("{kind}:{id}"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SecurityGroup {
    vpc_security_group_id: Option<String>,
}

fn security_groups(groups: Members<SecurityGroup>, scope: &Scope, out: &mut Vec<Relation>) {
    for id in groups
        .into_iter()
        .filter_map(|g| present(g.vpc_security_group_id))
    {
        out.push(relation("security_group", scope.ec2("security-group", &id)));
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
    replicas: Members<String>,
    #[serde(rename = "DBSubnetGroup")]
    subnet_group: Option<SubnetGroup>,
    #[serde(default)]
    vpc_security_groups: Members<SecurityGroup>,
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
#[serde(rename_all = "PascalCase")]
struct SubnetGroup {
    #[serde(rename = "DBSubnetGroupName")]
    name: Option<String>,
    vpc_id: Option<String>,
    #[serde(default)]
    subnets: Members<Subnet>,
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
    members: Members<Member>,
    #[serde(default)]
    vpc_security_groups: Members<SecurityGroup>,
    #[serde(default)]
    tag_list: TagList,
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
pub fn instances_page(body: &[u8], scope: &Scope) -> Result<Page<Resource>, Error> {
    Listing::members("DescribeDBInstances", "DBInstances", "DBInstance")
        .of_type("rds_instance")
        .parse(body, |i, w| instance(i, scope, w).map(Some))
}

/// A page of DescribeDBClusters.
pub fn clusters_page(body: &[u8], scope: &Scope) -> Result<Page<Resource>, Error> {
    Listing::members("DescribeDBClusters", "DBClusters", "DBCluster")
        .of_type("rds_cluster")
        .parse(body, |c, w| cluster(c, scope, w).map(Some))
}

/// A page of DescribeDBSnapshots.
pub fn snapshots_page(body: &[u8], scope: &Scope) -> Result<Page<Resource>, Error> {
    Listing::members("DescribeDBSnapshots", "DBSnapshots", "DBSnapshot")
        .of_type("rds_snapshot")
        .parse(body, |s, w| snapshot(s, scope, w).map(Some))
}

/// A page of DescribeDBClusterSnapshots.
pub fn cluster_snapshots_page(body: &[u8], scope: &Scope) -> Result<Page<Resource>, Error> {
    let listing = Listing::members(
        "DescribeDBClusterSnapshots",
        "DBClusterSnapshots",
        "DBClusterSnapshot",
    )
    .of_type("rds_snapshot");
    listing.parse(body, |s, w| cluster_snapshot(s, scope, w).map(Some))
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
        relations.push(relation("cluster", rds_arn(scope, "cluster", c)));
    }
    if let Some(s) = &source {
        relations.push(relation("replica_of", rds_arn(scope, "db", s)));
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
    security_groups(i.vpc_security_groups, scope, &mut relations);

    let endpoint = i.endpoint.unwrap_or_default();
    let mut meta = Metadata::new(&id, warnings);
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
        rds_arn(scope, "db", &id),
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
        relations.push(relation("instance", rds_arn(scope, "db", &member)));
        if is_writer {
            writer = Some(member.clone());
        }
        members.push(serde_json::json!({ "id": member, "writer": is_writer }));
    }
    security_groups(c.vpc_security_groups, scope, &mut relations);

    let mut meta = Metadata::new(&id, warnings);
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
        rds_arn(scope, "cluster", &id),
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
        .map(|i| relation("snapshot_of", rds_arn(scope, "db", i)))
        .collect();
    let metadata = snapshot_meta(&id, "instance", source, &s, warnings);
    Ok(resource(
        "rds_snapshot",
        rds_arn(scope, "snapshot", &id),
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
        .map(|c| relation("snapshot_of", rds_arn(scope, "cluster", c)))
        .collect();
    let metadata = snapshot_meta(&id, "cluster", source, &s, warnings);
    Ok(resource(
        "rds_snapshot",
        rds_arn(scope, "cluster-snapshot", &id),
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
    let mut meta = Metadata::new(id, warnings);
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

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::{fixture, metadata, relations};

    const SCOPE: Scope<'static> = Scope {
        partition: "aws",
        region: "us-west-2",
        account: "123456789012",
    };
    const RDS: &str = "arn:aws:rds:us-west-2:123456789012:";
    const EC2: &str = "arn:aws:ec2:us-west-2:123456789012:";

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
        assert!(page.next_token.is_some());
        let [main, replica, dev] = &page.items[..] else {
            panic!("expected three instances, got {:?}", page.items);
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
            metadata(main),
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
        assert_eq!(metadata(replica)["read_replica_source"], "pg-main");
        assert_eq!(dev.state.as_deref(), Some("stopped"), "moto stops at once");
        assert_eq!(metadata(dev)["backup_retention_period"], 0);
        assert!(dev.tags.is_empty());
    }

    #[test]
    fn aurora_members_link_to_their_cluster() {
        let page =
            instances_page(&fixture("moto_describe_db_instances_page2.xml"), &SCOPE).unwrap();
        assert_eq!(page.next_token, None);
        let member = &page.items[0];
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
        assert_eq!(metadata(member)["cluster_id"], "aurora-main");
        assert_eq!(metadata(member)["engine"], "aurora-postgresql");
    }

    #[test]
    fn a_cluster_lists_its_members_and_its_writer() {
        let page = clusters_page(&fixture("moto_describe_db_clusters.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        let [c] = &page.items[..] else {
            panic!("expected one cluster, got {:?}", page.items);
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
        let m = metadata(c);
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
        assert_eq!(page.items.len(), 5);
        let manual = page.items.last().unwrap();
        assert_eq!(manual.identifier, "pg-main-before-upgrade");
        assert_eq!(manual.arn, format!("{RDS}snapshot:pg-main-before-upgrade"));
        assert_eq!(tags(manual), [("purpose", "upgrade")]);
        assert_eq!(
            relations(manual),
            [pair("snapshot_of", format!("{RDS}db:pg-main"))]
        );
        let m = metadata(manual);
        assert_eq!(m["snapshot_type"], "manual");
        assert_eq!(m["source"], "instance");
        assert_eq!(m["instance_id"], "pg-main");
        assert_eq!(m["allocated_storage_gib"], 100);
        let automated = &page.items[0];
        assert_eq!(
            automated.arn,
            format!("{RDS}snapshot:rds:pg-main-2026-11-27-17-05")
        );
        assert_eq!(metadata(automated)["snapshot_type"], "automated");

        let page =
            cluster_snapshots_page(&fixture("moto_describe_db_cluster_snapshots.xml"), &SCOPE)
                .unwrap();
        let [auto, manual] = &page.items[..] else {
            panic!("expected two cluster snapshots, got {:?}", page.items);
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
        assert_eq!(metadata(manual)["source"], "cluster");
        assert_eq!(metadata(manual)["cluster_id"], "aurora-main");
        assert_eq!(metadata(auto)["snapshot_type"], "automated");
    }

    #[test]
    fn odd_instances_become_warnings_and_the_page_goes_on() {
        let page = instances_page(&fixture("describe_db_instances_odd.xml"), &SCOPE).unwrap();
        assert_eq!(page.next_token.as_deref(), Some("bWFya2VyLTI="));
        let ids: Vec<_> = page.items.iter().map(|r| &r.identifier[..]).collect();
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

        let replica = &page.items[0];
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
        let m = metadata(replica);
        assert!(m.get("multi_az").is_none());
        assert_eq!(m["deletion_protection"], true);
        assert_eq!(m["storage_encrypted"], true);
        assert_eq!(m["endpoint_port"], 3306);
        assert_eq!(metadata(&page.items[1]), serde_json::json!({}));
        assert_eq!(page.items[1].state, None);
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
        assert!(page.items.is_empty() && page.warnings.is_empty());
        assert_eq!(page.next_token, None);
    }
}
