/// One page of a listing, parsed item by item: what parsed, what did not, and where the
/// next page starts.
///
/// [`crate::xml::Listing::parse`] builds one from a query-protocol response; feed it to
/// [`crate::query::list`] or [`crate::rest::list`], or, to page by hand, hand
/// [`Page::split`]'s result back from `paginate`'s `extract`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items that parsed, in document order.
    pub items: Vec<T>,
    /// One line per item that did not parse or was skipped, and per odd field.
    pub warnings: Vec<String>,
    /// The token (or marker) of the next page; `None` on the last page.
    pub next_token: Option<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            items: Vec::new(),
            warnings: Vec::new(),
            next_token: None,
        }
    }
}

impl<T> Page<T> {
    /// Records an item of `resource_type` that could not be read: `warning` says which and
    /// why, and the type becomes incomplete for the scan (see [`crate::incomplete`]), so the
    /// host deletes nothing of it. For pages built by hand; [`crate::xml::Listing`] does
    /// this itself.
    pub fn skip(&mut self, resource_type: &str, warning: String) {
        crate::scan::skipped(resource_type);
        self.warnings.push(warning);
    }

    /// Moves the page's warnings to `warnings` and returns the items and the next token,
    /// the pair `paginate`'s `extract` returns.
    ///
    /// ```
    /// use cloudops_scanner_sdk::Page;
    ///
    /// let page = Page { items: vec![1, 2], warnings: vec!["odd".into()], next_token: None };
    /// let mut warnings = Vec::new();
    /// assert_eq!(page.split(&mut warnings), (vec![1, 2], None));
    /// assert_eq!(warnings, ["odd"]);
    /// ```
    pub fn split(self, warnings: &mut Vec<String>) -> (Vec<T>, Option<String>) {
        warnings.extend(self.warnings);
        (self.items, self.next_token)
    }
}
