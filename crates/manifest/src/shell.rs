//! Splitting an `ebb.dev/command` annotation into words the way a POSIX shell would (quotes and
//! backslashes; no expansion), so the annotation reads like the command line it stands for.

/// Why a command line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitError(pub(crate) &'static str);

/// `python -m app --port {port} --name 'my model'` → `["python", "-m", "app", ...]`.
pub(crate) fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(SplitError("a single quote is not closed")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(SplitError("a double quote is not closed")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(SplitError("a double quote is not closed")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => return Err(SplitError("the line ends with a backslash")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split(r#"ebb model-server --port {port}  --name 'my model' "a \"b\"" c\ d ''"#),
            Ok(vec![
                "ebb".to_string(),
                "model-server".into(),
                "--port".into(),
                "{port}".into(),
                "--name".into(),
                "my model".into(),
                "a \"b\"".into(),
                "c d".into(),
                String::new(),
            ])
        );
        assert_eq!(split("  "), Ok(vec![]));
        assert!(split("echo 'open").is_err());
        assert!(split("echo \"open").is_err());
        assert!(split("echo \\").is_err());
    }
}
