//! canary-router: sticky canary, blue-green and A/B routing in front of Amazon SageMaker
//! endpoints, as an AWS Lambda function or a local server.
//!
//! The router is written once (`router`) and reached through two front doors (`front`): Lambda
//! events and a local HTTP server. Around it: the config (`config`), sticky assignment
//! (`assign`), identity (`identity`), transforms (`transform`), records (`record`), the SageMaker
//! call (`sagemaker`), and the subcommands `emulate` (`emulator`), `demo` and `report`.

#![warn(missing_docs)]

#[cfg(feature = "aws")]
pub mod app;
pub mod assign;
pub mod compare;
pub mod config;
pub(crate) mod cors;
#[cfg(feature = "aws")]
pub mod demo;
pub mod emulator;
pub mod error;
pub mod front;
pub mod identity;
pub mod plan;
pub mod quantile;
pub mod record;
pub mod report;
pub mod router;
pub mod sagemaker;
pub mod transform;
#[cfg(feature = "aws")]
pub mod validate;
