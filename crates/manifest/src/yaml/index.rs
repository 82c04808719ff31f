//! The first pass over a file: the YAML parser's events, folded into a light tree that remembers
//! where every key and value starts. It gives each document's byte range (so the second, typed
//! pass can parse one document at a time with the file's own line numbers), its `apiVersion` and
//! `kind` (the header), and the position behind any field path a later check reports.

use serde_saphyr::granit_parser::{Event, Marker, Parser};

/// A place in a file: 1-based line and column (columns count characters), as editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

impl Pos {
    /// The first character of a file.
    pub const START: Pos = Pos { line: 1, column: 1 };

    fn from_marker(m: &Marker) -> Pos {
        Pos {
            line: u32::try_from(m.line()).unwrap_or(u32::MAX).max(1),
            column: u32::try_from(m.col()).unwrap_or(u32::MAX).saturating_add(1),
        }
    }
}

/// A YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) pos: Pos,
    pub(crate) value: Value,
}

/// What a node holds. Scalars keep their text; aliases and complex keys are not followed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Map(Vec<Entry>),
    Seq(Vec<Node>),
    Scalar(String),
    Alias,
}

/// One `key: value` pair of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_pos: Pos,
    pub(crate) value: Node,
}

/// One document of a file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    /// Byte range of the document in the file (from its first event to the next document).
    pub(crate) bytes: std::ops::Range<usize>,
    /// Where the document starts.
    pub(crate) pos: Pos,
    /// The document's content; `None` when the document is empty.
    pub(crate) root: Option<Node>,
}

/// A YAML syntax error: the document it is in cannot be read at all.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

/// The documents of a file and the syntax errors found in it (one at most per document: the
/// parser resumes at the next `---`).
#[derive(Debug, Default)]
pub(crate) struct Indexed {
    pub(crate) documents: Vec<Document>,
    pub(crate) errors: Vec<SyntaxError>,
}

impl Node {
    /// The entry `key` of a mapping node.
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The text of a scalar node.
    pub(crate) fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// An open collection while its events stream by.
enum Frame {
    Map {
        pos: Pos,
        entries: Vec<Entry>,
        key: Option<(String, Pos)>,
    },
    Seq {
        pos: Pos,
        items: Vec<Node>,
    },
}

/// Folds events into trees. The parser bounds nesting depth (255 levels by default), so neither
/// the stack here nor dropping the tree can run away.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
}

impl Builder {
    fn attach(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    // A complex key (a mapping or sequence used as a key) has no name to match.
                    let name = node.scalar().unwrap_or_default().to_string();
                    *key = Some((name, node.pos));
                }
                Some((key, key_pos)) => entries.push(Entry {
                    key,
                    key_pos,
                    value: node,
                }),
            },
        }
    }

    fn close(&mut self) {
        let node = match self.stack.pop() {
            Some(Frame::Map { pos, entries, .. }) => Node {
                pos,
                value: Value::Map(entries),
            },
            Some(Frame::Seq { pos, items }) => Node {
                pos,
                value: Value::Seq(items),
            },
            None => return,
        };
        self.attach(node);
    }
}

/// Reads every document of `text`. Never fails: syntax errors are collected and the parser
/// resumes at the next document.
pub(crate) fn index(text: &str) -> Indexed {
    let mut out = Indexed::default();
    let mut parser = Parser::new_from_str(text);
    let mut open: Option<(usize, Pos)> = None;
    let mut builder = Builder::default();
    loop {
        match parser.next_event() {
            None => break,
            Some(Ok((event, span))) => {
                let pos = Pos::from_marker(&span.start);
                let byte = span.start.byte_offset().unwrap_or(text.len());
                match event {
                    Event::DocumentStart(..) => {
                        close_previous(&mut out, byte);
                        open = Some((byte, pos));
                        builder = Builder::default();
                    }
                    Event::DocumentEnd => {
                        if let Some((start, pos)) = open.take() {
                            out.documents.push(Document {
                                bytes: start..text.len(),
                                pos,
                                root: builder.root.take().filter(|n| !is_null(n)),
                            });
                        }
                    }
                    Event::MappingStart(..) => builder.stack.push(Frame::Map {
                        pos,
                        entries: Vec::new(),
                        key: None,
                    }),
                    Event::SequenceStart(..) => builder.stack.push(Frame::Seq {
                        pos,
                        items: Vec::new(),
                    }),
                    Event::MappingEnd | Event::SequenceEnd => builder.close(),
                    Event::Scalar(text, ..) => builder.attach(Node {
                        pos,
                        value: Value::Scalar(text.into_owned()),
                    }),
                    Event::Alias(_) => builder.attach(Node {
                        pos,
                        value: Value::Alias,
                    }),
                    Event::StreamEnd => close_previous(&mut out, text.len()),
                    _ => {}
                }
            }
            Some(Err(error)) => {
                out.errors.push(SyntaxError {
                    pos: Pos::from_marker(error.marker()),
                    message: error.info(),
                });
                open = None;
                builder = Builder::default();
                match parser.proceed_next_document() {
                    Ok(true) => {}
                    Ok(false) | Err(_) => break,
                }
            }
        }
    }
    out
}

/// A document's byte range ends where the next one starts.
fn close_previous(out: &mut Indexed, next_start: usize) {
    if let Some(last) = out.documents.last_mut()
        && last.bytes.end > next_start
    {
        last.bytes.end = next_start.max(last.bytes.start);
    }
}

/// An empty document (`---` followed by nothing) parses as a null scalar.
fn is_null(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar(s) if s.is_empty() || s == "~" || s == "null")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }

    #[test]
    fn documents_keep_their_byte_ranges_and_positions() {
        let text = "# comment\nkind: A\n---\nkind: B\n...\n---\n";
        let indexed = index(text);
        assert!(indexed.errors.is_empty());
        assert_eq!(indexed.documents.len(), 3);
        let [a, b, empty] = &indexed.documents[..] else {
            panic!("three documents expected");
        };
        assert_eq!(&text[a.bytes.clone()], "kind: A\n");
        assert_eq!(a.pos, pos(2, 1));
        assert_eq!(&text[b.bytes.clone()], "---\nkind: B\n...\n");
        assert_eq!(b.pos, pos(3, 1));
        assert!(empty.root.is_none(), "an empty document has no root");
    }

    #[test]
    fn keys_and_values_know_where_they_start() {
        let text = "spec:\n  list:\n  - a: 1\n    b: [2, 3]\n";
        let indexed = index(text);
        let root = indexed.documents[0].root.as_ref().expect("root");
        let spec = root.get("spec").expect("spec");
        assert_eq!(spec.key_pos, pos(1, 1));
        let list = spec.value.get("list").expect("list");
        let Value::Seq(items) = &list.value.value else {
            panic!("a sequence expected");
        };
        let b = items[0].get("b").expect("b");
        assert_eq!(b.key_pos, pos(4, 5));
        assert_eq!(b.value.pos, pos(4, 8));
    }

    #[test]
    fn a_syntax_error_costs_only_its_document() {
        let text = "kind: A\nspec: [1, 2\n---\nkind: B\n";
        let indexed = index(text);
        assert_eq!(indexed.errors.len(), 1);
        assert_eq!(indexed.errors[0].pos.line, 2, "{:?}", indexed.errors[0]);
        assert_eq!(indexed.documents.len(), 1);
        let root = indexed.documents[0].root.as_ref().expect("root");
        assert_eq!(root.get("kind").and_then(|e| e.value.scalar()), Some("B"));
    }
}
