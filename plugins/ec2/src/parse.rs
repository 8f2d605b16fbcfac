//! EC2 responses to resources. Pure functions over response bodies, so they run in tests
//! without the host.

use cloudops_scanner_sdk::xml::{ItemSet, Listing, TagSet};
use cloudops_scanner_sdk::{name_from_tags, present, relation, Error, Metadata, Page};
use cloudops_scanner_sdk::{Resource, Scope};
use serde::Deserialize;

/// AWS puts this placeholder in `volumeId` of snapshots made by CopySnapshot; it names no
/// volume, so it must not become a relation.
const PLACEHOLDER_VOLUME: &str = "vol-ffffffff";

/// Snapshot ARNs carry the region but no account: `arn:aws:ec2:us-east-1::snapshot/snap-…`.
fn snapshot_arn(scope: &Scope, id: &str) -> String {
    Scope {
        account: "",
        ..*scope
    }
    .ec2("snapshot", id)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Instance {
    instance_id: Option<String>,
    image_id: Option<String>,
    instance_state: Option<InstanceState>,
    instance_type: Option<String>,
    private_ip_address: Option<String>,
    /// The public IPv4 address; EC2's XML calls it `ipAddress`.
    ip_address: Option<String>,
    launch_time: Option<String>,
    placement: Option<Placement>,
    architecture: Option<String>,
    platform: Option<String>,
    key_name: Option<String>,
    ebs_optimized: Option<String>,
    root_device_type: Option<String>,
    subnet_id: Option<String>,
    vpc_id: Option<String>,
    #[serde(default)]
    group_set: ItemSet<Group>,
    #[serde(default)]
    block_device_mapping: ItemSet<BlockDevice>,
    #[serde(default)]
    tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize)]
struct InstanceState {
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Placement {
    availability_zone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    group_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct BlockDevice {
    ebs: Option<EbsRef>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EbsRef {
    volume_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    volume_id: Option<String>,
    size: Option<String>,
    snapshot_id: Option<String>,
    availability_zone: Option<String>,
    status: Option<String>,
    create_time: Option<String>,
    #[serde(default)]
    attachment_set: ItemSet<Attachment>,
    volume_type: Option<String>,
    iops: Option<String>,
    encrypted: Option<String>,
    kms_key_id: Option<String>,
    multi_attach_enabled: Option<String>,
    #[serde(default)]
    tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attachment {
    instance_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    snapshot_id: Option<String>,
    volume_id: Option<String>,
    owner_id: Option<String>,
    status: Option<String>,
    start_time: Option<String>,
    progress: Option<String>,
    volume_size: Option<String>,
    description: Option<String>,
    encrypted: Option<String>,
    #[serde(default)]
    tag_set: TagSet,
}

/// A page of DescribeInstances: instances sit two levels down, inside reservations.
pub fn instances_page(body: &[u8], scope: &Scope) -> Result<Page<Resource>, Error> {
    let items = ["reservationSet", "item", "instancesSet", "item"];
    Listing::item_set("DescribeInstances", &items)
        .of_type("ec2_instance")
        .parse(body, |i, w| instance(i, scope, w))
}

/// A page of DescribeVolumes.
pub fn volumes_page(body: &[u8], scope: &Scope) -> Result<Page<Resource>, Error> {
    Listing::item_set("DescribeVolumes", &["volumeSet", "item"])
        .of_type("ec2_volume")
        .parse(body, |v, w| volume(v, scope, w))
}

/// A page of DescribeSnapshots.
pub fn snapshots_page(body: &[u8], scope: &Scope) -> Result<Page<Resource>, Error> {
    Listing::item_set("DescribeSnapshots", &["snapshotSet", "item"])
        .of_type("ec2_snapshot")
        .parse(body, |s, w| snapshot(s, scope, w))
}

fn instance(
    i: Instance,
    scope: &Scope,
    warnings: &mut Vec<String>,
) -> Result<Option<Resource>, String> {
    let id = present(i.instance_id).ok_or("an instance without instanceId")?;
    let mut relations = Vec::new();
    if let Some(subnet) = present(i.subnet_id) {
        relations.push(relation("subnet", scope.ec2("subnet", &subnet)));
    }
    if let Some(vpc) = present(i.vpc_id) {
        relations.push(relation("vpc", scope.ec2("vpc", &vpc)));
    }
    for group in i
        .group_set
        .items
        .into_iter()
        .filter_map(|g| present(g.group_id))
    {
        relations.push(relation(
            "security_group",
            scope.ec2("security-group", &group),
        ));
    }
    let volumes = i.block_device_mapping.items.into_iter();
    for vol in volumes.filter_map(|d| d.ebs.and_then(|e| present(e.volume_id))) {
        relations.push(relation("volume", scope.ec2("volume", &vol)));
    }

    let mut meta = Metadata::new(&id, warnings);
    meta.text("instance_type", i.instance_type);
    meta.text("image_id", i.image_id);
    meta.text("private_ip", i.private_ip_address);
    meta.text("public_ip", i.ip_address);
    meta.text("launch_time", i.launch_time);
    meta.text(
        "availability_zone",
        i.placement.and_then(|p| p.availability_zone),
    );
    meta.text("architecture", i.architecture);
    meta.text("platform", i.platform);
    meta.text("key_name", i.key_name);
    meta.boolean("ebs_optimized", i.ebs_optimized);
    meta.text("root_device_type", i.root_device_type);
    let state = i.instance_state.and_then(|s| present(s.name));
    // EC2 always reports a state: without one it is unread, not "none".
    if state.is_none() {
        meta.unread("state");
    }
    let metadata = meta.finish();

    let tags = i.tag_set.into_tags();
    Ok(Some(Resource {
        resource_type: "ec2_instance".into(),
        arn: scope.ec2("instance", &id),
        name: name_from_tags(&tags, &id),
        region: scope.region.to_owned(),
        state,
        tags,
        relations,
        metadata,
        identifier: id,
    }))
}

fn volume(
    v: Volume,
    scope: &Scope,
    warnings: &mut Vec<String>,
) -> Result<Option<Resource>, String> {
    let id = present(v.volume_id).ok_or("a volume without volumeId")?;
    let mut relations = Vec::new();
    for inst in v
        .attachment_set
        .items
        .into_iter()
        .filter_map(|a| present(a.instance_id))
    {
        relations.push(relation("instance", scope.ec2("instance", &inst)));
    }
    if let Some(snap) = present(v.snapshot_id.clone()) {
        relations.push(relation("snapshot", snapshot_arn(scope, &snap)));
    }

    let mut meta = Metadata::new(&id, warnings);
    meta.number("size_gib", v.size);
    meta.text("volume_type", v.volume_type);
    meta.number("iops", v.iops);
    meta.boolean("encrypted", v.encrypted);
    meta.text("kms_key_id", v.kms_key_id);
    meta.text("availability_zone", v.availability_zone);
    meta.text("create_time", v.create_time);
    meta.boolean("multi_attach", v.multi_attach_enabled);
    meta.text("snapshot_id", v.snapshot_id);
    let state = present(v.status);
    if state.is_none() {
        meta.unread("state");
    }
    let metadata = meta.finish();

    let tags = v.tag_set.into_tags();
    Ok(Some(Resource {
        resource_type: "ec2_volume".into(),
        arn: scope.ec2("volume", &id),
        name: name_from_tags(&tags, &id),
        region: scope.region.to_owned(),
        state,
        tags,
        relations,
        metadata,
        identifier: id,
    }))
}

fn snapshot(
    s: Snapshot,
    scope: &Scope,
    warnings: &mut Vec<String>,
) -> Result<Option<Resource>, String> {
    let id = present(s.snapshot_id).ok_or("a snapshot without snapshotId")?;
    // Emulators ignore `Owner=self` and list other accounts' AMI snapshots too.
    if present(s.owner_id).is_some_and(|owner| owner != scope.account) {
        return Ok(None);
    }
    let volume_id = present(s.volume_id).filter(|v| v != PLACEHOLDER_VOLUME);
    let mut relations = Vec::new();
    if let Some(vol) = &volume_id {
        relations.push(relation("snapshot_of", scope.ec2("volume", vol)));
    }

    let mut meta = Metadata::new(&id, warnings);
    meta.text("volume_id", volume_id);
    meta.number("volume_size_gib", s.volume_size);
    meta.text("start_time", s.start_time);
    meta.boolean("encrypted", s.encrypted);
    meta.text("description", s.description);
    meta.text("progress", s.progress);
    let state = present(s.status);
    if state.is_none() {
        meta.unread("state");
    }
    let metadata = meta.finish();

    let tags = s.tag_set.into_tags();
    Ok(Some(Resource {
        resource_type: "ec2_snapshot".into(),
        arn: snapshot_arn(scope, &id),
        name: name_from_tags(&tags, &id),
        region: scope.region.to_owned(),
        state,
        tags,
        relations,
        metadata,
        identifier: id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::{fixture, metadata, relations};

    const SCOPE: Scope<'static> = Scope {
        partition: "aws",
        region: "eu-west-1",
        account: "123456789012",
    };

    fn pair(kind: &str, arn: &str) -> (String, String) {
        (kind.to_owned(), arn.to_owned())
    }

    #[test]
    fn an_instance_becomes_a_resource_with_relations_and_metadata() {
        let page = instances_page(&fixture("describe_instances_page1.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        assert_eq!(
            page.next_token.as_deref(),
            Some("eyJ2IjoiMiIsImMiOiJBQUFBQUFBQUFBQT0iLCJzIjoxfQ==")
        );
        let [i] = &page.items[..] else {
            panic!("expected one instance, got {:?}", page.items);
        };
        assert_eq!(i.resource_type, "ec2_instance");
        assert_eq!(i.identifier, "i-1234567890abcdef0");
        assert_eq!(
            i.arn,
            "arn:aws:ec2:eu-west-1:123456789012:instance/i-1234567890abcdef0"
        );
        assert_eq!(i.name, "web-1");
        assert_eq!(i.region, "eu-west-1");
        assert_eq!(i.state.as_deref(), Some("running"));
        let tags: Vec<_> = i.tags.iter().map(|t| (&t.key[..], &t.value[..])).collect();
        assert_eq!(tags, [("Name", "web-1"), ("env", "prod")]);
        let p = "arn:aws:ec2:eu-west-1:123456789012:";
        assert_eq!(
            relations(i),
            [
                pair("subnet", &format!("{p}subnet/subnet-56f5f633")),
                pair("vpc", &format!("{p}vpc/vpc-11112222")),
                pair("security_group", &format!("{p}security-group/sg-e4076980")),
                pair("security_group", &format!("{p}security-group/sg-0a1b2c3d")),
                pair("volume", &format!("{p}volume/vol-1234567890abcdef0")),
                pair("volume", &format!("{p}volume/vol-0fedcba9876543210")),
            ]
        );
        assert_eq!(
            metadata(i),
            serde_json::json!({
                "instance_type": "t3.micro",
                "image_id": "ami-0abcdef1234567890",
                "private_ip": "192.168.1.88",
                "public_ip": "54.194.252.215",
                "launch_time": "2024-05-17T09:51:46.000Z",
                "availability_zone": "eu-west-1c",
                "architecture": "x86_64",
                "key_name": "my_keypair",
                "ebs_optimized": true,
                "root_device_type": "ebs",
            })
        );
    }

    #[test]
    fn odd_instances_become_warnings_and_the_page_goes_on() {
        let page = instances_page(&fixture("describe_instances_page2.xml"), &SCOPE).unwrap();
        assert_eq!(page.next_token, None);
        let ids: Vec<_> = page.items.iter().map(|r| &r.identifier[..]).collect();
        assert_eq!(ids, ["i-0bbbbbbbbbbbbbbbb", "i-0dddddddddddddddd"]);
        assert_eq!(page.warnings.len(), 3, "{:?}", page.warnings);
        assert!(page.warnings[0].contains("ebs_optimized") && page.warnings[0].contains("maybe"));
        assert_eq!(
            page.warnings[1],
            "DescribeInstances: skipped an item: an instance without instanceId"
        );
        assert!(page.warnings[2]
            .starts_with("DescribeInstances: skipped an item: cannot parse Instance"));

        let windows = &page.items[0];
        assert_eq!(windows.name, "i-0bbbbbbbbbbbbbbbb");
        assert_eq!(windows.state.as_deref(), Some("stopped"));
        assert!(windows.tags.is_empty());
        let m = metadata(windows);
        assert_eq!(m["platform"], "windows");
        assert!(m.get("ebs_optimized").is_none());
        assert!(m.get("public_ip").is_none());

        let terminated = &page.items[1];
        assert_eq!(
            terminated.name, "i-0dddddddddddddddd",
            "a blank Name tag is no name"
        );
        assert!(terminated.relations.is_empty());
        assert_eq!(metadata(terminated), serde_json::json!({}));
    }

    #[test]
    fn volumes_link_to_instances_and_source_snapshots() {
        let page = volumes_page(&fixture("describe_volumes.xml"), &SCOPE).unwrap();
        assert_eq!(page.next_token, None, "an empty <nextToken/> ends paging");
        assert_eq!(
            page.warnings,
            ["DescribeVolumes: skipped an item: a volume without volumeId"]
        );
        let [root, spare] = &page.items[..] else {
            panic!("expected two volumes, got {:?}", page.items);
        };
        assert_eq!(
            root.arn,
            "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1234567890abcdef0"
        );
        assert_eq!(root.name, "web-1-root");
        assert_eq!(root.state.as_deref(), Some("in-use"));
        assert_eq!(
            relations(root),
            [
                pair(
                    "instance",
                    "arn:aws:ec2:eu-west-1:123456789012:instance/i-1234567890abcdef0"
                ),
                pair(
                    "snapshot",
                    "arn:aws:ec2:eu-west-1::snapshot/snap-1234567890abcdef0"
                ),
            ]
        );
        assert_eq!(
            metadata(root),
            serde_json::json!({
                "size_gib": 8,
                "volume_type": "gp3",
                "iops": 3000,
                "encrypted": true,
                "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                "availability_zone": "eu-west-1c",
                "create_time": "2024-05-17T09:51:47.000Z",
                "multi_attach": false,
                "snapshot_id": "snap-1234567890abcdef0",
            })
        );
        assert_eq!(spare.state.as_deref(), Some("available"));
        assert!(spare.relations.is_empty(), "<snapshotId/> is no snapshot");
        assert_eq!(metadata(spare)["size_gib"], 100);
    }

    #[test]
    fn snapshots_link_to_their_volume_but_not_to_the_placeholder() {
        let page = snapshots_page(&fixture("describe_snapshots.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        assert_eq!(
            page.next_token.as_deref(),
            Some("c25hcC0wYWFhYWFhYWFhYWFhYWFhYQ==")
        );
        let [nightly, ami] = &page.items[..] else {
            panic!("expected two snapshots, got {:?}", page.items);
        };
        assert_eq!(
            nightly.arn,
            "arn:aws:ec2:eu-west-1::snapshot/snap-1234567890abcdef0"
        );
        assert_eq!(nightly.name, "web-1 nightly");
        assert_eq!(nightly.state.as_deref(), Some("completed"));
        assert_eq!(nightly.tags.len(), 2);
        assert_eq!(nightly.tags[1].value, "");
        assert_eq!(
            relations(nightly),
            [pair(
                "snapshot_of",
                "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1234567890abcdef0"
            )]
        );
        assert_eq!(
            metadata(nightly),
            serde_json::json!({
                "volume_id": "vol-1234567890abcdef0",
                "volume_size_gib": 8,
                "start_time": "2024-05-20T01:02:03.000Z",
                "encrypted": true,
                "description": "nightly backup of web-1",
                "progress": "100%",
            })
        );
        assert!(ami.relations.is_empty());
        assert!(metadata(ami).get("volume_id").is_none());
        assert_eq!(ami.state.as_deref(), Some("pending"));
    }

    #[test]
    fn other_documents_are_errors_not_empty_pages() {
        let err = volumes_page(&fixture("describe_snapshots.xml"), &SCOPE).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot parse DescribeVolumesResponse: the response is a <DescribeSnapshotsResponse> document"
        );
        assert!(instances_page(b"<html><body>oops", &SCOPE).is_err());
        assert!(instances_page(b"", &SCOPE).is_err());
        assert!(snapshots_page(b"\xff\xfe", &SCOPE).is_err());
        let truncated = &fixture("describe_instances_page1.xml")[..600];
        assert!(instances_page(truncated, &SCOPE).is_err());
    }

    #[test]
    fn an_empty_listing_is_an_empty_page() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>x</requestId><reservationSet/></DescribeInstancesResponse>"#;
        let page = instances_page(body, &SCOPE).unwrap();
        assert!(page.items.is_empty() && page.warnings.is_empty());
        assert_eq!(page.next_token, None);
    }

    #[test]
    fn other_partitions_appear_in_every_arn() {
        let scope = Scope {
            partition: "aws-cn",
            region: "cn-north-1",
            account: "123456789012",
        };
        let page = snapshots_page(&fixture("describe_snapshots.xml"), &scope).unwrap();
        assert_eq!(
            page.items[0].arn,
            "arn:aws-cn:ec2:cn-north-1::snapshot/snap-1234567890abcdef0"
        );
        assert_eq!(
            page.items[0].relations[0].target_arn,
            "arn:aws-cn:ec2:cn-north-1:123456789012:volume/vol-1234567890abcdef0"
        );
    }

    #[test]
    fn an_instance_without_a_state_has_its_state_unread_not_none() {
        let body = br#"<DescribeInstancesResponse><reservationSet><item><instancesSet><item>
            <instanceId>i-1</instanceId><instanceType>t3.micro</instanceType>
            </item></instancesSet></item></reservationSet></DescribeInstancesResponse>"#;
        let page = instances_page(body, &SCOPE).unwrap();
        let [i] = &page.items[..] else {
            panic!("{page:?}")
        };
        assert_eq!(i.state, None);
        assert_eq!(metadata(i)["_unread"], serde_json::json!(["state"]));
    }
}
