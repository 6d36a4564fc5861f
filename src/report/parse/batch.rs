//! One chunk of whole lines to one batch: the facts of its records, the names first seen in
//! it, and how many lines were of each kind.

use super::fact::{Fact, Line, ShadowFact};
use super::line::{LineParser, parse_line};
use super::names::Def;

/// A line longer than this is not a record: it is counted as corrupt and skipped.
pub(crate) const MAX_LINE: usize = 16 << 20;

/// Line counts of one batch or of the whole input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineCounts {
    /// Every line read, blank ones included.
    pub(crate) lines: u64,
    pub(crate) blank: u64,
    /// Decision and outcome records, duplicates included.
    pub(crate) records: u64,
    pub(crate) not_records: u64,
    pub(crate) corrupt: u64,
}

impl LineCounts {
    /// Adds another batch's counts.
    pub(crate) fn add(&mut self, o: &LineCounts) {
        self.lines += o.lines;
        self.blank += o.blank;
        self.records += o.records;
        self.not_records += o.not_records;
        self.corrupt += o.corrupt;
    }
}

/// What a worker hands the aggregator for one chunk.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Names first seen by this worker, announced before the facts that use them.
    pub(crate) defs: Vec<Def>,
    pub(crate) facts: Vec<Fact>,
    /// Shadow records, kept apart: their own aggregation, and rare.
    pub(crate) shadows: Vec<ShadowFact>,
    pub(crate) counts: LineCounts,
}

/// Parses one chunk of whole lines.
#[cfg(test)]
pub(crate) fn parse_chunk(chunk: &[u8], parser: &mut LineParser) -> Batch {
    parse_chunk_into(chunk, parser, Vec::with_capacity(chunk.len() / 256 + 1))
}

/// [`parse_chunk`], filling a recycled `facts` vector.
pub(crate) fn parse_chunk_into(
    chunk: &[u8],
    parser: &mut LineParser,
    mut facts: Vec<Fact>,
) -> Batch {
    facts.clear();
    let mut batch = Batch {
        facts,
        ..Batch::default()
    };
    let c = &mut batch.counts;
    let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    if !chunk.is_empty() {
        let mut start = 0;
        loop {
            let end = memchr::memchr(b'\n', &body[start..]).map_or(body.len(), |i| start + i);
            c.lines += 1;
            // Streams drop over-long lines before they are chunked; mapped files get here.
            let line = if end - start > MAX_LINE {
                Line::Corrupt
            } else {
                parse_line(&body[start..end], parser)
            };
            match line {
                Line::Blank => c.blank += 1,
                Line::Record(f) => {
                    c.records += 1;
                    batch.facts.push(f);
                }
                Line::Shadow(s) => {
                    c.records += 1;
                    batch.shadows.push(*s);
                }
                Line::NotRecord => c.not_records += 1,
                Line::Corrupt => c.corrupt += 1,
            }
            if end == body.len() {
                break;
            }
            start = end + 1;
        }
    }
    batch.defs = std::mem::take(&mut parser.names.defs);
    batch
}
