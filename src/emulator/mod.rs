//! A local SageMaker Runtime: `InvokeEndpoint` as the AWS SDKs speak it (REST-JSON,
//! `POST /endpoints/{EndpointName}/invocations`, SigV4 headers accepted and ignored), with
//! endpoints made of weighted production variants, real models behind them (`iris-logreg`,
//! `echo`, `tokens` that stream like a language model, or any inference `container`), the
//! service's own error responses, and seeded fault injection. InvokeEndpointWithResponseStream
//! (`POST /endpoints/{EndpointName}/invocations-response-stream`) answers in event-stream frames. `canary-router emulate` serves it; tests and the demo embed it.
//!
//! Besides InvokeEndpoint it answers `GET /ping` (200, for health checks) and, as an extension
//! of its own, `GET /endpoints` (the endpoints, variants, invocation counts and model
//! accuracies as JSON).

mod appconfig;
mod container;
mod engine;
pub mod eventstream;
mod iris;
mod keyed;
mod models;
mod rng;
mod server;
mod streaming;
pub mod targets;
pub mod tokens;
mod wire;

#[cfg(all(test, feature = "aws"))]
mod sdk_tests;

pub use appconfig::AppConfigStore;
pub use engine::{Emulator, Invocation, InvocationOutput, StreamStart, iris_samples};
pub use iris::{LABELS as IRIS_LABELS, LogReg};
pub use models::{
    DEMO_MODELS_JSON, EndpointSpec, Faults, Hosted, HostedModel, ModelSpec, ModelsError,
    ModelsFile, StreamFault, StreamFaultKind, VariantSpec, demo_models, is_valid_name, load_models,
    parse_models,
};
pub use server::{EmulateError, cli_main, run};
pub use wire::{
    ACCOUNT_ID, CUSTOM_ATTRIBUTES, ErrorCode, INFERENCE_ID, INVOKED_VARIANT, MAX_PAYLOAD_BYTES,
    ModelFailure, REGION, ServiceError, TARGET_VARIANT,
};
