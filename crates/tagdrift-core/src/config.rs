//! The desired-state file: reading it, parsing YAML with positions, validating every field, and building the
//! [`DesiredState`] the rest of tagdrift consumes. Validation collects every problem, each located at its line,
//! column and field path, before failing. This module does no network IO and reads no credentials: credential
//! fields only name where secrets live (`{env: NAME}` or `{file: PATH}`).

mod model;
mod schema;
pub mod tags;
mod validate;

use crate::yaml;
use std::fmt;

pub use model::*;
pub use schema::json_schema;
pub use validate::{check_cron, endpoint_url};

/// Why a problem was found: the file could not be read at all, or its content is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Unreadable,
    Invalid,
}

/// One problem with a desired-state file.
///
/// Displays as `FILE:LINE:COL: PATH: MESSAGE` (`FILE: PATH: MESSAGE` when the position is unknown; the path part
/// is left out for whole-document problems).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", yaml::render(.file, *.line, *.column, .path, .message))]
pub struct ConfigError {
    pub kind: ErrorKind,
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Field path like `accounts[0].regions[1].project_id`; empty for whole-document problems.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    fn unreadable(file: &str, message: String) -> Self {
        ConfigError {
            kind: ErrorKind::Unreadable,
            file: file.to_string(),
            line: None,
            column: None,
            path: String::new(),
            message,
        }
    }

    /// A fixed snake_case code for metric labels and reports.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::Unreadable => "config_unreadable",
            ErrorKind::Invalid => "config_invalid",
        }
    }
}

impl From<yaml::Problem> for ConfigError {
    fn from(p: yaml::Problem) -> Self {
        ConfigError {
            kind: ErrorKind::Invalid,
            file: p.file,
            line: p.line,
            column: p.column,
            path: p.path,
            message: p.message,
        }
    }
}

/// Every problem found in a desired-state file, ordered by position. Never empty. Displays one problem per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The file could not be read at all; `message` says why.
    pub fn unreadable(file: &str, message: String) -> Self {
        ConfigErrors(vec![ConfigError::unreadable(file, message)])
    }

    /// The code of the problems: `config_unreadable` if the file could not be read, else `config_invalid`.
    pub fn code(&self) -> &'static str {
        self.0.first().map_or("config_invalid", ConfigError::code)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Validates a desired-state file from its bytes as read: text that is not UTF-8 is a problem located at the
/// first bad byte. `file` names the file in problems. Reading the file is the caller's business.
pub fn from_bytes(bytes: Vec<u8>, file: &str) -> Result<DesiredState, ConfigErrors> {
    from_parts(vec![(file.to_string(), bytes)])
}

/// Validates a desired state split over several files (a directory's `*.yaml`, in the order given), each
/// `(name, bytes)`. Their `accounts`, `resources`, `defaults`, `rules`, `discovery` and `ignores.entries` are
/// concatenated in that order; `schedule`, `daemon`, `reconcile` and `ignores.system_tags` may be set in one file
/// only, and every file says `version: 1`. Every problem names the file it is in; one that concerns two places
/// (a resource declared twice) names the other as `FILE:LINE`.
pub fn from_parts(parts: Vec<(String, Vec<u8>)>) -> Result<DesiredState, ConfigErrors> {
    let mut problems = Vec::new();
    let mut roots = Vec::with_capacity(parts.len());
    for (file, bytes) in parts {
        match text_of(bytes, &file).and_then(|text| document(&text, &file)) {
            Ok(root) => roots.push((file, root)),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        // Only the files that cannot be read as YAML: checking the others without them would report every
        // reference into a broken part (its accounts) as a problem of its own.
        return Err(ConfigErrors(problems));
    }
    if roots.is_empty() {
        return Err(ConfigErrors::unreadable(
            "",
            "no desired-state file given".to_string(),
        ));
    }
    let first = roots[0].0.clone();
    let mut collector = yaml::Collector::new(&first);
    let docs: Vec<(&str, &yaml::Node)> = roots.iter().map(|(f, r)| (f.as_str(), r)).collect();
    let state = validate::desired_state(&docs, &mut collector);
    match state {
        Some(state) if !collector.has_problems() => Ok(state),
        _ => {
            let mut problems: Vec<ConfigError> = collector
                .into_problems()
                .into_iter()
                .map(ConfigError::from)
                .collect();
            if problems.is_empty() {
                // Unreachable by construction (no state without a problem), but never return an empty error.
                problems.push(ConfigError::from(yaml::Problem::new(
                    &first,
                    None,
                    "",
                    "the desired state is invalid",
                )));
            }
            Err(ConfigErrors(problems))
        }
    }
}

/// Validates desired-state YAML `text`; `file` names it in problems.
pub fn parse(text: &str, file: &str) -> Result<DesiredState, ConfigErrors> {
    from_parts(vec![(file.to_string(), text.as_bytes().to_vec())])
}

/// The text of a file, or a problem located at its first byte that is not UTF-8.
fn text_of(bytes: Vec<u8>, file: &str) -> Result<String, ConfigError> {
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..bad];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        ConfigError {
            kind: ErrorKind::Invalid,
            file: file.to_string(),
            line: Some(line),
            column: Some(column),
            path: String::new(),
            message: "the file is not valid UTF-8".to_string(),
        }
    })
}

/// The one YAML document of a file; a file that says nothing is a problem.
fn document(text: &str, file: &str) -> Result<yaml::Node, ConfigError> {
    match yaml::parse(text, file) {
        Ok(Some(root)) if !is_empty_document(&root) => Ok(root),
        Ok(_) => Err(ConfigError::from(yaml::Problem::new(
            file,
            None,
            "",
            "the file holds no YAML document (it is empty or only comments); expected a mapping with at least \
             version and accounts",
        ))),
        Err(problem) => Err(problem.into()),
    }
}

/// A document that is only `---` (or an empty plain scalar) says nothing, like an empty file.
fn is_empty_document(root: &yaml::Node) -> bool {
    root.as_scalar().is_some_and(|s| s.plain && s.text.is_empty())
}

#[cfg(test)]
mod tests;
