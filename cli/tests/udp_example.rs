//! The liftable Process, proven: the built-in broadcast protocol, unchanged,
//! runs on real UDP sockets on localhost (`examples/udp`) and every node
//! delivers every value, with and without lost datagrams.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../examples/udp/main.rs"]
mod udp;

#[test]
fn broadcast_delivers_everything_over_real_udp() {
    assert!(udp::run(0.0).expect("the sockets work"));
}

#[test]
fn broadcast_retransmits_over_lossy_real_udp() {
    assert!(udp::run(0.6).expect("the sockets work"));
}
