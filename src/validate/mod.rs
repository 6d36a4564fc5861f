//! `canary-router validate`: before an arm takes users, a golden set sent through it exactly as
//! the router sends it (`Router::try_arm`: the same pre-processing, endpoint, target and
//! post-processing code), its answers compared with the shared comparator, its latency and
//! throughput measured at each concurrency level, and thresholds that make it a CI gate.
//! `--record OUT` writes a golden file from an arm's current answers instead.

pub mod error;
pub mod golden;
pub mod render;
pub mod run;
pub mod verdict;

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use bytes::Bytes;

use crate::app::{self, CliError, MissingKey, SageMaker};
use crate::compare::Comparator;
use crate::config::{self, Config, ProcessEnv};
use crate::record::RecordSink;
use crate::router::Router;
use crate::sagemaker::Invoker;
pub use error::ValidateError;
use golden::{Case, Golden, Purpose};
use run::LevelRun;
use verdict::{Mode, Thresholds};

/// Most requests in flight at one level.
pub const MAX_CONCURRENCY: usize = 1024;

/// Arguments of `canary-router validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The router config whose arm is validated (its endpoint, target and transforms).
    #[arg(long)]
    pub config: PathBuf,
    /// The arm to validate, by name.
    #[arg(long, value_name = "NAME")]
    pub arm: String,
    /// Golden file: JSON lines {"body": ..., "content_type": ..., "expect": ...}.
    #[arg(long, value_name = "FILE")]
    pub golden: PathBuf,
    /// Compare only the value at this JSON pointer (e.g. /label); else the whole answer.
    #[arg(long = "match", value_name = "POINTER", conflicts_with = "record")]
    pub pointer: Option<String>,
    /// Relative tolerance for numbers.
    #[arg(long, value_name = "X", conflicts_with = "record")]
    pub tolerance: Option<f64>,
    /// Least share of requests whose answer must match (errors count as not matched).
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = share, conflicts_with = "record")]
    pub min_agreement: f64,
    /// Highest p99 latency at the highest concurrency level, in milliseconds.
    #[arg(long, value_name = "N", value_parser = positive_ms)]
    pub max_p99_ms: Option<f64>,
    /// Most requests that may fail.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_errors: u64,
    /// Concurrency levels: the whole set runs at each (e.g. 1,4,16).
    #[arg(long, value_name = "N,N,...", value_delimiter = ',', default_value = "1", value_parser = level)]
    pub concurrency: Vec<NonZeroUsize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::plan::Format::Table)]
    pub format: crate::plan::Format,
    /// Write a golden file of the arm's current answers to OUT instead of comparing.
    #[arg(long, value_name = "OUT")]
    pub record: Option<PathBuf>,
}

fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("`{s}` is not a share between 0 and 1")),
    }
}

fn positive_ms(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!("`{s}` is not a positive number of milliseconds")),
    }
}

fn level(s: &str) -> Result<NonZeroUsize, String> {
    s.trim()
        .parse::<NonZeroUsize>()
        .ok()
        .filter(|n| n.get() <= MAX_CONCURRENCY)
        .ok_or_else(|| format!("`{s}` is not a concurrency level from 1 to {MAX_CONCURRENCY}"))
}

/// Runs `validate`: prints the verdict, then fails with its exit status.
pub async fn cli_main(args: ValidateArgs) -> Result<(), CliError> {
    let env = ProcessEnv;
    let text = config::read_file(&env, &args.config)?;
    let config = Config::parse(&text)?;
    let Some(index) = config.arm_index(&args.arm) else {
        let names: Vec<&str> = config.arms().iter().map(|a| a.name()).collect();
        return Err(ValidateError::Usage(format!(
            "no arm `{}` in {}: its arms are {}",
            args.arm,
            args.config.display(),
            names.join(", ")
        ))
        .into());
    };
    let endpoint = config.arms()[index].endpoint().to_owned();
    let cmp = Comparator::new(args.pointer.as_deref(), args.tolerance)
        .map_err(|e| ValidateError::Usage(e.to_string()))?;
    let golden_path = args.golden.display().to_string();
    let golden_text =
        std::fs::read_to_string(&args.golden).map_err(|source| ValidateError::GoldenRead {
            path: golden_path.clone(),
            source,
        })?;
    let (purpose, mode) = match args.record {
        Some(_) => (Purpose::Record, Mode::Record),
        None => (Purpose::Check, Mode::Check),
    };
    let golden = golden::parse(&golden_text, purpose);
    if golden.cases.is_empty() {
        let reason = match golden.broken.first() {
            Some(b) => format!("no usable line (line {}: {})", b.line, b.reason),
            None => "no lines".to_owned(),
        };
        return Err(ValidateError::Golden {
            path: golden_path,
            reason,
        }
        .into());
    }
    let router = app::build_router(&env, &text, MissingKey::Unused, SageMaker::FromEnv).await?;
    let runs = send_all(&router, &args.arm, &golden, &args.concurrency).await;
    if let (Some(out), Some(top)) = (&args.record, highest(&runs)) {
        std::fs::write(out, recorded(&golden.cases, top)).map_err(|source| {
            ValidateError::Write {
                what: out.display().to_string(),
                source,
            }
        })?;
    }
    let thresholds = Thresholds {
        min_agreement: args.min_agreement,
        max_p99_ms: args.max_p99_ms,
        max_errors: args.max_errors,
    };
    let v = verdict::summarise(&args.arm, &endpoint, &golden, &runs, &cmp, thresholds, mode);
    let printed = match args.format {
        crate::plan::Format::Table => render::table(&v, &golden_path),
        crate::plan::Format::Json => render::json(&v) + "\n",
    };
    std::io::stdout()
        .write_all(printed.as_bytes())
        .map_err(|source| ValidateError::Write {
            what: "the verdict".into(),
            source,
        })?;
    if !golden.broken.is_empty() {
        return Err(ValidateError::Golden {
            path: golden_path,
            reason: format!(
                "{} unusable lines (listed above); the other {} were checked",
                golden.broken.len(),
                golden.cases.len()
            ),
        }
        .into());
    }
    if !v.passed {
        return Err(ValidateError::Failed(v.violations.join("; ")).into());
    }
    Ok(())
}

/// Sends the whole golden set through `arm` at each concurrency level in turn (a level given
/// twice in a row runs once), through the router's own `try_arm`.
pub async fn send_all<I: Invoker, S: RecordSink>(
    router: &Router<I, S>,
    arm: &str,
    golden: &Golden,
    levels: &[NonZeroUsize],
) -> Vec<LevelRun> {
    let mut levels = levels.to_vec();
    levels.dedup();
    let mut runs = Vec::with_capacity(levels.len());
    for c in levels {
        let run = run::run_level(&golden.cases, c, |case| {
            router.try_arm(
                arm,
                Bytes::clone(&case.body),
                &case.content_type,
                case.accept.as_deref(),
            )
        })
        .await;
        runs.push(run);
    }
    runs
}

/// The level with the most requests in flight (the last of equals): the one that is judged.
pub fn highest(runs: &[LevelRun]) -> Option<&LevelRun> {
    runs.iter()
        .enumerate()
        .max_by_key(|(i, r)| (r.concurrency, *i))
        .map(|(_, r)| r)
}

/// The golden file of the answers of `run`, in case order; lines whose call failed are left out.
pub fn recorded(cases: &[Case], run: &LevelRun) -> String {
    let mut text = String::new();
    for (case, sent) in cases.iter().zip(&run.sent) {
        if let Ok(answer) = &sent.result {
            text.push_str(&case.recorded(&answer.body));
            text.push('\n');
        }
    }
    text
}
