//! The fault language beyond single timed faults, end to end: a lasting,
//! repeated fault expands to numbered episodes whose undo acts on the node
//! each episode hit; `around` builds a group around a role; `hit:NAME`
//! names the node an earlier fault hit; and a run whose schedule is
//! written out as plain `[[faults]]` (as `shrink` writes it) replays with
//! the same trace hash.

mod common;

use faultline::run::run_config;
use faultline::scenario::{write::derived_toml, Scenario};
use faultline::sim::{nemesis, FaultEffect, NemesisConfig, RunResult};

fn parse(text: &str) -> Scenario {
    Scenario::parse(text, "fault-language.toml").unwrap_or_else(|e| panic!("{e}"))
}

const HEAD: &str =
    "name = \"t\"\nprotocol = \"raft\"\nnodes = 5\nduration = \"20s\"\n[workload]\nclients = 2\n";

fn effects(result: &RunResult) -> Vec<(u64, FaultEffect)> {
    result
        .faults
        .iter()
        .map(|f| (f.time_ns / 1_000_000, f.effect.clone()))
        .collect()
}

#[test]
fn a_lasting_repeated_crash_restarts_the_node_each_episode_hit() {
    let text = format!(
        "{HEAD}[[faults]]\nat = \"2s\"\naction = \"crash\"\nnode = \"leader\"\nfor = \"1s\"\nevery = \"4s\"\ncount = 3\n"
    );
    let scenario = parse(&text);
    let result = run_config(&scenario, scenario.config(1));
    assert!(result.violations.is_empty(), "{:?}", result.violations);
    let got = effects(&result);
    let crashes: Vec<(u64, Vec<u32>)> = got
        .iter()
        .filter_map(|(t, e)| match e {
            FaultEffect::Crashed { nodes } => Some((*t, nodes.clone())),
            _ => None,
        })
        .collect();
    let restarts: Vec<(u64, Vec<u32>)> = got
        .iter()
        .filter_map(|(t, e)| match e {
            FaultEffect::Restarted { nodes } if *t < 20_000 => Some((*t, nodes.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        crashes.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        [2000, 6000, 10000]
    );
    assert_eq!(
        restarts.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        [3000, 7000, 11000]
    );
    for ((_, crashed), (_, restarted)) in crashes.iter().zip(&restarts) {
        assert_eq!(crashed.len(), 1);
        assert_eq!(
            crashed, restarted,
            "each undo restarts the node its episode hit"
        );
    }
    let leaders: std::collections::BTreeSet<&Vec<u32>> = crashes.iter().map(|(_, n)| n).collect();
    assert!(
        leaders.len() > 1,
        "the leader moved between episodes: {crashes:?}"
    );
}

#[test]
fn around_the_leader_cuts_it_with_its_group_from_the_rest() {
    let text = format!(
        "{HEAD}[[faults]]\nat = \"3s\"\naction = \"partition\"\nname = \"pair\"\nshape = \"around\"\nnode = \"leader\"\nsize = 2\nfor = \"2s\"\n"
    );
    let scenario = parse(&text);
    let result = run_config(&scenario, scenario.config(4));
    let leader_before = result
        .roles
        .iter()
        .rfind(|r| r.time_ns < 3_000_000_000 && r.role.as_deref() == Some("leader"))
        .map(|r| r.node);
    let cut = effects(&result).into_iter().find_map(|(t, e)| match e {
        FaultEffect::Partitioned { name, groups, .. } if name == "pair" => Some((t, groups)),
        _ => None,
    });
    let Some((3000, groups)) = cut else {
        panic!("no partition at 3s: {:?}", result.faults);
    };
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups[0].len(),
        2,
        "the leader and one follower: {groups:?}"
    );
    assert_eq!(groups[1].len(), 3);
    let leader = leader_before.unwrap_or_else(|| panic!("no leader before 3s"));
    assert!(groups[0].contains(&leader), "{groups:?} around n{leader}");
    assert!(effects(&result).iter().any(|(t, e)| *t == 5000
        && matches!(e, FaultEffect::Healed { names } if names == &["pair".to_string()])));
}

#[test]
fn hit_names_the_node_an_earlier_fault_hit() {
    let text = format!(
        "{HEAD}[[faults]]\nat = \"3s\"\naction = \"pause\"\nname = \"slow\"\nnode = \"follower\"\n[[faults]]\nat = \"5s\"\naction = \"resume\"\nnode = \"hit:slow\"\n"
    );
    let scenario = parse(&text);
    let result = run_config(&scenario, scenario.config(2));
    let got = effects(&result);
    let paused = got.iter().find_map(|(t, e)| match e {
        FaultEffect::Paused { nodes } if *t == 3000 => Some(nodes.clone()),
        _ => None,
    });
    let resumed = got.iter().find_map(|(t, e)| match e {
        FaultEffect::Resumed { nodes } if *t == 5000 => Some(nodes.clone()),
        _ => None,
    });
    assert!(paused.as_ref().is_some_and(|p| p.len() == 1), "{got:?}");
    assert_eq!(paused, resumed);
}

/// A schedule of lasting, repeated and named faults written out as plain
/// timed faults (what `shrink` writes) replays with the same trace hash.
#[test]
fn a_written_out_schedule_replays_with_the_same_trace_hash() {
    let text = format!(
        "{HEAD}[[faults]]\nat = \"2s\"\naction = \"partition\"\nshape = \"isolate\"\nnode = \"leader\"\nfor = [\"1s\", \"2s\"]\nevery = \"5s\"\njitter = \"500ms\"\n\
         [[faults]]\nat = \"3s\"\naction = \"crash\"\nnode = \"leader\"\nfor = \"1s\"\nevery = \"7s\"\ncount = 2\n"
    );
    let scenario = parse(&text);
    for seed in [1, 2, 3] {
        let config = scenario.config(seed);
        let original = run_config(&scenario, config.clone());
        let mut written = config.clone();
        let until = faultline::time::SimTime::ZERO + written.duration;
        written
            .faults
            .extend(nemesis::schedule(&written.nemesis, seed, 5, until));
        written.faults.sort_by_key(|f| f.at);
        written.nemesis = NemesisConfig::default();
        let toml = derived_toml(&scenario, &written, "written", "written out");
        assert!(!toml.contains("every"), "{toml}");
        let again = scenario
            .reparse(&toml, "written.toml")
            .unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let replay = run_config(&again, again.config(seed));
        assert_eq!(
            original.trace_hash, replay.trace_hash,
            "seed {seed}:\n{toml}"
        );
        assert!(original.faults.len() > 6, "{:?}", original.faults);
    }
}

/// A swarm mix that turns crashes after sends on is written out under
/// `[nemesis]`, and the written scenario replays with the same trace hash.
#[test]
fn crashes_after_sends_replay_from_the_written_scenario() {
    let text =
        format!("{HEAD}[nemesis]\nstart = \"1s\"\n[swarm]\ncrash_after_send = [0.05, 0.2]\n");
    let scenario = parse(&text);
    let (config, mix) = scenario.swarm_config(4).expect("a swarm section");
    assert!(mix.contains("crash after send"), "{mix}");
    let first = run_config(&scenario, config.clone());
    assert!(
        first
            .faults
            .iter()
            .any(|f| f.description.contains("right after it sent")),
        "no crash after a send in {:?}",
        first
            .faults
            .iter()
            .map(|f| &f.description)
            .collect::<Vec<_>>()
    );
    let written = derived_toml(&scenario, &config, "written", "");
    assert!(written.contains("crash_after_send"), "{written}");
    let again = parse(&written);
    let second = run_config(&again, again.config(again.default_seed));
    assert_eq!(first.trace_hash, second.trace_hash, "{written}");
}

/// The crashes `crash_after_send` drew, written out as `crash` faults with
/// `after_send` (as `shrink` writes them), happen at the same moments on
/// the same nodes after the same sends.
#[test]
fn drawn_crashes_after_sends_written_out_crash_the_same_way() {
    let text = format!(
        "{HEAD}[nemesis]\ncrash_after_send = {{ probability = 0.02, down = [\"1ms\", \"300ms\"] }}\n"
    );
    let scenario = parse(&text);
    let config = scenario.config(6);
    let drawn = run_config(&scenario, config.clone());
    assert!(
        drawn.crashes_after_send.len() >= 3,
        "{:?}",
        drawn.crashes_after_send
    );
    let raft = faultline::protocols::Registry::builtin();
    let kinds = raft.find("raft").map_or(&[][..], |e| e.message_kinds());
    let written =
        faultline::explore::shrink::write_out_crashes(&config, &drawn.crashes_after_send, kinds);
    assert!(written.crash_after_send.is_none());
    let text = derived_toml(&scenario, &written, "written", "");
    assert!(text.contains("after_send"), "{text}");
    let again = parse(&text);
    let replayed = run_config(&again, again.config(again.default_seed));
    let crashes = |r: &RunResult| -> Vec<(u64, String)> {
        r.faults
            .iter()
            .filter(|f| f.description.contains("right after it sent"))
            .map(|f| (f.time_ns, f.description.clone()))
            .collect()
    };
    assert_eq!(crashes(&drawn), crashes(&replayed));
    assert_eq!(drawn.history.len(), replayed.history.len());
}

/// `node = "tag:behind"` names a server whose log lacks entries the
/// cluster committed: the one a partition kept away from the writes.
#[test]
fn tag_behind_names_the_server_the_writes_went_past() {
    let text = format!(
        "{HEAD}[[faults]]\nat = \"1s\"\naction = \"partition\"\nname = \"away\"\nshape = \"isolate\"\nnode = 4\n[[faults]]\nat = \"3s\"\naction = \"crash\"\nnode = \"tag:behind\"\n[[faults]]\nat = \"3.5s\"\naction = \"heal\"\nname = \"away\"\n[[faults]]\nat = \"4s\"\naction = \"restart\"\nnode = 4\n[[faults]]\nat = \"8s\"\naction = \"crash\"\nnode = \"tag:behind\"\n"
    );
    let scenario = parse(&text);
    let result = run_config(&scenario, scenario.config(2));
    let described: Vec<(u64, &str)> = result
        .faults
        .iter()
        .map(|f| (f.time_ns / 1_000_000, f.description.as_str()))
        .collect();
    assert!(described.contains(&(3000, "crash n4")), "{described:?}");
    // Back, healed and caught up by 8 s: no server is behind.
    assert!(
        described.contains(&(
            8000,
            "crash a node tagged behind: skipped, no such node is up"
        )),
        "{described:?}"
    );
}

/// `[workload] placement` for Raft, whose clients are processes: each
/// request goes first to the placed server (then the client follows hints
/// to the leader), so with `fixed` and one target the first attempt of
/// every request reaches that server, leader or not.
#[test]
fn raft_clients_send_each_request_first_where_placement_says() {
    for target in 0..5u32 {
        let text = format!(
            "name = \"t\"\nprotocol = \"raft\"\nnodes = 5\nduration = \"3s\"\n[workload]\nclients = 2\nplacement = \"fixed\"\ntargets = [{target}]\n"
        );
        let scenario = parse(&text);
        let mut config = scenario.config(1);
        config.record_trace = true;
        let result = run_config(&scenario, config);
        assert!(result.violations.is_empty(), "{:?}", result.violations);
        // The first send of each (client, seq): where the request went first.
        let mut first = std::collections::BTreeMap::new();
        for r in result.trace.iter().filter(|r| r.kind == "send") {
            let Some(rest) = r.detail.strip_prefix("Request") else {
                continue;
            };
            let seq: String = rest
                .split("seq: ")
                .nth(1)
                .unwrap_or("")
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            first.entry((r.node, seq)).or_insert(r.peer);
        }
        assert!(first.len() >= 10, "{} requests", first.len());
        assert!(
            first.values().all(|&to| to == Some(target)),
            "first attempts went to {:?}, not all to n{target}",
            first.values().collect::<std::collections::BTreeSet<_>>()
        );
    }
}
