//! Regions and zones (moto 5.2's, which follow AWS's).

/// The availability zones of `region` as the emulator (and, for these regions, AWS)
/// knows them, or `None` for a region the estate file does not support.
pub fn zones(region: &str) -> Option<Vec<String>> {
    let letters: &str = match region {
        "us-east-1" => "abcdef",
        "us-west-2" | "ap-northeast-2" => "abcd",
        "us-west-1" => "ab",
        "ap-northeast-1" => "acd",
        "ca-central-1" => "abd",
        "af-south-1" | "ap-east-1" | "ap-northeast-3" | "ap-south-1" | "ap-south-2"
        | "ap-southeast-1" | "ap-southeast-2" | "ap-southeast-3" | "ap-southeast-4"
        | "ca-west-1" | "eu-central-1" | "eu-central-2" | "eu-north-1" | "eu-south-1"
        | "eu-south-2" | "eu-west-1" | "eu-west-2" | "eu-west-3" | "il-central-1"
        | "me-central-1" | "me-south-1" | "sa-east-1" | "us-east-2" => "abc",
        _ => return None,
    };
    Some(letters.chars().map(|c| format!("{region}{c}")).collect())
}

/// The zone id (`usw2-az2`) of a zone, as moto reports it for the regions it maps
/// specially; other regions number zones in order.
pub(crate) fn zone_id(zone: &str) -> String {
    let special: &[(&str, &str)] = &[
        ("us-east-1a", "use1-az6"),
        ("us-east-1b", "use1-az1"),
        ("us-east-1c", "use1-az2"),
        ("us-east-1d", "use1-az4"),
        ("us-east-1e", "use1-az3"),
        ("us-east-1f", "use1-az5"),
        ("us-west-2a", "usw2-az2"),
        ("us-west-2b", "usw2-az1"),
        ("us-west-2c", "usw2-az3"),
        ("us-west-2d", "usw2-az4"),
        ("us-west-1a", "usw1-az3"),
        ("us-west-1b", "usw1-az1"),
        ("eu-west-1a", "euw1-az3"),
        ("eu-west-1b", "euw1-az1"),
        ("eu-west-1c", "euw1-az2"),
        ("eu-west-2a", "euw2-az2"),
        ("eu-west-2b", "euw2-az3"),
        ("eu-west-2c", "euw2-az1"),
        ("ap-south-1b", "aps1-az3"),
        ("ap-south-1c", "aps1-az2"),
        ("ap-northeast-1a", "apne1-az4"),
        ("ap-northeast-1c", "apne1-az1"),
        ("ap-northeast-1d", "apne1-az2"),
        ("ap-southeast-2b", "apse2-az3"),
        ("ap-southeast-2c", "apse2-az2"),
        ("ca-central-1d", "cac1-az4"),
    ];
    if let Some((_, id)) = special.iter().find(|(z, _)| *z == zone) {
        return (*id).to_owned();
    }
    let (region, letter) = zone.split_at(zone.len() - 1);
    let mut short = String::new();
    for (i, part) in region.split('-').enumerate() {
        match i {
            0 => short.push_str(part),
            _ if part.chars().all(|c| c.is_ascii_digit()) => short.push_str(part),
            _ => short.push(part.chars().next().unwrap_or('x')),
        }
    }
    let n = letter.as_bytes()[0].saturating_sub(b'a') + 1;
    format!("{short}-az{n}")
}
