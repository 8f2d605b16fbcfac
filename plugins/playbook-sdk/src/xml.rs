//! Just enough XML for query-protocol responses: the text of an element, and the raw
//! fragments at a path (each read on its own).

use quick_xml::events::Event;
use quick_xml::Reader;

/// The text of the first element named `name` at any depth (namespace prefix ignored).
pub fn first_text(body: &[u8], name: &str) -> Option<String> {
    let doc = std::str::from_utf8(body).ok()?;
    let mut reader = Reader::from_str(doc);
    loop {
        match reader.read_event().ok()? {
            Event::Start(s) if s.local_name().as_ref() == name.as_bytes() => {
                return read_text(&mut reader)
            }
            Event::Empty(s) if s.local_name().as_ref() == name.as_bytes() => {
                return Some(String::new())
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The text of every element named `name` at any depth, in document order.
pub fn all_texts(body: &[u8], name: &str) -> Vec<String> {
    let Ok(doc) = std::str::from_utf8(body) else {
        return Vec::new();
    };
    let mut reader = Reader::from_str(doc);
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(s)) if s.local_name().as_ref() == name.as_bytes() => {
                match read_text(&mut reader) {
                    Some(t) => out.push(t),
                    None => return out,
                }
            }
            Ok(Event::Eof) | Err(_) => return out,
            _ => {}
        }
    }
}

/// The raw XML of every element whose path from the root is `path` (local names), in
/// document order. Fails when the document is not well-formed or ends early.
pub fn fragments<'a>(doc: &'a str, path: &[&str]) -> Result<Vec<&'a str>, String> {
    let mut reader = Reader::from_str(doc);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::new();
    let mut capture: Option<(usize, usize)> = None;
    let matches = |stack: &[Vec<u8>]| {
        stack.len() == path.len() && stack.iter().zip(path).all(|(s, p)| s == p.as_bytes())
    };
    loop {
        let before = reader.buffer_position() as usize;
        match reader.read_event().map_err(|e| format!("bad XML: {e}"))? {
            Event::Start(s) => {
                stack.push(s.local_name().as_ref().to_vec());
                if capture.is_none() && matches(&stack) {
                    capture = Some((before, stack.len()));
                }
            }
            Event::Empty(s) => {
                stack.push(s.local_name().as_ref().to_vec());
                if capture.is_none() && matches(&stack) {
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
    if !stack.is_empty() {
        return Err("the XML document ends early".into());
    }
    Ok(out)
}

/// The text of the child `name` directly under the fragment's root element.
pub fn child_text(fragment: &str, name: &str) -> Option<String> {
    let mut reader = Reader::from_str(fragment);
    let mut depth = 0usize;
    loop {
        match reader.read_event().ok()? {
            Event::Start(s) => {
                depth += 1;
                if depth == 2 && s.local_name().as_ref() == name.as_bytes() {
                    return read_text(&mut reader);
                }
            }
            Event::Empty(s) if depth == 1 && s.local_name().as_ref() == name.as_bytes() => {
                return Some(String::new());
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => return None,
            _ => {}
        }
    }
}

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
                    text.push_str(quick_xml::escape::resolve_predefined_entity(&name)?);
                }
            }
            Event::Start(_) => depth += 1,
            Event::End(_) if depth == 0 => return Some(text.trim().to_owned()),
            Event::End(_) => depth -= 1,
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_and_child_text_read_nested_items() {
        let doc = "<R><set><item><id>a</id><inner><item><id>x</id></item></inner></item>\
                   <item><id>b&amp;c</id></item></set></R>";
        let items = fragments(doc, &["R", "set", "item"]).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(child_text(items[0], "id").as_deref(), Some("a"));
        assert_eq!(child_text(items[1], "id").as_deref(), Some("b&c"));
        assert_eq!(first_text(doc.as_bytes(), "id").as_deref(), Some("a"));
        assert!(fragments("<R><set>", &["R"]).is_err());
    }
}
