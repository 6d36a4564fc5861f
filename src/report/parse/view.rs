//! The fields of one record as both parsers hand them over, before they become a fact.

/// The fields of one record as bytes, borrowed from the line (or from the serde fallback's
/// strings). The fast path checks UTF-8 only where a value is new (see `Names`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct View<'a, 'w> {
    pub(crate) kind: Option<&'a [u8]>,
    pub(crate) ts: Option<&'a [u8]>,
    pub(crate) request_id: Option<&'a [u8]>,
    pub(crate) experiment: Option<&'a [u8]>,
    pub(crate) config_version: Option<&'a [u8]>,
    pub(crate) unit: Option<&'a [u8]>,
    pub(crate) assigned_by: Option<&'a [u8]>,
    pub(crate) arm: Option<&'a [u8]>,
    pub(crate) weights: Option<&'w [(&'a [u8], f64)]>,
    pub(crate) served_arm: Option<&'a [u8]>,
    pub(crate) status: Option<u16>,
    pub(crate) latency_ms: Option<f64>,
    /// Streamed answers: time to the first payload byte.
    pub(crate) first_byte_ms: Option<f64>,
    /// Streamed answers: tokens, where the format shows them.
    pub(crate) tokens: Option<f64>,
    pub(crate) event: Option<&'a [u8]>,
    pub(crate) value: Option<f64>,
    /// Where the call went: the endpoint, the variant that answered, the target it named.
    pub(crate) endpoint: Option<&'a [u8]>,
    pub(crate) invoked_variant: Option<&'a [u8]>,
    pub(crate) inference_component: Option<&'a [u8]>,
    pub(crate) target_model: Option<&'a [u8]>,
    pub(crate) target_container_hostname: Option<&'a [u8]>,
}
