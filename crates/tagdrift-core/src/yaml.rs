//! Every YAML read and write tagdrift does. This is the only module that knows which YAML libraries are used
//! (`serde_yaml` is archived upstream, so swapping it must be a change here only): `yaml-rust2`'s marked event
//! parser, created in one place ([`events`]), feeds both readers, and `serde_yaml` deserializes leaves and writes
//! files ([`to_string`]).
//!
//! - [`parse`] builds a positioned [`Node`] tree (every node knows its line and column) with a [`Collector`]
//!   that turns it into typed values while keeping every located problem: the desired-state file uses it, so
//!   validation never stops at the first problem.
//! - [`stream`] is a serde deserializer fed one event at a time, for files too large to hold as a tree (the
//!   emulator's 100,000-resource inventories); it stops at the first problem, with its path, line and column.
//!
//! It knows nothing about any schema.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

pub mod stream;

/// The YAML event parser over `text`: the single place a parser is created, for both readers.
fn events(text: &str) -> Parser<std::str::Chars<'_>> {
    Parser::new_from_str(text)
}

/// Serializes `value` as YAML, for the files tagdrift writes (generated inventories and desired states).
pub fn to_string<T: serde::Serialize>(value: &T) -> Result<String, String> {
    serde_yaml::to_string(value).map_err(|e| e.to_string())
}

/// Deepest nesting accepted, so walking the tree can never overflow the stack.
const MAX_DEPTH: usize = 128;

/// Most nodes a document may expand to once aliases are resolved ("billion laughs" guard), unless the text is
/// longer: a node takes at least one byte of text, so `max(MIN_NODE_LIMIT, text length)` bounds expansion
/// linearly in the input while letting a 100,000-resource desired state (about 1.5 million nodes) load.
const MIN_NODE_LIMIT: usize = 250_000;

const CORE_SCHEMA: &str = "tag:yaml.org,2002:";

/// A 1-based position in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mark {
    pub line: usize,
    pub column: usize,
}

impl Mark {
    fn from_marker(marker: Marker) -> Self {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Mark {
            line: marker.line(),
            column: marker.col() + 1,
        }
    }
}

/// One node of a parsed document with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub mark: Mark,
    pub value: Value,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    /// Entries in file order. Duplicate keys are kept so that they can be reported with both positions.
    Mapping(Vec<Entry>),
}

/// A scalar as written, with its YAML 1.2 core-schema interpretation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The text after unquoting and unescaping; equal short texts share one allocation ([`Interner`]).
    pub text: Arc<str>,
    /// Written without quotes or block indicators, so the core schema decided its type.
    pub plain: bool,
    pub resolved: Resolved,
}

/// What a scalar means under the YAML 1.2 core schema (the one serde_yaml and yaml-rust2 use).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// The scalar is the string [`Scalar::text`].
    String,
}

/// A key and its value in a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

impl Node {
    /// The string, when this node is a string scalar (quoted, or plain and not a null, bool or number).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(Scalar {
                text,
                resolved: Resolved::String,
                ..
            }) => Some(text),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(
            self.value,
            Value::Scalar(Scalar {
                resolved: Resolved::Null,
                ..
            })
        )
    }

    /// What kind of node this is, for "expected X, found Y" messages: `a mapping`, `an integer`, ...
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Sequence(_) => "a sequence",
            Value::Mapping(_) => "a mapping",
            Value::Scalar(s) => match s.resolved {
                Resolved::Null => "null",
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) => "an integer",
                Resolved::Float(_) => "a number",
                Resolved::String => "a string",
            },
        }
    }

    /// The kind and, for scalars, the text as written: `integer 8`, `string 'x'`, `a sequence`.
    /// Never use this on nodes that may hold credentials.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Scalar(s) => match s.resolved {
                Resolved::Null => "null".to_string(),
                Resolved::Bool(_) => format!("boolean {}", s.text),
                Resolved::Int(_) => format!("integer {}", s.text),
                Resolved::Float(_) => format!("number {}", s.text),
                Resolved::String => format!("string {}", quote(&s.text)),
            },
            _ => self.kind().to_string(),
        }
    }

    /// How many nodes this tree holds, itself included.
    fn size(&self) -> usize {
        1 + match &self.value {
            Value::Scalar(_) => 0,
            Value::Sequence(items) => items.iter().map(Node::size).sum(),
            Value::Mapping(entries) => entries.iter().map(|e| e.key.size() + e.value.size()).sum(),
        }
    }
}

/// Quotes user text for a one-line message: `'text'`, with control characters and quotes escaped.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.escape_debug())
}

/// The path of field `name` under `path`: `accounts[0]` + `name` -> `accounts[0].name`. Names that are not
/// plain identifiers (tag keys) are written as `tags["cost center"]`.
pub fn field(path: &str, name: &str) -> String {
    let simple = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), simple) {
        (true, true) => name.to_string(),
        (false, true) => format!("{path}.{name}"),
        (_, false) => format!("{path}[\"{}\"]", name.escape_debug()),
    }
}

/// The path of item `index` (0-based) under `path`: `accounts` + 1 -> `accounts[1]`.
pub fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// One problem in a YAML file, located as precisely as the parser allows.
///
/// Displays as `FILE:LINE:COL: PATH: MESSAGE`, leaving out the position when unknown and the path when empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.file, *.line, *.column, .path, .message))]
pub struct Problem {
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Where in the document, like `accounts[0].regions[1].project_id`; empty for the whole document.
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(file: &str, mark: Option<Mark>, path: &str, message: impl Into<String>) -> Self {
        Problem {
            file: file.to_string(),
            line: mark.map(|m| m.line),
            column: mark.map(|m| m.column),
            path: path.to_string(),
            message: message.into(),
        }
    }

    pub fn mark(&self) -> Option<Mark> {
        self.line
            .zip(self.column)
            .map(|(line, column)| Mark { line, column })
    }
}

/// The one-line form shared by every located error: `FILE:LINE:COL: PATH: MESSAGE`.
pub fn render(file: &str, line: Option<usize>, column: Option<usize>, path: &str, message: &str) -> String {
    let mut out = file.to_string();
    match (line, column) {
        (Some(line), Some(column)) => out.push_str(&format!(":{line}:{column}")),
        (Some(line), None) => out.push_str(&format!(":{line}")),
        _ => {}
    }
    if !path.is_empty() {
        out.push_str(": ");
        out.push_str(path);
    }
    out.push_str(": ");
    out.push_str(message);
    out
}

/// Parses one YAML document into a positioned tree. `Ok(None)` means the text holds no document at all (it is
/// empty or only comments). Syntax errors, several documents, unsupported tags, too deep nesting and alias
/// bombs are reported with their position.
pub fn parse(text: &str, file: &str) -> Result<Option<Node>, Problem> {
    // yaml-rust2 would read a byte-order mark as part of the first key.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = TreeBuilder {
        max_nodes: MIN_NODE_LIMIT.max(text.len()),
        ..TreeBuilder::default()
    };
    let mut parser = events(text);
    let mut documents = 0;
    loop {
        let (event, marker) = parser.next_token().map_err(|e| syntax(file, &e))?;
        let mark = Mark::from_marker(marker);
        let fail = |message: String| Problem::new(file, Some(mark), "", message);
        match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(fail(
                        "a second YAML document starts here; the file must hold exactly one".to_string(),
                    ));
                }
            }
            Event::Alias(id) => builder.alias(id, mark).map_err(fail)?,
            Event::Scalar(text, style, anchor, tag) => {
                let scalar =
                    resolve_scalar(text, style, tag.as_ref(), &mut builder.interner).map_err(fail)?;
                builder
                    .finish_node(
                        Node {
                            mark,
                            value: Value::Scalar(scalar),
                        },
                        anchor,
                    )
                    .map_err(fail)?;
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "seq").map_err(fail)?;
                builder
                    .open(mark, anchor, Open::Sequence(Vec::new()))
                    .map_err(fail)?;
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "map").map_err(fail)?;
                builder
                    .open(mark, anchor, Open::Mapping(Vec::new(), None))
                    .map_err(fail)?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close().map_err(fail)?,
        }
    }
    Ok(builder.root)
}

fn syntax(file: &str, error: &ScanError) -> Problem {
    Problem::new(
        file,
        Some(Mark::from_marker(*error.marker())),
        "",
        format!("invalid YAML: {}", error.info()),
    )
}

enum Open {
    Sequence(Vec<Node>),
    /// Entries so far and a key waiting for its value.
    Mapping(Vec<Entry>, Option<Node>),
}

#[derive(Default)]
struct TreeBuilder {
    stack: Vec<(Mark, usize, Open)>,
    /// Anchored nodes by the parser's anchor id, with their sizes.
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    max_nodes: usize,
    root: Option<Node>,
    interner: Interner,
}

impl TreeBuilder {
    fn open(&mut self, mark: Mark, anchor: usize, open: Open) -> Result<(), String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.stack.push((mark, anchor, open));
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        let (mark, anchor, open) = self
            .stack
            .pop()
            .ok_or_else(|| "unbalanced end of a collection".to_string())?;
        // Collections are complete here; giving back what growth over-allocated keeps a 100,000-resource tree
        // (millions of small mappings) about a third smaller.
        let (mark, value) = match open {
            Open::Sequence(mut items) => {
                items.shrink_to_fit();
                (mark, Value::Sequence(items))
            }
            Open::Mapping(mut entries, None) => {
                entries.shrink_to_fit();
                // A block mapping's start event points after its first key; the key is where it starts.
                let mark = entries.first().map_or(mark, |e| mark.min(e.key.mark));
                (mark, Value::Mapping(entries))
            }
            Open::Mapping(_, Some(_)) => return Err("mapping key without a value".to_string()),
        };
        self.finish_node(Node { mark, value }, anchor)
    }

    fn alias(&mut self, id: usize, mark: Mark) -> Result<(), String> {
        let (node, size) = self
            .anchors
            .get(&id)
            .cloned()
            .ok_or_else(|| "alias refers to an anchor that is not complete yet".to_string())?;
        self.count(size)?;
        // The copy keeps the anchor's positions, except that the alias itself is where it is used.
        self.place(Node { mark, ..node });
        Ok(())
    }

    fn finish_node(&mut self, node: Node, anchor: usize) -> Result<(), String> {
        // Items were counted as they were placed; this counts the node itself.
        self.count(1)?;
        if anchor > 0 {
            let size = node.size();
            self.anchors.insert(anchor, (node.clone(), size));
        }
        self.place(node);
        Ok(())
    }

    fn count(&mut self, nodes: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > self.max_nodes {
            return Err(format!(
                "the document expands to more than {} nodes (aliases?)",
                self.max_nodes
            ));
        }
        Ok(())
    }

    fn place(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some((_, _, Open::Sequence(items))) => items.push(node),
            Some((_, _, Open::Mapping(entries, pending))) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    let mut value = node;
                    // An omitted value (`key:` at the end of a line) is an empty scalar that the parser places
                    // at the next token, often lines further down; its key is where a reader looks.
                    if value.mark.line > key.mark.line
                        && value.as_scalar().is_some_and(|s| s.plain && s.text.is_empty())
                    {
                        value.mark = key.mark;
                    }
                    entries.push(Entry { key, value });
                }
            },
        }
    }
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(t) if t.handle == CORE_SCHEMA && t.suffix == expected => Ok(()),
        Some(t) => Err(format!("unsupported YAML tag '{}{}'", t.handle, t.suffix)),
    }
}

/// Texts of at most this many bytes are shared: tag keys, account and region names, types and common values
/// repeat across thousands of resources, while longer texts (ids, names) are mostly unique.
const INTERN_MAX_LEN: usize = 24;

/// One shared allocation per distinct short scalar text of a document. A 100,000-resource desired state holds
/// about 1.5 million scalars, most of them a few dozen distinct words; each separate allocation would cost its
/// header and rounding besides the text.
#[derive(Default)]
struct Interner(std::collections::HashSet<Arc<str>>);

impl Interner {
    fn text(&mut self, text: String) -> Arc<str> {
        if text.len() > INTERN_MAX_LEN {
            return Arc::from(text);
        }
        if let Some(shared) = self.0.get(text.as_str()) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.0.insert(shared.clone());
        shared
    }
}

fn resolve_scalar(
    text: String,
    style: TScalarStyle,
    tag: Option<&Tag>,
    interner: &mut Interner,
) -> Result<Scalar, String> {
    let plain = style == TScalarStyle::Plain;
    let resolved = match tag {
        None if plain => resolve_plain(&text),
        None => Resolved::String,
        // `!` alone is the non-specific tag: the scalar is a string.
        Some(t) if format!("{}{}", t.handle, t.suffix) == "!" => Resolved::String,
        Some(t) if t.handle == CORE_SCHEMA && t.suffix == "str" => Resolved::String,
        Some(t) => return Err(format!("unsupported YAML tag '{}{}'", t.handle, t.suffix)),
    };
    Ok(Scalar {
        text: interner.text(text),
        plain: plain && tag.is_none(),
        resolved,
    })
}

static INT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[-+]?[0-9]+$").expect("static regex"));
static FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").expect("static regex")
});

/// The YAML 1.2 core schema's reading of a plain scalar.
fn resolve_plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let radix = |prefix: &str, radix: u32| {
        text.strip_prefix(prefix)
            .filter(|digits| !digits.is_empty())
            .and_then(|digits| i64::from_str_radix(digits, radix).ok())
    };
    if let Some(n) = radix("0x", 16).or_else(|| radix("0o", 8)) {
        return Resolved::Int(n);
    }
    if INT.is_match(text) {
        return match text.parse::<i64>() {
            Ok(n) => Resolved::Int(n),
            // Too big for an i64: still a number, as in serde_yaml.
            Err(_) => text.parse::<f64>().map_or(Resolved::String, Resolved::Float),
        };
    }
    if FLOAT.is_match(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Resolved::Float(f);
    }
    Resolved::String
}

/// The entries of a mapping, by key, as returned by [`Collector::mapping`].
#[derive(Debug, Clone)]
pub struct Fields<'n> {
    /// Where the mapping starts.
    pub mark: Mark,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    /// The value of `name`, unless it is absent or null (YAML's way of writing "not set").
    pub fn get(&self, name: &str) -> Option<&'n Node> {
        self.entry(name)
            .map(|(_, value)| value)
            .filter(|value| !value.is_null())
    }

    /// The key node of `name`, when present.
    pub fn key(&self, name: &str) -> Option<&'n Node> {
        self.entry(name).map(|(key, _)| key)
    }

    /// Every (key, key node, value node), in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&'n str, &'n Node, &'n Node)> + '_ {
        self.entries.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry(&self, name: &str) -> Option<(&'n Node, &'n Node)> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == name)
            .map(|(_, key, value)| (*key, *value))
    }
}

/// Walks a document and keeps every problem found, each located at the node it concerns.
#[derive(Debug)]
pub struct Collector {
    file: String,
    /// Every file problems were recorded for, in the order they were walked: the order of the problems.
    files: Vec<String>,
    problems: Vec<Problem>,
}

impl Collector {
    pub fn new(file: &str) -> Self {
        Collector {
            file: file.to_string(),
            files: vec![file.to_string()],
            problems: Vec::new(),
        }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// Records the problems that follow for `file` (a desired state split over several files).
    pub fn set_file(&mut self, file: &str) {
        if !self.files.iter().any(|f| f == file) {
            self.files.push(file.to_string());
        }
        self.file = file.to_string();
    }

    /// Records a problem at `mark` (or unlocated when `None`).
    pub fn report(&mut self, mark: Option<Mark>, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(&self.file, mark, path, message));
    }

    /// Records a problem at `node`.
    pub fn at(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.report(Some(node.mark), path, message);
    }

    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    /// How many problems so far; compare before and after a step to learn whether it added any.
    pub fn count(&self) -> usize {
        self.problems.len()
    }

    /// Every problem, ordered by file (in the order walked) and position (unlocated first), exact duplicates
    /// removed.
    pub fn into_problems(self) -> Vec<Problem> {
        let files = self.files;
        let mut problems = self.problems;
        problems.sort_by_key(|p| (files.iter().position(|f| *f == p.file), p.line, p.column));
        problems.dedup();
        problems
    }

    /// The entries of a mapping, or a problem if `node` is something else. Keys must be strings and unique.
    pub fn mapping<'n>(&mut self, node: &'n Node, path: &str) -> Option<Fields<'n>> {
        let Value::Mapping(entries) = &node.value else {
            self.at(
                node,
                path,
                format!("expected a mapping, found {}", node.describe()),
            );
            return None;
        };
        let mut fields = Fields {
            mark: node.mark,
            entries: Vec::with_capacity(entries.len()),
        };
        let mut first_lines: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
        for entry in entries {
            let Some(name) = entry.key.as_scalar().map(|s| &*s.text) else {
                self.at(
                    &entry.key,
                    path,
                    format!("mapping keys must be strings, found {}", entry.key.kind()),
                );
                continue;
            };
            if let Some(line) = first_lines.get(name) {
                self.at(&entry.key, path, duplicate_key(&entry.key, *line));
                continue;
            }
            first_lines.insert(name, entry.key.mark.line);
            fields.entries.push((name, &entry.key, &entry.value));
        }
        Some(fields)
    }

    /// Reports every field of `fields` not in `allowed`, naming the allowed ones.
    pub fn deny_unknown(&mut self, fields: &Fields<'_>, path: &str, allowed: &[&str]) {
        for (name, key, _) in fields.iter() {
            if !allowed.contains(&name) {
                let message = if allowed.is_empty() {
                    format!("unknown field {} (no fields are allowed here)", quote(name))
                } else {
                    format!(
                        "unknown field {} (expected one of: {})",
                        quote(name),
                        allowed.join(", ")
                    )
                };
                self.at(key, path, message);
            }
        }
    }

    /// [`Collector::mapping`] followed by [`Collector::deny_unknown`]: a struct-like mapping.
    pub fn object<'n>(&mut self, node: &'n Node, path: &str, allowed: &[&str]) -> Option<Fields<'n>> {
        let fields = self.mapping(node, path)?;
        self.deny_unknown(&fields, path, allowed);
        Some(fields)
    }

    /// The value of a required field, or a problem saying it is missing.
    pub fn required<'n>(&mut self, fields: &Fields<'n>, path: &str, name: &str) -> Option<&'n Node> {
        let value = fields.get(name);
        if value.is_none() {
            let mark = fields.key(name).map_or(fields.mark, |k| k.mark);
            self.report(
                Some(mark),
                path,
                format!("missing required field {}", quote(name)),
            );
        }
        value
    }

    /// The items of a sequence, or a problem if `node` is something else.
    pub fn sequence<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Sequence(items) => Some(items),
            _ => {
                self.at(
                    node,
                    path,
                    format!("expected a sequence, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// Deserializes `node` into any serde type with `serde_yaml`, reporting a failure at `node`. Duplicate keys
    /// anywhere below `node` are reported too. Serde stops at the first problem inside `node`, so callers that
    /// want every problem walk the tree and call this on small pieces.
    pub fn typed<T: DeserializeOwned>(&mut self, node: &Node, path: &str) -> Option<T> {
        let before = self.count();
        let value = self.serde_value(node, path);
        if self.count() > before {
            return None;
        }
        match serde_yaml::from_value(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.at(node, path, serde_message(&e));
                None
            }
        }
    }

    /// A string scalar.
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        self.typed(node, path)
    }

    /// A string scalar that must not be empty or only whitespace.
    pub fn non_empty_string(&mut self, node: &Node, path: &str) -> Option<String> {
        let text: String = self.typed(node, path)?;
        if text.trim().is_empty() {
            self.at(node, path, "must not be empty");
            return None;
        }
        Some(text)
    }

    fn serde_value(&mut self, node: &Node, path: &str) -> serde_yaml::Value {
        use serde_yaml::Value as V;
        match &node.value {
            Value::Scalar(s) => match s.resolved {
                Resolved::Null => V::Null,
                Resolved::Bool(b) => V::Bool(b),
                Resolved::Int(n) => V::Number(n.into()),
                Resolved::Float(f) => V::Number(f.into()),
                Resolved::String => V::String(s.text.to_string()),
            },
            Value::Sequence(items) => V::Sequence(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| self.serde_value(n, &item(path, i)))
                    .collect(),
            ),
            Value::Mapping(entries) => {
                let mut map = serde_yaml::Mapping::with_capacity(entries.len());
                let mut first_lines: HashMap<(&str, &str), usize> = HashMap::new();
                for entry in entries {
                    let key = self.serde_value(&entry.key, path);
                    if let Some(scalar) = entry.key.as_scalar() {
                        let id = (&*scalar.text, entry.key.kind());
                        if let Some(line) = first_lines.get(&id) {
                            let message = duplicate_key(&entry.key, *line);
                            self.at(&entry.key, path, message);
                            continue;
                        }
                        first_lines.insert(id, entry.key.mark.line);
                    }
                    let name = entry
                        .key
                        .as_scalar()
                        .map_or(String::new(), |s| s.text.to_string());
                    let value = self.serde_value(&entry.value, &field(path, &name));
                    map.insert(key, value);
                }
                V::Mapping(map)
            }
        }
    }
}

fn duplicate_key(key: &Node, first_line: usize) -> String {
    let name = key.as_scalar().map_or("", |s| &*s.text);
    format!("duplicate key {} (first at line {first_line})", quote(name))
}

static RUST_INT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bexpected ([ui])(8|16|32|64|128|size)\b").expect("static regex"));
static RUST_FLOAT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bexpected f(32|64)\b").expect("static regex"));

/// serde_yaml's message, made one line and speaking YAML rather than Rust ("null", not "unit value";
/// "a non-negative integer", not "u64").
fn serde_message(error: &serde_yaml::Error) -> String {
    let message = error.to_string().replace("unit value", "null");
    let message = RUST_INT.replace_all(&message, |c: &regex::Captures<'_>| {
        if &c[1] == "u" {
            "expected a non-negative integer"
        } else {
            "expected an integer"
        }
    });
    let message = RUST_FLOAT.replace_all(&message, "expected a number");
    message.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests;
