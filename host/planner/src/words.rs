//! Word evidence for retrieval: which playbook's own words (title, description, utterances,
//! keywords) the prompt uses, weighted by how rare each word is in the library (IDF).
//!
//! Sentence embeddings read "turn off Multi-AZ" and "turn on Multi-AZ", or "remove deletion
//! protection" and "delete the instance", as near twins; the rare words that tell them apart
//! ("off", "protection", "suspend") are exactly what IDF weighs up. Words are reduced to a
//! crude stem so that "deletion", "deleted" and "delete" meet.

use std::collections::{HashMap, HashSet};

use cloudops_playbook::{Library, Playbook};

/// Words too common in prompts to say anything about the operation.
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "to", "of", "for", "on", "in", "at", "by", "and", "or", "it", "its", "my",
    "our", "me", "us", "please", "now", "this", "that", "these", "those", "with", "from", "be",
    "is", "are", "can", "you", "i", "we", "so", "all", "every", "each", "make", "sure", "set",
];

/// The library's words, per playbook, with their IDF.
#[derive(Debug, Clone, Default)]
pub(crate) struct Words {
    docs: HashMap<String, HashSet<String>>,
    idf: HashMap<String, f32>,
}

impl Words {
    /// Indexes every playbook's words.
    pub fn new(library: &Library) -> Words {
        let docs: HashMap<String, HashSet<String>> = library
            .playbooks()
            .map(|p| (p.id.clone(), terms(&document(p)).into_iter().collect()))
            .collect();
        let n = docs.len() as f32;
        let mut df: HashMap<&str, f32> = HashMap::new();
        for terms in docs.values() {
            for t in terms {
                *df.entry(t.as_str()).or_default() += 1.0;
            }
        }
        let idf = df
            .into_iter()
            .map(|(t, df)| (t.to_owned(), (1.0 + (n - df + 0.5) / (df + 0.5)).ln()))
            .collect();
        Words { docs, idf }
    }

    /// The share of the prompt's word weight that `playbook` uses too, in `0..=1`. Words no
    /// playbook uses (names, numbers) carry no weight.
    pub fn score(&self, prompt_terms: &[String], playbook: &str) -> f32 {
        let Some(doc) = self.docs.get(playbook) else {
            return 0.0;
        };
        let mut total = 0.0;
        let mut matched = 0.0;
        for t in prompt_terms {
            let Some(w) = self.idf.get(t) else { continue };
            total += w;
            if doc.contains(t) {
                matched += w;
            }
        }
        if total == 0.0 {
            0.0
        } else {
            matched / total
        }
    }
}

fn document(p: &Playbook) -> String {
    let mut text = format!(
        "{} {} {} {}",
        p.title,
        p.description,
        p.operation,
        p.keywords.join(" ")
    );
    for u in &p.utterances {
        text.push(' ');
        text.push_str(u);
    }
    text
}

/// The distinct stems of `text`'s words, without stop words.
pub(crate) fn terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() || STOP_WORDS.contains(&word) || word.chars().all(|c| c.is_ascii_digit())
        {
            continue;
        }
        let stem = stem(word);
        if !out.contains(&stem) {
            out.push(stem);
        }
    }
    out
}

/// A crude English stem: a plural `s`, then one of `ing`, `ed`, `tion` (to `t`) or `e`, off;
/// a doubled last consonant undone ("stopping" is "stop", "deletions" and "delete" are
/// "delet", "versioning" and "versions" are "version").
fn stem(word: &str) -> String {
    let mut w = word.to_owned();
    if w.len() > 3
        && w.ends_with('s')
        && !(w.ends_with("ss") || w.ends_with("us") || w.ends_with("is"))
    {
        w.pop();
    }
    for (suffix, keep) in [("ing", ""), ("ed", ""), ("tion", "t"), ("e", "")] {
        if w.len() > suffix.len() + 2 && w.ends_with(suffix) {
            w.truncate(w.len() - suffix.len());
            w.push_str(keep);
            break;
        }
    }
    let bytes = w.as_bytes();
    let n = bytes.len();
    if n > 3 && bytes[n - 1] == bytes[n - 2] && !b"aeiouls".contains(&bytes[n - 1]) {
        w.pop();
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_a_word_meet() {
        for (a, b) in [
            ("deletion", "delete"),
            ("deleted", "delete"),
            ("versioning", "versions"),
            ("stopping", "stop"),
            ("protection", "protect"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} {b}");
        }
        assert_ne!(stem("start"), stem("stop"));
        assert_eq!(
            terms("Turn OFF the Multi-AZ of db 42"),
            ["turn", "off", "multi", "az", "db"]
        );
    }
}
