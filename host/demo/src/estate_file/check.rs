//! The rules names, identifiers, CIDR blocks and ingress rules follow.

use std::net::Ipv4Addr;

use super::ResourceKind;

pub(super) fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn valid_action_pattern(p: &str) -> bool {
    if p == "*" {
        return true;
    }
    let Some((service, action)) = p.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !action.is_empty()
        && action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
}

pub(super) fn valid_role_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// Why `key` cannot be the identifier or name of a `kind`, if it cannot.
pub(super) fn key_problem(kind: ResourceKind, key: &str) -> Option<String> {
    let alnum_hyphen = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    match kind {
        ResourceKind::RdsInstance | ResourceKind::RdsCluster | ResourceKind::RdsSnapshot => {
            let ok = (1..=63).contains(&key.len())
                && key.as_bytes()[0].is_ascii_alphabetic()
                && alnum_hyphen(key)
                && !key.ends_with('-')
                && !key.contains("--");
            (!ok).then(|| {
                format!(
                    "`{key}` is not an RDS identifier: 1-63 letters, digits and single hyphens, \
                     starting with a letter"
                )
            })
        }
        ResourceKind::S3Bucket => {
            let ok = (3..=63).contains(&key.len())
                && key.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                })
                && key.as_bytes()[0].is_ascii_alphanumeric()
                && key.as_bytes()[key.len() - 1].is_ascii_alphanumeric()
                && !key.contains("..")
                && key.parse::<Ipv4Addr>().is_err();
            (!ok).then(|| {
                format!(
                    "`{key}` is not an S3 bucket name: 3-63 lowercase letters, digits, hyphens \
                     and dots, starting and ending with a letter or digit"
                )
            })
        }
        ResourceKind::LambdaFunction | ResourceKind::LambdaLayer | ResourceKind::LambdaAlias => {
            let ok = (1..=64).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !(kind == ResourceKind::LambdaAlias && key.bytes().all(|b| b.is_ascii_digit()));
            (!ok).then(|| {
                format!(
                    "`{key}` is not a Lambda name: 1-64 letters, digits, hyphens and underscores"
                )
            })
        }
        ResourceKind::ElbLoadBalancer => {
            let ok = (1..=32).contains(&key.len())
                && alnum_hyphen(key)
                && !key.starts_with('-')
                && !key.ends_with('-')
                && !key.starts_with("internal-");
            (!ok).then(|| {
                format!(
                    "`{key}` is not a load balancer name: 1-32 letters, digits and hyphens, \
                     not starting or ending with a hyphen"
                )
            })
        }
        ResourceKind::VpcSecurityGroup => {
            let ok = (1..=255).contains(&key.len())
                && key != "default"
                && !key.to_ascii_lowercase().starts_with("sg-");
            (!ok).then(|| {
                format!(
                    "`{key}` cannot be a security group name: 1-255 characters, not `default` \
                     (every VPC has that group already) and not starting with `sg-`"
                )
            })
        }
        _ => (key.trim().is_empty() || key.len() > 256 || key.trim() != key)
            .then(|| format!("`{key}` cannot be a Name tag: 1-256 characters, no outer spaces")),
    }
}

pub(super) fn parse_cidr(s: &str) -> Option<(u32, u8)> {
    let (ip, prefix) = s.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    if prefix > 32 {
        return None;
    }
    let ip = u32::from(ip);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (ip & mask == ip).then_some((ip, prefix))
}

pub(super) fn cidr_text(ip: u32, prefix: u8) -> String {
    format!("{}/{prefix}", Ipv4Addr::from(ip))
}

pub(super) fn cidr_contains(outer: (u32, u8), inner: (u32, u8)) -> bool {
    inner.1 >= outer.1 && {
        let mask = if outer.1 == 0 {
            0
        } else {
            u32::MAX << (32 - outer.1)
        };
        inner.0 & mask == outer.0
    }
}

pub(super) fn cidrs_overlap(a: (u32, u8), b: (u32, u8)) -> bool {
    cidr_contains(a, b) || cidr_contains(b, a)
}

/// Parses `tcp 443 from 0.0.0.0/0` and friends.
pub(super) fn parse_rule(text: &str) -> Result<(&'static str, i32, i32, String), String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let bad = || {
        format!(
            "`{text}` is not a rule; write `tcp 443 from 0.0.0.0/0`, `udp 1024-65535 from \
             10.0.0.0/8`, `icmp from 0.0.0.0/0` or `all from <group name>`"
        )
    };
    let (protocol, ports, rest) = match words.as_slice() {
        [p @ ("tcp" | "udp"), ports, "from", rest @ ..] => (*p, Some(*ports), rest),
        [p @ ("icmp" | "all"), "from", rest @ ..] => (*p, None, rest),
        _ => return Err(bad()),
    };
    let [source] = rest else { return Err(bad()) };
    let (from, to) = match ports {
        None => (-1, -1),
        Some("all") => (0, 65535),
        Some(p) => {
            let (a, b) = p.split_once('-').unwrap_or((p, p));
            let a: i32 = a.parse().map_err(|_| bad())?;
            let b: i32 = b.parse().map_err(|_| bad())?;
            if !(0..=65535).contains(&a) || !(a..=65535).contains(&b) {
                return Err(bad());
            }
            (a, b)
        }
    };
    let protocol = match protocol {
        "tcp" => "tcp",
        "udp" => "udp",
        "icmp" => "icmp",
        _ => "-1",
    };
    Ok((protocol, from, to, (*source).to_owned()))
}

/// A small stable hash (FNV-1a), for deterministic choices that must not change between
/// Rust versions.
pub(crate) fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
