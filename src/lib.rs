//! canary-router: sticky canary, blue-green and A/B routing in front of Amazon SageMaker
//! endpoints, as an AWS Lambda function or a local server.

pub mod app;
pub mod assign;
pub mod config;
pub mod cors;
pub mod demo;
pub mod emulator;
pub mod error;
pub mod http_server;
pub mod identity;
pub mod lambda;
pub mod record;
pub mod report;
pub mod router;
pub mod sagemaker;
pub mod serve;
pub mod transform;
