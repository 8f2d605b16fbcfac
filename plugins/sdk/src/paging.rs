//! The paging loop that `query` and `rest` share; they differ only in the request type and
//! in how a repeated token is reported.

use std::collections::HashSet;

use crate::query::Pages;
use crate::{Error, Page};

/// What `extract` gives for one page: its items and the next token.
pub(crate) type Extracted<T> = Result<(Vec<T>, Option<String>), Error>;

/// Follows tokens until one is missing or empty, or repeats (then `repeated(request,
/// pages)` is the warning). The first failing call ends paging with its error.
pub(crate) fn follow<R, T>(
    mut send: impl FnMut(&R) -> Result<Vec<u8>, Error>,
    mut request: impl FnMut(Option<&str>) -> R,
    mut extract: impl FnMut(&[u8]) -> Extracted<T>,
    repeated: impl Fn(&R, u32) -> String,
) -> Result<Pages<T>, Error> {
    let mut out = Pages {
        items: Vec::new(),
        pages: 0,
        warnings: Vec::new(),
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut token: Option<String> = None;
    loop {
        let req = request(token.as_deref());
        let body = send(&req)?;
        out.pages += 1;
        let (items, next) = extract(&body)?;
        out.items.extend(items);
        match next {
            Some(t) if !t.is_empty() => {
                if !seen.insert(t.clone()) {
                    out.warnings.push(repeated(&req, out.pages));
                    return Ok(out);
                }
                token = Some(t);
            }
            _ => return Ok(out),
        }
    }
}

/// The body of `query::list` and `rest::list`: runs `paginate` with an `extract` that puts
/// each page's items into `out` and its warnings into `warnings`; a failure becomes
/// `{what} failed: {error}`.
pub(crate) fn list<T>(
    what: &str,
    paginate: impl FnOnce(&mut dyn FnMut(&[u8]) -> Extracted<()>) -> Result<Pages<()>, Error>,
    mut parse: impl FnMut(&[u8]) -> Result<Page<T>, Error>,
    out: &mut impl Extend<T>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let pages = paginate(&mut |body| {
        let (items, token) = parse(body)?.split(warnings);
        out.extend(items);
        Ok((Vec::new(), token))
    })
    .map_err(|e| format!("{what} failed: {e}"))?;
    warnings.extend(pages.warnings);
    Ok(())
}
