//! Values the user gives: checked against the parameter's type and range, and read from the
//! prompt's own words ("set memory to 1 GB" gives `memory_mb = 1024`) — never guessed.

use serde_json::Value;

use crate::model::{UserValue, ValueKind};

/// `value` as the parameter's type, or why it cannot be.
pub fn coerce(kind: &ValueKind, value: &Value) -> Result<Value, String> {
    match kind {
        ValueKind::Integer { min, max } => {
            let n = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().replace('_', "").parse().ok(),
                _ => None,
            }
            .ok_or_else(|| format!("`{}` is not a whole number", text(value)))?;
            if n < *min || n > *max {
                return Err(format!("{n} is out of range: {min} to {max}"));
            }
            Ok(Value::from(n))
        }
        ValueKind::String { max_length } => match value {
            Value::String(s) if s.chars().count() <= *max_length && !s.trim().is_empty() => {
                if s.chars().any(char::is_control) {
                    Err("text with control characters".into())
                } else {
                    Ok(Value::String(s.trim().to_owned()))
                }
            }
            Value::String(s) if s.trim().is_empty() => Err("empty text".into()),
            Value::String(_) => Err(format!("longer than {max_length} characters")),
            other => Err(format!("`{}` is not text", text(other))),
        },
        ValueKind::Boolean => match value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "enabled" | "enable" => Ok(Value::Bool(true)),
                "false" | "no" | "off" | "disabled" | "disable" => Ok(Value::Bool(false)),
                _ => Err(format!("`{s}` is not true or false")),
            },
            other => Err(format!("`{}` is not true or false", text(other))),
        },
        ValueKind::Enum(values) => {
            let given = text(value);
            values
                .iter()
                .find(|v| v.eq_ignore_ascii_case(given.trim()))
                .map(|v| Value::String(v.clone()))
                .ok_or_else(|| format!("`{given}` is not one of {}", values.join(", ")))
        }
    }
}

/// What the range of a value is, for questions ("128 to 10240 MB").
pub fn describe(value: &UserValue) -> String {
    let unit = value
        .unit
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    match &value.kind {
        ValueKind::Integer { min, max } => format!("a whole number from {min} to {max}{unit}"),
        ValueKind::String { max_length } => format!("text of up to {max_length} characters"),
        ValueKind::Boolean => "yes or no".into(),
        ValueKind::Enum(values) => format!("one of {}", values.join(", ")),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The value the prompt gives for this parameter, if its words hold one.
///
/// Numbers are whole tokens (`512`, `1,024`, `512MB`, `1.5 GB`): digits inside names such as
/// `web-01` are never values. A number belongs to the parameter whose word (`memory`) comes
/// closest before it; with `sole` (this is the playbook's only number-valued parameter) a
/// lone number in the prompt is enough. Units convert to the parameter's (`1 GB` → 1024 MB);
/// a number in another kind of unit (`30 seconds` for megabytes) is not this parameter's.
/// Text and enum values follow one of the parameter's words (`named nightly-1`).
pub fn from_prompt(prompt: &str, value: &UserValue, sole: bool) -> Option<Result<Value, String>> {
    let tokens = tokenize(prompt);
    match &value.kind {
        ValueKind::Integer { .. } => {
            let numbers: Vec<(usize, f64)> = numbers(&tokens, value.unit.as_deref());
            let after_word = tokens
                .iter()
                .enumerate()
                .filter(|(_, t)| value.words.iter().any(|w| word_matches(w, t)))
                .find_map(|(i, _)| numbers.iter().find(|(at, _)| *at > i && *at <= i + 4));
            let chosen = after_word.or(if sole && numbers.len() == 1 {
                numbers.first()
            } else {
                None
            })?;
            let n = chosen.1;
            if n.fract() != 0.0 {
                return Some(Err(format!("{n} is not a whole number")));
            }
            Some(coerce(&value.kind, &Value::from(n as i64)))
        }
        ValueKind::Enum(values) => {
            let found: Vec<&String> = values
                .iter()
                .filter(|v| tokens.iter().any(|t| t.eq_ignore_ascii_case(v)))
                .collect();
            match found.as_slice() {
                [one] => Some(Ok(Value::String((*one).clone()))),
                _ => None,
            }
        }
        ValueKind::String { .. } | ValueKind::Boolean => {
            let at = tokens
                .iter()
                .position(|t| value.words.iter().any(|w| word_matches(w, t)))?;
            let next = tokens[at + 1..]
                .iter()
                .find(|t| !matches!(t.as_str(), "to" | "=" | ":" | "as" | "of" | "is" | "be"))?;
            Some(coerce(
                &value.kind,
                &Value::String(next.trim_matches(['"', '\'', '`']).to_owned()),
            ))
        }
    }
}

fn word_matches(word: &str, token: &str) -> bool {
    token.eq_ignore_ascii_case(word)
}

/// Splits on whitespace, keeping `=`/`:` as their own tokens and trimming sentence punctuation.
fn tokenize(prompt: &str) -> Vec<String> {
    prompt
        .split(|c: char| c.is_whitespace())
        .flat_map(|t| {
            let t = t.trim_matches(|c: char| matches!(c, ',' | '.' | ';' | '!' | '?' | '(' | ')'));
            match t.split_once(['=', ':']) {
                Some((a, b)) if !t.starts_with("arn") => {
                    vec![a.to_owned(), "=".to_owned(), b.to_owned()]
                }
                _ => vec![t.to_owned()],
            }
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// Numbers among the tokens, converted to `unit`, with the index of the token holding them.
fn numbers(tokens: &[String], unit: Option<&str>) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let digits_end = token
            .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
            .unwrap_or(token.len());
        if digits_end == 0 {
            continue;
        }
        let Ok(n) = token[..digits_end].replace(',', "").parse::<f64>() else {
            continue;
        };
        let attached = &token[digits_end..];
        let written_unit = if !attached.is_empty() {
            Some(attached)
        } else {
            tokens
                .get(i + 1)
                .map(String::as_str)
                .filter(|next| factor(unit, next).is_some())
        };
        if !attached.is_empty() && attached.chars().any(|c| !c.is_ascii_alphabetic()) {
            continue; // `web-01`, `10.0.0.0/16`: part of a name or an address
        }
        match (unit, written_unit) {
            (_, None) => out.push((i, n)),
            (Some(u), Some(w)) => {
                if let Some(f) = factor(Some(u), w) {
                    out.push((i, n * f));
                }
            }
            (None, Some(_)) => {}
        }
    }
    out
}

/// How many of `unit` one `written` is, when both measure the same thing.
fn factor(unit: Option<&str>, written: &str) -> Option<f64> {
    let unit = unit?.to_ascii_lowercase();
    let written = written.to_ascii_lowercase();
    let scale = |table: &[(&[&str], f64)], name: &str| {
        table
            .iter()
            .find(|(names, _)| names.contains(&name))
            .map(|(_, f)| *f)
    };
    const SIZES: &[(&[&str], f64)] = &[
        (&["mb", "mib", "megabytes", "megabyte"], 1.0),
        (&["gb", "gib", "gigabytes", "gigabyte"], 1024.0),
        (&["tb", "tib", "terabytes", "terabyte"], 1024.0 * 1024.0),
    ];
    const TIMES: &[(&[&str], f64)] = &[
        (&["s", "sec", "secs", "second", "seconds"], 1.0),
        (&["m", "min", "mins", "minute", "minutes"], 60.0),
        (&["h", "hr", "hrs", "hour", "hours"], 3600.0),
        (&["d", "day", "days"], 86_400.0),
        (&["w", "week", "weeks"], 7.0 * 86_400.0),
    ];
    for table in [SIZES, TIMES] {
        if let (Some(u), Some(w)) = (scale(table, &unit), scale(table, &written)) {
            return Some(w / u);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(min: i64, max: i64, unit: &str, words: &[&str]) -> UserValue {
        UserValue {
            kind: ValueKind::Integer { min, max },
            unit: Some(unit.into()),
            words: words.iter().map(|w| w.to_string()).collect(),
            default: None,
        }
    }

    #[test]
    fn numbers_come_with_their_units() {
        let memory = int(128, 10240, "MB", &["memory"]);
        assert_eq!(
            from_prompt("set memory of fn-2 to 512 MB", &memory, true),
            Some(Ok(Value::from(512)))
        );
        assert_eq!(
            from_prompt("give api-9 1 GB of memory", &memory, true),
            Some(Ok(Value::from(1024)))
        );
        assert_eq!(
            from_prompt("memory 2048mb for web-01", &memory, true),
            Some(Ok(Value::from(2048)))
        );
        assert!(
            matches!(from_prompt("memory to 64 MB", &memory, true), Some(Err(e)) if e.contains("128 to 10240"))
        );
        assert_eq!(
            from_prompt("raise the memory of web-01", &memory, true),
            None,
            "digits in names are not values"
        );
        let timeout = int(1, 900, "s", &["timeout"]);
        assert_eq!(
            from_prompt("timeout 5 minutes", &timeout, true),
            Some(Ok(Value::from(300)))
        );
        assert_eq!(
            from_prompt("set memory to 512 MB", &timeout, false),
            None,
            "megabytes are not seconds"
        );
        let days = int(0, 35, "days", &["retention"]);
        assert_eq!(
            from_prompt("keep backups 2 weeks", &days, true),
            Some(Ok(Value::from(14)))
        );
    }

    #[test]
    fn a_number_goes_to_the_parameter_named_before_it() {
        let memory = int(128, 10240, "MB", &["memory"]);
        let timeout = int(1, 900, "s", &["timeout"]);
        let prompt = "set timeout to 30 and memory to 256";
        assert_eq!(
            from_prompt(prompt, &memory, false),
            Some(Ok(Value::from(256)))
        );
        assert_eq!(
            from_prompt(prompt, &timeout, false),
            Some(Ok(Value::from(30)))
        );
    }

    #[test]
    fn user_values_are_checked() {
        let kind = ValueKind::Enum(vec!["Enabled".into(), "Suspended".into()]);
        assert_eq!(
            coerce(&kind, &Value::from("suspended")),
            Ok(Value::from("Suspended"))
        );
        assert!(coerce(&kind, &Value::from("off")).is_err());
        assert!(coerce(&ValueKind::String { max_length: 3 }, &Value::from("abcd")).is_err());
        assert!(coerce(
            &ValueKind::String { max_length: 9 },
            &Value::from("a\u{1b}[2J")
        )
        .is_err());
        assert_eq!(
            coerce(&ValueKind::Boolean, &Value::from("yes")),
            Ok(Value::Bool(true))
        );
    }

    #[test]
    fn text_follows_its_word() {
        let name = UserValue {
            kind: ValueKind::String { max_length: 63 },
            unit: None,
            words: vec!["named".into(), "called".into()],
            default: None,
        };
        assert_eq!(
            from_prompt("snapshot pg-main1 named before-upgrade", &name, false),
            Some(Ok(Value::from("before-upgrade")))
        );
        assert_eq!(from_prompt("snapshot pg-main1", &name, false), None);
    }
}
