//! Where each value of a YAML document is, by its path (`groups.finance.grants[1].path`).
//!
//! serde gives positions only for the errors it raises itself. The semantic checks run on the
//! typed config, so they name what they complain about by path and this index turns the path
//! into a line and column. It is built from the YAML event stream, which carries spans.

use saphyr_parser::{Event, Parser, Span, SpannedEventReceiver};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(k: &str) -> Self {
        Seg::Key(k.to_owned())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// A position in the source: 1-based line and column (in characters), and the byte range of
/// the value for underlining.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    path: Vec<Seg>,
    value: Span,
    key: Option<Span>,
}

/// The path → position index of one document.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    entries: Vec<Entry>,
    duplicates: Vec<(Vec<Seg>, Span)>,
    line_starts: Vec<usize>,
    source_len: usize,
}

enum Frame {
    Map {
        key: Option<(String, Span)>,
        seen: Vec<String>,
    },
    Seq {
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    frames: Vec<Frame>,
    path: Vec<Seg>,
    entries: Vec<Entry>,
    duplicates: Vec<(Vec<Seg>, Span)>,
}

impl Builder {
    /// The segment and key span for a node starting now, advancing the parent.
    fn claim_slot(&mut self) -> Option<(Seg, Option<Span>)> {
        match self.frames.last_mut()? {
            Frame::Map { key, .. } => key.take().map(|(k, span)| (Seg::Key(k), Some(span))),
            Frame::Seq { next } => {
                let i = *next;
                *next += 1;
                Some((Seg::Index(i), None))
            }
        }
    }

    /// In a mapping waiting for a key, a scalar is that key.
    fn awaiting_key(&self) -> bool {
        matches!(self.frames.last(), Some(Frame::Map { key: None, .. }))
    }

    fn set_key(&mut self, name: String, span: Span) {
        let parent = self.path.clone();
        if let Some(Frame::Map { key, seen }) = self.frames.last_mut() {
            if seen.contains(&name) {
                let mut path = parent;
                path.push(Seg::Key(name.clone()));
                self.duplicates.push((path, span));
            } else {
                seen.push(name.clone());
            }
            *key = Some((name, span));
        }
    }

    fn leaf(&mut self, span: Span) {
        let slot = self.claim_slot();
        let mut path = self.path.clone();
        let key = match slot {
            Some((seg, key)) => {
                path.push(seg);
                key
            }
            None => None,
        };
        self.entries.push(Entry {
            path,
            value: span,
            key,
        });
    }

    fn open(&mut self, span: Span, frame: Frame) {
        let slot = self.claim_slot();
        let key = match slot {
            Some((seg, key)) => {
                self.path.push(seg);
                key
            }
            None => None,
        };
        self.entries.push(Entry {
            path: self.path.clone(),
            value: span,
            key,
        });
        self.frames.push(frame);
    }

    fn close(&mut self) {
        self.frames.pop();
        // The document root has no segment of its own.
        if !self.frames.is_empty() {
            self.path.pop();
        }
    }
}

impl<'input> SpannedEventReceiver<'input> for Builder {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        match ev {
            Event::Scalar(value, ..) => {
                if self.awaiting_key() {
                    self.set_key(value.into_owned(), span);
                } else {
                    self.leaf(span);
                }
            }
            Event::Alias(_) => {
                if self.awaiting_key() {
                    self.set_key("*alias".to_owned(), span);
                } else {
                    self.leaf(span);
                }
            }
            Event::MappingStart(..) => {
                if self.awaiting_key() {
                    // A complex key: give it a placeholder name, its children are not indexed.
                    self.set_key("?".to_owned(), span);
                }
                self.open(
                    span,
                    Frame::Map {
                        key: None,
                        seen: Vec::new(),
                    },
                )
            }
            Event::SequenceStart(..) => self.open(span, Frame::Seq { next: 0 }),
            Event::MappingEnd | Event::SequenceEnd => self.close(),
            _ => {}
        }
    }
}

impl SourceMap {
    /// Indexes `source`. A document the YAML parser rejects yields an empty index (serde reports
    /// the syntax error with its own position).
    pub fn new(source: &str) -> SourceMap {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(source);
        let _ = parser.load(&mut builder, false);
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        SourceMap {
            entries: builder.entries,
            duplicates: builder.duplicates,
            line_starts,
            source_len: source.len(),
        }
    }

    fn location_of(&self, source: &str, span: Span) -> Location {
        let line = span.start.line().max(1);
        let col0 = span.start.col();
        let line_start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let start = char_offset(source, line_start, col0).min(self.source_len);
        let end_line = span.end.line().max(1);
        let end_line_start = self.line_starts.get(end_line - 1).copied().unwrap_or(0);
        let mut end = char_offset(source, end_line_start, span.end.col()).min(self.source_len);
        if end <= start {
            end = start;
        }
        // Underline one line at most: the rest of a block value is noise.
        if let Some(nl) = source.get(start..end).and_then(|s| s.find('\n')) {
            end = start + nl;
        }
        Location {
            line,
            column: col0 + 1,
            start,
            end,
        }
    }

    /// The position of the value at `path`, or of the nearest ancestor that exists.
    pub fn value(&self, source: &str, path: &[Seg]) -> Option<Location> {
        self.find(path, false).map(|s| self.location_of(source, s))
    }

    /// The position of the key naming the value at `path` (falls back to the value).
    pub fn key(&self, source: &str, path: &[Seg]) -> Option<Location> {
        self.find(path, true).map(|s| self.location_of(source, s))
    }

    /// Keys that appear twice in one mapping (YAML forbids it; serde would keep the last one
    /// silently for maps such as `groups`): the path of each repeat, with its position and the
    /// position of the first occurrence.
    pub fn duplicate_keys(&self, source: &str) -> Vec<(Vec<Seg>, Location, Option<Location>)> {
        self.duplicates
            .iter()
            .map(|(path, span)| {
                let first = self.key(source, path);
                (path.clone(), self.location_of(source, *span), first)
            })
            .collect()
    }

    fn find(&self, path: &[Seg], want_key: bool) -> Option<Span> {
        for len in (0..=path.len()).rev() {
            let prefix = &path[..len];
            if let Some(e) = self.entries.iter().find(|e| e.path == prefix) {
                let span = if want_key || len < path.len() {
                    e.key.unwrap_or(e.value)
                } else {
                    e.value
                };
                return Some(span);
            }
        }
        None
    }
}

fn char_offset(source: &str, line_start: usize, col: usize) -> usize {
    let rest = source.get(line_start..).unwrap_or("");
    line_start
        + rest
            .char_indices()
            .nth(col)
            .map(|(i, _)| i)
            .unwrap_or(rest.find('\n').unwrap_or(rest.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "stack: acme\ngroups:\n  finance:\n    grants:\n      - s3://a/b/\n      - { path: \"s3://é/x\", access: read }\n";

    fn p(segs: &[Seg]) -> Vec<Seg> {
        segs.to_vec()
    }

    #[test]
    fn finds_values_and_keys() {
        let map = SourceMap::new(DOC);
        let stack = map.value(DOC, &p(&["stack".into()])).unwrap();
        assert_eq!((stack.line, stack.column), (1, 8));
        assert_eq!(&DOC[stack.start..stack.end], "acme");
        let g = p(&["groups".into(), "finance".into()]);
        let key = map.key(DOC, &g).unwrap();
        assert_eq!((key.line, key.column), (3, 3));
        let first = map
            .value(
                DOC,
                &p(&["groups".into(), "finance".into(), "grants".into(), 0.into()]),
            )
            .unwrap();
        assert_eq!((first.line, first.column), (5, 9));
        let access = map
            .value(
                DOC,
                &p(&[
                    "groups".into(),
                    "finance".into(),
                    "grants".into(),
                    1.into(),
                    "access".into(),
                ]),
            )
            .unwrap();
        assert_eq!(
            (access.line, access.column),
            (6, 37),
            "columns count characters, not bytes"
        );
        assert_eq!(&DOC[access.start..access.end], "read");
    }

    #[test]
    fn reports_duplicate_keys_with_both_positions() {
        let doc = "groups:\n  a: {}\n  b: {}\n  a: {}\n";
        let map = SourceMap::new(doc);
        let dups = map.duplicate_keys(doc);
        assert_eq!(dups.len(), 1);
        let (path, at, first) = &dups[0];
        assert_eq!(path, &vec![Seg::Key("groups".into()), Seg::Key("a".into())]);
        assert_eq!(at.line, 4);
        assert_eq!(first.unwrap().line, 2);
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor() {
        let map = SourceMap::new(DOC);
        let missing = map
            .value(DOC, &p(&["groups".into(), "finance".into(), "deny".into()]))
            .unwrap();
        // Points at the `finance` key: the place to add `deny:`.
        assert_eq!((missing.line, missing.column), (3, 3));
    }
}
