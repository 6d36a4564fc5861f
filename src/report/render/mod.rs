//! The report as text: `--format table`, `json` and `html`. Reads the report's data
//! ([`crate::report::model`]) and nothing else.

pub(crate) mod format;
mod html;
mod table;

pub use html::{PALETTE, render_html};
pub use table::render_table;

use crate::report::model::Report;

/// The report as pretty-printed JSON.
pub fn render_json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise the report: {e}\"}}"));
    s.push('\n');
    s
}
