use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::{log, Emitter, ScanContext, ScanSummary};

// What the running scan could not read completely. A scan is one plugin instance on one
// thread (wasm has one), and the parsers that find a bad item deep inside a listing have no
// handle to pass it up through, so the record is per thread; `drive` clears it before a
// scan and drains it after, so native unit tests on other threads never see each other's.
thread_local! {
    static INCOMPLETE: RefCell<Incomplete> = RefCell::new(Incomplete::default());
}

#[derive(Default)]
struct Incomplete {
    types: BTreeSet<String>,
    /// Why, for the warnings (a listing's skipped items have their own warning).
    reasons: Vec<String>,
    /// Why items of no known type were lost: the scan cannot name the types, so it fails.
    unattributed: Vec<String>,
}

/// Records that the running scan did not read every resource of `resource_type` fully: an
/// item was skipped, a required field was unreadable, or a sub-call failed for a resource
/// that was then left out.
///
/// [`run_scan`] reports the type in `ScanSummary::incomplete_types`, so the host removes
/// nothing of that type this time; it keeps what it knew instead of forgetting a resource
/// that still exists. `why` (what was lost, and why) becomes one of the scan's warnings.
/// [`crate::xml::Listing`]s built with [`crate::xml::Listing::of_type`] call this for every item they skip.
///
/// A part of a resource that could not be read (its tags, one setting) does not make the
/// type incomplete: emit the resource and name the part in its metadata's
/// [`crate::UNREAD`] list instead.
///
/// ```
/// use cloudops_scanner_sdk::{incomplete, testing, Emitter, ScanContext};
///
/// fn scan_with(_: &ScanContext, _: (), _: &mut Emitter, w: &mut Vec<String>) -> Result<(), String> {
///     incomplete("s3_bucket", "bucket b: GetBucketLocation answered a cut-short document");
///     Ok(())
/// }
/// let (summary, _) = testing::run(&testing::context("eu-west-1", &[]), (), scan_with);
/// let summary = summary.unwrap();
/// assert_eq!(summary.incomplete_types, ["s3_bucket"]);
/// assert_eq!(
///     summary.warnings,
///     ["s3_bucket is incomplete, nothing of it will be removed: bucket b: GetBucketLocation \
///       answered a cut-short document"]
/// );
/// ```
pub fn incomplete(resource_type: &str, why: impl Into<String>) {
    let why = why.into();
    INCOMPLETE.with(|i| {
        let mut i = i.borrow_mut();
        i.types.insert(resource_type.to_owned());
        i.reasons.push(format!(
            "{resource_type} is incomplete, nothing of it will be removed: {why}"
        ));
    });
}

/// A listing skipped an item of `resource_type` (its warning already says so).
pub(crate) fn skipped(resource_type: &str) {
    INCOMPLETE.with(|i| i.borrow_mut().types.insert(resource_type.to_owned()));
}

/// Records that an item of a type the parser does not know was lost: the scan then fails
/// at its end (after everything else was emitted), so the host deletes nothing.
pub(crate) fn lost(why: String) {
    INCOMPLETE.with(|i| i.borrow_mut().unattributed.push(why));
}

fn take_incomplete() -> Incomplete {
    INCOMPLETE.with(|i| std::mem::take(&mut *i.borrow_mut()))
}

/// Runs a scanner's whole scan inside the host: the body of [`crate::Scanner::scan`].
///
/// `scan` gets the context, `send` (the host's `QueryRequest::send` or `RestRequest::send`),
/// an [`Emitter`] to the host and the list to push warnings to; it returns `Err` naming the
/// call that failed when the scan did not see everything. Writing the scan against a `send`
/// parameter lets unit tests run it over recorded responses with
/// [`crate::testing::scan`].
///
/// Every warning is logged, whether the scan succeeded or not; on success they are
/// returned in the [`ScanSummary`] with the number of resources emitted, and every type
/// recorded with [`incomplete`] (by the scan, or by a [`crate::xml::Listing`] that skipped
/// an item) goes in `incomplete_types`. An item skipped by a listing that names no type
/// fails the scan, since the host would otherwise count every type as complete. On failure
/// the resources already pushed are still sent to the host.
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
///     let listing = Listing::item_set("DescribeWidgets", &["widgetSet", "item"]).of_type("widget");
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
    take_incomplete();
    let mut warnings = Vec::new();
    let result = scan(ctx, send, &mut out, &mut warnings);
    let mut incomplete = take_incomplete();
    warnings.append(&mut incomplete.reasons);
    for w in &warnings {
        log(w);
    }
    result?;
    if let Some(first) = incomplete.unattributed.first() {
        return Err(format!(
            "{} item(s) of a listing that names no resource type could not be read ({first}); \
             everything else was reported. Plugin authors: name the type with \
             `Listing::of_type` so only that type is kept as it was",
            incomplete.unattributed.len()
        ));
    }
    Ok(ScanSummary {
        resources: out.finish(),
        warnings,
        incomplete_types: incomplete.types.into_iter().collect(),
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

    const PAGE: &str = "<DescribeVolumesResponse><volumeSet>\
        <item><volumeId>vol-1</volumeId></item>\
        <item><size>8</size></item>\
        </volumeSet></DescribeVolumesResponse>";

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Volume {
        volume_id: String,
    }

    fn list_volumes(
        listing: crate::xml::Listing,
    ) -> impl FnOnce(&ScanContext, (), &mut Emitter, &mut Vec<String>) -> Result<(), String> {
        move |_, (), out, warnings| {
            let page = listing
                .parse(PAGE.as_bytes(), |v: Volume, _| {
                    Ok(Some(resource(&v.volume_id)))
                })
                .map_err(|e| e.to_string())?;
            out.extend(page.split(warnings).0);
            Ok(())
        }
    }

    #[test]
    fn one_unparseable_item_makes_its_type_incomplete() {
        let listing = crate::xml::Listing::item_set("DescribeVolumes", &["volumeSet", "item"])
            .of_type("ec2_volume");
        let (summary, found) =
            crate::testing::run(&context("us-west-2", &[]), (), list_volumes(listing));
        let summary = summary.unwrap();
        assert_eq!(summary.incomplete_types, ["ec2_volume"]);
        assert_eq!(found.len(), 1);
        assert!(summary.warnings[0].starts_with("DescribeVolumes: skipped an item"));
    }

    #[test]
    fn an_item_of_no_named_type_fails_the_scan_after_emitting_the_rest() {
        let listing = crate::xml::Listing::item_set("DescribeVolumes", &["volumeSet", "item"]);
        let (result, found) =
            crate::testing::run(&context("us-west-2", &[]), (), list_volumes(listing));
        let err = result.unwrap_err();
        assert!(
            err.starts_with("1 item(s) of a listing that names no resource type"),
            "{err}"
        );
        assert!(err.contains("Listing::of_type"), "{err}");
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn a_clean_scan_is_complete_and_a_previous_scans_record_is_forgotten() {
        incomplete("leftover", "from a scan that never drained");
        let (summary, _) =
            crate::testing::run(&context("us-west-2", &[]), (), |_, (), _, _| Ok(()));
        assert!(summary.unwrap().incomplete_types.is_empty());
    }
}
