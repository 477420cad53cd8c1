//! Persistence (Figure 2): what a restart needs is synced before the node
//! answers and recovered from the disk alone; a disk that breaks the
//! server's invariants fails them as soon as the node starts.

use super::*;

/// Figure 2: everything a restart needs (term, vote, log) is synced before
/// the node answers, and a restart recovers it from the disk alone.
#[test]
fn persistence_restart_recovers_from_disk_only() {
    let o = opts(false);
    let (mut h, _) = node(1, 1, &[1], &o);
    let entries = vec![Entry::new(2, Command::Noop)];
    let out = sent(h.deliver(
        NodeId(0),
        Msg::Append {
            term: 2,
            prev_index: 1,
            prev_term: 1,
            entries,
            commit: 0,
        },
    ));
    assert!(matches!(
        out[0].1,
        Msg::AppendReply {
            success: true,
            match_index: 2,
            ..
        }
    ));
    assert_eq!(h.disk.unsynced(), 0, "the reply went out after the sync");
    h.crash_and_restart(server(1, &o));
    assert_eq!(srv(&h).term(), 2);
    assert_eq!(log_terms(&h), vec![1, 2]);
}

// ----- invariants asserted after every handler ---------------------------------------

/// A disk whose log has an entry of a term later than its durable term
/// (the term was not synced before the entries, a persistence bug) fails
/// the server's invariant as soon as it starts.
#[test]
#[should_panic(expected = "n0: the log holds an entry of term 3 in term 1")]
fn a_log_ahead_of_the_durable_term_fails_the_server_invariant() {
    node(0, 1, &[1, 3], &opts(true));
}

#[test]
fn a_consistent_disk_passes_the_server_invariant() {
    let (h, _) = node(0, 3, &[1, 3], &opts(true));
    h.node.server().expect("a server").assert_invariants();
}
