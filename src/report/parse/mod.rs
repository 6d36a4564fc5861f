//! One line of input to one compact fact: plain JSON records, CloudWatch export lines (a
//! timestamp before the JSON), and Lambda's JSON log format (the record inside `message`, as a
//! string or an object). Pure: no I/O, no shared state beyond the worker's own
//! [`LineParser`], and nothing else of the report.
//!
//! Inside, the dependencies go one way: `batch` -> `line` -> (`fast`, `serde_path`, `names`,
//! `id128`, `rfc3339`) -> (`view`, `fact`); this file only names what the rest of the report
//! uses.

mod batch;
mod fact;
mod fast;
mod id128;
mod line;
mod names;
mod rfc3339;
mod serde_path;
mod view;

#[cfg(test)]
mod agreement_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) use batch::parse_chunk;
pub(crate) use batch::{Batch, LineCounts, MAX_LINE, parse_chunk_into};
pub(crate) use fact::{Assigned, Fact, FactKind, Id, ShadowFact, Target};
#[cfg(test)]
pub(crate) use id128::id128;
pub(crate) use line::LineParser;
pub(crate) use names::Def;
#[cfg(test)]
pub(crate) use rfc3339::rfc3339_ms;
