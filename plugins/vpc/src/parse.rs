//! VPC responses to resources. Pure functions over response bodies, so they run in tests
//! without the host.

use cloudops_scanner_sdk::xml::{ItemSet, Listing, TagSet};
use cloudops_scanner_sdk::{name_from_tags, present, relation, Error, Metadata, Page};
use cloudops_scanner_sdk::{Resource, Scope};
use serde::Deserialize;
use serde_json::Value;

/// How many rules of each direction the metadata spells out; the counts cover all of them.
const MAX_LISTED_RULES: usize = 20;

/// Sources that let anyone on the internet in.
const WORLD: [&str; 2] = ["0.0.0.0/0", "::/0"];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vpc {
    vpc_id: Option<String>,
    state: Option<String>,
    cidr_block: Option<String>,
    #[serde(default)]
    cidr_block_association_set: ItemSet<CidrAssociation>,
    #[serde(default)]
    ipv6_cidr_block_association_set: ItemSet<CidrAssociation>,
    dhcp_options_id: Option<String>,
    instance_tenancy: Option<String>,
    is_default: Option<String>,
    owner_id: Option<String>,
    #[serde(default)]
    tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CidrAssociation {
    cidr_block: Option<String>,
    ipv6_cidr_block: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subnet {
    subnet_id: Option<String>,
    state: Option<String>,
    vpc_id: Option<String>,
    cidr_block: Option<String>,
    #[serde(default)]
    ipv6_cidr_block_association_set: ItemSet<CidrAssociation>,
    availability_zone: Option<String>,
    availability_zone_id: Option<String>,
    available_ip_address_count: Option<String>,
    default_for_az: Option<String>,
    map_public_ip_on_launch: Option<String>,
    owner_id: Option<String>,
    #[serde(default)]
    tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecurityGroup {
    group_id: Option<String>,
    group_name: Option<String>,
    group_description: Option<String>,
    vpc_id: Option<String>,
    owner_id: Option<String>,
    #[serde(default)]
    ip_permissions: ItemSet<Permission>,
    #[serde(default)]
    ip_permissions_egress: ItemSet<Permission>,
    #[serde(default)]
    tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Permission {
    ip_protocol: Option<String>,
    from_port: Option<String>,
    to_port: Option<String>,
    #[serde(default)]
    groups: ItemSet<GroupPair>,
    #[serde(default)]
    ip_ranges: ItemSet<IpRange>,
    #[serde(default)]
    ipv6_ranges: ItemSet<IpRange>,
    #[serde(default)]
    prefix_list_ids: ItemSet<PrefixList>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupPair {
    group_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IpRange {
    cidr_ip: Option<String>,
    cidr_ipv6: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrefixList {
    prefix_list_id: Option<String>,
}

/// A page of DescribeVpcs.
pub fn vpcs_page(body: &[u8], scope: &Scope) -> Result<Page<Resource>, Error> {
    Listing::item_set("DescribeVpcs", &["vpcSet", "item"])
        .of_type("vpc")
        .parse(body, |v, w| vpc(v, scope, w).map(Some))
}

/// A page of DescribeSubnets.
pub fn subnets_page(body: &[u8], scope: &Scope) -> Result<Page<Resource>, Error> {
    Listing::item_set("DescribeSubnets", &["subnetSet", "item"])
        .of_type("vpc_subnet")
        .parse(body, |s, w| subnet(s, scope, w).map(Some))
}

/// A page of DescribeSecurityGroups.
pub fn security_groups_page(body: &[u8], scope: &Scope) -> Result<Page<Resource>, Error> {
    Listing::item_set("DescribeSecurityGroups", &["securityGroupInfo", "item"])
        .of_type("vpc_security_group")
        .parse(body, |g, w| security_group(g, scope, w).map(Some))
}

fn vpc(v: Vpc, scope: &Scope, warnings: &mut Vec<String>) -> Result<Resource, String> {
    let id = present(v.vpc_id).ok_or("a VPC without vpcId")?;
    let cidrs = v.cidr_block_association_set.items.into_iter();
    let ipv6 = v.ipv6_cidr_block_association_set.items.into_iter();
    let mut meta = Metadata::new(&id, warnings);
    meta.text("cidr_block", v.cidr_block);
    meta.list("cidr_blocks", cidrs.filter_map(|c| present(c.cidr_block)));
    meta.list(
        "ipv6_cidr_blocks",
        ipv6.filter_map(|c| present(c.ipv6_cidr_block)),
    );
    meta.boolean("is_default", v.is_default);
    meta.text("instance_tenancy", v.instance_tenancy);
    meta.text("dhcp_options_id", v.dhcp_options_id);
    meta.text("owner_id", v.owner_id);
    let metadata = meta.finish();
    let tags = v.tag_set.into_tags();
    Ok(Resource {
        resource_type: "vpc".into(),
        arn: scope.ec2("vpc", &id),
        name: name_from_tags(&tags, &id),
        region: scope.region.to_owned(),
        state: present(v.state),
        tags,
        relations: Vec::new(),
        metadata,
        identifier: id,
    })
}

fn subnet(s: Subnet, scope: &Scope, warnings: &mut Vec<String>) -> Result<Resource, String> {
    let id = present(s.subnet_id).ok_or("a subnet without subnetId")?;
    let vpc_id = present(s.vpc_id);
    let relations = vpc_id
        .iter()
        .map(|v| relation("vpc", scope.ec2("vpc", v)))
        .collect();
    let ipv6 = s.ipv6_cidr_block_association_set.items.into_iter();
    let mut meta = Metadata::new(&id, warnings);
    meta.text("vpc_id", vpc_id);
    meta.text("cidr_block", s.cidr_block);
    meta.list(
        "ipv6_cidr_blocks",
        ipv6.filter_map(|c| present(c.ipv6_cidr_block)),
    );
    meta.text("availability_zone", s.availability_zone);
    meta.text("availability_zone_id", s.availability_zone_id);
    meta.number("available_ip_address_count", s.available_ip_address_count);
    meta.boolean("default_for_az", s.default_for_az);
    meta.boolean("map_public_ip_on_launch", s.map_public_ip_on_launch);
    meta.text("owner_id", s.owner_id);
    let metadata = meta.finish();
    let tags = s.tag_set.into_tags();
    Ok(Resource {
        resource_type: "vpc_subnet".into(),
        arn: scope.ec2("subnet", &id),
        name: name_from_tags(&tags, &id),
        region: scope.region.to_owned(),
        state: present(s.state),
        tags,
        relations,
        metadata,
        identifier: id,
    })
}

fn security_group(
    g: SecurityGroup,
    scope: &Scope,
    warnings: &mut Vec<String>,
) -> Result<Resource, String> {
    let id = present(g.group_id).ok_or("a security group without groupId")?;
    let vpc_id = present(g.vpc_id);
    let relations = vpc_id
        .iter()
        .map(|v| relation("vpc", scope.ec2("vpc", v)))
        .collect();
    let ingress = rules(g.ip_permissions.items, "from");
    let egress = rules(g.ip_permissions_egress.items, "to");
    let open_to_world = ingress.iter().any(|r| WORLD.contains(&r.source.as_str()));
    let group_name = present(g.group_name);

    let mut meta = Metadata::new(&id, warnings);
    meta.text("group_name", group_name.clone());
    meta.text("description", g.group_description);
    meta.text("vpc_id", vpc_id);
    meta.text("owner_id", g.owner_id);
    meta.value("ingress_rule_count", Value::from(ingress.len()));
    meta.value("egress_rule_count", Value::from(egress.len()));
    meta.list("ingress", summary(&ingress));
    meta.list("egress", summary(&egress));
    meta.value("open_to_world", Value::Bool(open_to_world));
    let metadata = meta.finish();

    let tags = g.tag_set.into_tags();
    // Group names are chosen by people, so they beat the id when there is no Name tag.
    let fallback = group_name.unwrap_or_else(|| id.clone());
    Ok(Resource {
        resource_type: "vpc_security_group".into(),
        arn: scope.ec2("security-group", &id),
        name: name_from_tags(&tags, &fallback),
        region: scope.region.to_owned(),
        state: None,
        tags,
        relations,
        metadata,
        identifier: id,
    })
}

/// One source or destination of one permission: AWS's own unit of "a rule".
struct Rule {
    text: String,
    source: String,
}

/// Every (protocol, ports, peer) of a direction, as `tcp 443 from 0.0.0.0/0`.
fn rules(permissions: Vec<Permission>, preposition: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    for p in permissions {
        let what = traffic(&p);
        let groups = p
            .groups
            .items
            .into_iter()
            .filter_map(|g| present(g.group_id));
        let peers = (p.ip_ranges.items.into_iter())
            .filter_map(|r| present(r.cidr_ip))
            .chain(
                p.ipv6_ranges
                    .items
                    .into_iter()
                    .filter_map(|r| present(r.cidr_ipv6)),
            )
            .chain(
                p.prefix_list_ids
                    .items
                    .into_iter()
                    .filter_map(|r| present(r.prefix_list_id)),
            )
            .chain(groups);
        for source in peers {
            out.push(Rule {
                text: format!("{what} {preposition} {source}"),
                source,
            });
        }
    }
    out
}

/// `tcp 443`, `udp 1024-65535`, `icmp`, `all`: the protocol, with ports where they apply.
fn traffic(p: &Permission) -> String {
    let protocol = match present(p.ip_protocol.clone()).as_deref() {
        None | Some("-1") => return "all".to_owned(),
        Some("6") => "tcp".to_owned(),
        Some("17") => "udp".to_owned(),
        Some("1") => "icmp".to_owned(),
        Some(other) => other.to_owned(),
    };
    if protocol != "tcp" && protocol != "udp" {
        return protocol;
    }
    let from = present(p.from_port.clone());
    let to = present(p.to_port.clone());
    match (from.as_deref(), to.as_deref()) {
        (Some("0"), Some("65535")) | (Some("-1"), _) | (None, _) => format!("{protocol} all"),
        (Some(f), Some(t)) if f != t => format!("{protocol} {f}-{t}"),
        (Some(f), _) => format!("{protocol} {f}"),
    }
}

fn summary(rules: &[Rule]) -> Vec<String> {
    let mut listed: Vec<String> = rules
        .iter()
        .take(MAX_LISTED_RULES)
        .map(|r| r.text.clone())
        .collect();
    if rules.len() > MAX_LISTED_RULES {
        listed.push(format!("and {} more", rules.len() - MAX_LISTED_RULES));
    }
    listed
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
    const EC2: &str = "arn:aws:ec2:us-west-2:123456789012:";

    #[test]
    fn vpcs_carry_their_cidrs_and_default_flag() {
        let page = vpcs_page(&fixture("moto_describe_vpcs.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        assert_eq!(page.next_token, None);
        let [default, plain, app] = &page.items[..] else {
            panic!("expected three VPCs, got {:?}", page.items);
        };
        assert_eq!(default.identifier, "vpc-512bf8eecd3b9001e");
        assert_eq!(default.name, "vpc-512bf8eecd3b9001e");
        assert_eq!(metadata(default)["is_default"], true);
        assert_eq!(plain.arn, format!("{EC2}vpc/vpc-9893079b4f5254ac8"));
        assert_eq!(app.name, "app-vpc");
        assert_eq!(app.state.as_deref(), Some("available"));
        assert_eq!(app.tags.len(), 2);
        assert!(app.relations.is_empty());
        assert_eq!(
            metadata(app),
            serde_json::json!({
                "cidr_block": "10.2.0.0/16",
                "cidr_blocks": ["10.2.0.0/16"],
                "is_default": false,
                "instance_tenancy": "default",
                "dhcp_options_id": "default",
                "owner_id": "123456789012",
            })
        );
    }

    #[test]
    fn odd_vpcs_become_warnings_and_the_page_goes_on() {
        let page = vpcs_page(&fixture("describe_vpcs_page1.xml"), &SCOPE).unwrap();
        assert_eq!(page.next_token.as_deref(), Some("dnBjLTI="));
        assert_eq!(
            page.warnings,
            [
                "vpc-0a60eb65b4EXAMPLE: left out is_default: \"no\" is not true or false",
                "DescribeVpcs: skipped an item: a VPC without vpcId",
            ]
        );
        let [shared] = &page.items[..] else {
            panic!("expected one VPC, got {:?}", page.items);
        };
        assert_eq!(shared.name, "shared-services");
        let m = metadata(shared);
        assert_eq!(
            m["cidr_blocks"],
            serde_json::json!(["10.0.0.0/16", "100.64.0.0/16"])
        );
        assert_eq!(
            m["ipv6_cidr_blocks"],
            serde_json::json!(["2600:1f14:abc:e100::/56"])
        );
        assert!(m.get("is_default").is_none());
    }

    #[test]
    fn subnets_belong_to_their_vpc() {
        let page = subnets_page(&fixture("moto_describe_subnets.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        assert_eq!(page.items.len(), 8);
        let app_a = page.items.iter().find(|r| r.name == "app-a").unwrap();
        assert_eq!(app_a.resource_type, "vpc_subnet");
        assert_eq!(app_a.state.as_deref(), Some("available"));
        assert_eq!(app_a.arn, format!("{EC2}subnet/{}", app_a.identifier));
        assert_eq!(
            relations(app_a),
            [("vpc".to_owned(), format!("{EC2}vpc/vpc-200246049dcf3d480"))]
        );
        let m = metadata(app_a);
        assert_eq!(m["cidr_block"], "10.2.1.0/24");
        assert_eq!(m["availability_zone"], "us-west-2a");
        assert_eq!(m["available_ip_address_count"], 251);
        assert_eq!(m["default_for_az"], false);
        let defaults = page
            .items
            .iter()
            .filter(|r| metadata(r)["default_for_az"] == true)
            .count();
        assert_eq!(
            defaults, 4,
            "moto's default VPC has a subnet in each of four zones"
        );
    }

    #[test]
    fn security_group_rules_are_summarised() {
        let page =
            security_groups_page(&fixture("moto_describe_security_groups.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        let web = page.items.iter().find(|r| r.name == "web-sg").unwrap();
        assert_eq!(web.identifier, "sg-fa87153328109089c");
        assert_eq!(web.arn, format!("{EC2}security-group/sg-fa87153328109089c"));
        assert_eq!(web.state, None);
        assert_eq!(
            relations(web),
            [("vpc".to_owned(), format!("{EC2}vpc/vpc-200246049dcf3d480"))]
        );
        assert_eq!(
            metadata(web),
            serde_json::json!({
                "group_name": "web",
                "description": "web tier",
                "vpc_id": "vpc-200246049dcf3d480",
                "owner_id": "123456789012",
                "ingress_rule_count": 4,
                "egress_rule_count": 1,
                "ingress": [
                    "tcp 443 from 0.0.0.0/0",
                    "tcp 443 from ::/0",
                    "tcp 22 from 10.0.0.0/8",
                    "all from sg-fa87153328109089c",
                ],
                "egress": ["all to 0.0.0.0/0"],
                "open_to_world": true,
            })
        );
        let db = page.items.iter().find(|r| r.name == "db").unwrap();
        assert_eq!(
            metadata(db)["open_to_world"],
            false,
            "egress to the world is normal"
        );
        assert_eq!(metadata(db)["ingress_rule_count"], 0);
        assert!(metadata(db).get("ingress").is_none());
        let defaults = page.items.iter().filter(|r| r.name == "default").count();
        assert_eq!(
            defaults, 3,
            "named after their group name without a Name tag"
        );
    }

    #[test]
    fn every_kind_of_peer_and_port_range_reads_plainly() {
        let page = security_groups_page(&fixture("describe_security_groups.xml"), &SCOPE).unwrap();
        assert_eq!(
            page.warnings,
            ["DescribeSecurityGroups: skipped an item: a security group without groupId"]
        );
        let m = metadata(&page.items[0]);
        assert_eq!(
            m["ingress"],
            serde_json::json!([
                "udp 1024-65535 from 10.1.0.0/16",
                "udp 1024-65535 from pl-63a5400a",
                "icmp from ::/0",
                "tcp all from sg-0fff9999eeee8888d",
            ])
        );
        assert_eq!(m["open_to_world"], true, "ICMP from anywhere is still open");
        assert_eq!(m["egress_rule_count"], 0);
    }

    #[test]
    fn long_rule_lists_are_cut_short_but_counted() {
        let ranges: String = (0..25)
            .map(|i| format!("<item><cidrIp>10.0.{i}.0/24</cidrIp></item>"))
            .collect();
        let body = format!(
            "<DescribeSecurityGroupsResponse><securityGroupInfo><item><groupId>sg-1</groupId>\
             <ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>5432</fromPort>\
             <toPort>5432</toPort><ipRanges>{ranges}</ipRanges></item></ipPermissions>\
             </item></securityGroupInfo></DescribeSecurityGroupsResponse>"
        );
        let page = security_groups_page(body.as_bytes(), &SCOPE).unwrap();
        let m = metadata(&page.items[0]);
        assert_eq!(m["ingress_rule_count"], 25);
        let listed = m["ingress"].as_array().unwrap();
        assert_eq!(listed.len(), MAX_LISTED_RULES + 1);
        assert_eq!(listed[0], "tcp 5432 from 10.0.0.0/24");
        assert_eq!(listed[MAX_LISTED_RULES], "and 5 more");
    }

    #[test]
    fn other_documents_are_errors_not_empty_pages() {
        let err = vpcs_page(&fixture("moto_describe_subnets.xml"), &SCOPE).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot parse DescribeVpcsResponse: the response is a <DescribeSubnetsResponse> document"
        );
        assert!(subnets_page(b"<html><body>oops", &SCOPE).is_err());
        assert!(security_groups_page(b"", &SCOPE).is_err());
    }
}
