//! Region names a sync may scan: known ones only, each once.
//!
//! A mistyped region (`us-wset-2`) would otherwise become a scope that fails on every
//! service, and a region listed many times would be scanned as many times.

/// The commercial, GovCloud and China regions AWS has opened (2025).
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Variable naming regions to accept beyond [`KNOWN_REGIONS`] (comma-separated), for a
/// region AWS opens after this release.
pub const EXTRA_REGIONS_VAR: &str = "CLOUDOPS_EXTRA_REGIONS";

/// `regions` in their first order, each once; an error naming every unknown one.
pub fn checked_regions<S: AsRef<str>>(regions: &[S]) -> Result<Vec<String>, String> {
    let extra = std::env::var(EXTRA_REGIONS_VAR).unwrap_or_default();
    let extra: Vec<&str> = extra.split(',').map(str::trim).collect();
    let mut out: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for region in regions {
        let region = region.as_ref().trim();
        if out.iter().any(|r| r == region) || unknown.iter().any(|r| r == region) {
            continue;
        }
        if KNOWN_REGIONS.contains(&region) || (!region.is_empty() && extra.contains(&region)) {
            out.push(region.to_owned());
        } else {
            unknown.push(region.to_owned());
        }
    }
    if !unknown.is_empty() {
        // Bounded: a config listing thousands of bad names must not print them all.
        let shown: Vec<String> = unknown.iter().take(5).map(|r| format!("`{r}`")).collect();
        let more = if unknown.len() > 5 {
            format!(" and {} more", unknown.len() - 5)
        } else {
            String::new()
        };
        return Err(format!(
            "unknown AWS region {}{more}: use names like `us-west-2` (known: {}); a region \
             opened after this release can be allowed with {EXTRA_REGIONS_VAR}=name",
            shown.join(", "),
            KNOWN_REGIONS.join(", ")
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_collapse_in_order_and_unknown_names_are_refused() {
        let many: Vec<&str> = std::iter::repeat_n("us-west-2", 200_000)
            .chain(["eu-west-1", "us-west-2"])
            .collect();
        assert_eq!(checked_regions(&many).unwrap(), ["us-west-2", "eu-west-1"]);
        let err = checked_regions(&["us-west-2", "us-wset-2", "mars-1"]).unwrap_err();
        assert!(err.contains("`us-wset-2`, `mars-1`"), "{err}");
        assert!(
            err.contains("us-west-2"),
            "says what a name looks like: {err}"
        );
        let bad: Vec<String> = (0..1000).map(|i| format!("bad-{i}")).collect();
        let err = checked_regions(&bad).unwrap_err();
        assert!(err.contains("and 995 more") && err.len() < 2000, "{err}");
    }
}
