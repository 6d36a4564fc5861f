//! One record per request: `decision` for `/predict` (with a CloudWatch EMF block), `outcome` for
//! `/feedback`. Records go to stdout as raw JSON lines; nothing meant for people goes there.

mod config_line;
mod emf;
mod schema;
mod shadow_line;
mod sink;

pub use config_line::ConfigRefusal;
pub use emf::{Emf, EmfDirective, EmfMetric, Metrics};
pub use schema::{Kind, Line, OutcomeFields, Record, StreamFields};
pub use shadow_line::ShadowRecord;
pub use sink::{FileSink, MemorySink, RecordSink, StdoutSink};
