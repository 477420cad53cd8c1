//! Cache-aside's registry entry: options from `[cache]`, two servers (the
//! database and the cache) and client processes.

use super::{Cache, CacheOptions, CHECKS};
use crate::protocols::registry::{ProtocolDef, Setup};
use crate::protocols::{ReportSection, SeriesChart};
use crate::scenario::{OptionsInput, ScenarioError};
use crate::sim::RunResult;

/// The `cache` protocol.
pub struct Def;

impl ProtocolDef for Def {
    type Options = CacheOptions;
    type Protocol = Cache;

    fn name(&self) -> &'static str {
        "cache"
    }

    fn about(&self) -> &'static str {
        "cache-aside in front of a database (TTL, LRU, delete or update on write, optional leases, coalescing and versions), checked for staleness and database load"
    }

    fn checks(&self) -> &'static [crate::process::CheckInfo] {
        CHECKS
    }

    fn roles(&self) -> &'static [&'static str] {
        &["database", "cache", "client"]
    }

    fn client_processes(&self) -> bool {
        true
    }

    fn fixed_placement(&self) -> Option<&'static str> {
        Some("clients send reads to the cache and writes to the database")
    }

    fn options(&self, input: &OptionsInput<'_>) -> Result<CacheOptions, ScenarioError> {
        let options: CacheOptions = input.table("cache")?;
        if input.nodes() != super::SERVERS {
            return Err(input.nodes_error(format!(
                "expected exactly 2 nodes for cache-aside (the database and the cache), found {}",
                input.nodes()
            )));
        }
        if input.clients() == 0 {
            return Err(input.error("cache", None, "expected [workload] clients of at least 1"));
        }
        match options.problem() {
            Some((key, why)) => Err(input.error("cache", Some(key), why)),
            None => Ok(options),
        }
    }

    fn build(&self, options: &CacheOptions, setup: &Setup) -> Cache {
        Cache::new(options.clone(), setup.clients)
    }

    fn headline(&self, result: &RunResult) -> Option<String> {
        Some(format!(
            "cache       {} reads, hit ratio {}, {} stale (worst {}), {} database reads",
            result.metric_text("cache_reads"),
            result.metric_text("cache_hit_ratio"),
            result.metric_text("cache_stale_reads"),
            result.metric_duration_text("cache_worst_staleness_ns"),
            result.metric_text("cache_db_reads"),
        ))
    }

    fn report_section(&self, result: &RunResult) -> Option<ReportSection> {
        let section = ReportSection::new("Cache-aside")
            .metric(
                result,
                "hit ratio",
                "cache_hit_ratio",
                "reads the cache answered",
            )
            .metric(
                result,
                "stale reads",
                "cache_stale_reads",
                "reads that began after a newer version was committed",
            )
            .duration(
                result,
                "worst staleness",
                "cache_worst_staleness_ns",
                "how long before the read the newer version was committed",
            )
            .metric(
                result,
                "database reads",
                "cache_db_reads",
                "misses that went to the database",
            )
            .metric(
                result,
                "peak database reads per second",
                "cache_db_reads_peak_per_s",
                "over 100 ms windows: a stampede shows here",
            )
            .metric(
                result,
                "fills refused",
                "cache_fills_refused",
                "fills without a valid lease, or read before the cache restarted (versioned)",
            );
        let reads = SeriesChart {
            title: "Database reads per 100 ms".into(),
            y_desc: "reads".into(),
            window_s: 0.1,
            shade: None,
            series: vec![(
                "database reads".into(),
                result.metric_series("cache_db_reads_per_window"),
            )],
        };
        Some(section.chart(reads))
    }
}
