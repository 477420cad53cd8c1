//! Unit tests of the queue's processes, each driven by hand.

use super::{AckWhen, Msg, Note, QueueNode, QueueOptions, Timer, BROKER, SINK};
use super::{Broker, Consumer, Sink};
use crate::process::{Effect, Harness, NodeId, TimerId};

const CONSUMER: NodeId = NodeId(2);
const PRODUCER: NodeId = NodeId(5);

fn harness(node: QueueNode, me: NodeId) -> Harness<QueueNode> {
    let servers = (0..5).map(NodeId).collect();
    let mut h = Harness::new(node, me, servers, 1);
    h.start();
    h
}

fn broker(options: &QueueOptions) -> Harness<QueueNode> {
    harness(QueueNode::Broker(Broker::new(options)), BROKER)
}

fn sent(effects: &[Effect<QueueNode>]) -> Vec<(NodeId, Msg)> {
    Effect::sends(effects)
}

fn notes(effects: &[Effect<QueueNode>]) -> Vec<Note> {
    Effect::notes(effects)
}

/// The delivery the broker's answer holds: (id, value, receipt).
fn delivered(effects: &[Effect<QueueNode>]) -> Option<(u64, u64, u64)> {
    sent(effects).into_iter().find_map(|(_, m)| match m {
        Msg::Deliver { id, value, receipt } => Some((id, value, receipt)),
        _ => None,
    })
}

fn receive(b: &mut Harness<QueueNode>) -> Vec<Effect<QueueNode>> {
    b.deliver(CONSUMER, Msg::Receive)
}

#[test]
fn the_broker_hides_a_delivery_until_its_timeout_and_deletes_it_when_acknowledged() {
    let mut b = broker(&QueueOptions::default());
    let put = b.deliver(PRODUCER, Msg::Put { op: 9, value: 70 });
    assert!(matches!(sent(&put)[..], [(PRODUCER, Msg::PutOk { op: 9 })]));
    assert_eq!(b.disk.unsynced(), 0, "stored and synced before the answer");
    let first = receive(&mut b);
    let (id, value, receipt) = delivered(&first).unwrap_or_else(|| panic!("{first:?}"));
    assert_eq!(value, 70);
    assert_eq!(
        notes(&first),
        [Note::Delivered {
            value: 70,
            delivery: 1
        }]
    );
    assert!(
        matches!(sent(&receive(&mut b))[..], [(_, Msg::Empty)]),
        "invisible while in flight"
    );
    b.fire(TimerId(0), Timer::Visible { id, receipt });
    let again = receive(&mut b);
    let (_, _, second) = delivered(&again).unwrap_or_else(|| panic!("{again:?}"));
    assert_ne!(second, receipt, "a new receipt per delivery");
    assert_eq!(
        notes(&again),
        [Note::Delivered {
            value: 70,
            delivery: 2
        }]
    );
    b.deliver(CONSUMER, Msg::Ack { id, receipt });
    b.fire(
        TimerId(0),
        Timer::Visible {
            id,
            receipt: second,
        },
    );
    let third = receive(&mut b);
    let (_, _, live) =
        delivered(&third).unwrap_or_else(|| panic!("an ack with an old receipt deletes nothing"));
    b.deliver(CONSUMER, Msg::Ack { id, receipt: live });
    b.fire(TimerId(0), Timer::Visible { id, receipt: live });
    assert!(
        matches!(sent(&receive(&mut b))[..], [(_, Msg::Empty)]),
        "acknowledged: deleted"
    );
}

#[test]
fn a_restarted_broker_delivers_again_what_was_in_flight_and_forgets_what_it_never_synced() {
    let mut b = broker(&QueueOptions::default());
    b.deliver(PRODUCER, Msg::Put { op: 1, value: 5 });
    assert!(delivered(&receive(&mut b)).is_some());
    b.crash_and_restart(QueueNode::Broker(Broker::new(&QueueOptions::default())));
    let after = receive(&mut b);
    assert!(
        matches!(notes(&after)[..], [Note::Delivered { value: 5, .. }]),
        "in flight at the crash: delivered again"
    );

    let lazy = QueueOptions {
        sync: false,
        ..QueueOptions::default()
    };
    let mut b = broker(&lazy);
    b.deliver(PRODUCER, Msg::Put { op: 1, value: 6 });
    b.crash_and_restart(QueueNode::Broker(Broker::new(&lazy)));
    assert!(
        matches!(sent(&receive(&mut b))[..], [(_, Msg::Empty)]),
        "acknowledged, never flushed, gone"
    );
}

#[test]
fn a_message_delivered_max_deliveries_times_goes_to_the_dead_letter_queue() {
    let options = QueueOptions {
        max_deliveries: 1,
        ..QueueOptions::default()
    };
    let mut b = broker(&options);
    b.deliver(PRODUCER, Msg::Put { op: 1, value: 8 });
    let (id, _, receipt) = delivered(&receive(&mut b)).unwrap_or_else(|| panic!("delivered"));
    b.fire(TimerId(0), Timer::Visible { id, receipt });
    let next = receive(&mut b);
    assert_eq!(notes(&next), [Note::DeadLettered { value: 8 }]);
    assert!(matches!(sent(&next)[..], [(_, Msg::Empty)]));
}

#[test]
fn an_idempotent_sink_applies_a_key_once_even_across_a_restart() {
    for idempotent in [false, true] {
        let options = QueueOptions {
            idempotent,
            ..QueueOptions::default()
        };
        let mut s = harness(QueueNode::Sink(Sink::new(&options)), SINK);
        let first = s.deliver(CONSUMER, Msg::Apply { value: 4 });
        assert_eq!(notes(&first), [Note::Applied { value: 4 }]);
        s.crash_and_restart(QueueNode::Sink(Sink::new(&options)));
        let again = s.deliver(CONSUMER, Msg::Apply { value: 4 });
        let want = if idempotent {
            Note::Deduplicated { value: 4 }
        } else {
            Note::Applied { value: 4 }
        };
        assert_eq!(notes(&again), [want]);
        assert!(matches!(
            sent(&again)[..],
            [(CONSUMER, Msg::Applied { value: 4 })]
        ));
    }
}

#[test]
fn a_consumer_acknowledges_after_applying_or_before_processing() {
    for ack in [AckWhen::After, AckWhen::Before] {
        let options = QueueOptions {
            ack,
            ..QueueOptions::default()
        };
        let mut c = harness(QueueNode::Consumer(Consumer::new(&options)), CONSUMER);
        let got = c.deliver(
            BROKER,
            Msg::Deliver {
                id: 1,
                value: 30,
                receipt: 2,
            },
        );
        let acked_at_once = sent(&got)
            .iter()
            .any(|(_, m)| matches!(m, Msg::Ack { id: 1, receipt: 2 }));
        assert_eq!(acked_at_once, ack == AckWhen::Before);
        let applying = c.fire(TimerId(0), Timer::Processed);
        assert!(matches!(
            sent(&applying)[..],
            [(SINK, Msg::Apply { value: 30 })]
        ));
        let done = sent(&c.deliver(SINK, Msg::Applied { value: 30 }));
        let acked_after = done
            .iter()
            .any(|(_, m)| matches!(m, Msg::Ack { id: 1, receipt: 2 }));
        assert_eq!(acked_after, ack == AckWhen::After);
        assert!(
            done.iter()
                .any(|(to, m)| *to == BROKER && matches!(m, Msg::Receive)),
            "and asks for the next"
        );
    }
}

#[test]
fn a_nack_makes_a_message_ready_again_at_once_and_a_poison_message_is_always_given_back() {
    let mut b = broker(&QueueOptions::default());
    b.deliver(PRODUCER, Msg::Put { op: 1, value: 100 });
    let (id, _, receipt) = delivered(&receive(&mut b)).unwrap_or_else(|| panic!("delivered"));
    b.deliver(CONSUMER, Msg::Nack { id, receipt });
    let again = receive(&mut b);
    assert!(
        matches!(
            notes(&again)[..],
            [Note::Delivered {
                value: 100,
                delivery: 2
            }]
        ),
        "{again:?}"
    );

    let options = QueueOptions {
        poison_every: 100,
        ..QueueOptions::default()
    };
    let mut c = harness(QueueNode::Consumer(Consumer::new(&options)), CONSUMER);
    for (value, poison) in [(100, true), (101, false)] {
        c.deliver(
            BROKER,
            Msg::Deliver {
                id: value,
                value,
                receipt: 1,
            },
        );
        let processed = sent(&c.fire(TimerId(0), Timer::Processed));
        let nacked = processed
            .iter()
            .any(|(to, m)| *to == BROKER && matches!(m, Msg::Nack { receipt: 1, .. }));
        let applied = processed
            .iter()
            .any(|(to, m)| *to == SINK && matches!(m, Msg::Apply { .. }));
        assert_eq!((nacked, applied), (poison, !poison), "value {value}");
        if !poison {
            c.deliver(SINK, Msg::Applied { value });
        }
    }
}
