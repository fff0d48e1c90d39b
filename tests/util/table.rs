//! Table-driven emulator tests: a [`Case`] is a named request, the answer it expects (status and error shape,
//! an [`Expectation`] each suite defines for its cloud) and [`Check`]s of the answer's fields. A suite runs a
//! table in order against one emulator, records every mismatch in [`Failures`] with the case's name, and
//! asserts once at the end, so one run reports every failing case.

use chrono::TimeDelta;
use serde_json::Value;

use super::emulator_process::Fixture;
use super::http::Reply;

/// Whether an answer has the expected status and shape (each suite's error shapes differ).
pub trait Expectation {
    fn verify(&self, reply: &Reply) -> Result<(), String>;
}

/// The JSON type a [`Check::Is`] wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Number,
    Array,
}

/// One check of an answer beyond its status and shape; `ptr` is a JSON pointer (RFC 6901) into the body.
#[derive(Debug, Clone)]
pub enum Check {
    /// The value at `ptr` equals this.
    Eq(String, Value),
    /// The value at `ptr` is an array of this length.
    Len(String, usize),
    /// The value at `ptr` is a string containing this text.
    Contains(String, String),
    /// There is no value at `ptr`.
    Absent(String),
    /// The value at `ptr` is of this kind.
    Is(String, Kind),
    /// The array at `ptr` has this element.
    Has(String, Value),
    /// Field `.1` of each element of the array at `ptr`, in order.
    Column(String, String, Vec<Value>),
    /// The body text contains this.
    Body(String),
    /// Header `.0` is exactly `.1`.
    Header(String, String),
}

pub fn eq(ptr: &str, value: impl Into<Value>) -> Check {
    Check::Eq(ptr.to_owned(), value.into())
}

pub fn len(ptr: &str, n: usize) -> Check {
    Check::Len(ptr.to_owned(), n)
}

pub fn contains(ptr: &str, text: &str) -> Check {
    Check::Contains(ptr.to_owned(), text.to_owned())
}

pub fn absent(ptr: &str) -> Check {
    Check::Absent(ptr.to_owned())
}

pub fn is(ptr: &str, kind: Kind) -> Check {
    Check::Is(ptr.to_owned(), kind)
}

pub fn has(ptr: &str, element: Value) -> Check {
    Check::Has(ptr.to_owned(), element)
}

pub fn column(ptr: &str, field: &str, values: &[&str]) -> Check {
    Check::Column(
        ptr.to_owned(),
        field.to_owned(),
        values.iter().map(|v| Value::from(*v)).collect(),
    )
}

pub fn body_contains(text: &str) -> Check {
    Check::Body(text.to_owned())
}

pub fn header(name: &str, value: &str) -> Check {
    Check::Header(name.to_owned(), value.to_owned())
}

impl Check {
    pub fn verify(&self, reply: &Reply) -> Result<(), String> {
        let at = |ptr: &str| reply.json.pointer(ptr);
        let ok = match self {
            Check::Eq(ptr, want) => at(ptr) == Some(want),
            Check::Len(ptr, n) => at(ptr).and_then(Value::as_array).map(Vec::len) == Some(*n),
            Check::Contains(ptr, text) => at(ptr)
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains(text.as_str())),
            Check::Absent(ptr) => at(ptr).is_none(),
            Check::Is(ptr, kind) => at(ptr).is_some_and(|v| match kind {
                Kind::String => v.is_string(),
                Kind::Number => v.is_number(),
                Kind::Array => v.is_array(),
            }),
            Check::Has(ptr, element) => at(ptr)
                .and_then(Value::as_array)
                .is_some_and(|a| a.contains(element)),
            Check::Column(ptr, field, want) => at(ptr)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().map(|e| &e[field.as_str()]).eq(want.iter())),
            Check::Body(text) => reply.body.contains(text.as_str()),
            Check::Header(name, value) => return reply.check_header(name, value),
        };
        let found = match self {
            Check::Body(_) | Check::Header(..) => None,
            Check::Eq(ptr, _)
            | Check::Len(ptr, _)
            | Check::Contains(ptr, _)
            | Check::Absent(ptr)
            | Check::Is(ptr, _)
            | Check::Has(ptr, _)
            | Check::Column(ptr, ..) => Some(at(ptr)),
        };
        match (ok, found) {
            (true, _) => Ok(()),
            (false, Some(found)) => Err(format!("{self:?} failed, found {found:?}")),
            (false, None) => Err(format!("{self:?} failed")),
        }
    }
}

/// How a case moves the emulator clock before its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMove {
    /// To the suite's start instant plus this (`POST /_emulator/clock {"set": …}`).
    At(TimeDelta),
    /// By this from where it is (`POST /_emulator/clock {"advance_ms": …}`).
    Advance(TimeDelta),
}

/// A named request of suite request type `R`, what it expects (`E`), and checks of its answer.
#[derive(Debug, Clone)]
pub struct Case<R, E> {
    pub name: String,
    pub request: R,
    pub expect: E,
    /// The clock move before the request; `None`: the clock stays.
    pub clock: Option<ClockMove>,
    pub checks: Vec<Check>,
}

impl<R, E: Expectation> Case<R, E> {
    pub fn new(name: impl Into<String>, request: R, expect: E) -> Self {
        Case {
            name: name.into(),
            request,
            expect,
            clock: None,
            checks: Vec::new(),
        }
    }

    /// Expects `expect` instead.
    pub fn expect(mut self, expect: E) -> Self {
        self.expect = expect;
        self
    }

    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    pub fn checks(mut self, checks: impl IntoIterator<Item = Check>) -> Self {
        self.checks.extend(checks);
        self
    }

    /// Sends the request with the emulator clock set to the start instant plus `offset`.
    pub fn at(mut self, offset: TimeDelta) -> Self {
        self.clock = Some(ClockMove::At(offset));
        self
    }

    /// Sends the request after advancing the emulator clock by `by` (back when negative).
    pub fn after(mut self, by: TimeDelta) -> Self {
        self.clock = Some(ClockMove::Advance(by));
        self
    }

    /// The expectation, then every check; all mismatches, one a line.
    pub fn verify(&self, reply: &Reply) -> Result<(), String> {
        let problems: Vec<String> = std::iter::once(self.expect.verify(reply))
            .chain(self.checks.iter().map(|c| c.verify(reply)))
            .filter_map(Result::err)
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n    "))
        }
    }
}

/// An emulator fixture a table runs against: how it sends a suite's requests.
pub trait Target: Fixture {
    type Request;
    type Expect: Expectation;

    async fn send(&self, request: &Self::Request) -> Reply;

    /// Runs one case (moving the clock first where it says) and records a mismatch in `failures`.
    async fn run_case(&self, case: &Case<Self::Request, Self::Expect>, failures: &mut Failures) {
        self.process().move_clock(Self::t0(), case.clock).await;
        let reply = self.send(&case.request).await;
        failures.record(&case.name, &reply, case.verify(&reply));
    }

    /// Runs `cases` in order, then asserts that every one passed.
    async fn run_table(&self, cases: &[Case<Self::Request, Self::Expect>]) {
        let mut failures = Failures::default();
        for case in cases {
            self.run_case(case, &mut failures).await;
        }
        failures.assert_none();
    }
}

/// Mismatches collected over a table, asserted once at the end.
#[derive(Debug, Default)]
pub struct Failures(Vec<String>);

impl Failures {
    /// Records the outcome of case `name`, with the answer when it is a mismatch.
    pub fn record(&mut self, name: &str, reply: &Reply, outcome: Result<(), String>) {
        if let Err(problem) = outcome {
            self.0.push(format!(
                "case {name:?}:\n    {problem}\n    answer {}: {}",
                reply.status, reply.body
            ));
        }
    }

    pub fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} failing case(s):\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}
