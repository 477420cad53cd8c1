//! Small statistics helpers for run metrics.

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
