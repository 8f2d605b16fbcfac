//! Reading AWS's XML responses.
//!
//! Query-protocol services (EC2, RDS, IAM, ...) answer in XML. [`from_slice`] turns a whole
//! document into a serde type; AWS's list shapes map onto [`ItemSet`] and [`TagSet`].
//! When one odd item must not spoil a whole page, [`fragments`] cuts the page into its items
//! so each can be parsed (and rejected) on its own, and [`text_at`] reads a single value such
//! as `nextToken`.
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

use crate::{Error, Tag};

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

/// One `<item><key>…</key><value>…</value></item>` of a `<tagSet>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TagItem {
    /// The tag key.
    #[serde(default)]
    pub key: String,
    /// The tag value; AWS omits `<value>` for empty values.
    #[serde(default)]
    pub value: String,
}

/// AWS's `<tagSet>` shape.
pub type TagSet = ItemSet<TagItem>;

impl ItemSet<TagItem> {
    /// The tags in AWS's order, normalised with [`crate::normalize_tags`].
    pub fn into_tags(self) -> Vec<Tag> {
        crate::normalize_tags(self.items.into_iter().map(|t| Tag {
            key: t.key,
            value: t.value,
        }))
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
}
