//! Reading AWS's XML responses.
//!
//! Query-protocol services (EC2, RDS, IAM, ...) answer in XML. [`from_slice`] turns a whole
//! document into a serde type; AWS's list shapes map onto [`ItemSet`] and [`TagSet`] (EC2's
//! `<item>` lists) and [`Members`] and [`TagList`] (`<member>`, `<Tag>` and the like).
//!
//! A listing page is best read with a [`Listing`]: it checks the document is the expected
//! response, parses each item on its own so one odd item is a warning rather than a lost
//! page, and reads the next-page token. Underneath, [`document`] checks the root element,
//! [`fragments`] cuts a page into its items and [`text_at`] reads a single value.
//!
//! ```
//! use cloudops_scanner_sdk::xml::{self, ItemSet, TagSet};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "camelCase")]
//! struct Volume { volume_id: String, #[serde(default)] tag_set: TagSet }
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "camelCase")]
//! struct Page { volume_set: ItemSet<Volume>, next_token: Option<String> }
//!
//! let doc = br#"<DescribeVolumesResponse><volumeSet><item><volumeId>vol-1</volumeId>
//!   <tagSet><item><key>Name</key><value>data</value></item></tagSet></item></volumeSet>
//!   </DescribeVolumesResponse>"#;
//! let page: Page = xml::from_slice(doc).unwrap();
//! assert_eq!(page.volume_set.items[0].volume_id, "vol-1");
//! assert_eq!(page.volume_set.items[0].tag_set.clone().into_tags()[0].value, "data");
//! assert_eq!(page.next_token, None);
//! ```

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::{Error, Page, Tag};

/// Parses a whole XML document into `T`. The root element's name is not checked.
///
/// Fails with [`Error::Parse`] naming `T` when the bytes are not UTF-8, not XML, or do not
/// have `T`'s shape.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let what = short_type_name::<T>();
    let text = std::str::from_utf8(bytes).map_err(|e| Error::parse(what, e))?;
    from_str(text)
}

/// Parses a whole XML document, already in a `&str`, into `T`. See [`from_slice`].
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    quick_xml::de::from_str(text).map_err(|e| Error::parse(short_type_name::<T>(), e))
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    // `a::b::Page<x::Y>` reads better as `Page<x::Y>`.
    let head = full.split('<').next().unwrap_or(full);
    let start = head.rfind("::").map_or(0, |i| i + 2);
    &full[start..]
}

/// AWS's list shape `<xxxSet><item>…</item><item>…</item></xxxSet>`.
///
/// An absent or empty set deserializes to no items (use `#[serde(default)]` on the field).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct ItemSet<T> {
    /// The `<item>` children, in document order.
    #[serde(default, rename = "item")]
    pub items: Vec<T>,
}

impl<T> Default for ItemSet<T> {
    fn default() -> Self {
        ItemSet { items: Vec::new() }
    }
}

impl<T> IntoIterator for ItemSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// AWS's other list shape, `<List><member>…</member><member>…</member></List>`, whatever
/// the children are called: `member` (ELB, IAM), `Tag`, `DBClusterMember`,
/// `VpcSecurityGroupMembership` (RDS), `Bucket` (S3).
///
/// An absent or empty list deserializes to no items (use `#[serde(default)]` on the field).
///
/// ```
/// use cloudops_scanner_sdk::xml::{self, Members};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// #[serde(rename_all = "PascalCase")]
/// struct LoadBalancer { #[serde(default)] security_groups: Members<String> }
///
/// let lb: LoadBalancer = xml::from_str(
///     "<member><SecurityGroups><member>sg-1</member><member>sg-2</member></SecurityGroups></member>",
/// ).unwrap();
/// assert_eq!(lb.security_groups.items, ["sg-1", "sg-2"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Members<T> {
    /// The child elements, in document order.
    #[serde(default, rename = "$value")]
    pub items: Vec<T>,
}

impl<T> Default for Members<T> {
    fn default() -> Self {
        Members { items: Vec::new() }
    }
}

impl<T> IntoIterator for Members<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// One tag of a tag list: `<item><key>…</key><value>…</value></item>` in EC2's `<tagSet>`,
/// `<Tag><Key>…</Key><Value>…</Value></Tag>` (or `<member>`) in RDS's, ELB's and S3's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TagItem {
    /// The tag key.
    #[serde(default, alias = "Key")]
    pub key: String,
    /// The tag value; AWS omits `<value>` for empty values.
    #[serde(default, alias = "Value")]
    pub value: String,
}

/// EC2's `<tagSet>` shape.
pub type TagSet = ItemSet<TagItem>;

/// The `<TagList><Tag><Key>` shape of RDS, S3's `<TagSet><Tag>` and ELB's
/// `<Tags><member>`.
pub type TagList = Members<TagItem>;

fn into_tags(items: Vec<TagItem>) -> Vec<Tag> {
    crate::normalize_tags(items.into_iter().map(|t| Tag {
        key: t.key,
        value: t.value,
    }))
}

impl ItemSet<TagItem> {
    /// The tags in AWS's order, normalised with [`crate::normalize_tags`].
    pub fn into_tags(self) -> Vec<Tag> {
        into_tags(self.items)
    }
}

impl Members<TagItem> {
    /// The tags in AWS's order, normalised with [`crate::normalize_tags`].
    pub fn into_tags(self) -> Vec<Tag> {
        into_tags(self.items)
    }
}

/// The body as text, checked to be an XML document whose root element is one of `roots`.
///
/// Check the root before reading a listing: a proxy's HTML error page or another call's
/// answer would otherwise read as an empty list, and the host would forget every resource
/// it knew. Errors name `roots[0]`.
///
/// ```
/// use cloudops_scanner_sdk::xml;
/// assert!(xml::document(b"<Tagging><TagSet/></Tagging>", &["Tagging"]).is_ok());
/// assert_eq!(
///     xml::document(b"<html><body>502</body></html>", &["Tagging"]).unwrap_err().to_string(),
///     "cannot parse Tagging: the response is a <html> document"
/// );
/// ```
pub fn document<'a>(body: &'a [u8], roots: &[&str]) -> Result<&'a str, Error> {
    let what = roots.first().copied().unwrap_or("XML document");
    let doc = std::str::from_utf8(body).map_err(|e| Error::parse(what, e))?;
    match first_element(doc) {
        Some(name) if roots.contains(&name.as_str()) => Ok(doc),
        Some(name) => Err(Error::parse(
            what,
            format!("the response is a <{name}> document"),
        )),
        None => Err(Error::parse(what, "the response is not an XML document")),
    }
}

/// Where a listing's response keeps its items and its next-page token; reads one page,
/// item by item.
///
/// ```
/// use cloudops_scanner_sdk::xml::Listing;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct Volume { volume_id: String }
///
/// let listing = Listing::item_set("DescribeVolumes", &["volumeSet", "item"]);
/// let body = br#"<DescribeVolumesResponse><volumeSet>
///     <item><volumeId>vol-1</volumeId></item>
///     <item><size>8</size></item>
///   </volumeSet><nextToken>t2</nextToken></DescribeVolumesResponse>"#;
/// let page = listing.parse(body, |v: Volume, _warnings| Ok(Some(v.volume_id))).unwrap();
/// assert_eq!(page.items, ["vol-1"]);
/// assert!(page.warnings[0].starts_with("DescribeVolumes: skipped an item: cannot parse Volume"));
/// assert_eq!(page.next_token.as_deref(), Some("t2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    action: String,
    /// From the root element down to the element that holds the list.
    parent: Vec<String>,
    /// From the list element down to one item.
    items: Vec<String>,
    /// The element beside the list that holds the next page's token.
    token: Option<String>,
    /// The resource type the items become, made incomplete by a skipped item.
    resource_type: Option<String>,
}

impl Listing {
    /// A listing by `action` whose document is `<root>`, with items at `items` below the
    /// root (`["Buckets", "Bucket"]`) and no token until [`Listing::token`] names one.
    pub fn new(action: &str, root: &str, items: &[&str]) -> Self {
        Listing {
            action: action.to_owned(),
            parent: vec![root.to_owned()],
            items: items.iter().map(|s| (*s).to_owned()).collect(),
            token: None,
            resource_type: None,
        }
    }

    /// EC2's shape: `<{action}Response>` holding the items at `items`
    /// (`["volumeSet", "item"]`) and `<nextToken>`.
    pub fn item_set(action: &str, items: &[&str]) -> Self {
        Listing::new(action, &format!("{action}Response"), items).token("nextToken")
    }

    /// The shape of RDS, ELB, IAM and most other query services:
    /// `<{action}Response><{action}Result><{list}><{member}>` with the token in `<Marker>`.
    pub fn members(action: &str, list: &str, member: &str) -> Self {
        Listing {
            action: action.to_owned(),
            parent: vec![format!("{action}Response"), format!("{action}Result")],
            items: vec![list.to_owned(), member.to_owned()],
            token: Some("Marker".to_owned()),
            resource_type: None,
        }
    }

    /// Names the element, beside the list, that holds the next page's token
    /// (`NextMarker`, `ContinuationToken`).
    pub fn token(mut self, element: &str) -> Self {
        self.token = Some(element.to_owned());
        self
    }

    /// Names the resource type the listed items become (`ec2_volume`).
    ///
    /// An item the listing has to skip then makes that type incomplete for the scan (see
    /// [`crate::incomplete`]), so the host deletes nothing of it: a resource whose entry
    /// could not be read still exists. Without a type, a skipped item fails the scan at its
    /// end instead, after everything else was emitted.
    pub fn of_type(mut self, resource_type: &str) -> Self {
        self.resource_type = Some(resource_type.to_owned());
        self
    }

    /// The action, which names the listing in warnings.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// Reads one page: checks the root element (see [`document`]), parses each item into
    /// `T` and hands it to `convert`, and reads the next token (an empty one is none).
    ///
    /// `convert` returns `Ok(None)` for an item that is fine but not to be reported, and
    /// `Err(why)` for one that cannot be; it may push warnings about odd fields. An item
    /// that does not parse or convert costs one warning,
    /// `{action}: skipped an item: {why}`, and the page goes on; the item's type (see
    /// [`Listing::of_type`]) is then incomplete for the scan. A required field that does not
    /// read is such an error: never give it a default. A document that is not the expected
    /// response, or is cut short, fails the page.
    pub fn parse<T: DeserializeOwned, R>(
        &self,
        body: &[u8],
        mut convert: impl FnMut(T, &mut Vec<String>) -> Result<Option<R>, String>,
    ) -> Result<Page<R>, Error> {
        self.parse_fragments(body, |fragment, warnings| {
            from_str::<T>(fragment)
                .map_err(|e| e.to_string())
                .and_then(|item| convert(item, warnings))
        })
    }

    /// [`Listing::parse`] over the raw XML of each item, for scanners that read items
    /// with [`first_text`] and [`fragments`] rather than serde.
    pub fn parse_fragments<R>(
        &self,
        body: &[u8],
        mut convert: impl FnMut(&str, &mut Vec<String>) -> Result<Option<R>, String>,
    ) -> Result<Page<R>, Error> {
        let doc = document(body, &[&self.parent[0]])?;
        let path: Vec<&str> = self
            .parent
            .iter()
            .chain(&self.items)
            .map(String::as_str)
            .collect();
        let mut page = Page::default();
        for fragment in fragments(doc, &path)? {
            match convert(fragment, &mut page.warnings) {
                Ok(Some(item)) => page.items.push(item),
                Ok(None) => {}
                Err(why) => {
                    let line = format!("{}: skipped an item: {why}", self.action);
                    match &self.resource_type {
                        Some(t) => crate::scan::skipped(t),
                        None => crate::scan::lost(line.clone()),
                    }
                    page.warnings.push(line);
                }
            }
        }
        if let Some(token) = &self.token {
            let mut at: Vec<&str> = self.parent.iter().map(String::as_str).collect();
            at.push(token);
            page.next_token = text_at(doc, &at).filter(|t| !t.is_empty());
        }
        Ok(page)
    }
}

/// The raw XML of every element at `path`, in document order.
///
/// `path` lists element names from the root down, compared without namespace prefixes, e.g.
/// `["DescribeVolumesResponse", "volumeSet", "item"]`. Each fragment can be given to
/// [`from_str`] on its own, so an item that does not parse is one item lost, not a page.
/// Fails only when the document itself is not well-formed XML.
pub fn fragments<'a>(doc: &'a str, path: &[&str]) -> Result<Vec<&'a str>, Error> {
    let mut reader = Reader::from_str(doc);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::new();
    // Byte offset where the element being captured started, and its depth.
    let mut capture: Option<(usize, usize)> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| Error::parse("XML document", e))?;
        match event {
            Event::Start(start) => {
                stack.push(start.local_name().as_ref().to_vec());
                if capture.is_none() && matches(&stack, path) {
                    capture = Some((before, stack.len()));
                }
            }
            Event::Empty(start) => {
                stack.push(start.local_name().as_ref().to_vec());
                if capture.is_none() && matches(&stack, path) {
                    out.push(&doc[before..reader.buffer_position() as usize]);
                }
                stack.pop();
            }
            Event::End(_) => {
                if let Some((start, depth)) = capture {
                    if depth == stack.len() {
                        out.push(&doc[start..reader.buffer_position() as usize]);
                        capture = None;
                    }
                }
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    // A body cut short would otherwise read as a page with fewer items.
    if let Some(open) = stack.last() {
        return Err(Error::parse(
            "XML document",
            format!("it ends inside <{}>", String::from_utf8_lossy(open)),
        ));
    }
    Ok(out)
}

/// The name (without namespace prefix) of the document's root element, or `None` when
/// the text has no element before an error or its end.
pub fn first_element(doc: &str) -> Option<String> {
    let mut reader = Reader::from_str(doc);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

fn matches(stack: &[Vec<u8>], path: &[&str]) -> bool {
    stack.len() == path.len() && stack.iter().zip(path).all(|(s, p)| s == p.as_bytes())
}

/// The text of the element at `path` (from the root, as in [`fragments`]), entities
/// resolved. `None` when the element is absent or the document is not well-formed.
pub fn text_at(doc: &str, path: &[&str]) -> Option<String> {
    let mut reader = Reader::from_str(doc);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => {
                stack.push(start.local_name().as_ref().to_vec());
                if matches(&stack, path) {
                    return read_text(&mut reader);
                }
            }
            Event::Empty(start) => {
                stack.push(start.local_name().as_ref().to_vec());
                if matches(&stack, path) {
                    return Some(String::new());
                }
                stack.pop();
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The text of the first element named `name` at any depth (namespace prefix ignored).
pub fn first_text(doc: &str, name: &str) -> Option<String> {
    let mut reader = Reader::from_str(doc);
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) if start.local_name().as_ref() == name.as_bytes() => {
                return read_text(&mut reader);
            }
            Event::Empty(start) if start.local_name().as_ref() == name.as_bytes() => {
                return Some(String::new());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Collects the text up to the end of the element just opened, skipping child tags.
fn read_text(reader: &mut Reader<&[u8]>) -> Option<String> {
    let mut text = String::new();
    let mut depth = 0usize;
    loop {
        match reader.read_event().ok()? {
            Event::Text(t) => text.push_str(&t.decode().ok()?),
            Event::CData(c) => text.push_str(&c.decode().ok()?),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    let name = r.decode().ok()?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => text.push_str(s),
                        None => {
                            text.push('&');
                            text.push_str(&name);
                            text.push(';');
                        }
                    }
                }
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => {
                if depth == 0 {
                    return Some(text.trim().to_owned());
                }
                depth -= 1;
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Thing {
        thing_id: String,
        #[serde(default)]
        tag_set: TagSet,
    }

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeThingsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
    <thingSet>
        <item>
            <thingId>t-1</thingId>
            <tagSet>
                <item><key> Name </key><value>web &amp; api</value></item>
                <item><key>env</key><value>prod</value></item>
                <item><key>empty</key></item>
            </tagSet>
        </item>
        <item><thingId>t-2</thingId><tagSet/></item>
        <item><notAThing><thingId>x</thingId></notAThing></item>
        <item/>
    </thingSet>
    <nextToken>tok&#61;=</nextToken>
</DescribeThingsResponse>"#;

    #[test]
    fn item_sets_and_tag_sets_deserialize() {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            thing_set: ItemSet<Thing>,
        }
        let doc = DOC.replace(
            "<item><notAThing><thingId>x</thingId></notAThing></item>",
            "",
        );
        let doc = doc.replace("<item/>", "");
        let page: Page = from_slice(doc.as_bytes()).unwrap();
        let ids: Vec<_> = page
            .thing_set
            .items
            .iter()
            .map(|t| &t.thing_id[..])
            .collect();
        assert_eq!(ids, ["t-1", "t-2"]);
        let tags = page.thing_set.items[0].tag_set.clone().into_tags();
        let pairs: Vec<_> = tags.iter().map(|t| (&t.key[..], &t.value[..])).collect();
        assert_eq!(
            pairs,
            [("Name", "web & api"), ("env", "prod"), ("empty", "")]
        );
        assert!(page.thing_set.items[1].tag_set.items.is_empty());
    }

    #[test]
    fn fragments_isolate_items_so_a_bad_one_is_only_itself() {
        let items = fragments(DOC, &["DescribeThingsResponse", "thingSet", "item"]).unwrap();
        assert_eq!(items.len(), 4);
        let parsed: Vec<Result<Thing, Error>> = items.iter().map(|f| from_str(f)).collect();
        assert_eq!(parsed[0].as_ref().unwrap().thing_id, "t-1");
        assert_eq!(parsed[0].as_ref().unwrap().tag_set.items.len(), 3);
        assert_eq!(parsed[1].as_ref().unwrap().thing_id, "t-2");
        let err = parsed[2].as_ref().unwrap_err();
        assert!(
            matches!(err, Error::Parse { what, .. } if what == "Thing"),
            "{err}"
        );
        assert!(parsed[3].is_err());
    }

    #[test]
    fn nested_items_are_not_captured_twice() {
        let items = fragments(
            DOC,
            &[
                "DescribeThingsResponse",
                "thingSet",
                "item",
                "tagSet",
                "item",
            ],
        )
        .unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0].starts_with("<item><key> Name </key>"));
    }

    #[test]
    fn text_at_reads_the_next_token() {
        let path = ["DescribeThingsResponse", "nextToken"];
        assert_eq!(text_at(DOC, &path).as_deref(), Some("tok=="));
        assert_eq!(text_at(DOC, &["DescribeThingsResponse", "missing"]), None);
        assert_eq!(
            text_at("<a><nextToken/></a>", &["a", "nextToken"]).as_deref(),
            Some("")
        );
    }

    #[test]
    fn broken_documents_are_errors_not_panics() {
        assert!(fragments("<a><b></a>", &["a", "b"]).is_err());
        let cut = fragments("<a><b>1</b><b>2", &["a", "b"]).unwrap_err();
        assert_eq!(
            cut.to_string(),
            "cannot parse XML document: it ends inside <b>"
        );
        assert_eq!(
            first_element("<?xml version=\"1.0\"?>\n<!-- c --><x:Root xmlns:x=\"u\"/>").as_deref(),
            Some("Root")
        );
        assert_eq!(first_element("<html><body>").as_deref(), Some("html"));
        assert_eq!(first_element("plain text"), None);
        assert!(from_slice::<Thing>(b"\xff\xfe").is_err());
        assert!(from_slice::<Thing>(b"").is_err());
        assert_eq!(text_at("<a><b>", &["a", "b"]), None);
        assert_eq!(first_text("not xml at all", "Code"), None);
    }

    const MEMBERS: &str = r#"<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstancesResult>
    <DBInstances>
      <DBInstance>
        <DBInstanceIdentifier>pg-main</DBInstanceIdentifier>
        <VpcSecurityGroups>
          <VpcSecurityGroupMembership><VpcSecurityGroupId>sg-1</VpcSecurityGroupId></VpcSecurityGroupMembership>
        </VpcSecurityGroups>
        <TagList>
          <Tag><Key> env </Key><Value>prod</Value></Tag>
          <Tag><Key>empty</Key></Tag>
        </TagList>
      </DBInstance>
      <DBInstance><TagList/></DBInstance>
      <DBInstance><DBInstanceIdentifier>skip-me</DBInstanceIdentifier></DBInstance>
    </DBInstances>
    <Marker>m/1=</Marker>
  </DescribeDBInstancesResult>
</DescribeDBInstancesResponse>"#;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct DbInstance {
        #[serde(rename = "DBInstanceIdentifier")]
        id: Option<String>,
        #[serde(default)]
        vpc_security_groups: Members<SecurityGroup>,
        #[serde(default)]
        tag_list: TagList,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct SecurityGroup {
        vpc_security_group_id: String,
    }

    #[test]
    fn member_listings_read_items_one_by_one_with_warnings_and_the_marker() {
        let listing = Listing::members("DescribeDBInstances", "DBInstances", "DBInstance");
        let page = listing
            .parse(MEMBERS.as_bytes(), |db: DbInstance, warnings| {
                match db.id.as_deref() {
                    Some("skip-me") => Ok(None),
                    Some(_) => Ok(Some(db)),
                    None => {
                        warnings.push("an odd field".into());
                        Err("a DB instance without DBInstanceIdentifier".into())
                    }
                }
            })
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let db = page.items.into_iter().next().unwrap();
        assert_eq!(
            db.vpc_security_groups.items[0].vpc_security_group_id,
            "sg-1"
        );
        assert_eq!(
            db.tag_list.into_tags(),
            [crate::tag("env", "prod"), crate::tag("empty", "")]
        );
        assert_eq!(
            page.warnings,
            [
                "an odd field",
                "DescribeDBInstances: skipped an item: a DB instance without DBInstanceIdentifier"
            ]
        );
        assert_eq!(page.next_token.as_deref(), Some("m/1="));
        assert_eq!(listing.action(), "DescribeDBInstances");
    }

    #[test]
    fn item_set_listings_read_the_next_token_beside_the_list() {
        let listing = Listing::item_set("DescribeThings", &["thingSet", "item"]);
        let page = listing
            .parse_fragments(DOC.as_bytes(), |item, _| {
                Ok(text_at(item, &["item", "thingId"]))
            })
            .unwrap();
        assert_eq!(page.items, ["t-1", "t-2"]);
        assert!(page.warnings.is_empty());
        assert_eq!(page.next_token.as_deref(), Some("tok=="));
        let untokened = Listing::new(
            "ListThings",
            "DescribeThingsResponse",
            &["thingSet", "item"],
        );
        let page = untokened
            .parse_fragments(DOC.as_bytes(), |_, _| Ok(Some(())))
            .unwrap();
        assert_eq!((page.items.len(), page.next_token), (4, None));
        let empty = Listing::item_set("DescribeThings", &["thingSet", "item"]).token("none");
        let page = empty
            .parse_fragments(DOC.as_bytes(), |_, _| Ok(Some(())))
            .unwrap();
        assert_eq!(page.next_token, None);
    }

    #[test]
    fn other_documents_fail_the_listing_instead_of_reading_as_empty() {
        let listing = Listing::item_set("DescribeThings", &["thingSet", "item"]);
        let parse = |body: &[u8]| {
            listing
                .parse_fragments(body, |_, _| Ok(Some(())))
                .map(|p| p.items.len())
        };
        assert_eq!(
            parse(MEMBERS.as_bytes()).unwrap_err().to_string(),
            "cannot parse DescribeThingsResponse: the response is a <DescribeDBInstancesResponse> document"
        );
        assert_eq!(
            parse(b"502 Bad Gateway").unwrap_err().to_string(),
            "cannot parse DescribeThingsResponse: the response is not an XML document"
        );
        assert!(parse(b"\xff\xfe").is_err());
        assert!(parse(&DOC.as_bytes()[..400]).is_err());
        assert!(document(b"<b/>", &["a", "b"]).is_ok());
    }
}
