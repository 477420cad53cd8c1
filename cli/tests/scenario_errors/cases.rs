//! The malformed scenarios and what each one's error must say.

use super::Case;

/// Every malformed scenario, by what is wrong with it.
pub(super) const CASES: &[Case] = &[
    // ----- unknown fields -------------------------------------------------------
    Case {
        name: "unknown-top-level-field",
        text: head!("colour = \"red\" # <- here\n"),
        field: Some("colour"),
        phrase: "unknown field `colour`, expected one of",
    },
    Case {
        name: "unknown-network-field",
        text: head!("[network]\nloss = 0.1\nlossy = 0.1 # <- here\n"),
        field: Some("network.lossy"),
        phrase: "unknown field `lossy`",
    },
    Case {
        name: "unknown-fault-field",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 0\n\
             [[faults]]\nat = \"2s\"\naction = \"crash\"\nnod = 1 # <- here\n"
        ),
        field: Some("faults[1].nod"),
        phrase: "unknown field `nod`, expected one of `at`, `action`, `node`",
    },
    Case {
        name: "unknown-section",
        text: head!("[zab] # <- here\nepoch_timeout = \"1s\"\n"),
        field: Some("zab"),
        phrase: "unknown field `zab`",
    },
    Case {
        name: "unknown-broadcast-option",
        text: head!("[broadcast]\ngossip = \"1s\" # <- here\n"),
        field: Some("broadcast.gossip"),
        phrase: "expected one of `gossip_interval`, `batch_max`, `persist`, `retransmit`",
    },
    // ----- types and values -----------------------------------------------------
    Case {
        name: "nodes-is-a-string",
        text: b"name = \"t\"\nprotocol = \"broadcast\"\nnodes = \"five\" # <- here\nduration = \"10s\"\n",
        field: Some("nodes"),
        phrase: "invalid type: string \"five\"",
    },
    Case {
        name: "nodes-is-zero",
        text: b"name = \"t\"\nprotocol = \"broadcast\"\nnodes = 0 # <- here\nduration = \"10s\"\n",
        field: Some("nodes"),
        phrase: "expected 1 to 1024 nodes, found 0",
    },
    Case {
        name: "duration-in-parsecs",
        text: b"name = \"t\"\nprotocol = \"broadcast\"\nnodes = 3\nduration = \"10 parsecs\" # <- here\n",
        field: Some("duration"),
        phrase: "expected a duration like \"150ms\"",
    },
    Case {
        name: "duration-without-unit",
        text: b"name = \"t\"\nprotocol = \"broadcast\"\nnodes = 3\nduration = \"5\" # <- here\n",
        field: Some("duration"),
        phrase: "(units: ns, us, ms, s, m, h), found \"5\"",
    },
    Case {
        name: "duration-as-integer",
        text: b"name = \"t\"\nprotocol = \"broadcast\"\nnodes = 3\nduration = 5 # <- here\n",
        field: Some("duration"),
        phrase: "expected a duration string",
    },
    Case {
        name: "negative-seed",
        text: head!("seed = -1 # <- here\n"),
        field: Some("seed"),
        phrase: "expected a non-negative integer",
    },
    Case {
        name: "node-is-a-float",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 1.5 # <- here\n"),
        field: Some("faults[0].node"),
        phrase: "expected a node index (0, 1, ...), a role name",
    },
    Case {
        name: "twopc-no-voter-out-of-range",
        text: b"name = \"t\"\nprotocol = \"twopc\"\nnodes = 3\nduration = \"10s\"\n[twopc]\ncooperative = true\nno_voter = 5 # <- here\n",
        field: Some("twopc.no_voter"),
        phrase: "expected no_voter to be a participant, 1 to 2",
    },
    Case {
        name: "twopc-too-few-nodes",
        text: b"name = \"t\"\nprotocol = \"twopc\"\nnodes = 2 # <- here\nduration = \"10s\"\n",
        field: Some("nodes"),
        phrase: "expected at least 3 nodes for twopc",
    },
    Case {
        name: "saga-order-flow-needs-six-nodes",
        text: b"name = \"t\"\nprotocol = \"saga\"\nnodes = 4 # <- here\nduration = \"10s\"\n",
        field: Some("nodes"),
        phrase: "expected exactly 6 nodes for the saga's order flow",
    },
    Case {
        name: "saga-probability-out-of-range",
        text: b"name = \"t\"\nprotocol = \"saga\"\nnodes = 6\nduration = \"10s\"\n[saga]\npayment_failure_probability = 1.5 # <- here\n",
        field: Some("saga.payment_failure_probability"),
        phrase: "expected payment_failure_probability from 0 to 1",
    },
    Case {
        name: "saga-unknown-bug",
        text: b"name = \"t\"\nprotocol = \"saga\"\nnodes = 6\nduration = \"10s\"\n[saga]\nbug = \"oops\" # <- here\n",
        field: Some("saga.bug"),
        phrase: "unknown variant `oops`, expected `compensate-forward`",
    },
    Case {
        name: "options-for-another-protocol",
        text: b"name = \"t\"\nprotocol = \"twopc\"\nnodes = 3\nduration = \"10s\"\n[saga] # <- here\nitems = 2\n",
        field: Some("saga"),
        phrase: "options for protocol \"saga\", but the scenario runs \"twopc\"",
    },
    Case {
        name: "unknown-protocol",
        text: b"name = \"t\"\nprotocol = \"zab\" # <- here\nnodes = 3\nduration = \"10s\"\n",
        field: Some("protocol"),
        phrase: "unknown protocol \"zab\": expected one of broadcast",
    },
    Case {
        name: "missing-top-level-field",
        text: b"protocol = \"broadcast\"\nnodes = 3\nduration = \"10s\"\n",
        field: Some("name"),
        phrase: "missing field `name`",
    },
    Case {
        name: "missing-fault-action",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 0\n[[faults]] # <- here\nat = \"2s\"\n"
        ),
        field: Some("faults[1].action"),
        phrase: "missing field `action`",
    },
    Case {
        name: "duplicate-key",
        text: head!("nodes = 4 # <- here\n"),
        field: Some("nodes"),
        phrase: "duplicate key",
    },
    Case {
        name: "unclosed-table-header",
        text: head!("[network # <- here\nloss = 0.1\n"),
        field: None,
        phrase: "unclosed table, expected `]`",
    },
    // ----- nodes ----------------------------------------------------------------
    Case {
        name: "fault-node-out-of-range",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 7 # <- here\n"),
        field: Some("faults[0].node"),
        phrase: "node index 7 is out of range: expected 0 to 2 (the scenario has 3 nodes)",
    },
    Case {
        name: "negative-fault-node",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"pause\"\nnode = -1 # <- here\n"),
        field: Some("faults[0].node"),
        phrase: "node index -1 is out of range",
    },
    Case {
        name: "link-node-out-of-range",
        text: head!("[[network.links]]\nfrom = 0\nto = 9 # <- here\nloss = 0.5\n"),
        field: Some("network.links[0].to"),
        phrase: "node index 9 is out of range",
    },
    Case {
        name: "link-to-itself",
        text: head!("[[network.links]]\nfrom = 1\nto = 1 # <- here\n"),
        field: Some("network.links[0].to"),
        phrase: "expected a link between two different nodes",
    },
    Case {
        name: "minority-out-of-range",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"partition\"\nshape = \"split\"\nminority = [0, 3] # <- here\n"
        ),
        field: Some("faults[0].minority"),
        phrase: "node index 3 is out of range",
    },
    Case {
        name: "role-for-protocol-without-roles",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = \"leader\" # <- here\n"),
        field: Some("faults[0].node"),
        phrase: "unknown node \"leader\": expected a node index, \"any\", \"hit:NAME\" (the node the fault named NAME hit), \"tag:TAG\" (a node the protocol tags) or a role (protocol broadcast has no roles)",
    },
    // ----- fault sequences ------------------------------------------------------
    Case {
        name: "heal-without-partition",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"heal\" # <- here\n"),
        field: Some("faults[0].action"),
        phrase: "heal without partition: expected an earlier partition fault",
    },
    Case {
        name: "heal-of-unknown-name",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"partition\"\nname = \"a\"\nshape = \"ring\"\n\
             [[faults]]\nat = \"2s\"\naction = \"heal\" # <- here\nname = \"b\"\n"
        ),
        field: Some("faults[1].name"),
        phrase: "heal of \"b\" without an earlier partition of that name",
    },
    Case {
        name: "restart-without-crash",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"restart\" # <- here\n"),
        field: Some("faults[0].action"),
        phrase: "restart without crash",
    },
    Case {
        name: "resume-without-pause",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"resume\" # <- here\nnode = 0\n"),
        field: Some("faults[0].action"),
        phrase: "resume without pause",
    },
    Case {
        name: "duplicate-partition-names",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"partition\"\nname = \"x\"\nshape = \"ring\"\n\
             [[faults]]\nat = \"2s\"\naction = \"partition\" # <- here\nname = \"x\"\nshape = \"isolate\"\nnode = 0\n"
        ),
        field: Some("faults[1].name"),
        phrase: "partition \"x\" is already active: expected a new name or a heal first",
    },
    Case {
        name: "fault-at-duration",
        text: head!("[[faults]]\nat = \"10s\" # <- here\naction = \"crash\"\nnode = 0\n"),
        field: Some("faults[0].at"),
        phrase: "10s is not before the end of the fault phase: expected a time below duration = 10s",
    },
    Case {
        name: "fault-after-duration",
        text: head!("[[faults]]\naction = \"crash\"\nnode = 0\nat = \"1m\" # <- here\n"),
        field: Some("faults[0].at"),
        phrase: "60s is not before the end of the fault phase",
    },
    // ----- fields against actions and shapes ------------------------------------
    Case {
        name: "groups-on-crash",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 1\ngroups = [[0], [1]] # <- here\n"
        ),
        field: Some("faults[0].groups"),
        phrase: "does not apply to action \"crash\": expected only node",
    },
    Case {
        name: "unknown-action",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"explode\" # <- here\n"),
        field: Some("faults[0].action"),
        phrase: "unknown action \"explode\": expected partition, heal, crash, restart, pause, resume or clock",
    },
    Case {
        name: "unknown-shape",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"partition\"\nshape = \"triangle\" # <- here\n"),
        field: Some("faults[0].shape"),
        phrase: "unknown shape \"triangle\": expected isolate, split, bridge, ring, around or groups",
    },
    Case {
        name: "isolate-without-node",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"partition\"\nshape = \"isolate\" # <- here\n"),
        field: Some("faults[0].node"),
        phrase: "missing: this shape needs the node",
    },
    Case {
        name: "node-on-ring",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"partition\"\nshape = \"ring\"\nnode = 1 # <- here\n"
        ),
        field: Some("faults[0].node"),
        phrase: "does not apply to this partition shape (ring)",
    },
    Case {
        name: "one-way-ring",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"partition\"\nshape = \"ring\"\none_way = true # <- here\n"
        ),
        field: Some("faults[0].one_way"),
        phrase: "one-way cuts apply to isolate, split and groups shapes only",
    },
    Case {
        name: "a-single-group",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"partition\"\ngroups = [[0, 1, 2]] # <- here\n"
        ),
        field: Some("faults[0].groups"),
        phrase: "expected at least two groups",
    },
    Case {
        name: "clock-offset-not-a-duration",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"clock\"\nnode = 0\noffset = \"fast\" # <- here\n"
        ),
        field: Some("faults[0].offset"),
        phrase: "expected a signed duration like \"-200ms\" or \"+1s\", found \"fast\"",
    },
    Case {
        // Regression: `abs()` of i64::MIN overflowed, and in release builds
        // the wrapped value passed the check and tripped the clock's assert.
        name: "clock-drift-i64-min",
        text: head!(
            "[[faults]]\nat = \"1s\"\naction = \"clock\"\nnode = 0\ndrift_ppm = -9223372036854775808 # <- here\n"
        ),
        field: Some("faults[0].drift_ppm"),
        phrase: "expected a drift between -499999 and 499999 ppm",
    },
    // ----- network --------------------------------------------------------------
    Case {
        name: "lost-sync-above-one",
        text: head!("[storage]\nlost_sync = 1.5 # <- here\n"),
        field: Some("storage.lost_sync"),
        phrase: "expected a probability between 0 and 1, found 1.5",
    },
    Case {
        name: "buggify-fire-negative",
        text: head!("[buggify]\nfire = -0.1 # <- here\n"),
        field: Some("buggify.fire"),
        phrase: "expected a probability between 0 and 1, found -0.1",
    },
    Case {
        name: "loss-above-one",
        text: head!("[network]\nloss = 1.5 # <- here\n"),
        field: Some("network.loss"),
        phrase: "expected a probability between 0 and 1, found 1.5",
    },
    Case {
        name: "negative-link-duplicate",
        text: head!("[[network.links]]\nfrom = 0\nto = 1\nduplicate = -0.1 # <- here\n"),
        field: Some("network.links[0].duplicate"),
        phrase: "expected a probability between 0 and 1",
    },
    Case {
        name: "latency-missing-field",
        text: head!("[network]\nlatency = { dist = \"uniform\", min = \"1ms\" } # <- here\n"),
        field: Some("network.latency.max"),
        phrase: "missing: dist = \"uniform\" needs min and max",
    },
    Case {
        name: "latency-extra-field",
        text: head!(
            "[network]\nlatency = { dist = \"constant\", value = \"1ms\", sigma = 0.5 } # <- here\n"
        ),
        field: Some("network.latency.sigma"),
        phrase: "does not apply to dist = \"constant\": expected value",
    },
    Case {
        name: "latency-without-dist",
        text: head!("[network]\nlatency = { min = \"1ms\", max = \"2ms\" } # <- here\n"),
        field: Some("network.latency.dist"),
        phrase: "missing field `dist`",
    },
    Case {
        name: "unknown-latency-dist",
        text: head!("[network]\nlatency = { dist = \"weibull\", mean = \"1ms\" } # <- here\n"),
        field: Some("network.latency.dist"),
        phrase: "unknown distribution \"weibull\": expected constant, uniform, normal",
    },
    Case {
        name: "uniform-min-above-max",
        text: head!(
            "[network]\nlatency = { dist = \"uniform\", min = \"9ms\", max = \"1ms\" } # <- here\n"
        ),
        field: Some("network.latency"),
        phrase: "expected min <= max",
    },
    Case {
        name: "paused-messages-policy",
        text: head!("[network]\npaused_messages = \"bounce\" # <- here\n"),
        field: Some("network.paused_messages"),
        phrase: "expected \"queue\" or \"drop\", found \"bounce\"",
    },
    // ----- nemesis, workload, checks --------------------------------------------
    Case {
        name: "nemesis-unknown-shape",
        text: head!(
            "[nemesis]\npartition = { every = \"3s\", duration = \"1s\" }\nshapes = [\"isolate\", \"hexagon\"] # <- here\n"
        ),
        field: Some("nemesis.shapes"),
        phrase: "unknown shape \"hexagon\": expected isolate, split, bridge or ring",
    },
    Case {
        name: "nemesis-zero-rate",
        text: head!("[nemesis]\ncrash = { every = \"0s\", duration = \"1s\" } # <- here\n"),
        field: Some("nemesis.crash"),
        phrase: "expected every > 0",
    },
    Case {
        name: "nemesis-skew-too-large",
        text: head!(
            "[nemesis]\nclock = { every = \"1s\", duration = \"1s\" }\nskew_max = \"3000000h\" # <- here\n"
        ),
        field: Some("nemesis.skew_max"),
        phrase: "expected a clock skew of at most",
    },
    Case {
        name: "workload-zero-interval",
        text: head!("[workload]\nclients = 2\ninterval = \"0s\" # <- here\n"),
        field: Some("workload.interval"),
        phrase: "expected an interval of at least 1us",
    },
    // ----- rates and sizes a run cannot hold (issue 11) ---------------------------
    Case {
        name: "workload-interval-1ns",
        text: head!("[workload]\nclients = 2\ninterval = \"1ns\" # <- here\n"),
        field: Some("workload.interval"),
        phrase: "expected an interval of at least 1us",
    },
    Case {
        name: "nemesis-every-1ns",
        text: head!("[nemesis]\ncrash = { every = \"1ns\", duration = \"1ns\" } # <- here\n"),
        field: Some("nemesis.crash"),
        phrase: "more than the limit of 100000: expected every of at least",
    },
    Case {
        name: "nemesis-every-1us",
        text: head!("[nemesis]\npartition = { every = \"1us\", duration = [\"1us\", \"2us\"] } # <- here\n"),
        field: Some("nemesis.partition"),
        phrase: "faults and repairs over the run",
    },
    Case {
        name: "swarm-every-1ns",
        text: head!("[swarm]\ncrash = { every = [\"1ns\", \"1s\"], duration = [\"1ns\", \"1s\"] } # <- here\n"),
        field: Some("swarm.crash"),
        phrase: "more than the limit of 100000",
    },
    Case {
        name: "max-pending-events-zero",
        text: head!("max_pending_events = 0 # <- here\n"),
        field: Some("max_pending_events"),
        phrase: "expected 1 to 8388608 pending events",
    },
    Case {
        name: "max-history-ops-too-many",
        text: head!("max_history_ops = 1000000000000 # <- here\n"),
        field: Some("max_history_ops"),
        phrase: "expected 1 to 10000000 operations",
    },
    Case {
        name: "raft-wall-clock-budget",
        text: b"name = \"t\"\nprotocol = \"raft\"\nnodes = 3\nduration = \"10s\"\n[raft]\nlinearizability_budget_ms = 2000 # <- here\n",
        field: Some("raft.linearizability_budget_ms"),
        phrase: "expected [checks] linearizability_steps",
    },
    // ----- placement -----------------------------------------------------------------
    Case {
        name: "placement-unknown",
        text: head!("[workload]\nplacement = \"nearest\" # <- here\n"),
        field: Some("workload.placement"),
        phrase: "unknown placement \"nearest\": expected protocol, fixed, round-robin or random",
    },
    Case {
        name: "placement-for-twopc",
        text: b"name = \"t\"\nprotocol = \"twopc\"\nnodes = 3\nduration = \"10s\"\n[workload]\nplacement = \"fixed\" # <- here\n",
        field: Some("workload.placement"),
        phrase: "protocol twopc places its own requests: every transaction goes to the coordinator (node 0)",
    },
    Case {
        name: "targets-without-placement",
        text: head!("[workload]\ntargets = [0] # <- here\n"),
        field: Some("workload.targets"),
        phrase: "applies only with placement",
    },
    Case {
        name: "targets-out-of-range",
        text: head!("[workload]\nplacement = \"fixed\"\ntargets = [0, 7] # <- here\n"),
        field: Some("workload.targets"),
        phrase: "node index 7 is out of range",
    },
    // ----- slow messages -----------------------------------------------------------------
    Case {
        name: "slow-without-share",
        text: head!("[network.slow] # <- here\nlatency = { dist = \"constant\", value = \"1s\" }\n"),
        field: Some("network.slow.share"),
        phrase: "missing: expected the share of messages that are slow",
    },
    Case {
        name: "slow-kind-unknown-to-raft",
        text: b"name = \"t\"\nprotocol = \"raft\"\nnodes = 3\nduration = \"10s\"\n[network.slow]\nshare = 0.1\nlatency = { dist = \"constant\", value = \"1s\" }\nkinds = [\"apend\"] # <- here\n",
        field: Some("network.slow.kinds"),
        phrase: "unknown message kind \"apend\": expected some of pre_vote, vote,",
    },
    Case {
        name: "slow-kinds-for-a-protocol-without-kinds",
        text: head!("[network.slow]\nshare = 0.1\nlatency = { dist = \"constant\", value = \"1s\" }\nkinds = [\"gossip\"] # <- here\n"),
        field: Some("network.slow.kinds"),
        phrase: "protocol broadcast names no message kinds",
    },
    Case {
        name: "failed-sync-above-one",
        text: head!("[storage]\nfailed_sync = 2.0 # <- here\n"),
        field: Some("storage.failed_sync"),
        phrase: "expected a probability between 0 and 1",
    },
    Case {
        name: "tag-unknown-to-raft",
        text: b"name = \"t\"\nprotocol = \"raft\"\nnodes = 3\nduration = \"10s\"\n[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = \"tag:lagging\" # <- here\n",
        field: Some("faults[0].node"),
        phrase: "unknown tag \"lagging\": expected one of behind",
    },
    Case {
        name: "tag-for-a-protocol-without-tags",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = \"tag:behind\" # <- here\n"),
        field: Some("faults[0].node"),
        phrase: "protocol broadcast tags no nodes",
    },
    Case {
        name: "restart-by-tag",
        text: b"name = \"t\"\nprotocol = \"raft\"\nnodes = 3\nduration = \"10s\"\n[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 1\n[[faults]]\nat = \"2s\"\naction = \"restart\"\nnode = \"tag:behind\" # <- here\n",
        field: Some("faults[1].node"),
        phrase: "a tag names a live server, never one that is down",
    },
    // ----- crashes right after a send ----------------------------------------------------
    Case {
        name: "crash-after-send-without-probability",
        text: head!("[nemesis]\ncrash_after_send = { down = [\"1ms\", \"5ms\"] } # <- here\n"),
        field: Some("nemesis.crash_after_send.probability"),
        phrase: "missing: expected the probability that a handler which sent an eligible message ends in a crash",
    },
    Case {
        name: "crash-after-send-probability-above-one",
        text: head!("[nemesis]\ncrash_after_send = { probability = 1.5 } # <- here\n"),
        field: Some("nemesis.crash_after_send.probability"),
        phrase: "expected a probability between 0 and 1",
    },
    Case {
        name: "crash-after-send-kind-unknown-to-raft",
        text: b"name = \"t\"\nprotocol = \"raft\"\nnodes = 3\nduration = \"10s\"\n[nemesis]\ncrash_after_send = { probability = 0.1, kinds = [\"vote_rply\"] } # <- here\n",
        field: Some("nemesis.crash_after_send.kinds"),
        phrase: "unknown message kind \"vote_rply\": expected some of pre_vote, vote,",
    },
    Case {
        name: "crash-after-send-down-reversed",
        text: head!("[nemesis]\ncrash_after_send = { probability = 0.1, down = [\"5ms\", \"1ms\"] } # <- here\n"),
        field: Some("nemesis.crash_after_send.down"),
        phrase: "expected a downtime range [min, max] with 0 < max <= 86400s and min <= max",
    },
    Case {
        name: "swarm-crash-after-send-not-a-range",
        text: head!("[swarm]\ncrash_after_send = [0.5, 0.1] # <- here\n"),
        field: Some("swarm.crash_after_send"),
        phrase: "expected [low, high] probabilities",
    },
    Case {
        name: "after-send-kind-unknown-to-raft",
        text: b"name = \"t\"\nprotocol = \"raft\"\nnodes = 3\nduration = \"10s\"\n[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 1\nafter_send = \"vote_rply\" # <- here\n",
        field: Some("faults[0].after_send"),
        phrase: "unknown message kind \"vote_rply\": expected \"any\" or one of pre_vote, vote,",
    },
    Case {
        name: "after-send-with-for",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 1\nafter_send = \"any\"\nfor = \"1s\" # <- here\n"),
        field: Some("faults[0].for"),
        phrase: "does not apply to action \"crash\": expected only node, name, after_send",
    },
    Case {
        name: "after-send-on-pause",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"pause\"\nnode = 1\nafter_send = \"any\" # <- here\n"),
        field: Some("faults[0].after_send"),
        phrase: "does not apply to action \"pause\"",
    },
    // ----- faults that last and repeat ------------------------------------------------
    Case {
        name: "for-on-heal",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"partition\"\nshape = \"split\"\n[[faults]]\nat = \"2s\"\naction = \"heal\"\nfor = \"1s\" # <- here\n"),
        field: Some("faults[1].for"),
        phrase: "does not apply to action \"heal\"",
    },
    Case {
        name: "for-zero",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 1\nfor = \"0s\" # <- here\n"),
        field: Some("faults[0].for"),
        phrase: "expected a duration above 0",
    },
    Case {
        name: "count-without-every",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 1\ncount = 3 # <- here\n"),
        field: Some("faults[0].count"),
        phrase: "applies only with every",
    },
    Case {
        name: "jitter-not-below-every",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 1\nfor = \"1s\"\nevery = \"2s\"\njitter = \"2s\" # <- here\n"),
        field: Some("faults[0].jitter"),
        phrase: "expected a jitter below every = 2s",
    },
    Case {
        name: "until-before-at",
        text: head!("[[faults]]\nat = \"3s\"\naction = \"crash\"\nnode = 1\nevery = \"1s\"\nuntil = \"2s\" # <- here\n"),
        field: Some("faults[0].until"),
        phrase: "expected a time after at = 3s",
    },
    Case {
        name: "too-many-repetitions",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 1\nevery = \"1us\" # <- here\n"),
        field: Some("faults[0].every"),
        phrase: "more than the limit of 100000",
    },
    Case {
        name: "hit-names-no-fault",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = 1\n[[faults]]\nat = \"2s\"\naction = \"restart\"\nnode = \"hit:nobody\" # <- here\n"),
        field: Some("faults[1].node"),
        phrase: "\"hit:nobody\" names no fault",
    },
    Case {
        name: "around-without-size",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"partition\"\nshape = \"around\" # <- here\nnode = 1\n"),
        field: Some("faults[0].size"),
        phrase: "missing: shape = \"around\" needs size",
    },
    Case {
        name: "around-size-all-servers",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"partition\"\nshape = \"around\"\nnode = 1\nsize = 3 # <- here\n"),
        field: Some("faults[0].size"),
        phrase: "expected 1 to 2 servers (fewer than all 3), found 3",
    },
    Case {
        name: "around-size-unknown",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"partition\"\nshape = \"around\"\nnode = 1\nsize = \"most\" # <- here\n"),
        field: Some("faults[0].size"),
        phrase: "unknown size \"most\"",
    },
    Case {
        name: "size-on-split",
        text: head!("[[faults]]\nat = \"1s\"\naction = \"partition\"\nshape = \"split\"\nsize = 2 # <- here\n"),
        field: Some("faults[0].size"),
        phrase: "does not apply to this partition shape",
    },
    Case {
        name: "progress-factor-below-one",
        text: head!("[checks]\nprogress_factor = 0.5 # <- here\n"),
        field: Some("checks.progress_factor"),
        phrase: "expected a factor of at least 1",
    },
    Case {
        name: "progress-window-too-short",
        text: head!("[checks]\nprogress_window = \"10us\" # <- here\n"),
        field: Some("checks.progress_window"),
        phrase: "expected a window of at least 1ms",
    },
    Case {
        name: "linearizability-steps-zero",
        text: head!("[checks]\nlinearizability_steps = 0 # <- here\n"),
        field: Some("checks.linearizability_steps"),
        phrase: "expected at least 1 step",
    },
    Case {
        name: "linearizability-memory-not-a-size",
        text: head!("[checks]\nlinearizability_memory = \"lots\" # <- here\n"),
        field: Some("checks.linearizability_memory"),
        phrase: "expected a number followed by a unit, found `lots`",
    },
    Case {
        name: "linearizability-memory-too-small",
        text: head!("[checks]\nlinearizability_memory = \"1KiB\" # <- here\n"),
        field: Some("checks.linearizability_memory"),
        phrase: "expected a size from 1MiB to 64GiB",
    },
    Case {
        name: "expect-check-with-expect-pass",
        text: head!(
            "[checks]\nexpect = \"pass\"\nexpect_check = \"broadcast.delivery\" # <- here\n"
        ),
        field: Some("checks.expect_check"),
        phrase: "applies only with expect = \"violation\"",
    },
    Case {
        name: "unknown-expect",
        text: head!("[checks]\nexpect = \"maybe\" # <- here\n"),
        field: Some("checks.expect"),
        phrase: "expected \"pass\" or \"violation\", found \"maybe\"",
    },
    Case {
        name: "unknown-enabled-check",
        text: head!("[checks]\nenabled = [\"broadcast.delivery\", \"nope\"] # <- here\n"),
        field: Some("checks.enabled"),
        phrase: "unknown check \"nope\": expected some of broadcast.integrity",
    },
    // ----- written twice --------------------------------------------------------
    Case {
        name: "duplicate-table",
        text: head!("[workload]\nclients = 1\n[network]\nloss = 0.1\n[workload] # <- here\nclients = 2\n"),
        field: Some("workload"),
        phrase: "the table [workload] appears twice (first at line 5)",
    },
    Case {
        name: "duplicate-key",
        text: head!("[workload]\nclients = 1\nclients = 2 # <- here\n"),
        field: Some("workload.clients"),
        phrase: "`clients` is set twice in the same table",
    },
    // ----- the file as a whole --------------------------------------------------
    Case {
        name: "empty-file",
        text: b"",
        field: None,
        phrase: "the file is empty: expected a scenario with at least `name`",
    },
    Case {
        name: "whitespace-only-file",
        text: b"  \n\t\n   \n",
        field: None,
        phrase: "the file is empty",
    },
    Case {
        name: "not-utf8",
        text: b"name = \"t\"\nprotocol = \"broad\xffcast\" # <- here\nnodes = 3\n",
        field: None,
        phrase: "the file is not valid UTF-8: expected a TOML text file",
    },
];
