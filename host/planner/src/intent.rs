//! Is the prompt an operation, a question or a search? Read from its form: how it starts and
//! ends. Retrieval then decides which operation, and a prompt whose best playbook matches
//! too weakly is not an operation either (see [`crate::Planner`]).

use cloudops_playbook::plan::IntentKind;

/// Polite openings that do not change what is asked ("could you stop ...").
const OPENINGS: &[&str] = &[
    "please",
    "can you",
    "could you",
    "would you",
    "will you",
    "kindly",
    "i want to",
    "i'd like to",
    "i would like to",
    "i need to",
    "we need to",
    "let's",
    "lets",
    "go ahead and",
    "help me",
    "now",
];

/// Openings of a request to find or list resources.
const SEARCH: &[&str] = &[
    "list",
    "show",
    "find",
    "search",
    "display",
    "give me",
    "get me",
    "look up",
    "lookup",
    "which",
    "where are",
    "where is",
    "count",
    "enumerate",
];

/// Openings of a question.
const QUESTION: &[&str] = &[
    "what", "why", "how", "when", "who", "whose", "is", "are", "does", "did", "was", "were", "has",
    "have", "should", "explain", "tell me", "describe",
];

/// The prompt's form: [`IntentKind::Question`] or [`IntentKind::Search`] when it is worded as
/// one, [`IntentKind::Operation`] otherwise (an imperative, which retrieval must confirm).
pub fn classify(prompt: &str) -> IntentKind {
    let text = normalize(prompt);
    let text = strip_openings(&text);
    // "which version does the alias point to" asks about an attribute (the inverted
    // auxiliary marks a question); "which instances are stopped" asks for a list.
    if strip_word_prefix(text, "which").is_some()
        && ["does", "do", "did", "should", "would", "will"]
            .iter()
            .any(|aux| has_phrase(text, aux))
    {
        return IntentKind::Question;
    }
    // "how do I stop X" asks about an operation; "stop X?" still asks for one.
    if starts_with_any(text, SEARCH) {
        return IntentKind::Search;
    }
    if starts_with_any(text, QUESTION) {
        return IntentKind::Question;
    }
    if text.ends_with('?') && !text.contains(' ') {
        return IntentKind::Question;
    }
    IntentKind::Operation
}

/// Lower case, single spaces, no leading punctuation.
pub fn normalize(prompt: &str) -> String {
    prompt
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

fn strip_openings(mut text: &str) -> &str {
    loop {
        let before = text;
        for opening in OPENINGS {
            if let Some(rest) = strip_word_prefix(text, opening) {
                text = rest.trim_start_matches([',', ' ']);
            }
        }
        if text == before {
            return text;
        }
    }
}

fn starts_with_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| strip_word_prefix(text, w).is_some())
}

/// `text` without the leading phrase `word`, when it starts with it as whole words.
fn strip_word_prefix<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(word)?;
    (rest.is_empty() || rest.starts_with(|c: char| !c.is_alphanumeric() && c != '-'))
        .then_some(rest)
}

/// True when `phrase` occurs in `text` as whole words (both normalized).
pub fn has_phrase(text: &str, phrase: &str) -> bool {
    let mut from = 0;
    while let Some(at) = text[from..].find(phrase) {
        let start = from + at;
        let end = start + phrase.len();
        let before_ok = start == 0 || !is_word_char(text[..start].chars().next_back());
        let after_ok = end == text.len() || !is_word_char(text[end..].chars().next());
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
        while !text.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

fn is_word_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_prompts() {
        use IntentKind::*;
        for (prompt, kind) in [
            ("Stop pg-instance-main1", Operation),
            ("please stop the production postgres", Operation),
            ("could you, please, reboot web-01?", Operation),
            ("set memory of fn-orders to 512 MB", Operation),
            ("what is the state of pg-instance-main1", Question),
            ("How do I stop an RDS instance?", Question),
            ("is versioning on for the logs bucket", Question),
            ("list every prod bucket", Search),
            ("show me staging databases", Search),
            ("which instances are stopped", Search),
            ("which version does the live alias point to", Question),
            ("isolate web-01", Operation),
        ] {
            assert_eq!(classify(prompt), kind, "{prompt}");
        }
    }

    #[test]
    fn phrases_match_whole_words() {
        assert!(has_phrase("please shut down web-01", "shut down"));
        assert!(!has_phrase("restart web-01", "start"));
        assert!(has_phrase("start web-01", "start"));
        assert!(!has_phrase("stopped ones", "stop"));
    }
}
