//! What every request is served with, built once at start-up: cookie keys, the endpoint
//! invoker, the record sink and the ID minter.

use std::sync::Arc;

use tokio_util::task::TaskTracker;

use crate::identity::CookieKeys;

/// Makes new unit IDs for anonymous users: random in production, seeded in the demo.
pub type Minter = Box<dyn Fn() -> String + Send + Sync>;

/// The router's fixed parts; only the config changes while running.
pub(crate) struct Parts<I, S> {
    pub keys: CookieKeys,
    /// Shared with shadow calls that outlive their request.
    pub invoker: Arc<I>,
    pub sink: Arc<S>,
    pub minter: Minter,
    pub shadows: Shadows,
}

/// What happens to a request's shadow calls once its own answer is ready.
pub(crate) enum Shadows {
    /// The answer waits for them (Lambda: the process is frozen once the answer is returned).
    Awaited,
    /// The answer goes out at once; they finish on their own, tracked for a drain (`serve`).
    Detached(TaskTracker),
}
