//! Just enough XML reading for the host's own query-protocol calls (the demo seeder, tests)
//! and for the error documents of every answer (retry classification, plugin errors). STS and
//! IAM answers are read by the AWS SDK (see [`super::iam`]); plugins parse theirs themselves.

use quick_xml::events::Event;
use quick_xml::Reader;

/// The text of every element named `tag` (local name, any depth), in document order.
pub fn texts(body: &[u8], tag: &str) -> Vec<String> {
    let mut reader = Reader::from_reader(body);
    let mut out = Vec::new();
    // The text of the element being read; quick-xml reports entity references
    // (`&amp;`) as separate events, so pieces are joined until the element ends.
    let mut current: Option<String> = None;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                current = (e.local_name().as_ref() == tag.as_bytes()).then(String::new);
            }
            Ok(Event::Text(t)) => {
                if let (Some(text), Ok(piece)) = (current.as_mut(), t.decode()) {
                    text.push_str(&piece);
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some(text) = current.as_mut() {
                    let name = r.decode().unwrap_or_default();
                    match (
                        r.resolve_char_ref(),
                        quick_xml::escape::resolve_predefined_entity(&name),
                    ) {
                        (Ok(Some(c)), _) => text.push(c),
                        (_, Some(entity)) => text.push_str(entity),
                        _ => {}
                    }
                }
            }
            Ok(Event::End(_)) => {
                if let Some(text) = current.take() {
                    out.push(text);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

/// The text of the first element named `tag`.
pub fn first_text(body: &[u8], tag: &str) -> Option<String> {
    texts(body, tag).into_iter().next()
}

/// `(code, message)` of an AWS error document, or a short description of a body that is
/// not one (emulators sometimes answer with HTML or JSON).
pub fn error_of(status: u16, body: &[u8]) -> (String, String) {
    if let Some(code) = first_text(body, "Code") {
        return (code, first_text(body, "Message").unwrap_or_default());
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let code = json["__type"]
            .as_str()
            .or(json["code"].as_str())
            .unwrap_or("Unknown");
        let message = json["message"]
            .as_str()
            .or(json["Message"].as_str())
            .unwrap_or("");
        return (
            code.rsplit('#').next().unwrap_or(code).to_owned(),
            message.to_owned(),
        );
    }
    let snippet: String = String::from_utf8_lossy(body).chars().take(200).collect();
    (
        format!("HTTP{status}"),
        snippet.split_whitespace().collect::<Vec<_>>().join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_aws_documents_and_errors() {
        let ok = b"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/x</Arn><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>";
        assert_eq!(first_text(ok, "Account").as_deref(), Some("123456789012"));
        let err = b"<Response><Errors><Error><Code>AuthFailure</Code><Message>bad &amp; wrong</Message></Error></Errors></Response>";
        assert_eq!(
            error_of(401, err),
            ("AuthFailure".into(), "bad & wrong".into())
        );
        let (code, _) = error_of(500, b"<html><body>Internal Server Error</body></html>");
        assert_eq!(code, "HTTP500");
        assert_eq!(
            error_of(400, br#"{"__type":"x#Throttling","message":"slow"}"#).0,
            "Throttling"
        );
    }
}
