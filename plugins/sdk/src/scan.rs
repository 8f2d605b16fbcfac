use crate::{log, Emitter, ScanContext, ScanSummary};

/// Runs a scanner's whole scan inside the host: the body of [`crate::Scanner::scan`].
///
/// `scan` gets the context, `send` (the host's `QueryRequest::send` or `RestRequest::send`),
/// an [`Emitter`] to the host and the list to push warnings to; it returns `Err` naming the
/// call that failed when the scan did not see everything. Writing the scan against a `send`
/// parameter lets unit tests run it over recorded responses with
/// [`crate::testing::scan`].
///
/// Every warning is logged, whether the scan succeeded or not; on success they are
/// returned in the [`ScanSummary`] with the number of resources emitted. On failure the
/// resources already pushed are still sent to the host.
///
/// ```ignore
/// fn scan(ctx: ScanContext) -> Result<ScanSummary, String> {
///     sdk::run_scan(&ctx, QueryRequest::send, scan_with)
/// }
///
/// fn scan_with(
///     ctx: &ScanContext,
///     send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
///     out: &mut Emitter,
///     warnings: &mut Vec<String>,
/// ) -> Result<(), String> {
///     let listing = Listing::item_set("DescribeWidgets", &["widgetSet", "item"]);
///     query::list(send, widgets_request, |body| listing.parse(body, to_resource), out, warnings)
/// }
/// ```
pub fn run_scan<S>(
    ctx: &ScanContext,
    send: S,
    scan: impl FnOnce(&ScanContext, S, &mut Emitter, &mut Vec<String>) -> Result<(), String>,
) -> Result<ScanSummary, String> {
    drive(ctx, send, Emitter::new(), log::warn, scan)
}

pub(crate) fn drive<'a, S>(
    ctx: &ScanContext,
    send: S,
    mut out: Emitter<'a>,
    mut log: impl FnMut(&str),
    scan: impl FnOnce(&ScanContext, S, &mut Emitter<'a>, &mut Vec<String>) -> Result<(), String>,
) -> Result<ScanSummary, String> {
    let mut warnings = Vec::new();
    let result = scan(ctx, send, &mut out, &mut warnings);
    for w in &warnings {
        log(w);
    }
    result?;
    // A failed listing fails the whole scan above, so whatever returns here is complete.
    Ok(ScanSummary {
        resources: out.finish(),
        warnings,
        incomplete_types: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::context;
    use crate::Resource;

    fn resource(id: &str) -> Resource {
        Resource {
            resource_type: "widget".into(),
            identifier: id.into(),
            arn: String::new(),
            name: id.into(),
            region: "us-west-2".into(),
            state: None,
            tags: Vec::new(),
            relations: Vec::new(),
            metadata: "{}".into(),
        }
    }

    #[test]
    fn warnings_are_logged_and_returned_and_resources_counted() {
        let (mut emitted, mut logged) = (Vec::new(), Vec::new());
        let out = Emitter::with_sink(|b: &[Resource]| emitted.extend_from_slice(b));
        let summary = drive(
            &context("us-west-2", &[]),
            "sent",
            out,
            |w| logged.push(w.to_owned()),
            |ctx, send, out, warnings| {
                assert_eq!((ctx.region.as_str(), send), ("us-west-2", "sent"));
                out.push(resource("w-1"));
                warnings.push("odd".into());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(summary.resources, 1);
        assert_eq!(summary.warnings, ["odd"]);
        assert_eq!(logged, ["odd"]);
        assert_eq!(emitted.len(), 1);
    }

    #[test]
    fn a_failed_scan_still_logs_its_warnings_and_sends_what_it_found() {
        let (mut emitted, mut logged) = (Vec::new(), Vec::new());
        let out = Emitter::with_sink(|b: &[Resource]| emitted.extend_from_slice(b));
        let err = drive(
            &context("us-west-2", &[]),
            (),
            out,
            |w| logged.push(w.to_owned()),
            |_, (), out, warnings| {
                out.push(resource("w-1"));
                warnings.push("odd".into());
                Err("DescribeWidgets failed: denied".into())
            },
        )
        .unwrap_err();
        assert_eq!(err, "DescribeWidgets failed: denied");
        assert_eq!(logged, ["odd"]);
        assert_eq!(emitted.len(), 1);
    }
}
