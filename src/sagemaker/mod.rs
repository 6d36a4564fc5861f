//! SageMaker Runtime: the `Invoker` seam the router calls, its AWS SDK implementation, and the
//! SDK config loaded once at start-up.

mod invoker;
mod sdk;
mod sdk_config;

pub use invoker::{Invocation, InvokeError, Invoker, ModelAnswer, classify_code};
pub use sdk::{CONNECT_TIMEOUT, RETRY_INITIAL_BACKOFF, SdkInvoker};
pub use sdk_config::{SdkConfigError, is_loopback_url, local_sdk_config, sdk_config};
