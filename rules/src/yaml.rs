//! YAML loading with positions: a small node tree built from `saphyr-parser`'s events, where
//! every node knows where it starts, and a scalar can map each byte of its value back to the
//! line and column it came from ([`Text`]).
//!
//! Mapping a scalar's value back to its source is exact for plain scalars (one or several
//! lines), literal (`|`) and folded (`>`) block scalars and quoted scalars without escapes: each
//! character of the value is matched, in order, with the same character in the source, and
//! whitespace that folding produced maps to the line break it replaced. Escapes (`\"`, `''`)
//! map to the escape's last character, which is where a reader would look anyway.

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::error::{Error, Pos};

/// Deepest nesting of YAML collections accepted (rules files need 4 or 5).
const MAX_DEPTH: usize = 64;

/// One YAML node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    /// Where the node starts.
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    /// A scalar, its value with positions, and whether it was quoted or a block scalar (a plain
    /// `true` is a boolean; a quoted one is a string).
    Scalar {
        text: Text,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar's value, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(&text.value),
            _ => None,
        }
    }

    /// The scalar's value with positions, if this is a scalar.
    pub fn as_text(&self) -> Option<&Text> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A plain scalar spelled as a YAML null (`~`, `null`, or nothing).
    pub fn is_null(&self) -> bool {
        match &self.kind {
            NodeKind::Scalar { text, plain: true } => {
                matches!(text.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
            _ => false,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A name for the node's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Seq(_) => "a sequence",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// A string from a rules file, with the source position of each of its bytes. Texts can be
/// concatenated (for `append`), each part keeping its own file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Text {
    pub value: String,
    segs: Vec<Seg>,
}

#[derive(Debug, Clone)]
struct Seg {
    /// Byte offset in `value` where this segment starts.
    start: usize,
    file: Arc<str>,
    /// (line, col), both from 1, per byte of the segment, plus one for its end.
    locs: Vec<(u32, u32)>,
}

impl Text {
    /// A one-line text starting at `pos`: byte `i` is at column `pos.col + i`.
    pub fn on_line(value: impl Into<String>, pos: &Pos) -> Text {
        let value = value.into();
        let locs = (0..=value.len())
            .map(|i| (pos.line, pos.col.saturating_add(to_u32(i))))
            .collect();
        Text {
            value,
            segs: vec![Seg {
                start: 0,
                file: pos.file.clone(),
                locs,
            }],
        }
    }

    /// The position of byte `offset` of the value (clamped to the end).
    pub fn pos(&self, offset: usize) -> Pos {
        let seg = self
            .segs
            .iter()
            .rev()
            .find(|s| s.start <= offset)
            .or(self.segs.first());
        match seg {
            Some(seg) => {
                let i = (offset - seg.start.min(offset)).min(seg.locs.len().saturating_sub(1));
                let (line, col) = seg.locs.get(i).copied().unwrap_or((1, 1));
                Pos {
                    file: seg.file.clone(),
                    line,
                    col,
                }
            }
            None => Pos {
                file: Arc::from(""),
                line: 1,
                col: 1,
            },
        }
    }

    /// Appends `sep` (mapped to the end of the current text) and then `other`.
    pub fn push(&mut self, sep: &str, other: &Text) {
        let end = self.pos(self.value.len());
        let sep_start = self.value.len();
        self.value.push_str(sep);
        self.segs.push(Seg {
            start: sep_start,
            file: end.file.clone(),
            locs: vec![(end.line, end.col); sep.len() + 1],
        });
        let base = self.value.len();
        self.value.push_str(&other.value);
        for seg in &other.segs {
            self.segs.push(Seg {
                start: base + seg.start,
                file: seg.file.clone(),
                locs: seg.locs.clone(),
            });
        }
    }
}

/// Source characters of one file, for mapping scalar values back to lines and columns.
struct Source<'a> {
    chars: Vec<char>,
    file: &'a Arc<str>,
}

impl Source<'_> {
    fn pos(&self, line: usize, col: usize) -> Pos {
        Pos {
            file: self.file.clone(),
            line: to_u32(line),
            col: to_u32(col + 1),
        }
    }

    /// Builds a [`Text`] for a scalar event: aligns each character of `value` with the source
    /// between the span's ends (see the module documentation).
    fn text(&self, value: &str, style: ScalarStyle, span: Span) -> Text {
        let mut idx = span.start.index();
        let mut line = span.start.line();
        let mut col = span.start.col();
        let end = span.end.index().min(self.chars.len()).max(idx);
        let advance = |idx: &mut usize, line: &mut usize, col: &mut usize, chars: &[char]| {
            if chars.get(*idx) == Some(&'\n') {
                *line += 1;
                *col = 0;
            } else {
                *col += 1;
            }
            *idx += 1;
        };
        match style {
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                if matches!(self.chars.get(idx), Some('\'' | '"')) {
                    advance(&mut idx, &mut line, &mut col, &self.chars);
                }
            }
            ScalarStyle::Literal | ScalarStyle::Folded => {
                // Skip the header line (`>`, `|-`, ... and any comment) if the span has it.
                let header = matches!(self.chars.get(idx), Some('>' | '|'));
                while header && idx < end && self.chars.get(idx) != Some(&'\n') {
                    advance(&mut idx, &mut line, &mut col, &self.chars);
                }
                if header && idx < end {
                    advance(&mut idx, &mut line, &mut col, &self.chars);
                }
            }
            _ => {}
        }
        let mut locs = Vec::with_capacity(value.len() + 1);
        for c in value.chars() {
            let here;
            if c.is_whitespace() {
                // Skip indentation up to the next line break or content.
                while idx < end && matches!(self.chars.get(idx), Some(' ' | '\t')) && c == '\n' {
                    advance(&mut idx, &mut line, &mut col, &self.chars);
                }
                here = (line, col);
                if idx < end && self.chars.get(idx).is_some_and(|s| s.is_whitespace()) {
                    advance(&mut idx, &mut line, &mut col, &self.chars);
                }
            } else {
                // Find the same character ahead (skipping indentation, breaks and escapes).
                let (mut i, mut l, mut k) = (idx, line, col);
                let mut found = None;
                while i < end {
                    if self.chars.get(i) == Some(&c) {
                        found = Some((i, l, k));
                        break;
                    }
                    advance(&mut i, &mut l, &mut k, &self.chars);
                }
                match found {
                    Some((i, l, k)) => {
                        here = (l, k);
                        idx = i;
                        line = l;
                        col = k;
                        advance(&mut idx, &mut line, &mut col, &self.chars);
                    }
                    None => here = (line, col),
                }
            }
            for _ in 0..c.len_utf8() {
                locs.push((to_u32(here.0), to_u32(here.1 + 1)));
            }
        }
        locs.push((to_u32(line), to_u32(col + 1)));
        Text {
            value: value.to_owned(),
            segs: vec![Seg {
                start: 0,
                file: self.file.clone(),
                locs,
            }],
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A collection being built.
enum Open {
    Seq(Vec<Node>, Pos, usize),
    /// Pairs so far, a key waiting for its value, start, anchor.
    Map(Vec<(Node, Node)>, Option<Node>, Pos, usize),
}

/// Parses a YAML stream into its documents' root nodes.
pub(crate) fn parse(src: &str, file: &Arc<str>) -> Result<Vec<Node>, Error> {
    let source = Source {
        chars: src.chars().collect(),
        file,
    };
    let mut parser = Parser::new_from_str(src);
    let mut docs = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    while let Some(ev) = parser.next_event() {
        let (event, span) = ev.map_err(|e| Error::Yaml {
            pos: source.pos(e.marker().line(), e.marker().col()),
            message: e.info().to_owned(),
        })?;
        let pos = source.pos(span.start.line(), span.start.col());
        let (node, anchor) = match event {
            Event::Scalar(value, style, anchor, _) => {
                let text = source.text(&value, style, span);
                (
                    Node {
                        kind: NodeKind::Scalar {
                            text,
                            plain: style == ScalarStyle::Plain,
                        },
                        pos,
                    },
                    anchor,
                )
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => (node.clone(), 0),
                None => {
                    return Err(Error::Yaml {
                        pos,
                        message: format!("unknown alias (anchor id {id})"),
                    })
                }
            },
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(Error::Yaml {
                        pos,
                        message: format!("nesting deeper than {MAX_DEPTH}"),
                    });
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq(Vec::new(), pos, anchor)
                } else {
                    Open::Map(Vec::new(), None, pos, anchor)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(items, pos, anchor)) => (
                    Node {
                        kind: NodeKind::Seq(items),
                        pos,
                    },
                    anchor,
                ),
                Some(Open::Map(pairs, _, pos, anchor)) => (
                    Node {
                        kind: NodeKind::Map(pairs),
                        pos,
                    },
                    anchor,
                ),
                None => {
                    return Err(Error::Yaml {
                        pos,
                        message: "unbalanced collection end".into(),
                    })
                }
            },
            _ => continue,
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Open::Seq(items, ..)) => items.push(node),
            Some(Open::Map(pairs, key, ..)) => match key.take() {
                None => *key = Some(node),
                Some(k) => pairs.push((k, node)),
            },
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<str> {
        Arc::from("t.yaml")
    }

    fn lc(t: &Text, off: usize) -> (u32, u32) {
        let p = t.pos(off);
        (p.line, p.col)
    }

    #[test]
    fn plain_scalar_positions() {
        let docs = parse("- macro: m\n  condition: a and  b\n", &file()).expect("parse");
        let c = docs[0].kind_seq()[0]
            .get("condition")
            .and_then(Node::as_text)
            .expect("cond")
            .clone();
        assert_eq!(c.value, "a and  b");
        assert_eq!(lc(&c, 0), (2, 14));
        assert_eq!(lc(&c, 7), (2, 21));
    }

    #[test]
    fn folded_scalar_positions() {
        let src = "- rule: r\n  condition: >\n    open_read\n    and x.y = 1\n";
        let docs = parse(src, &file()).expect("parse");
        let c = docs[0].kind_seq()[0]
            .get("condition")
            .and_then(Node::as_text)
            .expect("cond")
            .clone();
        assert_eq!(c.value, "open_read and x.y = 1\n");
        assert_eq!(lc(&c, 0), (3, 5));
        let and = c.value.find("and").expect("and");
        assert_eq!(lc(&c, and), (4, 5));
        let one = c.value.find('1').expect("1");
        assert_eq!(lc(&c, one), (4, 15));
    }

    #[test]
    fn multiline_plain_and_quoted_positions() {
        let src = "- macro: m\n  condition: (a or\n              b)\n  x: \"q \\\" z\"\n";
        let docs = parse(src, &file()).expect("parse");
        let item = &docs[0].kind_seq()[0];
        let c = item.get("condition").and_then(Node::as_text).expect("cond");
        assert_eq!(c.value, "(a or b)");
        assert_eq!(lc(c, 6), (3, 15));
        let x = item.get("x").and_then(Node::as_text).expect("x");
        assert_eq!(x.value, "q \" z");
        assert_eq!(lc(x, 0), (4, 7));
        assert_eq!(lc(x, 4), (4, 12));
    }

    #[test]
    fn malformed_yaml_has_a_position() {
        let err = parse("- rule: a\n  desc: [unclosed\n", &file()).expect_err("bad");
        assert!(matches!(err, Error::Yaml { .. }), "{err}");
        assert!(err.to_string().starts_with("t.yaml:3:1"), "{err}");
    }

    #[test]
    fn aliases_are_copied() {
        let docs = parse(
            "- list: a\n  items: &x [1, 2]\n- list: b\n  items: *x\n",
            &file(),
        )
        .expect("parse");
        let b = &docs[0].kind_seq()[1];
        assert!(matches!(&b.get("items").expect("items").kind, NodeKind::Seq(v) if v.len() == 2));
    }

    impl Node {
        fn kind_seq(&self) -> &[Node] {
            match &self.kind {
                NodeKind::Seq(v) => v,
                _ => &[],
            }
        }
    }
}
