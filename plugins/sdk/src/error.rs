use std::fmt;

/// What can go wrong when a scanner talks to AWS through the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The host did not send the request, or sending failed: undeclared service, action not
    /// allowed, request budget spent, response too large, network or signing failure.
    /// The text is the host's, word for word; it is safe to show to a user.
    Refused(String),
    /// AWS answered with a non-2xx status.
    Aws {
        /// The HTTP status code.
        status: u16,
        /// AWS's error code (`AuthFailure`, `Throttling`, ...), or `HTTP<status>` when the
        /// body was not an AWS error document.
        code: String,
        /// AWS's error message, or a short snippet of a body that was not an error document.
        message: String,
    },
    /// A response could not be understood.
    Parse {
        /// What was being parsed (a type or an operation name).
        what: String,
        /// Why it failed.
        detail: String,
    },
}

impl Error {
    /// Builds the error for a non-2xx response from its status and body.
    ///
    /// Understands AWS's query-protocol XML (`<Response><Errors><Error>` and
    /// `<ErrorResponse><Error>`), bare `<Error>` documents (S3), and JSON bodies with
    /// `__type`/`code` and `message`. Anything else (an HTML page from a proxy or an
    /// emulator) gives code `HTTP<status>` and the start of the body's text as message.
    pub fn from_response(status: u16, body: &[u8]) -> Error {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim_start();
        let parsed = if trimmed.starts_with('{') {
            json_error(trimmed)
        } else if trimmed.starts_with('<') {
            xml_error(trimmed)
        } else {
            None
        };
        match parsed {
            Some((code, message)) => Error::Aws {
                status,
                code,
                message,
            },
            None => Error::Aws {
                status,
                code: format!("HTTP{status}"),
                message: snippet(&text),
            },
        }
    }

    /// Builds a [`Error::Parse`].
    pub fn parse(what: impl Into<String>, detail: impl fmt::Display) -> Error {
        Error::Parse {
            what: what.into(),
            detail: detail.to_string(),
        }
    }

    /// The AWS error code, for [`Error::Aws`].
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Refused(reason) => f.write_str(reason),
            Error::Aws {
                status,
                code,
                message,
            } => {
                if message.is_empty() {
                    write!(f, "{code} (HTTP {status})")
                } else {
                    write!(f, "{code}: {message} (HTTP {status})")
                }
            }
            Error::Parse { what, detail } => write!(f, "cannot parse {what}: {detail}"),
        }
    }
}

impl std::error::Error for Error {}

/// The first `<Code>` and `<Message>` of an XML error document, wherever they are nested.
fn xml_error(text: &str) -> Option<(String, String)> {
    let code = crate::xml::first_text(text, "Code")?;
    if code.is_empty() {
        return None;
    }
    let message = crate::xml::first_text(text, "Message").unwrap_or_default();
    Some((code, message))
}

fn json_error(text: &str) -> Option<(String, String)> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let obj = value.as_object()?;
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| obj.get(*n).and_then(|v| v.as_str()))
            .map(str::to_owned)
    };
    let raw = field(&["__type", "code", "Code"])?;
    // JSON protocols send `__type` as `namespace#Code`; people want `Code`.
    let code = raw.rsplit('#').next().unwrap_or(&raw).to_owned();
    let message = field(&["message", "Message", "errorMessage"]).unwrap_or_default();
    Some((code, message))
}

/// At most 200 characters of a body's visible text, tags dropped and whitespace squeezed,
/// so an HTML error page becomes one readable line.
pub(crate) fn snippet(text: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::new();
    let mut in_tag = false;
    let mut last_space = true;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            _ if in_tag => {}
            c if c.is_whitespace() => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            c => {
                out.push(c);
                last_space = false;
            }
        }
        if out.chars().count() >= MAX {
            out.push('…');
            break;
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(status: u16, code: &str, message: &str) -> Error {
        Error::Aws {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn ec2_error_document_is_parsed() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors><RequestID>0b3c4f1e-8f0d-4c6a-9b7a-3d2e1f0a9c8b</RequestID></Response>"#;
        let err = Error::from_response(401, body);
        assert_eq!(
            err,
            aws(
                401,
                "AuthFailure",
                "AWS was not able to validate the provided access credentials"
            )
        );
        assert_eq!(
            err.to_string(),
            "AuthFailure: AWS was not able to validate the provided access credentials (HTTP 401)"
        );
    }

    #[test]
    fn error_response_document_is_parsed() {
        let body = br#"<ErrorResponse xmlns="http://iam.amazonaws.com/doc/2010-05-08/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/x is not authorized &amp; denied</Message></Error>
  <RequestId>abc</RequestId>
</ErrorResponse>"#;
        assert_eq!(
            Error::from_response(403, body),
            aws(
                403,
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/x is not authorized & denied"
            )
        );
    }

    #[test]
    fn json_error_body_is_parsed() {
        let body = br#"{"__type":"com.amazonaws.lambda#ResourceNotFoundException","message":"Function not found"}"#;
        assert_eq!(
            Error::from_response(404, body),
            aws(404, "ResourceNotFoundException", "Function not found")
        );
        let body = br#"{"code":"Throttling","Message":"Rate exceeded"}"#;
        assert_eq!(
            Error::from_response(400, body),
            aws(400, "Throttling", "Rate exceeded")
        );
    }

    #[test]
    fn html_error_body_becomes_a_status_code_and_snippet() {
        let body = b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n<body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>";
        assert_eq!(
            Error::from_response(500, body),
            aws(
                500,
                "HTTP500",
                "500 Internal Server Error Internal Server Error The server encountered an internal error."
            )
        );
    }

    #[test]
    fn empty_and_binary_bodies_do_not_panic() {
        assert_eq!(Error::from_response(503, b""), aws(503, "HTTP503", ""));
        assert_eq!(Error::from_response(503, b"  \n "), aws(503, "HTTP503", ""));
        let err = Error::from_response(502, &[0xff, 0xfe, b'<', 0x00]);
        assert_eq!(err.aws_code(), Some("HTTP502"));
        assert_eq!(
            Error::from_response(400, b"{not json").aws_code(),
            Some("HTTP400")
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "x ".repeat(1000);
        let Error::Aws { message, .. } = Error::from_response(500, body.as_bytes()) else {
            panic!("expected an AWS error");
        };
        assert!(message.chars().count() <= 201, "{}", message.len());
        assert!(message.ends_with('…'));
    }

    #[test]
    fn refusals_are_passed_through_word_for_word() {
        let text = "service `iam` is not declared; add it to `services` in plugin.toml";
        assert_eq!(Error::Refused(text.into()).to_string(), text);
    }
}
