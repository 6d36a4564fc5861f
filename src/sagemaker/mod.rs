//! SageMaker Runtime: the `Invoker` seam the router calls, its AWS SDK implementation, and the
//! SDK config loaded once at start-up.

mod invoker;
#[cfg(feature = "aws")]
mod sdk;
#[cfg(feature = "aws")]
mod sdk_config;

pub use invoker::{Invocation, InvokeError, Invoker, ModelAnswer, ModelStream, classify_code};
#[cfg(feature = "aws")]
pub use sdk::{CONNECT_TIMEOUT, RETRY_INITIAL_BACKOFF, SdkInvoker};
#[cfg(feature = "aws")]
pub use sdk_config::{SdkConfigError, is_loopback_url, local_sdk_config, sdk_config};
