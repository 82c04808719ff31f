//! Reading manifest files: files as named, directories as their `.yaml`, `.yml` and `.json`
//! files in name order (not recursive, like `kubectl apply -f DIR`).

use std::path::{Path, PathBuf};

/// One manifest file's text and the name to report it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The path as the user gave it (or `<stdin>`).
    pub name: String,
    /// The whole file.
    pub text: String,
}

impl Source {
    /// A source from text in memory (standard input, tests, embedded examples).
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// Why files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A directory holds no manifest files.
    #[error("{0} has no .yaml, .yml or .json files")]
    EmptyDirectory(PathBuf),
}

/// Reads every path: a file as is, a directory as its manifest files in name order.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<Source>, LoadError> {
    let mut sources = Vec::new();
    for path in paths {
        if path.is_dir() {
            let files = manifest_files(path)?;
            if files.is_empty() {
                return Err(LoadError::EmptyDirectory(path.clone()));
            }
            for file in files {
                sources.push(read_file(&file)?);
            }
        } else {
            sources.push(read_file(path)?);
        }
    }
    Ok(sources)
}

fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_manifest = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if is_manifest && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_file(path: &Path) -> Result<Source, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Source::new(path.display().to_string(), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_reads_its_manifests_in_name_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in [
            ("b.yaml", "kind: B\n"),
            ("a.yml", "kind: A\n"),
            ("c.json", "{}"),
            ("notes.txt", "not a manifest"),
        ] {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let sources = read_paths(&[dir.path().to_path_buf()]).expect("read");
        let names: Vec<String> = sources
            .iter()
            .map(|s| {
                Path::new(&s.name)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(names, ["a.yml", "b.yaml", "c.json"]);
    }

    #[test]
    fn missing_files_and_empty_directories_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.yaml");
        let err = read_paths(std::slice::from_ref(&missing)).expect_err("missing file");
        assert!(err.to_string().starts_with("cannot read "), "{err}");
        let err = read_paths(&[dir.path().to_path_buf()]).expect_err("empty dir");
        assert!(
            err.to_string()
                .ends_with("has no .yaml, .yml or .json files")
        );
    }
}
