//! What every request is served with, built once at start-up: cookie keys, the endpoint
//! invoker, the record sink and the ID minter.

use crate::identity::CookieKeys;

/// Makes new unit IDs for anonymous users: random in production, seeded in the demo.
pub type Minter = Box<dyn Fn() -> String + Send + Sync>;

/// The router's fixed parts; only the config changes while running.
pub(crate) struct Parts<I, S> {
    pub keys: CookieKeys,
    pub invoker: I,
    pub sink: S,
    pub minter: Minter,
}
