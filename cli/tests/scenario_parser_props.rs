//! The scenario parser never panics, and its errors always point inside the file.
//!
//! Properties (proptest, a few hundred cases each, fast in debug builds):
//! - arbitrary strings given to `Scenario::parse`, and arbitrary bytes given
//!   to `Scenario::from_bytes`, never panic;
//! - mutations of a valid scenario that uses every section (delete a line,
//!   duplicate a line, replace a value with a random token, truncate at a
//!   random point, and a few of those in a row) never panic, and either parse
//!   or give an error whose line is within the file (0 for errors about the
//!   whole file), whose column is within that line, and whose message starts
//!   with the file name.

use faultline::scenario::{Scenario, ScenarioError};
use proptest::prelude::*;

const FILE: &str = "mutant.toml";

/// A valid service scenario, short enough to run each parsing mutant.
/// A log scenario with every `[log]` option set and a broker crash: the
/// base of the log's mutations.
const LOG: &str = r#"name = "log-mutant"
protocol = "log"
nodes = 6
duration = "2s"
max_events = 200000

[[faults]]
at = "500ms"
action = "crash"
node = "broker"
for = "300ms"

[workload]
clients = 2
interval = "20ms"

[log]
brokers = 3
partitions = 2
replication = 2
acks = 1
min_insync_replicas = 1
unclean_leader_election = true
idempotent_producer = true
commit = "with-effect"
sync = false
replica_lag_max = "200ms"
leader_rebalance = "1s"
heartbeat = "50ms"
session_timeout = "200ms"
fetch_wait = "5ms"
fetch_max = 10
request_timeout = "100ms"
give_up = "500ms"
processing = "1ms"
exactly_once = false
projection = true
snapshot_every = "100ms"
window = "200ms"
slide = "100ms"
out_of_orderness = "20ms"
allowed_lateness = "10ms"
"#;

/// A queue scenario with every `[queue]` option set, a fault on a role and
/// a dead-letter bound: the base of the queue's mutations.
const QUEUE: &str = r#"name = "queue-mutant"
protocol = "queue"
nodes = 4
duration = "2s"
max_events = 200000

[[faults]]
at = "500ms"
every = "400ms"
action = "crash"
node = "consumer"
for = ["1ms", "50ms"]

[workload]
clients = 2
interval = "20ms"

[queue]
visibility_timeout = "200ms"
max_deliveries = 3
sync = false
processing = "2ms"
poll_interval = "10ms"
ack = "before"
idempotent = true
exactly_once = true
give_up = "300ms"
error_rate = 0.1
poison_every = 7
"#;

const SERVICE: &str = r#"name = "service-mutant"
protocol = "service"
nodes = 2
duration = "3s"
max_events = 200000

[workload]
clients = 2
interval = "50ms"

[service]
rate = 50.0
deadline = "500ms"
attempt_timeout = "200ms"
balance = "two-choices"
window = "500ms"
phases = [{ at = "1s", for = "500ms", x = 3.0, kind = "spike" }]

[service.retry]
retries = 2
base = "10ms"
jitter = "decorrelated"

[service.budget]
ratio = 0.2

[service.breaker]
failures = 3
open_for = "200ms"

[service.server]
concurrency = 2
queue = 5
discipline = "lifo"
service_time = { dist = "lognormal", median = "10ms", sigma = 0.5, max = "100ms" }
slowdown = 0.5
shed_after = "100ms"
drop_expired = true
error_rate = 0.1

[[service.slow]]
node = 1
at = "500ms"
for = "1s"
factor = 3.0

[service.recovery]
within = "1s"
baseline = "1s"

[service.slo]
availability = 0.5
p99 = "400ms"
"#;

/// A valid scenario that touches every section and most fields.
const VALID: &str = r#"# A scenario for mutation.
name = "mutant"
description = "every section"
protocol = "broadcast"
nodes = 5
duration = "30s"
seed = 9
max_events = 200000

[broadcast]
gossip_interval = "100ms"
batch_max = 8
persist = true
retransmit = true

[network]
latency = { dist = "lognormal", median = "5ms", sigma = 0.5, max = "1s" }
loss = 0.01
duplicate = 0.01
paused_messages = "queue"

[[network.links]]
from = 0
to = 4
symmetric = true
latency = { dist = "pareto", scale = "2ms", shape = 2.5 }
loss = 0.1

[[faults]]
at = "2s"
action = "partition"
name = "split"
shape = "split"
minority = [0, 1]
one_way = true

[[faults]]
at = "5s"
action = "heal"
name = "split"

[[faults]]
at = "6s"
action = "partition"
groups = [[0], [1, 2], [3]]

[[faults]]
at = "7s"
action = "heal"

[[faults]]
at = "8s"
action = "crash"
node = "any"

[[faults]]
at = "9s"
action = "restart"
node = "any"

[[faults]]
at = "10s"
action = "pause"
node = 2

[[faults]]
at = "11s"
action = "resume"

[[faults]]
at = "12s"
action = "clock"
node = 3
offset = "-150ms"
drift_ppm = 2000

[nemesis]
start = "15s"
partition = { every = "4s", duration = ["1s", "3s"] }
shapes = ["isolate", "bridge", "ring"]
one_way = 0.5
crash = { every = "6s", duration = "2s" }
pause = { every = "7s", duration = ["100ms", "1s"] }
clock = { every = "5s", duration = "2s" }
skew_max = "200ms"
drift_ppm_max = 5000

[workload]
clients = 3
interval = "20ms"
timeout = "500ms"
max_ops = 500

[checks]
expect = "violation"
expect_check = "broadcast.delivery"
settle = "5s"
enabled = ["broadcast.integrity", "broadcast.delivery"]
"#;

/// Values a mutation may put in place of another: wrong types, edge
/// numbers, bad durations, odd strings and nested structures.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "1",
    "7",
    "1024",
    "1025",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "1.5",
    "-0.0",
    "1e308",
    "nan",
    "inf",
    "-inf",
    "true",
    "false",
    "\"\"",
    "\"five\"",
    "\"any\"",
    "\"leader\"",
    "\"0s\"",
    "\"5\"",
    "\"10 parsecs\"",
    "\"-5s\"",
    "\"+1s\"",
    "\"1.5ns\"",
    "\"99999999h\"",
    "\"584y\"",
    "\"24h\"",
    "\"\\u0000\"",
    "\"é\u{1F980}\"",
    "'literal'",
    "\"\"\"multi\nline\"\"\"",
    "[]",
    "[0]",
    "[[0], [0]]",
    "[[0, 1], [2]]",
    "[\"1s\"]",
    "[\"1s\", \"2s\", \"3s\"]",
    "{}",
    "{ dist = \"pareto\" }",
    "{ dist = \"uniform\", min = \"9ms\", max = \"1ms\" }",
    "{ every = \"0s\", duration = \"1s\" }",
    "1979-05-27T07:32:00Z",
    "=",
    "[",
    "]]",
    "#",
    "\"unterminated",
];

/// One edit of a text, chosen by proptest.
#[derive(Clone, Debug)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    /// Replace the value after `=` on a line (or the whole line) with a token.
    ReplaceValue(usize, String),
    /// Keep the first `n` bytes (rounded down to a char boundary).
    Truncate(usize),
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(TOKENS).prop_map(str::to_string),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|x| format!("{x:?}")),
        1 => "[a-z0-9_. \"\\[\\]{}=,-]{0,12}",
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let line = 0usize..200;
    prop_oneof![
        2 => line.clone().prop_map(Mutation::DeleteLine),
        2 => line.clone().prop_map(Mutation::DuplicateLine),
        4 => (line, token()).prop_map(|(l, t)| Mutation::ReplaceValue(l, t)),
        1 => (0usize..4000).prop_map(Mutation::Truncate),
    ]
}

/// Applies `m` to `text`; line numbers wrap around the file's line count.
fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return String::new();
    }
    let n = lines.len();
    match m {
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let copy = lines[i % n].clone();
            lines.insert(i % n, copy);
        }
        Mutation::ReplaceValue(i, token) => {
            let line = &mut lines[i % n];
            *line = match line.find('=') {
                Some(eq) => format!("{} {token}", &line[..=eq]),
                None => token.clone(),
            };
        }
        Mutation::Truncate(at) => {
            let mut at = (*at).min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            return text[..at].to_string();
        }
    }
    lines.join("\n") + "\n"
}

/// What must hold of any error for `text`: a position inside the file (or
/// none, for whole-file errors) and a message that starts with the file name.
fn check_error(text: &str, err: &ScenarioError) -> Result<(), TestCaseError> {
    let shown = err.to_string();
    prop_assert!(shown.starts_with(FILE), "{shown}");
    if err.line == 0 {
        prop_assert_eq!(err.column, 0, "{}", shown);
        prop_assert!(shown.starts_with(&format!("{FILE}: ")), "{shown}");
        return Ok(());
    }
    let lines: Vec<&str> = text.split('\n').collect();
    // The last "line" after a final newline is empty; an error at the very
    // end of the text may point there.
    prop_assert!(
        err.line <= lines.len(),
        "line {} of a {}-line file: {shown}\n---\n{text}",
        err.line,
        lines.len()
    );
    let width = lines[err.line - 1].chars().count();
    prop_assert!(
        (1..=width + 1).contains(&err.column),
        "column {} on a line of {width} chars: {shown}\n---\n{text}",
        err.column
    );
    prop_assert!(
        shown.starts_with(&format!("{FILE}:{}:{}: ", err.line, err.column)),
        "{shown}"
    );
    Ok(())
}

fn check_text(text: &str) -> Result<(), TestCaseError> {
    match Scenario::parse(text, FILE) {
        Ok(s) => {
            prop_assert_eq!(&s.file, FILE);
            Ok(())
        }
        Err(err) => check_error(text, &err),
    }
}

#[test]
fn the_log_mutation_base_is_valid() {
    let scenario = Scenario::parse(LOG, FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.nodes, 6);
}

#[test]
fn the_queue_mutation_base_is_valid() {
    let scenario = Scenario::parse(QUEUE, FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.nodes, 4);
}

#[test]
fn the_service_mutation_base_is_valid() {
    let scenario = Scenario::parse(SERVICE, FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.nodes, 2);
}

#[test]
fn the_mutation_base_is_valid() {
    let scenario = Scenario::parse(VALID, FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.nodes, 5);
    assert_eq!(scenario.config.faults.len(), 9);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check_text(&text)?;
    }

    #[test]
    fn toml_like_strings_never_panic(text in "[a-z_\\[\\]{}=,.#\"' \n0-9-]{0,200}") {
        check_text(&text)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        match Scenario::from_bytes(&bytes, FILE) {
            Ok(_) => {}
            Err(err) => {
                // The position is within the valid UTF-8 prefix.
                let valid = match std::str::from_utf8(&bytes) {
                    Ok(text) => text,
                    Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
                };
                check_error(valid, &err)?;
            }
        }
    }

    #[test]
    fn invalid_utf8_anywhere_in_a_valid_file_is_an_error(at in 0usize..4000, byte in 0x80u8..=0xff) {
        let mut bytes = VALID.as_bytes().to_vec();
        let at = at % bytes.len();
        bytes.insert(at, byte);
        if let Err(e) = std::str::from_utf8(&bytes) {
            let err = Scenario::from_bytes(&bytes, FILE).expect_err("not UTF-8");
            let prefix = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("");
            check_error(prefix, &err)?;
            prop_assert!(err.message.contains("not valid UTF-8"), "{}", err);
        }
    }

    #[test]
    fn one_mutation_of_a_valid_scenario_parses_or_points_inside(m in mutation()) {
        check_text(&apply(VALID, &m))?;
    }

    /// The same for the service table, whose options nest tables, lists of
    /// tables and a tagged distribution; a mutant that parses also runs
    /// (briefly) without a panic.
    #[test]
    fn mutations_of_a_service_scenario_parse_or_point_inside_and_run(
        ms in proptest::collection::vec(mutation(), 1..4)
    ) {
        let text = ms.iter().fold(SERVICE.to_string(), |t, m| apply(&t, m));
        check_text(&text)?;
        if let Ok(scenario) = Scenario::parse(&text, FILE) {
            let options = faultline::run::RunOptions::default();
            let _ = faultline::run::run(&scenario, 1, options);
        }
    }

    /// The same for the queue table; a mutant that parses also runs.
    #[test]
    fn mutations_of_a_queue_scenario_parse_or_point_inside_and_run(
        ms in proptest::collection::vec(mutation(), 1..4)
    ) {
        let text = ms.iter().fold(QUEUE.to_string(), |t, m| apply(&t, m));
        check_text(&text)?;
        if let Ok(scenario) = Scenario::parse(&text, FILE) {
            let options = faultline::run::RunOptions::default();
            let _ = faultline::run::run(&scenario, 1, options);
        }
    }

    /// The same for the log table; a mutant that parses also runs.
    #[test]
    fn mutations_of_a_log_scenario_parse_or_point_inside_and_run(
        ms in proptest::collection::vec(mutation(), 1..4)
    ) {
        let text = ms.iter().fold(LOG.to_string(), |t, m| apply(&t, m));
        check_text(&text)?;
        if let Ok(scenario) = Scenario::parse(&text, FILE) {
            let options = faultline::run::RunOptions::default();
            let _ = faultline::run::run(&scenario, 1, options);
        }
    }

    #[test]
    fn several_mutations_of_a_valid_scenario_parse_or_point_inside(
        ms in proptest::collection::vec(mutation(), 2..6)
    ) {
        let text = ms.iter().fold(VALID.to_string(), |t, m| apply(&t, m));
        check_text(&text)?;
    }
}
