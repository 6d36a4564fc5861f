//! Where records go: stdout (CloudWatch Logs in Lambda), a file (the demo), memory (tests).

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::schema::Line;

/// Where records go.
pub trait RecordSink: Send + Sync + 'static {
    /// Writes one line; failures to write are reported on stderr, never to the client.
    fn write(&self, record: &Line<'_>);
}

impl<T: RecordSink> RecordSink for Arc<T> {
    fn write(&self, record: &Line<'_>) {
        (**self).write(record);
    }
}

/// Records as JSON lines on stdout (CloudWatch Logs in Lambda).
#[derive(Debug, Clone, Copy)]
pub struct StdoutSink;

impl RecordSink for StdoutSink {
    fn write(&self, record: &Line<'_>) {
        match serde_json::to_vec(record) {
            Ok(mut line) => {
                line.push(b'\n');
                // One write of the whole line under the lock: concurrent requests never interleave.
                let mut out = std::io::stdout().lock();
                if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
                    tracing::error!(error = %e, "cannot write a record to stdout");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot serialise a record"),
        }
    }
}

/// Records appended to a JSON-lines file (the demo's `records.jsonl`).
pub struct FileSink(Mutex<std::io::BufWriter<std::fs::File>>);

impl FileSink {
    /// Creates (or truncates) the file.
    pub fn create(path: &std::path::Path) -> std::io::Result<Self> {
        Ok(FileSink(Mutex::new(std::io::BufWriter::new(
            std::fs::File::create(path)?,
        ))))
    }

    /// Writes buffered records to the file.
    pub fn flush(&self) -> std::io::Result<()> {
        match self.0.lock() {
            Ok(mut w) => w.flush(),
            Err(_) => Err(std::io::Error::other("record file lock poisoned")),
        }
    }
}

impl RecordSink for FileSink {
    fn write(&self, record: &Line<'_>) {
        if let Ok(mut w) = self.0.lock() {
            let result = serde_json::to_writer(&mut *w, record)
                .map_err(std::io::Error::other)
                .and_then(|()| w.write_all(b"\n"));
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot write a record to the records file");
            }
        }
    }
}

/// Records kept in memory, for tests and the demo.
#[derive(Debug, Clone, Default)]
pub struct MemorySink(pub Arc<Mutex<Vec<Value>>>);

impl MemorySink {
    /// Everything written so far, as JSON values.
    pub fn records(&self) -> Vec<Value> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl RecordSink for MemorySink {
    fn write(&self, record: &Line<'_>) {
        if let (Ok(v), Ok(mut all)) = (serde_json::to_value(record), self.0.lock()) {
            all.push(v);
        }
    }
}
