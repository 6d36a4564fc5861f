//! Latency histograms in microseconds (HdrHistogram, three significant digits), shared by the
//! arms' router latency and the shadows' call latency.

use hdrhistogram::Histogram;

use crate::report::model::Latency;

/// Latencies are kept in microseconds.
const LATENCY_SCALE: f64 = 1000.0;

/// The longest latency the histogram tells apart: one hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// An empty histogram: 1 µs to one hour, 0.1% relative error; longer latencies count as one hour.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap_or_else(|_| unreachable_histogram())
}

/// `Histogram::new_with_bounds` only fails for bounds or digits out of range.
fn unreachable_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 2, 1).unwrap_or_else(|_| std::process::abort())
}

/// Records `ms` milliseconds (negative and NaN count as 0, past one hour as one hour).
pub(crate) fn record_ms(h: &mut Histogram<u64>, ms: f64) {
    h.saturating_record((ms * LATENCY_SCALE).round() as u64);
}

/// Percentiles in milliseconds; None for an empty histogram.
pub(crate) fn summary(h: &Histogram<u64>) -> Option<Latency> {
    if h.is_empty() {
        return None;
    }
    let ms = |us: u64| us as f64 / LATENCY_SCALE;
    Some(Latency {
        count: h.len(),
        mean: h.mean() / LATENCY_SCALE,
        p50: ms(h.value_at_quantile(0.50)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
    })
}
