//! `canary-router report`: A/B analysis of decision and outcome records, from JSON lines (plain,
//! gzip, CloudWatch exports, Lambda JSON logs) to a decision, with the statistics GrowthBook's
//! engine uses. One streaming pass; memory is the de-duplication set (16 bytes per record plus
//! table slack) and the per-unit state.
//!
//! The folders depend on each other one way only: `parse` (one line to one fact) depends on
//! nothing else here; `input` (files, chunks, worker threads) and `aggregate` (de-duplication,
//! per-arm and per-unit state) on `parse`; `analysis` (statistics, sample-ratio checks,
//! verdicts) on `aggregate` and `model`; `render` (table, JSON, HTML) on `model` alone. This
//! file wires them into the `report` command.

mod aggregate;
mod analysis;
mod error;
mod input;
mod model;
mod options;
mod parse;
mod render;

use std::io::Write;
use std::path::PathBuf;

pub use error::ReportError;
pub use input::Input;
pub use model::*;
pub use options::Options;
pub use render::{PALETTE, render_html, render_json, render_table};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for a terminal, with a verdict line per metric.
    Table,
    /// The report as one JSON document (schema in docs/report.md).
    Json,
    /// One self-contained HTML page with inline SVG charts.
    Html,
}

/// Arguments of `canary-router report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Record files: JSON lines, gzip, CloudWatch Logs exports, Lambda JSON logs; `-` is stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The control arm (default: the first arm of each phase's weights).
    #[arg(long, value_name = "NAME")]
    pub control: Option<String>,
    /// Always-valid confidence sequences (for looking at results repeatedly).
    #[arg(long)]
    pub sequential: bool,
    /// Tuning parameter N* of the confidence sequences: the sample size where they are tightest.
    #[arg(long, value_name = "N", default_value_t = 5000.0)]
    pub n_star: f64,
    /// Exit with status 1 when a sample-ratio check flags a phase.
    #[arg(long)]
    pub fail_on_srm: bool,
    /// Events analysed per prediction (sum of values / predictions per unit), e.g. a 0/1
    /// `correct`; other events become conversion and value-per-unit metrics.
    #[arg(long, value_name = "EVENT", default_values_t = vec!["correct".to_owned()])]
    pub per_prediction: Vec<String>,
}

impl ReportArgs {
    /// The analysis options these arguments ask for.
    pub(crate) fn options(&self) -> Options {
        Options {
            control: self.control.clone(),
            sequential: self.sequential,
            n_star: self.n_star,
            per_prediction: self.per_prediction.clone(),
            ..Options::default()
        }
    }
}

/// Reads every input and builds the report.
pub fn analyse(inputs: Vec<Input>, options: &Options) -> Result<Report, ReportError> {
    if !(options.n_star > 0.0 && options.n_star.is_finite()) {
        return Err(ReportError::Usage(format!(
            "--n-star must be a positive number, not {}",
            options.n_star
        )));
    }
    if !(options.alpha > 0.0 && options.alpha < 1.0) {
        return Err(ReportError::Usage(format!(
            "alpha must be between 0 and 1, not {}",
            options.alpha
        )));
    }
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
        n => n,
    };
    let files: Vec<String> = inputs.iter().map(Input::label).collect();
    let mut agg = aggregate::Aggregator::default();
    input::run(inputs, threads, |w, batch: &mut parse::Batch| {
        agg.apply(w, batch)
    })?;
    analysis::build(agg, files, options)
}

/// The report of records already in memory (the demo's own), as JSON values.
pub fn analyse_records(
    records: &[serde_json::Value],
    options: &Options,
) -> Result<Report, ReportError> {
    let mut bytes = Vec::new();
    for r in records {
        // Writing JSON to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut bytes, r);
        bytes.push(b'\n');
    }
    analyse(vec![Input::Bytes(bytes)], options)
}

/// The report in `format`.
fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Table => render_table(report),
        Format::Json => render_json(report),
        Format::Html => render_html(report),
    }
}

/// Runs `canary-router report`: the report on stdout (or `--out`), notes for people on stderr;
/// `--fail-on-srm` turns a flagged sample-ratio check into a failed check (exit 1).
pub fn cli_main(args: ReportArgs) -> Result<(), ReportError> {
    let options = args.options();
    let inputs: Vec<Input> = args.files.iter().cloned().map(Input::from_arg).collect();
    if inputs.iter().filter(|i| matches!(i, Input::Stdin)).count() > 1 {
        return Err(ReportError::Usage(
            "`-` (stdin) can be given only once".into(),
        ));
    }
    let report = analyse(inputs, &options)?;
    let text = render(&report, args.format);
    match &args.out {
        Some(path) => std::fs::write(path, text.as_bytes()).map_err(|source| ReportError::Write {
            path: path.display().to_string(),
            source,
        }),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|source| ReportError::Write {
                    path: "stdout".into(),
                    source,
                })
        }
    }?;
    let i = &report.input;
    if i.skipped > 0 || i.duplicates > 0 {
        eprintln!(
            "report: {} records ({} duplicates dropped); {} lines skipped ({} not records, {} corrupt)",
            i.unique_records, i.duplicates, i.skipped, i.not_records, i.corrupt
        );
    }
    if report.experiments.is_empty() {
        eprintln!("report: no decision or outcome records found");
    }
    if report.srm_flagged {
        eprintln!("report: WARNING: a sample-ratio check flagged a phase; results may be biased");
        if args.fail_on_srm {
            return Err(ReportError::SrmFlagged);
        }
    }
    Ok(())
}
