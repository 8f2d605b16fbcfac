//! Plugin settings that several scanners read the same way.
//!
//! Users set them per plugin in their configuration; [`crate::setting`] reads any one raw.

use crate::{setting, ScanContext};

/// The `page_size` setting: how many items to ask for per page, for users behind slow
/// links or strict throttling.
///
/// Unset, it is `default`. A value that is not a whole number from `min` to `max` (the
/// bounds the API accepts) is `default` too, with a warning pushed to `warnings` that names
/// the value and the bounds.
///
/// ```
/// use cloudops_scanner_sdk::{settings, ScanContext};
///
/// let ctx = ScanContext {
///     account_id: "123456789012".into(),
///     region: "us-west-2".into(),
///     partition: "aws".into(),
///     settings: vec![("page_size".into(), "5000".into())],
/// };
/// let mut warnings = Vec::new();
/// assert_eq!(settings::page_size(&ctx, 5, 1000, 1000, &mut warnings), 1000);
/// assert_eq!(
///     warnings,
///     ["setting page_size = \"5000\" is not a number from 5 to 1000; using 1000"]
/// );
/// ```
pub fn page_size(
    ctx: &ScanContext,
    min: u32,
    max: u32,
    default: u32,
    warnings: &mut Vec<String>,
) -> u32 {
    let Some(value) = setting(ctx, "page_size") else {
        return default;
    };
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => n,
        _ => {
            warnings.push(format!(
                "setting page_size = {value:?} is not a number from {min} to {max}; using {default}"
            ));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::context;

    #[test]
    fn page_size_is_taken_within_bounds_and_defaults_with_a_warning_outside() {
        let mut warnings = Vec::new();
        let size = |value: &str, w: &mut Vec<String>| {
            page_size(
                &context("us-west-2", &[("page_size", value)]),
                20,
                100,
                100,
                w,
            )
        };
        assert_eq!(size("20", &mut warnings), 20);
        assert_eq!(size("100", &mut warnings), 100);
        assert_eq!(
            page_size(&context("us-west-2", &[]), 20, 100, 50, &mut warnings),
            50
        );
        assert!(warnings.is_empty());
        assert_eq!(size("19", &mut warnings), 100);
        assert_eq!(size("lots", &mut warnings), 100);
        assert_eq!(size("-1", &mut warnings), 100);
        assert_eq!(
            warnings[0],
            "setting page_size = \"19\" is not a number from 20 to 100; using 100"
        );
        assert_eq!(warnings.len(), 3);
    }
}
