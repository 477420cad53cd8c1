//! Unit tests of the Raft server by paper section, driving one node by hand
//! through [`crate::process::Harness`]: deliver a message or fire a timer,
//! look at what it sent and what it made durable.
//!
//! One file per section: `elections` (§5.1, §5.2, §5.4.1 and PreVote,
//! thesis §9.6), `replication` (§5.3 and the flow control), `commitment`
//! (§5.4.2 and Figure 8), `persistence` (Figure 2's durable state, and
//! the invariants asserted from it) and `embedding` (a server replicating
//! another state machine, inside another process). This file holds the
//! harness helpers they share.

mod commitment;
mod elections;
mod embedding;
mod persistence;
mod replication;

use super::kv::KvOp;
use super::log::{Command, Entry};
use super::messages::{Msg, Stored, Timer};
use super::server::{Role, Server};
use super::{RaftNode, ServerOptions};
use crate::process::{DiskKey, Effect, Harness, Invariants, NodeId, TimerId};
use crate::time::SimDuration;
use std::rc::Rc;

const N: usize = 5;

fn opts(pre_vote: bool) -> ServerOptions {
    ServerOptions {
        pre_vote,
        check_quorum: false,
        snapshot_every: 0,
        ..ServerOptions::default()
    }
}

fn server(me: u32, options: &ServerOptions) -> RaftNode {
    RaftNode::Server(Box::new(Server::new(options.clone(), NodeId(me), N)))
}

/// A harness for server `me` whose disk holds `term` and a log of `terms`.
fn node(
    me: u32,
    term: u64,
    terms: &[u64],
    options: &ServerOptions,
) -> (Harness<RaftNode>, TimerId) {
    let servers = (0..N as u32).map(NodeId).collect();
    let mut h = Harness::new(server(me, options), NodeId(me), servers, 7);
    h.disk.write(DiskKey::single("term"), Stored::Term(term));
    for (i, &t) in terms.iter().enumerate() {
        let e = Entry::new(t, Command::Noop);
        h.disk
            .write(DiskKey::new("log", i as u64 + 1), Stored::Entry(e));
    }
    h.disk.sync();
    let effects = h.start();
    let timer = election_timer(&effects).unwrap_or(TimerId(u64::MAX));
    (h, timer)
}

fn election_timer(effects: &[Effect<RaftNode>]) -> Option<TimerId> {
    effects.iter().rev().find_map(|e| match e {
        Effect::SetTimer {
            id,
            timer: Timer::Election,
            ..
        } => Some(*id),
        _ => None,
    })
}

/// Lets the election timeout pass on the node's clock, then fires `timer`.
fn time_out(h: &mut Harness<RaftNode>, timer: TimerId) -> Vec<Effect<RaftNode>> {
    h.now = h.now + SimDuration::from_secs(1);
    h.fire(timer, Timer::Election)
}

fn sent(effects: Vec<Effect<RaftNode>>) -> Vec<(NodeId, Msg)> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some((to, msg)),
            _ => None,
        })
        .collect()
}

fn srv(h: &Harness<RaftNode>) -> &Server {
    match h.node.server() {
        Some(s) => s,
        None => panic!("not a server"),
    }
}

fn log_terms(h: &Harness<RaftNode>) -> Vec<u64> {
    let log = srv(h).log();
    (1..=log.last_index())
        .filter_map(|i| log.term_at(i))
        .collect()
}

fn vote_reply(term: u64, granted: bool) -> Msg {
    Msg::VoteReply {
        term,
        granted,
        pre_vote: false,
    }
}

/// Elects `h` (pre_vote off) with votes from nodes 1 and 2.
fn elect(h: &mut Harness<RaftNode>, timer: TimerId) -> Vec<(NodeId, Msg)> {
    time_out(h, timer);
    let term = srv(h).term();
    h.deliver(NodeId(1), vote_reply(term, true));
    let out = sent(h.deliver(NodeId(2), vote_reply(term, true)));
    assert_eq!(srv(h).role(), Role::Leader);
    out
}

fn durable_term(h: &Harness<RaftNode>) -> Option<u64> {
    match h.disk.get(DiskKey::single("term")) {
        Some(Stored::Term(t)) => Some(*t),
        _ => None,
    }
}

fn success(term: u64, match_index: u64) -> Msg {
    Msg::AppendReply {
        term,
        success: true,
        match_index,
        conflict_term: None,
    }
}
