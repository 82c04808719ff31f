//! Request bodies: none, a fixed file, or the sentiment model's payload.
//!
//! The sentiment template reproduces the shape of the seed tutorial's load test: every request
//! carries 1 to 99 movie reviews picked at random (with replacement) from a fixed list of 20,
//! as `{"text": [...]}` for the FastAPI `/predict` endpoint or `{"instances": [...]}` for a
//! KServe V1 `:predict` endpoint. The reviews are our own.

use bytes::Bytes;
use rand::{Rng, RngExt as _};
use serde::Serialize;

/// Twenty short movie reviews, half warm, half not.
pub const REVIEWS: [&str; 20] = [
    "A quiet little film that grows on you; the final scene earns every tear.",
    "Sharp writing, a cast clearly having fun, and not a minute wasted.",
    "I went in skeptical and left humming the score on the way home.",
    "The two leads have real chemistry and the jokes actually land.",
    "Gorgeous to look at and surprisingly tender underneath the spectacle.",
    "A clever mystery that plays fair with the audience until the last reveal.",
    "Warm, funny and honest about family without ever getting preachy.",
    "The best animated feature I have seen in years, kids and adults alike.",
    "Tense from the first frame; I forgot to eat my popcorn.",
    "An uplifting story told with restraint, and all the stronger for it.",
    "Two hours of my life I would like back, please.",
    "The plot collapses halfway through and never gets back up.",
    "Wooden dialogue, a muddy soundtrack and a villain with no motive.",
    "It mistakes loud for exciting and long for deep.",
    "Every twist is visible from a mile away.",
    "The trailer had all the good parts; the rest is filler.",
    "A talented cast stranded in a script that goes nowhere.",
    "So dark I could barely see the actors, so dull I stopped trying.",
    "The sequel nobody asked for, and it shows in every scene.",
    "I checked my watch four times before the first act ended.",
];

/// Where the sentiment payload's reviews go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentimentShape {
    /// The seed app's `POST /predict`: `{"text": [...]}`.
    Predict,
    /// KServe V1 `POST /v1/models/NAME:predict`: `{"instances": [...]}`.
    KServeV1,
}

impl SentimentShape {
    /// The shape a URL path expects: KServe V1 for `...:predict` model paths, else `/predict`.
    pub fn for_path(path: &str) -> SentimentShape {
        if path.starts_with("/v1/models/") && path.ends_with(":predict") {
            SentimentShape::KServeV1
        } else {
            SentimentShape::Predict
        }
    }
}

/// What goes in each request's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySource {
    /// No body.
    Empty,
    /// The same bytes every time (a file's contents).
    Fixed(Bytes),
    /// A fresh sentiment payload per request.
    Sentiment(SentimentShape),
}

impl BodySource {
    /// The body of the next request.
    pub fn next(&self, rng: &mut impl Rng) -> Bytes {
        match self {
            BodySource::Empty => Bytes::new(),
            BodySource::Fixed(bytes) => bytes.clone(),
            BodySource::Sentiment(shape) => sentiment_payload(*shape, rng),
        }
    }

    /// The content type to send when the user gave none.
    pub fn default_content_type(&self) -> Option<&'static str> {
        match self {
            BodySource::Sentiment(_) => Some("application/json"),
            BodySource::Empty | BodySource::Fixed(_) => None,
        }
    }
}

#[derive(Serialize)]
struct Predict<'a> {
    text: Vec<&'a str>,
}

#[derive(Serialize)]
struct Instances<'a> {
    instances: Vec<&'a str>,
}

/// 1 to 99 reviews, drawn with replacement, in the given shape.
pub fn sentiment_payload(shape: SentimentShape, rng: &mut impl Rng) -> Bytes {
    let count = rng.random_range(1..100usize);
    let reviews: Vec<&str> = (0..count)
        .map(|_| REVIEWS[rng.random_range(0..REVIEWS.len())])
        .collect();
    let json = match shape {
        SentimentShape::Predict => serde_json::to_vec(&Predict { text: reviews }),
        SentimentShape::KServeV1 => serde_json::to_vec(&Instances { instances: reviews }),
    };
    // Serializing a struct of strings cannot fail; an empty body would be the only fallback.
    Bytes::from(json.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;
    use rand::rngs::Xoshiro256PlusPlus;

    use super::*;

    #[test]
    fn payloads_hold_1_to_99_known_reviews() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let (mut smallest, mut largest) = (usize::MAX, 0);
        for _ in 0..2000 {
            let body = sentiment_payload(SentimentShape::Predict, &mut rng);
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let texts = value["text"].as_array().unwrap();
            assert!(texts.iter().all(|t| REVIEWS.contains(&t.as_str().unwrap())));
            smallest = smallest.min(texts.len());
            largest = largest.max(texts.len());
        }
        assert_eq!((smallest, largest), (1, 99));
    }

    #[test]
    fn kserve_paths_get_instances() {
        assert_eq!(
            SentimentShape::for_path("/v1/models/custom-model:predict"),
            SentimentShape::KServeV1
        );
        assert_eq!(
            SentimentShape::for_path("/predict"),
            SentimentShape::Predict
        );
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let body = BodySource::Sentiment(SentimentShape::KServeV1).next(&mut rng);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(value["instances"].as_array().is_some_and(|a| !a.is_empty()));
    }

    #[test]
    fn reviews_are_distinct() {
        let mut unique = REVIEWS.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 20);
    }
}
