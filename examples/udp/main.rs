//! The built-in broadcast protocol, unchanged, on a real network: three
//! nodes on UDP sockets on localhost, each in its own thread, with the
//! machine's clock for their timers. Each node is given five values by a
//! client; the run ends when every node has delivered all fifteen (or after
//! a time limit). `--loss P` drops that share of datagrams, so the
//! protocol's retransmission has work to do.
//!
//! ```sh
//! cargo run --release --example udp
//! cargo run --release --example udp -- --loss 0.3
//! ```
#![allow(clippy::disallowed_methods)] // threads and real time: this is not a simulation

mod driver;

use driver::{bind_localhost, UdpNode};
use faultline::process::{NodeId, RequestId};
use faultline::protocols::broadcast::{BroadcastNode, BroadcastOptions};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const NODES: usize = 3;
const VALUES_PER_NODE: u64 = 5;
const LIMIT: Duration = Duration::from_secs(20);

fn main() {
    let loss = match parse_loss() {
        Ok(loss) => loss,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    match run(loss) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("not every node delivered every value within {LIMIT:?}");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

fn parse_loss() -> Result<f64, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(0.0),
        [flag, p] if flag == "--loss" => match p.parse::<f64>() {
            Ok(p) if (0.0..1.0).contains(&p) => Ok(p),
            _ => Err(format!("--loss {p:?}: expected a probability in [0, 1)")),
        },
        _ => Err("usage: udp [--loss P]".into()),
    }
}

/// Runs the nodes to completion; `Ok(true)` when every node delivered
/// every value.
pub fn run(loss: f64) -> std::io::Result<bool> {
    let (sockets, addrs) = bind_localhost(NODES)?;
    let all: u64 = NODES as u64 * VALUES_PER_NODE;
    // A node that has every value keeps running (its peers may still need
    // its gossip) until every node has them.
    let complete = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let addrs = addrs.clone();
            let complete = Arc::clone(&complete);
            std::thread::spawn(move || -> std::io::Result<(bool, UdpNode<BroadcastNode>)> {
                let me = NodeId(i as u32);
                let process = BroadcastNode::new(BroadcastOptions::default(), NODES);
                let mut node = UdpNode::new(process, me, socket, addrs, 7, loss);
                node.start()?;
                for k in 0..VALUES_PER_NODE {
                    let value = i as u64 * 100 + k;
                    node.request(RequestId(value), value)?;
                }
                let mut counted = false;
                let everyone = node.run_until(LIMIT, |p| {
                    if !counted && p.delivered().len() as u64 == all {
                        counted = true;
                        complete.fetch_add(1, Ordering::SeqCst);
                    }
                    complete.load(Ordering::SeqCst) == NODES
                })?;
                Ok((everyone, node))
            })
        })
        .collect();
    let mut every = true;
    for (i, thread) in threads.into_iter().enumerate() {
        let (done, node) = thread
            .join()
            .map_err(|_| std::io::Error::other("a node's thread panicked"))??;
        let c = &node.counts;
        println!(
            "n{i}: delivered {}/{all}, datagrams sent {} dropped {} received {}, timers {}, replies {}",
            node.process().delivered().len(),
            c.sent,
            c.dropped,
            c.received,
            c.timers,
            c.replies
        );
        every &= done;
    }
    println!(
        "{}",
        if every {
            "every node delivered every value"
        } else {
            "incomplete"
        }
    );
    Ok(every)
}
