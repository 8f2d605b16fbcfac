//! Lexical features of names and identifiers, as a sparse vector the store scores with IDF.
//!
//! A name like `pg-instance-main1` becomes its words (`pg`, `instance`, `main1`) and the
//! character trigrams of each word with a boundary mark (`^pg`, `pg$`, `^ma`, `mai`, ...).
//! Whole words make exact matches strong; trigrams make partial and mistyped names
//! (`pg-main1`, `instnce`) still overlap. Features are hashed into a 2^20-wide space, so the
//! vocabulary never has to be stored.

use std::collections::BTreeMap;

use crate::store::SparseVector;

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

/// Lower-cased alphanumeric runs, plus the digit-stripped stem of words that end in digits
/// (`main1` also yields `main`, so "main database" reaches `pg-instance-main1`).
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
        out.push(word);
    }
    out
}

/// How much of `query`'s name features (by weight) `names` contain, 0..1.
///
/// The store ranks name candidates by IDF, which says which candidate is best but not
/// whether it is any good: a lone shared trigram ("postgres" and "resize") can top the list.
/// Coverage is absolute, so a weak best match stays weak.
pub fn coverage<'a>(query: &str, names: impl IntoIterator<Item = &'a str>) -> f32 {
    let query = features([query]);
    let total: f32 = query.values.iter().sum();
    if total == 0.0 {
        return 0.0;
    }
    let names = features(names);
    let found: f32 = query
        .indices
        .iter()
        .zip(&query.values)
        .filter(|(i, _)| names.indices.binary_search(i).is_ok())
        .map(|(_, v)| v)
        .sum();
    found / total
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
    fn coverage_is_absolute() {
        assert_eq!(coverage("pg-main1", ["pg-instance-main1"]), 1.0);
        assert!(coverage("pg-main1", ["pg-instance-main2"]) < 0.8);
        assert!(coverage("postgres", ["resize-images"]) < 0.25);
        assert_eq!(coverage("", ["x"]), 0.0);
    }

    #[test]
    fn words_split_case_and_digit_stems() {
        assert_eq!(words("Web_Server-12 main"), ["web", "server", "12", "main"]);
        assert_eq!(words("main1"), ["main", "main1"]);
    }

    #[test]
    fn hashing_is_stable() {
        // Stored vectors depend on these exact values.
        assert_eq!(hash("w:pg"), hash("w:pg"));
        assert_eq!(features(["a"]).indices, features(["A"]).indices);
        assert_eq!(hash(""), 0x811c_9dc5 % SPACE);
    }
}
