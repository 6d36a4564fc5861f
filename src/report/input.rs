//! Reading inputs as a stream: files (plain or gzip, detected by their magic bytes), stdin, or
//! bytes in memory, cut into chunks of whole lines, parsed by worker threads, and handed to
//! one aggregator. A plain file is memory-mapped and parsed where it lies in the page cache
//! (copying it out with `read` was the largest single cost of a report); everything else is
//! read into recycled buffers. Memory stays bounded: a few chunks in flight, never the whole
//! input (a mapped file's pages belong to the page cache, which the kernel reclaims).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};

use flate2::bufread::MultiGzDecoder;
use memmap2::Mmap;

use crate::report::error::ReportError;
use crate::report::parse::{Batch, Fact, LineCounts, LineParser, MAX_LINE, parse_chunk_into};

/// Size of the chunks handed to the parsing workers.
const CHUNK: usize = 2 << 20;

/// One source of records.
#[derive(Debug)]
pub enum Input {
    /// A file: JSON lines, or the same gzip-compressed.
    Path(PathBuf),
    /// Standard input (`-` on the command line), plain or gzip.
    Stdin,
    /// Bytes in memory (records kept by the demo, tests), plain or gzip.
    Bytes(Vec<u8>),
}

impl Input {
    /// `-` is stdin, anything else a file path.
    pub(crate) fn from_arg(path: PathBuf) -> Input {
        if path.as_os_str() == "-" {
            Input::Stdin
        } else {
            Input::Path(path)
        }
    }

    /// How the input is named in the report.
    pub(crate) fn label(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "-".to_owned(),
            Input::Bytes(_) => "(memory)".to_owned(),
        }
    }

    fn open(self) -> Result<Source, ReportError> {
        let label = self.label();
        let io_err = |source| ReportError::Io {
            path: label.clone(),
            source,
        };
        let stream = match self {
            Input::Path(p) => {
                let file = File::open(&p).map_err(io_err)?;
                if let Some(map) = map_plain(&file) {
                    return Ok(Source::Mapped(Arc::new(map)));
                }
                gunzip_if_needed(file)
            }
            Input::Stdin => gunzip_if_needed(io::stdin()),
            Input::Bytes(b) => gunzip_if_needed(io::Cursor::new(b)),
        };
        stream.map(Source::Stream).map_err(io_err)
    }
}

/// An opened input.
enum Source {
    /// A plain file, mapped into memory.
    Mapped(Arc<Mmap>),
    /// Anything else, decompressed when it is gzip.
    Stream(Box<dyn Read + Send>),
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A memory map of `file` when it is a regular file that is not gzip; None when it cannot or
/// should not be mapped (a pipe, a device, an empty file, a failed map), and is read instead.
fn map_plain(file: &File) -> Option<Mmap> {
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() < GZIP_MAGIC.len() as u64 {
        return None;
    }
    #[allow(unsafe_code)]
    // SAFETY: the map is read-only and private to this process, but another process could
    // still change or truncate the file while it is read: a change shows up as changed bytes
    // (at worst a line counted as corrupt), a truncation as SIGBUS. Tools that read files
    // this way (ripgrep, SQLite in mmap mode) accept the same; the README tells users not to
    // truncate a file while a report reads it. Appending is safe: the map keeps the length
    // it had when opened.
    #[allow(unsafe_code)]
    let map = unsafe { Mmap::map(file) }.ok()?;
    (map[..GZIP_MAGIC.len()] != GZIP_MAGIC).then_some(map)
}

/// Wraps the reader in a gzip decoder when it starts with the gzip magic bytes (several
/// concatenated members, as `cat a.gz b.gz` makes, are read as one stream). Plain input is
/// read straight into the chunks, without an intermediate buffer.
fn gunzip_if_needed(mut r: impl Read + Send + 'static) -> io::Result<Box<dyn Read + Send>> {
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = io::Cursor::new(head[..n].to_vec()).chain(r);
    if n == 2 && head == GZIP_MAGIC {
        Ok(Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            256 << 10,
            whole,
        ))))
    } else {
        Ok(Box::new(whole))
    }
}

/// Buffers handed back for reuse: fresh allocations of this size would be fresh pages, and
/// page faults, for every chunk.
struct Pool<T>(Mutex<Vec<T>>);

impl<T> Pool<T> {
    fn new() -> Self {
        Pool(Mutex::new(Vec::new()))
    }
    fn get(&self) -> Option<T> {
        self.0.lock().ok()?.pop()
    }
    fn put(&self, item: T) {
        if let Ok(mut v) = self.0.lock()
            && v.len() < 32
        {
            v.push(item);
        }
    }
}

/// Work for the parsing workers.
enum Work {
    /// A buffer and the range of it that holds whole lines.
    Chunk(Vec<u8>, std::ops::Range<usize>),
    /// A range of whole lines of a mapped file.
    Mapped(Arc<Mmap>, std::ops::Range<usize>),
    /// Lines the reader had to drop (over [`MAX_LINE`]).
    Dropped(u64),
}

/// Batches parsed out of order, waiting for their turn, and the next sequence number due.
struct Pending {
    next: u64,
    ready: BTreeMap<u64, (usize, Batch)>,
}

/// Pending batches beyond which a worker waits for the aggregator instead of parsing on.
const MAX_PENDING: usize = 16;

/// Streams every input through `threads` parsing workers into `apply(worker, batch)`. There is
/// no aggregating thread: a worker that finishes a chunk applies every batch that is due, in
/// input order (so floating-point sums, and the report, do not depend on timing), while the
/// others keep parsing; on two cores both stay busy. Stops at the first input that cannot be
/// read.
pub(crate) fn run(
    inputs: Vec<Input>,
    threads: usize,
    apply: impl FnMut(usize, &mut Batch) + Send,
) -> Result<(), ReportError> {
    let threads = threads.max(1);
    let buffers: Pool<Vec<u8>> = Pool::new();
    let fact_vecs: Pool<Vec<Fact>> = Pool::new();
    let pending = Mutex::new(Pending {
        next: 0,
        ready: BTreeMap::new(),
    });
    let apply = Mutex::new(apply);
    let (buffers, fact_vecs, pending, apply) = (&buffers, &fact_vecs, &pending, &apply);
    // Applies every due batch; the caller holds the aggregator.
    let drain = |f: &mut dyn FnMut(usize, &mut Batch)| loop {
        let due = match pending.lock() {
            Ok(mut p) => {
                let next = p.next;
                let due = p.ready.remove(&next);
                if due.is_some() {
                    p.next += 1;
                }
                due
            }
            Err(_) => None,
        };
        let Some((w, mut batch)) = due else { return };
        f(w, &mut batch);
        fact_vecs.put(std::mem::take(&mut batch.facts));
    };
    let drain = &drain;
    let result = std::thread::scope(|s| {
        let (work_tx, work_rx) = sync_channel::<(u64, Work)>(threads * 4);
        let work_rx: Arc<Mutex<Receiver<(u64, Work)>>> = Arc::new(Mutex::new(work_rx));
        for w in 0..threads {
            let rx = Arc::clone(&work_rx);
            s.spawn(move || {
                let mut parser = LineParser::default();
                loop {
                    let work = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, work)) = work else { return };
                    let batch = match work {
                        Work::Chunk(chunk, range) => {
                            let facts = fact_vecs
                                .get()
                                .unwrap_or_else(|| Vec::with_capacity(range.len() / 256 + 1));
                            let batch = parse_chunk_into(&chunk[range], &mut parser, facts);
                            buffers.put(chunk);
                            batch
                        }
                        Work::Mapped(map, range) => {
                            let facts = fact_vecs
                                .get()
                                .unwrap_or_else(|| Vec::with_capacity(range.len() / 256 + 1));
                            parse_chunk_into(&map[range], &mut parser, facts)
                        }
                        Work::Dropped(n) => Batch {
                            counts: LineCounts {
                                lines: n,
                                corrupt: n,
                                ..LineCounts::default()
                            },
                            ..Batch::default()
                        },
                    };
                    let backlog = match pending.lock() {
                        Ok(mut p) => {
                            p.ready.insert(seq, (w, batch));
                            p.ready.len()
                        }
                        Err(_) => return,
                    };
                    // Apply what is due if nobody else is; wait only when far behind.
                    let guard = if backlog > MAX_PENDING {
                        apply.lock().ok()
                    } else {
                        apply.try_lock().ok()
                    };
                    if let Some(mut f) = guard {
                        drain(&mut *f);
                    }
                }
            });
        }
        let reader = s.spawn(move || -> Result<(), ReportError> {
            let mut seq = 0u64;
            for input in inputs {
                let label = input.label();
                let mut send = |w| {
                    seq += 1;
                    work_tx.send((seq - 1, w)).is_ok()
                };
                match input.open()? {
                    Source::Mapped(map) => {
                        for range in line_chunks(&map) {
                            if !send(Work::Mapped(Arc::clone(&map), range)) {
                                break;
                            }
                        }
                    }
                    Source::Stream(r) => {
                        let fresh = |n: usize| {
                            let mut b = buffers.get().unwrap_or_default();
                            if b.len() < n {
                                b.resize(n, 0);
                            }
                            b
                        };
                        read_chunks(r, &fresh, &mut send).map_err(|source| ReportError::Io {
                            path: label,
                            source,
                        })?;
                    }
                }
            }
            Ok(())
        });
        reader
            .join()
            .unwrap_or_else(|_| Err(ReportError::Internal("the reader thread panicked".into())))
    });
    // Every worker has finished: apply what is left, in order.
    if let Ok(mut f) = apply.lock() {
        drain(&mut *f);
    }
    let left = pending.lock().map_or(0, |p| p.ready.len());
    result?;
    if left > 0 {
        return Err(ReportError::Internal(format!(
            "{left} batches were never applied"
        )));
    }
    Ok(())
}

/// Cuts bytes in memory into ranges of about [`CHUNK`] bytes that end at a line end (the
/// last one at the end of the bytes).
fn line_chunks(b: &[u8]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        if from >= b.len() {
            return None;
        }
        let cut = (from + CHUNK).min(b.len());
        let end = memchr::memchr(b'\n', &b[cut..]).map_or(b.len(), |i| cut + i + 1);
        let range = from..end;
        from = end;
        Some(range)
    })
}

/// Cuts a stream into chunks that end at a line end (the last one at the end of the stream).
/// `fresh(n)` gives a buffer at least `n` long; reads go straight into it (buffers are
/// recycled, so their memory is neither faulted in nor zeroed again).
fn read_chunks(
    mut r: Box<dyn Read + Send>,
    fresh: &dyn Fn(usize) -> Vec<u8>,
    send: &mut dyn FnMut(Work) -> bool,
) -> io::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    // Skipping the rest of an over-long line.
    let mut skipping = false;
    loop {
        let start = carry.len();
        let mut buf = fresh(start + CHUNK);
        buf[..start].copy_from_slice(&carry);
        carry.clear();
        let mut filled = start;
        let mut eof = false;
        while filled < start + CHUNK {
            match r.read(&mut buf[filled..start + CHUNK]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(k) => filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut from = 0;
        if skipping {
            match memchr::memchr(b'\n', &buf[start..filled]) {
                Some(i) => {
                    skipping = false;
                    from = start + i + 1;
                }
                None if eof => return Ok(()),
                None => continue,
            }
        }
        if eof {
            // The rest, a last line without a newline included.
            if filled > from {
                send(Work::Chunk(buf, from..filled));
            }
            return Ok(());
        }
        let new = from.max(start);
        match memchr::memrchr(b'\n', &buf[new..filled]) {
            Some(i) => {
                let end = new + i + 1;
                carry.extend_from_slice(&buf[end..filled]);
                if end > from && !send(Work::Chunk(buf, from..end)) {
                    return Ok(());
                }
            }
            None => {
                let line = &buf[from..filled];
                if line.len() > MAX_LINE {
                    skipping = true;
                    if !send(Work::Dropped(1)) {
                        return Ok(());
                    }
                } else {
                    carry.extend_from_slice(line);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse::parse_chunk;
    use std::io::Write;

    fn chunks_of(data: &[u8]) -> (Vec<Vec<u8>>, u64) {
        let mut out = Vec::new();
        let mut dropped = 0;
        read_chunks(
            Box::new(io::Cursor::new(data.to_vec())),
            &|n| vec![0; n],
            &mut |w| {
                match w {
                    Work::Chunk(c, range) => out.push(c[range].to_vec()),
                    Work::Mapped(map, range) => out.push(map[range].to_vec()),
                    Work::Dropped(n) => dropped += n,
                }
                true
            },
        )
        .unwrap();
        (out, dropped)
    }

    #[test]
    fn chunks_end_at_line_ends_and_keep_every_byte() {
        let mut data = Vec::new();
        for i in 0..200_000 {
            writeln!(data, "line {i} {}", "x".repeat(i % 17)).unwrap();
        }
        data.extend_from_slice(b"last line without newline");
        let (chunks, dropped) = chunks_of(&data);
        assert!(chunks.len() > 1);
        assert_eq!(dropped, 0);
        for c in &chunks[..chunks.len() - 1] {
            assert_eq!(c.last(), Some(&b'\n'));
        }
        assert_eq!(chunks.concat(), data);
    }

    #[test]
    fn an_over_long_line_is_dropped_and_the_rest_kept() {
        let mut data = b"first\n".to_vec();
        data.extend(std::iter::repeat_n(b'y', MAX_LINE + CHUNK * 2));
        data.extend_from_slice(b"\nafter\n");
        let (chunks, dropped) = chunks_of(&data);
        assert_eq!(dropped, 1);
        assert_eq!(chunks.concat(), b"first\nafter\n");
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"hello\n").unwrap();
        let mut bytes = gz.finish().unwrap();
        // A second member, as `cat a.gz b.gz` produces.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"world\n").unwrap();
        bytes.extend(gz.finish().unwrap());
        let mut text = String::new();
        stream(Input::Bytes(bytes))
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hello\nworld\n");
        let mut plain = String::new();
        stream(Input::Bytes(b"plain\n".to_vec()))
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, "plain\n");
    }

    fn stream(input: Input) -> Box<dyn Read + Send> {
        match input.open().unwrap() {
            Source::Stream(r) => r,
            Source::Mapped(_) => panic!("bytes in memory are never mapped"),
        }
    }

    /// Every line count and fact of one input, in order.
    fn read_all(input: Input) -> (LineCounts, Vec<Fact>) {
        let mut counts = LineCounts::default();
        let mut facts = Vec::new();
        // One worker: names get the same ids whatever the chunking.
        run(vec![input], 1, |_, b: &mut Batch| {
            counts.add(&b.counts);
            facts.extend_from_slice(&b.facts);
        })
        .unwrap();
        (counts, facts)
    }

    /// A file in the temp directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, bytes: &[u8]) -> TempFile {
            let path = std::env::temp_dir()
                .join(format!("canary-router-input-{}-{name}", std::process::id()));
            std::fs::write(&path, bytes).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// `n` records with a blank line, a platform line and a truncated record after every
    /// tenth, and no newline after the last record.
    fn mixed_lines(n: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..n {
            if i > 0 {
                data.push(b'\n');
            }
            write!(
                data,
                r#"{{"kind":"decision","ts":"2026-11-26T10:00:00Z","request_id":"r{i}","experiment":"e","config_version":"v","unit":"u{}","assigned_by":"bucket","arm":"{}","weights":[["a",5000],["b",5000]],"status":200,"latency_ms":{}.5,"_aws":{{"Timestamp":{i},"M":[{{"Name":"x"}}]}}}}"#,
                i % 97,
                if i % 3 == 0 { "a" } else { "b" },
                i % 50
            )
            .unwrap();
            match i % 10 {
                0 => data.extend_from_slice(b"\n"),
                1 => data.extend_from_slice(b"\nSTART RequestId: abc"),
                2 => data.extend_from_slice(b"\n{\"kind\":\"decision\",\"ts"),
                _ => {}
            }
        }
        data
    }

    #[test]
    fn a_mapped_file_reads_like_a_stream() {
        // Big enough for many chunks, so that chunk edges fall inside lines.
        let data = mixed_lines(30_000);
        assert!(data.len() > 3 * CHUNK);
        let file = TempFile::new("mixed.jsonl", &data);
        assert!(map_plain(&File::open(&file.0).unwrap()).is_some());
        let (mapped_counts, mapped_facts) = read_all(Input::Path(file.0.clone()));
        let (stream_counts, stream_facts) = read_all(Input::Bytes(data));
        assert_eq!(mapped_counts, stream_counts);
        assert_eq!(mapped_facts, stream_facts);
        assert_eq!(mapped_counts.records, 30_000);
        assert_eq!(mapped_counts.corrupt, 3_000);
        assert_eq!(mapped_counts.not_records, 3_000);
        assert_eq!(mapped_counts.blank, 3_000);
    }

    #[test]
    fn gzip_and_tiny_files_are_read_not_mapped() {
        let data = mixed_lines(50);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz_file = TempFile::new("mixed.jsonl.gz", &gz.finish().unwrap());
        assert!(map_plain(&File::open(&gz_file.0).unwrap()).is_none());
        assert_eq!(
            read_all(Input::Path(gz_file.0.clone())),
            read_all(Input::Bytes(data))
        );
        for (name, bytes) in [("empty", &b""[..]), ("one", &b"\n"[..])] {
            let file = TempFile::new(name, bytes);
            assert!(map_plain(&File::open(&file.0).unwrap()).is_none());
            let (counts, facts) = read_all(Input::Path(file.0.clone()));
            assert_eq!(counts.lines, u64::from(!bytes.is_empty()));
            assert!(facts.is_empty());
        }
    }

    #[test]
    fn an_over_long_line_in_a_mapped_file_is_corrupt_and_the_rest_kept() {
        let mut data = mixed_lines(3);
        data.extend_from_slice(b"\n");
        data.extend(std::iter::repeat_n(b'y', MAX_LINE + 1));
        data.push(b'\n');
        data.extend(mixed_lines(2));
        let file = TempFile::new("long.jsonl", &data);
        let (counts, facts) = read_all(Input::Path(file.0.clone()));
        assert_eq!(read_all(Input::Bytes(data)), (counts, facts.clone()));
        assert_eq!(counts.records, 3 + 2);
        assert_eq!(counts.corrupt, 1 + 1);
        assert_eq!(facts.len(), 5);
    }

    #[test]
    fn line_chunks_end_at_line_ends_and_cover_everything() {
        let data = mixed_lines(20_000);
        let ranges: Vec<_> = line_chunks(&data).collect();
        assert!(ranges.len() > 2);
        assert_eq!(ranges.first().map(|r| r.start), Some(0));
        assert_eq!(ranges.last().map(|r| r.end), Some(data.len()));
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(data[pair[0].end - 1], b'\n');
            assert!(pair[0].len() >= CHUNK);
        }
        assert_eq!(line_chunks(b"").count(), 0);
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let err = run(
            vec![Input::Path("/nonexistent/x.jsonl".into())],
            1,
            |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(err, ReportError::Io { .. }), "{err}");
    }

    #[test]
    fn parse_chunk_counts_lines() {
        let mut parser = LineParser::default();
        let b = parse_chunk(b"\n{oops\nnot json\n", &mut parser);
        assert_eq!(
            b.counts,
            LineCounts {
                lines: 3,
                blank: 1,
                records: 0,
                not_records: 1,
                corrupt: 1
            }
        );
    }
}
