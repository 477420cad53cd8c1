//! Statistics of runs: quantiles, and the service levels (availability,
//! latency) of a set of client operations, which the reports render and
//! the CAP experiment tabulates.

use crate::history::Record;
use crate::report::timeline::Window;

/// The `q`-quantile (0..=1) of `values` by the nearest-rank method, or
/// `None` when empty. Reorders `values` (a selection, linear time).
pub fn quantile(values: &mut [u64], q: f64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * values.len() as f64).ceil() as usize;
    let at = rank.saturating_sub(1).min(values.len() - 1);
    Some(*values.select_nth_unstable(at).1)
}

/// Measured service levels of a set of operations.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Service {
    /// Operations invoked.
    pub invoked: usize,
    /// Share answered (ok or fail) within their timeout.
    pub availability: Option<f64>,
    /// Median latency of answered operations.
    pub p50_ns: Option<u64>,
    /// 99th-percentile latency of answered operations.
    pub p99_ns: Option<u64>,
}

/// Service levels of `ops`.
pub fn service<'a>(ops: impl Iterator<Item = &'a Record>) -> Service {
    let ops: Vec<&Record> = ops.collect();
    let mut latencies: Vec<u64> = ops.iter().filter_map(|o| o.latency_ns()).collect();
    let answered = latencies.len();
    Service {
        invoked: ops.len(),
        availability: (!ops.is_empty()).then(|| answered as f64 / ops.len() as f64),
        p50_ns: quantile(&mut latencies, 0.5),
        p99_ns: quantile(&mut latencies, 0.99),
    }
}

/// Whether `op` was invoked inside one of `windows`.
pub fn in_window(op: &Record, windows: &[Window]) -> bool {
    windows
        .iter()
        .any(|w| op.invoked_ns >= w.start_ns && op.invoked_ns < w.end_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(quantile(&mut v, 0.5), Some(50));
        assert_eq!(quantile(&mut v, 0.99), Some(99));
        assert_eq!(quantile(&mut v, 1.0), Some(100));
        assert_eq!(quantile(&mut v, 0.0), Some(1));
        assert_eq!(quantile(&mut [], 0.5), None);
        let mut shuffled: Vec<u64> = (0..1000).map(|i| (i * 7919) % 1000).collect();
        assert_eq!(quantile(&mut shuffled, 0.99), Some(989));
        assert_eq!(quantile(&mut shuffled, 0.5), Some(499));
    }
}
