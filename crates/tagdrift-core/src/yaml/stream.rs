//! Streaming YAML reading for large files: a serde `Deserializer` fed one event at a time, so a
//! 100,000-resource inventory is never held as an event list or a node tree (serde_yaml's loader buffers every
//! event first and peaks above 250 MiB on such a file; the positioned tree of [`super::parse`] is capped for
//! the same reason). Errors carry the field path and the line and column.
//!
//! Scalars resolve with the YAML 1.2 core schema when a type is open (`deserialize_any`); where a string is
//! expected any scalar is taken as its text, as serde_yaml does. Aliases are refused; an inventory has no use
//! for them and refusing keeps expansion bounded.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{ScanError, TScalarStyle};

/// A located reading error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    /// Field path like `alibaba[0].regions.cn-hangzhou.keys[2].tags`; empty at the top.
    pub path: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{} at line {} column {}", self.message, self.line, self.column)
        } else {
            write!(
                f,
                "{}: {} at line {} column {}",
                self.path, self.message, self.line, self.column
            )
        }
    }
}

impl std::error::Error for YamlError {}

impl de::Error for YamlError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        // The position is filled in by `from_str` from where the reader stopped.
        YamlError {
            message: msg.to_string(),
            path: String::new(),
            line: 0,
            column: 0,
        }
    }
}

/// Reads one YAML document into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let mut de = EventDeserializer {
        parser: super::events(text),
        path: Vec::new(),
        last: (1, 1),
    };
    let result = de.document::<T>();
    result.map_err(|mut e| {
        if e.line == 0 {
            (e.line, e.column) = de.last;
        }
        if e.path.is_empty() {
            e.path = de.path_text();
        }
        e
    })
}

enum Segment {
    Key(String),
    Index(usize),
}

struct EventDeserializer<'a> {
    parser: Parser<std::str::Chars<'a>>,
    path: Vec<Segment>,
    /// (line, column) of the last event read, 1-based.
    last: (usize, usize),
}

fn scan_error(e: &ScanError) -> YamlError {
    YamlError {
        message: e.info().to_owned(),
        path: String::new(),
        line: e.marker().line(),
        column: e.marker().col() + 1,
    }
}

/// A scalar's core-schema meaning.
enum Resolved<'s> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'s str),
}

/// Plain scalars resolve with the same YAML 1.2 core schema as the positioned tree, so both readers agree on
/// what `yes`, `0x1F` or `1e3` mean.
fn resolve(text: &str, style: TScalarStyle, tagged_str: bool) -> Resolved<'_> {
    if style != TScalarStyle::Plain || tagged_str {
        return Resolved::Str(text);
    }
    match super::resolve_plain(text) {
        super::Resolved::Null => Resolved::Null,
        super::Resolved::Bool(b) => Resolved::Bool(b),
        super::Resolved::Int(i) => Resolved::Int(i),
        super::Resolved::Float(f) => Resolved::Float(f),
        super::Resolved::String => Resolved::Str(text),
    }
}

impl<'a> EventDeserializer<'a> {
    fn next(&mut self) -> Result<Event, YamlError> {
        let (event, marker) = self.parser.next_token().map_err(|e| scan_error(&e))?;
        self.last = (marker.line(), marker.col() + 1);
        Ok(event)
    }

    fn peek(&mut self) -> Result<&Event, YamlError> {
        match self.parser.peek() {
            Ok((event, _)) => Ok(event),
            Err(e) => Err(scan_error(&e)),
        }
    }

    fn path_text(&self) -> String {
        let mut out = String::new();
        for s in &self.path {
            match s {
                Segment::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Segment::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn error(&self, message: impl Into<String>) -> YamlError {
        YamlError {
            message: message.into(),
            path: self.path_text(),
            line: self.last.0,
            column: self.last.1,
        }
    }

    fn document<T: DeserializeOwned>(&mut self) -> Result<T, YamlError> {
        if !matches!(self.next()?, Event::StreamStart) {
            return Err(self.error("expected the start of a YAML stream"));
        }
        match self.next()? {
            Event::DocumentStart => {}
            Event::StreamEnd => return Err(self.error("the file is empty")),
            _ => return Err(self.error("expected a YAML document")),
        }
        let value = T::deserialize(&mut *self)?;
        if !matches!(self.next()?, Event::DocumentEnd) {
            return Err(self.error("expected the end of the document"));
        }
        match self.next()? {
            Event::StreamEnd => Ok(value),
            _ => Err(self.error("only one YAML document is allowed")),
        }
    }

    /// Consumes a node the visitor did not want, for "invalid type" messages.
    fn unexpected(&mut self, event: &Event) -> de::Unexpected<'static> {
        match event {
            Event::SequenceStart(..) => de::Unexpected::Seq,
            Event::MappingStart(..) => de::Unexpected::Map,
            _ => de::Unexpected::Other("a YAML node"),
        }
    }
}

impl<'de> de::Deserializer<'de> for &mut EventDeserializer<'_> {
    type Error = YamlError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        match self.next()? {
            Event::Scalar(text, style, _, tag) => {
                let tagged_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                match resolve(&text, style, tagged_str) {
                    Resolved::Null => visitor.visit_unit(),
                    Resolved::Bool(b) => visitor.visit_bool(b),
                    Resolved::Int(i) => visitor.visit_i64(i),
                    Resolved::Float(f) => visitor.visit_f64(f),
                    Resolved::Str(s) => visitor.visit_str(s),
                }
            }
            Event::SequenceStart(..) => visitor.visit_seq(Seq { de: self, index: 0 }),
            Event::MappingStart(..) => visitor.visit_map(Map { de: self }),
            Event::Alias(_) => Err(self.error("aliases are not supported in inventory files")),
            other => {
                let unexpected = self.unexpected(&other);
                Err(de::Error::invalid_type(unexpected, &visitor))
            }
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        if matches!(self.peek()?, Event::Scalar(..))
            && let Event::Scalar(text, ..) = self.next()?
        {
            return visitor.visit_str(&text);
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        let is_null = match self.peek()? {
            Event::Scalar(text, style, _, tag) => {
                tag.is_none() && matches!(resolve(text, *style, false), Resolved::Null)
            }
            _ => false,
        };
        if is_null {
            self.next()?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, YamlError> {
        Err(self.error("enumerations are not supported in inventory files"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct ignored_any
    }
}

struct Seq<'x, 'a> {
    de: &'x mut EventDeserializer<'a>,
    index: usize,
}

impl<'de> SeqAccess<'de> for Seq<'_, '_> {
    type Error = YamlError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, YamlError> {
        if matches!(self.de.peek()?, Event::SequenceEnd) {
            self.de.next()?;
            return Ok(None);
        }
        self.de.path.push(Segment::Index(self.index));
        let value = seed.deserialize(&mut *self.de)?;
        self.de.path.pop();
        self.index += 1;
        Ok(Some(value))
    }
}

struct Map<'x, 'a> {
    de: &'x mut EventDeserializer<'a>,
}

impl<'de> MapAccess<'de> for Map<'_, '_> {
    type Error = YamlError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, YamlError> {
        let segment = match self.de.peek()? {
            Event::MappingEnd => {
                self.de.next()?;
                return Ok(None);
            }
            Event::Scalar(text, ..) => text.clone(),
            _ => return Err(self.de.error("mapping keys must be plain values")),
        };
        self.de.path.push(Segment::Key(segment));
        let key = seed.deserialize(&mut *self.de)?;
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, YamlError> {
        let value = seed.deserialize(&mut *self.de)?;
        self.de.path.pop();
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: String,
        #[serde(default)]
        count: Option<u64>,
        #[serde(default)]
        items: Vec<Item>,
        #[serde(default)]
        map: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Item {
        id: String,
        #[serde(default)]
        on: Option<bool>,
    }

    #[test]
    fn reads_block_and_flow_styles() {
        let doc: Doc = from_str(
            "name: x\ncount: 0x10\nitems:\n  - {id: a, on: true}\n  - id: '007'\n    on: ~\nmap: {k: 1.5, 'q': \"v w\", n: null}\n",
        )
        .unwrap();
        assert_eq!(doc.name, "x");
        assert_eq!(doc.count, Some(16));
        assert_eq!(
            doc.items,
            [
                Item {
                    id: "a".into(),
                    on: Some(true)
                },
                Item {
                    id: "007".into(),
                    on: None
                }
            ]
        );
        assert_eq!(doc.map["k"], "1.5");
        assert_eq!(doc.map["q"], "v w");
        assert_eq!(doc.map["n"], "null");
    }

    #[test]
    fn errors_carry_path_line_and_column() {
        let cases = [
            (
                "name: x\nitems:\n  - {id: a}\n  - {id: b, colour: red}\n",
                "items[1].colour: unknown field `colour`",
                4,
            ),
            (
                "name: x\nitems:\n  - {on: true}\n",
                "items[0]: missing field `id`",
                3,
            ),
            ("name: x\ncount: -3\n", "count: invalid value: integer `-3`", 2),
            (
                "name: x\nitems: {a: 1}\n",
                "items: invalid type: map, expected a sequence",
                2,
            ),
            (
                "name: &a x\nmap: {k: *a}\n",
                "map.k: aliases are not supported",
                2,
            ),
            ("name: x\n---\nname: y\n", "only one YAML document is allowed", 2),
            ("", "the file is empty", 1),
            (
                "name: x\nitems: [{id: a}\n",
                "items: while parsing a flow sequence, expected ',' or ']'",
                3,
            ),
        ];
        for (text, want, line) in cases {
            let err = from_str::<Doc>(text).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains(want), "{text:?}: {shown}");
            assert_eq!(err.line, line, "{text:?}: {shown}");
        }
    }
}
