//! `canary-router plan`: which users a config change moves, before it is deployed. `plan OLD
//! NEW` compares the phase in force now in each config; `plan CONFIG` plans each step of its
//! schedule from the phase before it. Exact over all 10,000 buckets.

mod matrix;
mod render;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use matrix::{Move, Retarget, StepPlan, between, schedule};

use crate::config::{self, Config, ConfigError, ProcessEnv};

/// Arguments of `canary-router plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// `OLD NEW` (two config files), or one `CONFIG` to plan each step of its schedule.
    #[arg(required = true, num_args = 1..=2, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Fail (exit 1) when a step moves more than this many basis points of users.
    #[arg(long, value_name = "BP", value_parser = clap::value_parser!(u32).range(0..=10000))]
    pub max_move: Option<u32>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Table,
    /// `{"steps": [...]}`, for scripts and CI gates.
    Json,
}

/// Why `plan` failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A config file cannot be read, or is not a valid config.
    #[error("{path}: {error}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        error: ConfigError,
    },
    /// A step moves more users than `--max-move` allows.
    #[error("{0}")]
    TooMuch(String),
    /// The plan could not be written.
    #[error("cannot write the plan: {0}")]
    Write(#[source] std::io::Error),
}

impl PlanError {
    /// The contract's exit status: 1 a step moves too much; 2 an invalid config; 3 I/O.
    pub fn exit_code(&self) -> u8 {
        match self {
            PlanError::TooMuch(_) => 1,
            PlanError::Config {
                error: ConfigError::Read { .. },
                ..
            }
            | PlanError::Write(_) => 3,
            PlanError::Config { .. } => 2,
        }
    }
}

fn load(path: &Path) -> Result<Config, PlanError> {
    let fail = |error| PlanError::Config {
        path: path.display().to_string(),
        error,
    };
    let text = config::read_file(&ProcessEnv, path).map_err(fail)?;
    Config::parse(&text).map_err(fail)
}

/// The plan's steps for the given config files, at `now`.
pub fn steps(configs: &[Config], now: SystemTime) -> Vec<StepPlan> {
    match configs {
        [old, new] => vec![between(old, old.phase_at(now), new, new.phase_at(now), now)],
        [one] => schedule(one, now),
        _ => Vec::new(),
    }
}

/// Runs `canary-router plan`.
pub fn cli_main(args: PlanArgs) -> Result<(), PlanError> {
    let configs = args
        .configs
        .iter()
        .map(|p| load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let now = SystemTime::now();
    let plan = steps(&configs, now);
    let text = match args.format {
        Format::Json => render::json(&plan),
        Format::Table => render::table(&plan, configs.len() == 1),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(PlanError::Write)?;
    for step in plan.iter().filter(|s| s.takes_effect_on_arrival) {
        eprintln!(
            "plan: warning: step {} (at {}) is already past: it takes effect as soon as the config arrives",
            step.to_version,
            step.at.as_deref().unwrap_or("-")
        );
    }
    if let Some(max) = args.max_move {
        let over: Vec<String> = plan
            .iter()
            .filter(|s| s.moved_buckets > max)
            .map(|s| {
                format!(
                    "{} -> {} moves {} basis points of users (--max-move {max})",
                    s.from_version, s.to_version, s.moved_buckets
                )
            })
            .collect();
        if !over.is_empty() {
            return Err(PlanError::TooMuch(over.join("; ")));
        }
    }
    Ok(())
}
