//! Lexical features of names and identifiers, as a sparse vector the store scores with IDF.
//!
//! A name like `pg-instance-main1` becomes its words (`pg`, `instance`, `main1`) and the
//! character trigrams of each word with a boundary mark (`^pg`, `pg$`, `^ma`, `mai`, ...).
//! Whole words make exact matches strong; trigrams make partial and mistyped names
//! (`pg-main1`, `instnce`) still overlap. Features are hashed into a 2^20-wide space, so the
//! vocabulary never has to be stored.

use std::collections::BTreeMap;

/// Width of the hashed feature space.
const SPACE: u32 = 1 << 20;

/// Whole words weigh more than any one trigram: a shared word is stronger evidence.
const WORD_WEIGHT: f32 = 2.0;
const TRIGRAM_WEIGHT: f32 = 1.0;

/// The sparse vector for one or more texts (a resource's name and identifier, or a query).
pub fn features<'a>(texts: impl IntoIterator<Item = &'a str>) -> SparseVector {
    let mut weights: BTreeMap<u32, f32> = BTreeMap::new();
    for text in texts {
        for word in words(text) {
            add(&mut weights, &format!("w:{word}"), WORD_WEIGHT);
            for gram in trigrams(&word) {
                add(&mut weights, &gram, TRIGRAM_WEIGHT);
            }
        }
    }
    SparseVector {
        indices: weights.keys().copied().collect(),
        values: weights.values().copied().collect(),
    }
}

/// Lower-cased alphanumeric runs, plus their stems: the digit-stripped stem of words that
/// end in digits (`main1` also yields `main`, so "main database" reaches
/// `pg-instance-main1`) and a light English stem (`logs`, `shipper` and `shipping` also
/// yield `log` and `ship`, so "ship logs" reaches `log-shipper`).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
    {
        let stem = word.trim_end_matches(|c: char| c.is_ascii_digit());
        if !stem.is_empty() && stem.len() != word.len() && stem.len() >= 2 {
            out.push(stem.to_owned());
        }
        if let Some(stem) = english_stem(&word) {
            out.push(stem);
        }
        out.push(word);
    }
    out
}

/// `logs` → `log`, `invoices` → `invoice`, `shipper`/`shipping` → `ship`, `renderer` →
/// `render`; `None` when nothing comes off. Deliberately crude: it only has to make the
/// same stem from a name and from a query, and a stem under three letters is dropped.
fn english_stem(word: &str) -> Option<String> {
    if !word.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    // "er" only comes off long words: `shipper` → `ship`, `renderer` → `render`, but
    // `render` and `server` stay whole.
    let stem = ["ing", "ers", "er", "es", "s"]
        .iter()
        .filter(|suffix| !suffix.starts_with("er") || word.len() >= 7 + suffix.len() - 2)
        .find_map(|suffix| word.strip_suffix(suffix))
        .filter(|stem| stem.len() >= 3 && !stem.ends_with('s'))?;
    // shipp-ing → ship; but keep "ss" words alone (filtered above).
    let bytes = stem.as_bytes();
    let stem = if bytes.len() >= 4 && bytes[bytes.len() - 1] == bytes[bytes.len() - 2] {
        &stem[..stem.len() - 1]
    } else {
        stem
    };
    // invoic-es → invoice: "es" only comes off after s, x, z, ch, sh.
    let stem = if word.ends_with("es")
        && !["s", "x", "z", "ch", "sh"]
            .iter()
            .any(|e| stem.ends_with(e))
    {
        &word[..word.len() - 1]
    } else {
        stem
    };
    (stem.len() >= 3 && stem != word).then(|| stem.to_owned())
}

/// How well `name` matches the name text `query`, 0..1: mostly how much of the query's
/// features (by weight) the name contains, and a little how close the name's length is to
/// the query's, so that of two names containing the query the closer one wins
/// (`web-server-1` over `web-web-server-1`, a function over its `:live` alias).
///
/// The store ranks name candidates by IDF, which says which candidate is best but not
/// whether it is any good: a lone shared trigram ("postgres" and "resize") can top the list.
/// This score is absolute, so a weak best match stays weak.
pub fn name_match(query: &str, name: &str) -> f32 {
    NameQuery::new(query).score(name)
}

/// A name text taken apart once, to score many names against it ([`name_match`]).
#[derive(Debug, Clone)]
pub struct NameQuery {
    wanted: SparseVector,
    total: f32,
    letters: f32,
}

impl NameQuery {
    /// Prepares `query`.
    pub fn new(query: &str) -> Self {
        let wanted = features([query]);
        let total = wanted.values.iter().sum();
        NameQuery {
            wanted,
            total,
            letters: letters(query),
        }
    }

    /// How well `name` matches, 0..1 (see [`name_match`]).
    pub fn score(&self, name: &str) -> f32 {
        if self.total == 0.0 {
            return 0.0;
        }
        let have = features([name]);
        let found: f32 = self
            .wanted
            .indices
            .iter()
            .zip(&self.wanted.values)
            .filter(|(i, _)| have.indices.binary_search(i).is_ok())
            .map(|(_, v)| v)
            .sum();
        let closeness = (self.letters / letters(name)).min(1.0);
        found / self.total * (0.75 + 0.25 * closeness)
    }
}

fn letters(text: &str) -> f32 {
    text.chars().filter(|c| c.is_alphanumeric()).count().max(1) as f32
}

fn trigrams(word: &str) -> Vec<String> {
    let chars: Vec<char> = std::iter::once('^')
        .chain(word.chars())
        .chain(std::iter::once('$'))
        .collect();
    chars
        .windows(3)
        .map(|w| w.iter().collect::<String>())
        .collect()
}

fn add(weights: &mut BTreeMap<u32, f32>, feature: &str, weight: f32) {
    // Max, not sum: a feature repeated in one text is not stronger evidence.
    let slot = weights.entry(hash(feature)).or_insert(0.0);
    *slot = slot.max(weight);
}

/// FNV-1a: stable across releases and platforms, unlike `DefaultHasher`, because stored
/// vectors must keep meaning the same thing.
fn hash(feature: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for byte in feature.bytes() {
        h ^= u32::from(byte);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % SPACE
}

/// A sparse vector: sorted, distinct indices with their weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    /// Dimension indices, strictly increasing.
    pub indices: Vec<u32>,
    /// One weight per index.
    pub values: Vec<f32>,
}

impl SparseVector {
    /// Builds a sparse vector from `(index, weight)` pairs in any order; weights of a repeated
    /// index are added up.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u32, f32)>) -> Self {
        let mut pairs: Vec<(u32, f32)> = pairs.into_iter().collect();
        pairs.sort_unstable_by_key(|&(index, _)| index);
        let mut out = SparseVector::default();
        for (index, value) in pairs {
            if out.indices.last() == Some(&index) {
                *out.values.last_mut().expect("values track indices") += value;
            } else {
                out.indices.push(index);
                out.values.push(value);
            }
        }
        out
    }

    /// True when the vector has no dimensions.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Checks the invariants both backends rely on: as many weights as indices, indices
    /// strictly increasing, weights finite.
    pub fn validate(&self) -> Result<(), String> {
        if self.indices.len() != self.values.len() {
            return Err(format!(
                "sparse vector has {} indices but {} values",
                self.indices.len(),
                self.values.len()
            ));
        }
        if self.indices.windows(2).any(|w| w[0] >= w[1]) {
            return Err("sparse vector indices must be strictly increasing".to_owned());
        }
        if self.values.iter().any(|v| !v.is_finite()) {
            return Err("sparse vector has a non-finite weight".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap(a: &SparseVector, b: &SparseVector) -> f32 {
        let b: BTreeMap<u32, f32> = b
            .indices
            .iter()
            .copied()
            .zip(b.values.iter().copied())
            .collect();
        a.indices
            .iter()
            .zip(&a.values)
            .filter_map(|(i, v)| b.get(i).map(|w| v * w))
            .sum()
    }

    #[test]
    fn indices_are_sorted_and_distinct() {
        let v = features(["pg-instance-main1", "pg-instance-main1"]);
        assert!(v.indices.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(v.indices.len(), v.values.len());
    }

    #[test]
    fn partial_names_overlap_the_full_name_more_than_siblings() {
        let query = features(["pg-main1"]);
        let target = features(["pg-instance-main1"]);
        let sibling = features(["pg-instance-main2"]);
        let other = features(["web-server-1"]);
        assert!(overlap(&query, &target) > overlap(&query, &sibling));
        assert!(overlap(&query, &sibling) > overlap(&query, &other));
    }

    #[test]
    fn name_match_is_absolute_and_prefers_the_closer_name() {
        let m = name_match;
        assert!(m("pg-main1", "pg-instance-main1") > m("pg-main1", "pg-instance-main2"));
        assert!(m("pg-main1", "pg-instance-main1") > m("pg-main1", "pg-main"));
        assert!(m("postgres", "resize-images") < 0.25);
        assert!(m("web server 1", "web-server-1") > m("web server 1", "web-web-server-1"));
        assert!(m("thumbnail", "thumbnail-generator") > m("thumbnail", "thumbnail-generator:live"));
        assert_eq!(m("same-name", "same-name"), 1.0);
        assert_eq!(m("", "x"), 0.0);
    }

    #[test]
    fn words_split_case_and_digit_stems() {
        assert_eq!(
            words("Web_Servers-12 main"),
            ["web", "server", "servers", "12", "main"]
        );
        assert_eq!(words("main1"), ["main", "main1"]);
    }

    #[test]
    fn english_stems_meet_in_the_middle() {
        for (a, b) in [
            ("shipper", "shipping"),
            ("logs", "log"),
            ("invoices", "invoice"),
            ("renderer", "render"),
            ("servers", "server"),
        ] {
            let stem = |w: &str| english_stem(w).unwrap_or_else(|| w.to_owned());
            assert_eq!(stem(a), stem(b), "{a} / {b}");
        }
        assert_eq!(english_stem("class"), None);
        assert_eq!(english_stem("bus"), None);
    }

    #[test]
    fn hashing_is_stable() {
        // Stored vectors depend on these exact values.
        assert_eq!(hash("w:pg"), hash("w:pg"));
        assert_eq!(features(["a"]).indices, features(["A"]).indices);
        assert_eq!(hash(""), 0x811c_9dc5 % SPACE);
    }
}
