//! The sharded store's unit tests: the group state machine's migration
//! rules, the single-owner check on hand-made notes, and whole runs.

use super::checks::ShardChecks;
use super::config::{Config, ConfigMachine, ConfigOp, ConfigRes};
use super::group::{shard_of, Applied, GroupMachine, GroupOp, GroupRes, ShardState};
use super::{Layout, Note, ShardKvOptions};
use crate::process::{Invariants, NodeId};
use crate::protocols::raft::kv::{KvOp, KvRes};
use crate::protocols::raft::StateMachine;
use crate::time::SimTime;
use std::rc::Rc;

const SHARDS: usize = 4;

fn config(num: u64, owners: &[u32]) -> Rc<Config> {
    let mut groups: Vec<u32> = owners.iter().copied().filter(|&g| g != 0).collect();
    groups.sort_unstable();
    groups.dedup();
    Rc::new(Config {
        num,
        groups,
        owners: owners.to_vec(),
    })
}

/// A key of `shard`.
fn key_in(shard: usize) -> String {
    (0..)
        .map(|k| k.to_string())
        .find(|k| shard_of(k, SHARDS) == shard)
        .unwrap()
}

fn append(shard: usize, value: &str) -> GroupOp {
    GroupOp::Client(KvOp::Append {
        key: key_in(shard).into(),
        value: value.into(),
    })
}

fn get(shard: usize) -> GroupOp {
    GroupOp::Client(KvOp::Get {
        key: key_in(shard).into(),
    })
}

fn internal(m: &mut GroupMachine, op: GroupOp) {
    assert_eq!(m.apply(u64::MAX, 0, &op), GroupRes::Internal);
}

#[test]
fn a_gained_shard_is_served_only_once_installed_with_its_sessions() {
    let mut old = GroupMachine::new(1, SHARDS);
    let mut new = GroupMachine::new(2, SHARDS);
    internal(&mut old, GroupOp::Reconfigure(config(1, &[1, 1, 1, 1])));
    internal(&mut new, GroupOp::Reconfigure(config(1, &[1, 1, 1, 1])));
    assert_eq!(old.apply(7, 1, &append(0, "a")), GroupRes::Kv(KvRes::Done));
    assert_eq!(new.apply(7, 2, &get(0)), GroupRes::WrongGroup);

    let next = config(2, &[2, 1, 1, 1]);
    internal(&mut old, GroupOp::Reconfigure(Rc::clone(&next)));
    internal(&mut new, GroupOp::Reconfigure(next));
    assert_eq!(old.shards()[0], ShardState::HandingOff { to: 2 });
    assert_eq!(new.shards()[0], ShardState::Pulling { from: 1 });
    assert_eq!(
        old.apply(7, 2, &get(0)),
        GroupRes::WrongGroup,
        "frozen at the old owner"
    );
    assert_eq!(
        new.apply(7, 2, &get(0)),
        GroupRes::WrongGroup,
        "not yet at the new one"
    );
    assert!(old.migrating() && new.migrating());

    internal(
        &mut new,
        GroupOp::Install {
            num: 2,
            shard: 0,
            data: Rc::new(old.data(0).clone()),
            sessions: Rc::new(old.sessions().clone()),
        },
    );
    assert_eq!(new.shards()[0], ShardState::Serving);
    // A retry of the command the old owner applied is recognized.
    assert_eq!(new.apply(7, 1, &append(0, "a")), GroupRes::Kv(KvRes::Done));
    let read = new.apply(7, 2, &get(0));
    assert_eq!(read, GroupRes::Kv(KvRes::Value("a".into())), "applied once");

    internal(&mut old, GroupOp::Drop { num: 2, shard: 0 });
    assert_eq!(old.shards()[0], ShardState::Absent);
    assert!(old.data(0).is_empty());
    assert!(!old.migrating());
    let observed = old.take_observed();
    assert!(observed.contains(&Applied::Dropped { shard: 0, num: 2 }));
}

#[test]
fn configurations_apply_in_order_and_only_between_migrations() {
    let mut m = GroupMachine::new(2, SHARDS);
    internal(&mut m, GroupOp::Reconfigure(config(2, &[2, 2, 2, 2])));
    assert_eq!(m.config().num, 0, "configuration 2 before 1 is ignored");
    internal(&mut m, GroupOp::Reconfigure(config(1, &[1, 1, 2, 2])));
    assert_eq!(
        m.shards()[2],
        ShardState::Serving,
        "a shard nobody owned is served at once"
    );
    internal(&mut m, GroupOp::Reconfigure(config(2, &[2, 2, 2, 2])));
    assert_eq!(m.shards()[0], ShardState::Pulling { from: 1 });
    internal(&mut m, GroupOp::Reconfigure(config(3, &[2, 2, 2, 2])));
    assert_eq!(m.config().num, 2, "no move while pulling");
    internal(
        &mut m,
        GroupOp::Install {
            num: 1,
            shard: 0,
            data: Rc::default(),
            sessions: Rc::default(),
        },
    );
    assert_eq!(
        m.shards()[0],
        ShardState::Pulling { from: 1 },
        "an install of another configuration is ignored"
    );
}

#[test]
fn a_copy_of_the_state_carries_no_observations() {
    let mut m = GroupMachine::new(1, SHARDS);
    internal(&mut m, GroupOp::Reconfigure(config(1, &[1, 1, 1, 1])));
    let copy = m.clone();
    assert!(copy.take_observed().is_empty());
    assert_eq!(m.take_observed(), vec![Applied::Reconfigured { num: 1 }]);
    assert_eq!(copy, m, "observations are not state");
}

#[test]
fn the_service_answers_queries_for_future_configurations_with_the_latest() {
    let mut m = ConfigMachine::new(SHARDS);
    m.apply(1, 1, &ConfigOp::Join(vec![1]));
    let ConfigRes::Config(c) = m.apply(1, 2, &ConfigOp::Query(5)) else {
        panic!("a query answers a configuration");
    };
    assert_eq!(c.num, 1);
}

fn checks() -> ShardChecks {
    let options = ShardKvOptions {
        shards: SHARDS,
        ..ShardKvOptions::default()
    };
    ShardChecks::new(&options, options.layout(1), SimTime::ZERO)
}

fn note_config(c: &mut ShardChecks, config: Rc<Config>) {
    c.on_note(SimTime::ZERO, NodeId(0), &Note::Config(config))
        .unwrap();
}

fn served(c: &mut ShardChecks, gid: u32, num: u64) -> Result<(), String> {
    let note = Note::Group {
        gid,
        applied: Applied::Served { shard: 0, num },
    };
    c.on_note(SimTime::ZERO, NodeId(3), &note)
        .map_err(|v| v.kind.unwrap_or_default())
}

fn reconfigured(c: &mut ShardChecks, gid: u32, num: u64) {
    let note = Note::Group {
        gid,
        applied: Applied::Reconfigured { num },
    };
    c.on_note(SimTime::ZERO, NodeId(3), &note).unwrap();
}

#[test]
fn the_single_owner_check_catches_a_non_owner_and_two_owners_at_once() {
    let mut c = checks();
    note_config(&mut c, config(0, &[0, 0, 0, 0]));
    note_config(&mut c, config(1, &[1, 1, 1, 1]));
    note_config(&mut c, config(2, &[2, 1, 1, 1]));
    assert_eq!(served(&mut c, 1, 1), Ok(()));
    assert_eq!(served(&mut c, 1, 2), Err("served-by-non-owner".into()));
    assert_eq!(served(&mut c, 2, 2), Ok(()));
    assert_eq!(served(&mut c, 1, 1), Err("served-by-two-groups".into()));
    // A replica of group 1 catching up on what the group applied before
    // it moved on is no second owner.
    reconfigured(&mut c, 1, 2);
    assert_eq!(served(&mut c, 1, 1), Ok(()));
}

#[test]
fn the_config_agreement_check_catches_two_versions_of_a_configuration() {
    let mut c = checks();
    note_config(&mut c, config(0, &[0, 0, 0, 0]));
    note_config(&mut c, config(1, &[1, 1, 1, 1]));
    let other = Note::Config(config(1, &[1, 1, 2, 2]));
    assert!(c.on_note(SimTime::ZERO, NodeId(1), &other).is_err());
}

#[test]
fn layout_numbers_the_service_then_the_groups_then_the_controller() {
    let layout = Layout {
        config_servers: 3,
        groups: 2,
        group_size: 3,
        clients: 2,
    };
    assert_eq!(layout.servers(), 9);
    assert_eq!(layout.group_of(NodeId(2)), Some(0));
    assert_eq!(layout.group_of(NodeId(3)), Some(1));
    assert_eq!(layout.group_of(NodeId(8)), Some(2));
    assert_eq!(layout.group_of(NodeId(9)), None);
    assert_eq!(layout.member(2, 4), NodeId(7));
    assert_eq!(layout.controller(), NodeId(9));
    assert_eq!(layout.client(1), NodeId(11));
}

fn run(extra: &str, seed: u64) -> crate::sim::RunResult {
    let text = format!(
        r#"
name = "shardkv-test"
protocol = "shardkv"
nodes = 12
duration = "6s"

[network]
latency = {{ dist = "uniform", min = "1ms", max = "10ms" }}

[workload]
clients = 4
interval = "20ms"
timeout = "2s"

[checks]
settle = "8s"

[shardkv]
changes = [{{ at = "1500ms", join = [3] }}, {{ at = "3500ms", leave = [1] }}]
{extra}
"#
    );
    let scenario = crate::scenario::Scenario::parse(&text, "shardkv-test.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    crate::run::run(&scenario, seed, crate::run::RunOptions::default())
}

fn metric(result: &crate::sim::RunResult, name: &str) -> u64 {
    result.metrics[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no metric {name}"))
}

#[test]
fn shards_move_on_a_join_and_a_leave_and_every_check_holds() {
    let result = run("", 3);
    assert!(result.violations.is_empty(), "{:#?}", result.violations);
    assert!(result.undecided.is_empty(), "{:#?}", result.undecided);
    assert!(
        matches!(result.end_reason, crate::sim::EndReason::Completed),
        "{:?}",
        result.end_reason
    );
    assert_eq!(metric(&result, "shardkv_changes_made"), 3);
    assert_eq!(metric(&result, "shardkv_configurations"), 3);
    assert!(
        metric(&result, "shardkv_shard_moves") >= 6,
        "a third of the shards move twice"
    );
    assert!(metric(&result, "shardkv_installs") >= 6);
    let (p50, max) = (
        metric(&result, "shardkv_migration_p50_ns"),
        metric(&result, "shardkv_migration_max_ns"),
    );
    assert!(
        0 < p50 && p50 <= max,
        "a move takes time: p50 {p50}, max {max}"
    );
    assert!(max < 5_000_000_000, "and ends well within the run: {max}");
    assert_eq!(result.metrics["shardkv_linearizability"], "linearizable");
}

#[test]
fn a_duplicated_answer_does_not_count_for_the_next_change() {
    use super::client::Controller;
    use super::{Msg, ShardNode};
    use crate::process::{Effect, Harness};
    use crate::protocols::raft::messages::{Answer, Msg as RaftMsg};
    let options = ShardKvOptions {
        changes: vec![super::Change {
            at: crate::time::SimDuration::from_secs(5),
            join: vec![3],
            leave: Vec::new(),
        }],
        ..ShardKvOptions::default()
    };
    let layout = options.layout(1);
    let controller = ShardNode::Controller(Controller::new(&options, layout));
    let servers: Vec<NodeId> = (0..layout.servers() as u32).map(NodeId).collect();
    let mut h = Harness::new(controller, layout.controller(), servers, 1);
    let sent = Effect::sends(&h.start());
    let [(_, Msg::Config(RaftMsg::Request { seq, .. }))] = sent.as_slice() else {
        panic!("the controller asks for the initial join: {sent:?}");
    };
    let done = Msg::Config(RaftMsg::Response {
        seq: *seq,
        outcome: Answer::Applied(ConfigRes::Done),
    });
    h.deliver(NodeId(0), done.clone());
    h.deliver(NodeId(0), done);
    let ShardNode::Controller(c) = &h.node else {
        unreachable!()
    };
    assert_eq!(
        (c.made(), c.planned()),
        (1, 2),
        "the join at 5 s is not made yet"
    );
}

#[test]
fn raft_safety_is_judged_per_group() {
    use crate::protocols::raft::messages::Note as RaftNote;
    let mut c = checks();
    let leader = |gid| Note::Raft {
        gid,
        note: RaftNote::Leader { term: 3 },
    };
    let layout = ShardKvOptions::default().layout(1);
    // The service's leader and group 1's in the same term: different groups.
    c.on_note(SimTime::ZERO, NodeId(0), &leader(0)).unwrap();
    c.on_note(SimTime::ZERO, layout.member(1, 0), &leader(1))
        .unwrap();
    // A second leader of term 3 in group 1 breaks election safety.
    let err = c
        .on_note(SimTime::ZERO, layout.member(1, 2), &leader(1))
        .expect_err("two leaders of one term in one group");
    assert_eq!(err.check, "shardkv.raft-safety");
    assert_eq!(err.kind.as_deref(), Some("election-safety"));
    assert!(err.message.contains("group 1"), "{}", err.message);
}
