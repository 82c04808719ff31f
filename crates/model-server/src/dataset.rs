//! The labelled reviews the model learns from, shipped in the binary (`data/reviews.tsv`).
//!
//! 400 short movie reviews written for ebb (200 positive, 200 negative); every fifth review
//! of each label is held out from training to measure accuracy.

use crate::model::Example;

/// The reviews shipped with ebb.
pub const BUILTIN_TSV: &str = include_str!("../data/reviews.tsv");

/// A training split and a held-out split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dataset {
    /// Reviews to learn from.
    pub train: Vec<Example>,
    /// Reviews to measure accuracy on.
    pub heldout: Vec<Example>,
}

/// A line of the file that is not `split<TAB>label<TAB>text`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DatasetError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl Dataset {
    /// The reviews shipped with ebb.
    pub fn builtin() -> Result<Dataset, DatasetError> {
        Dataset::parse(BUILTIN_TSV)
    }

    /// Parses `split<TAB>label<TAB>text` lines; `#` starts a comment line.
    pub fn parse(tsv: &str) -> Result<Dataset, DatasetError> {
        let mut data = Dataset::default();
        for (index, line) in tsv.lines().enumerate() {
            let line_no = index + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| DatasetError {
                line: line_no,
                message,
            };
            let mut columns = line.splitn(3, '\t');
            let (Some(split), Some(label), Some(text)) =
                (columns.next(), columns.next(), columns.next())
            else {
                return Err(err(
                    "expected three tab-separated columns: split, label, text".into(),
                ));
            };
            let positive = match label {
                "pos" => true,
                "neg" => false,
                other => return Err(err(format!("label {other:?} must be \"pos\" or \"neg\""))),
            };
            let example = Example {
                text: text.to_string(),
                positive,
            };
            match split {
                "train" => data.train.push(example),
                "heldout" => data.heldout.push(example),
                other => {
                    return Err(err(format!(
                        "split {other:?} must be \"train\" or \"heldout\""
                    )));
                }
            }
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Classifier;

    #[test]
    fn the_builtin_set_is_balanced_with_a_fifth_held_out() {
        let data = Dataset::builtin().expect("shipped data parses");
        let count =
            |set: &[Example], positive: bool| set.iter().filter(|e| e.positive == positive).count();
        assert_eq!(
            (count(&data.train, true), count(&data.train, false)),
            (160, 160)
        );
        assert_eq!(
            (count(&data.heldout, true), count(&data.heldout, false)),
            (40, 40)
        );
    }

    #[test]
    fn held_out_accuracy_is_what_the_docs_report() {
        let data = Dataset::builtin().expect("shipped data parses");
        let model = Classifier::train(&data.train);
        let accuracy = model.accuracy(&data.heldout);
        println!(
            "held-out accuracy {accuracy:.3} ({} of {}); training accuracy {:.3}",
            (accuracy * data.heldout.len() as f64).round(),
            data.heldout.len(),
            model.accuracy(&data.train)
        );
        // docs/model-server.md quotes this number; keep both in step.
        assert_eq!(
            (accuracy * data.heldout.len() as f64).round() as usize,
            HELDOUT_CORRECT
        );
    }

    /// Held-out reviews the shipped model classifies correctly (of 80).
    const HELDOUT_CORRECT: usize = 62;

    #[test]
    fn malformed_lines_are_reported_with_their_number() {
        let err = Dataset::parse("# c\ntrain\tpos\tok\ntrain\tmeh\tx\n").expect_err("bad label");
        assert_eq!(
            err.to_string(),
            "line 3: label \"meh\" must be \"pos\" or \"neg\""
        );
        let err = Dataset::parse("heldout only-two").expect_err("columns");
        assert_eq!(err.line, 1);
    }
}
