//! Reading replica logs from the state directory, once or following them like `tail -f`.
//!
//! `ebb logs NAME` means a service (all its replicas, lines prefixed with the replica name when
//! there are several) or one replica (`service-n`). Following picks up replicas that appear
//! later (scale-up) and starts over when a file is truncated (the replica was replaced).

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;

use crate::state::{StateDir, replica_name};

/// Why the logs cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// Neither a service nor a replica with logs.
    #[error(
        "no logs for {name:?} in {root}; {}",
        known_list("services with logs", known)
    )]
    NotFound {
        /// What was asked for.
        name: String,
        /// The state directory searched.
        root: String,
        /// Services that do have logs.
        known: Vec<String>,
    },
    /// The service exists but not that replica.
    #[error(
        "service {service:?} has no replica {ordinal}; {}",
        known_list("replicas with logs", known)
    )]
    NoReplica {
        /// The service.
        service: String,
        /// The replica asked for.
        ordinal: u32,
        /// Replica names that have logs.
        known: Vec<String>,
    },
    /// Reading failed.
    #[error("cannot read logs: {0}")]
    Io(#[from] io::Error),
}

fn known_list(what: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("there are no {what} (has `ebb serve` run with this state directory?)")
    } else {
        format!("{what}: {}", known.join(", "))
    }
}

/// What to read: all replicas of a service, or one replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    service: String,
    only: Option<u32>,
}

impl Selection {
    /// Resolves `name` (a service or `service-n`) and an optional replica ordinal.
    pub fn resolve(
        state: &StateDir,
        name: &str,
        replica: Option<u32>,
    ) -> Result<Selection, LogsError> {
        let services = state.services_with_logs()?;
        let selection = if services.iter().any(|s| s == name) {
            Selection {
                service: name.to_string(),
                only: replica,
            }
        } else if let Some((service, n)) = name
            .rsplit_once('-')
            .and_then(|(s, n)| Some((s, n.parse::<u32>().ok()?)))
            .filter(|(s, _)| services.iter().any(|known| known == s))
            .filter(|(_, n)| replica.is_none_or(|r| r == *n))
        {
            Selection {
                service: service.to_string(),
                only: Some(n),
            }
        } else {
            return Err(LogsError::NotFound {
                name: name.to_string(),
                root: state.root().display().to_string(),
                known: services,
            });
        };
        if let Some(ordinal) = selection.only {
            let logs = state.replica_logs(&selection.service)?;
            if !logs.iter().any(|(n, _)| *n == ordinal) {
                return Err(LogsError::NoReplica {
                    ordinal,
                    known: logs
                        .iter()
                        .map(|(n, _)| replica_name(&selection.service, *n))
                        .collect(),
                    service: selection.service,
                });
            }
        }
        Ok(selection)
    }

    /// True when the selection may cover several replicas (lines get a prefix).
    pub fn is_service(&self) -> bool {
        self.only.is_none()
    }

    fn files(&self, state: &StateDir) -> io::Result<Vec<(String, PathBuf)>> {
        Ok(state
            .replica_logs(&self.service)?
            .into_iter()
            .filter(|(n, _)| self.only.is_none_or(|only| only == *n))
            .map(|(n, path)| (replica_name(&self.service, n), path))
            .collect())
    }
}

/// A log line (without its newline) from one replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The replica it came from.
    pub replica: String,
    /// The text (invalid UTF-8 replaced).
    pub text: String,
}

#[derive(Debug)]
struct Tail {
    replica: String,
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

/// Reads what the selected replicas have written since the last call.
#[derive(Debug)]
pub struct Reader {
    state: StateDir,
    selection: Selection,
    tails: Vec<Tail>,
}

impl Reader {
    /// A reader from the start of each file.
    pub fn new(state: StateDir, selection: Selection) -> Reader {
        Reader {
            state,
            selection,
            tails: Vec::new(),
        }
    }

    /// Complete lines written since the last call, file by file (replicas in ordinal order).
    /// With `flush`, a last line without a newline is returned too (end of a one-shot read).
    pub fn read(&mut self, flush: bool) -> io::Result<Vec<Line>> {
        for (replica, path) in self.selection.files(&self.state)? {
            if !self.tails.iter().any(|t| t.path == path) {
                self.tails.push(Tail {
                    replica,
                    path,
                    offset: 0,
                    partial: Vec::new(),
                });
            }
        }
        let mut lines = Vec::new();
        for tail in &mut self.tails {
            read_new(tail, flush, &mut lines)?;
        }
        Ok(lines)
    }
}

fn read_new(tail: &mut Tail, flush: bool, lines: &mut Vec<Line>) -> io::Result<()> {
    let mut file = match File::open(&tail.path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len < tail.offset {
        // Truncated: a new replica with this name started over.
        tail.offset = 0;
        tail.partial.clear();
    }
    file.seek(SeekFrom::Start(tail.offset))?;
    let mut bytes = Vec::new();
    file.take(len - tail.offset).read_to_end(&mut bytes)?;
    tail.offset += bytes.len() as u64;
    tail.partial.extend_from_slice(&bytes);
    let mut rest: &[u8] = &tail.partial;
    while let Some(end) = rest.iter().position(|b| *b == b'\n') {
        lines.push(Line {
            replica: tail.replica.clone(),
            text: String::from_utf8_lossy(&rest[..end]).into_owned(),
        });
        rest = &rest[end + 1..];
    }
    if flush && !rest.is_empty() {
        lines.push(Line {
            replica: tail.replica.clone(),
            text: String::from_utf8_lossy(rest).into_owned(),
        });
        rest = &[];
    }
    tail.partial = rest.to_vec();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn write(state: &StateDir, service: &str, n: u32, text: &str, append: bool) {
        let path = state.log_file(service, n);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(path)
            .expect("open");
        file.write_all(text.as_bytes()).expect("write");
    }

    fn texts(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| format!("{}: {}", l.replica, l.text))
            .collect()
    }

    #[test]
    fn names_resolve_to_a_service_or_one_replica() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::new(dir.path());
        write(&state, "web-app", 1, "a\n", false);
        write(&state, "web-app", 2, "b\n", false);
        let all = Selection::resolve(&state, "web-app", None).expect("service");
        assert!(all.is_service());
        let two = Selection::resolve(&state, "web-app-2", None).expect("replica");
        assert!(!two.is_service());
        assert_eq!(
            Selection::resolve(&state, "web-app", Some(2)).expect("flag"),
            two
        );
        let missing = Selection::resolve(&state, "web-app", Some(7)).expect_err("no replica 7");
        assert_eq!(
            missing.to_string(),
            "service \"web-app\" has no replica 7; replicas with logs: web-app-1, web-app-2"
        );
        let unknown = Selection::resolve(&state, "api", None).expect_err("unknown");
        assert!(
            unknown
                .to_string()
                .ends_with("; services with logs: web-app"),
            "{unknown}"
        );
    }

    #[test]
    fn reading_follows_appends_new_replicas_and_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::new(dir.path());
        write(&state, "m", 1, "one\ntwo", false);
        let selection = Selection::resolve(&state, "m", None).expect("service");
        let mut reader = Reader::new(state.clone(), selection);
        assert_eq!(texts(&reader.read(false).expect("read")), ["m-1: one"]);
        write(&state, "m", 1, " halves\n", true);
        write(&state, "m", 2, "hello\n", false);
        assert_eq!(
            texts(&reader.read(false).expect("read")),
            ["m-1: two halves", "m-2: hello"]
        );
        assert!(reader.read(false).expect("read").is_empty());
        write(&state, "m", 2, "new\n", false);
        assert_eq!(texts(&reader.read(false).expect("read")), ["m-2: new"]);
        write(&state, "m", 1, "tail without newline", true);
        assert_eq!(
            texts(&reader.read(true).expect("read")),
            ["m-1: tail without newline"]
        );
    }
}
