//! The sentiment model: multinomial naive Bayes over hashed words with negation scope.
//!
//! Text is lower-cased and split into words (letters, digits and inner apostrophes). After
//! "not", "no", "never" or a word ending in "n't", the following words up to the next
//! punctuation mark are marked as negated ("not bad" gives `not` and `NOT_bad`), the classic
//! remedy for sentiment flipped by a negation. Each feature is hashed (FNV-1a) into one of
//! 2^20 buckets; a document counts each feature once (binarized naive Bayes, which suits
//! short reviews), with add-one smoothing. Features never seen in training are ignored, so a
//! text with no known word gets the class priors (0.5 / 0.5 on the balanced set).
//!
//! Why this variant: on 8-fold cross-validation of the training split it scored 0.76, the best
//! of those tried (word pairs, character 3-5-grams, stop-word removal and logistic regression
//! scored 0.72 to 0.76); the held-out split was not used to choose.

use std::collections::HashMap;

/// Feature buckets: 2^20.
const BUCKET_MASK: u64 = (1 << 20) - 1;

/// A labelled review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The review.
    pub text: String,
    /// True for a positive review (class 1), false for negative (class 0).
    pub positive: bool,
}

/// A trained classifier.
#[derive(Debug, Clone)]
pub struct Classifier {
    log_prior: [f64; 2],
    /// Per feature bucket: log P(feature | negative), log P(feature | positive).
    log_likelihood: HashMap<u32, [f64; 2]>,
}

impl Classifier {
    /// Trains on `examples` (both classes should be present; a missing class gets no weight).
    pub fn train(examples: &[Example]) -> Classifier {
        let mut doc_counts = [0usize; 2];
        let mut counts: HashMap<u32, [u64; 2]> = HashMap::new();
        for example in examples {
            let class = usize::from(example.positive);
            doc_counts[class] += 1;
            for feature in features(&example.text) {
                counts.entry(feature).or_default()[class] += 1;
            }
        }
        let vocabulary = counts.len() as f64;
        let totals = [0, 1].map(|c| counts.values().map(|n| n[c]).sum::<u64>() as f64);
        let log_likelihood = counts
            .into_iter()
            .map(|(feature, n)| {
                let p = [0, 1].map(|c| ((n[c] as f64 + 1.0) / (totals[c] + vocabulary)).ln());
                (feature, p)
            })
            .collect();
        let docs = (doc_counts[0] + doc_counts[1]).max(1) as f64;
        let log_prior = [0, 1].map(|c| ((doc_counts[c] as f64 + 1.0) / (docs + 2.0)).ln());
        Classifier {
            log_prior,
            log_likelihood,
        }
    }

    /// `[P(negative), P(positive)]` for `text`; the two sum to 1.
    pub fn predict(&self, text: &str) -> [f64; 2] {
        let mut score = self.log_prior;
        for feature in features(text) {
            if let Some(p) = self.log_likelihood.get(&feature) {
                score[0] += p[0];
                score[1] += p[1];
            }
        }
        // Softmax of two log scores, computed stably.
        let max = score[0].max(score[1]);
        let e = score.map(|s| (s - max).exp());
        let sum = e[0] + e[1];
        [e[0] / sum, e[1] / sum]
    }

    /// Fraction of `examples` whose more likely class is their label.
    pub fn accuracy(&self, examples: &[Example]) -> f64 {
        if examples.is_empty() {
            return 0.0;
        }
        let correct = examples
            .iter()
            .filter(|e| (self.predict(&e.text)[1] > 0.5) == e.positive)
            .count();
        correct as f64 / examples.len() as f64
    }

    /// Number of distinct feature buckets learned.
    pub fn features(&self) -> usize {
        self.log_likelihood.len()
    }
}

/// Lower-cased words (runs of letters and digits, keeping apostrophes inside words), with
/// `None` where punctuation ends a clause.
fn tokens(text: &str) -> Vec<Option<String>> {
    let lower = text.to_lowercase();
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut chars = lower.chars().peekable();
    while let Some(c) = chars.next() {
        let inner_apostrophe = (c == '\'' || c == '’')
            && !current.is_empty()
            && chars.peek().is_some_and(|n| n.is_alphanumeric());
        if c.is_alphanumeric() {
            current.push(c);
            continue;
        }
        if inner_apostrophe {
            current.push('\'');
            continue;
        }
        if !current.is_empty() {
            tokens.push(Some(std::mem::take(&mut current)));
        }
        if matches!(c, '.' | ',' | ';' | ':' | '!' | '?') {
            tokens.push(None);
        }
    }
    if !current.is_empty() {
        tokens.push(Some(current));
    }
    tokens
}

fn is_negation(word: &str) -> bool {
    matches!(word, "not" | "no" | "never") || word.ends_with("n't")
}

/// The words of a text, those in a negation's scope prefixed with `NOT_`.
fn words(text: &str) -> Vec<String> {
    let mut negated = false;
    let mut words = Vec::new();
    for token in tokens(text) {
        let Some(word) = token else {
            negated = false;
            continue;
        };
        let negation = is_negation(&word);
        words.push(if negated { format!("NOT_{word}") } else { word });
        negated |= negation;
    }
    words
}

/// The distinct hashed features of a text.
fn features(text: &str) -> Vec<u32> {
    let mut features: Vec<u32> = words(text).iter().map(|w| bucket(w)).collect();
    features.sort_unstable();
    features.dedup();
    features
}

fn bucket(feature: &str) -> u32 {
    // FNV-1a, 64-bit: stable across runs and platforms (std's hasher is randomly seeded).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in feature.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash & BUCKET_MASK) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, positive: bool) -> Example {
        Example {
            text: text.into(),
            positive,
        }
    }

    #[test]
    fn words_keep_inner_apostrophes_and_negation_lasts_to_the_punctuation() {
        assert_eq!(
            words("It's NOT bad -- the actor's best, isn't it? Fine."),
            [
                "it's",
                "not",
                "NOT_bad",
                "NOT_the",
                "NOT_actor's",
                "NOT_best",
                "isn't",
                "NOT_it",
                "fine"
            ]
        );
        assert_eq!(
            words("Never dull; never boring"),
            ["never", "NOT_dull", "never", "NOT_boring"]
        );
        assert!(words("  ...  ").is_empty());
    }

    #[test]
    fn each_feature_counts_once_per_document() {
        assert_eq!(features("bad").len(), 1);
        assert_eq!(features("bad bad bad").len(), 1);
        assert_eq!(features("not bad").len(), 2);
        assert_ne!(features("bad"), features("not bad")[..1]);
    }

    #[test]
    fn learns_which_words_are_positive() {
        let model = Classifier::train(&[
            ex("great fun", true),
            ex("great acting", true),
            ex("awful mess", false),
            ex("awful acting", false),
        ]);
        let [neg, pos] = model.predict("great");
        assert!((neg + pos - 1.0).abs() < 1e-12);
        assert!(pos > 0.6, "{pos}");
        assert!(model.predict("an awful film")[0] > 0.6);
        assert_eq!(model.predict("zzz unseen"), [0.5, 0.5]);
        assert_eq!(model.predict(""), [0.5, 0.5]);
        assert_eq!(
            model.accuracy(&[ex("great", true), ex("awful", false)]),
            1.0
        );
    }
}
