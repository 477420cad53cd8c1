//! The built-in broadcast protocol, unchanged, on a real network: three
//! nodes on UDP sockets on localhost, each in its own thread, with the
//! machine's clock for their timers. Each node is given five values by a
//! client; the run ends when every node has delivered all fifteen (or after
//! a time limit). `--loss P` drops that share of datagrams, so the
//! protocol's retransmission has work to do.
//!
//! `--data-dir DIR` puts each node's durable writes in a journal file
//! there (`DIR/n0.journal`, ...) instead of memory. A second run with
//! `--recover` gives no new values: each node starts from what its journal
//! holds, and they must deliver the fifteen values of the first run again.
//!
//! ```sh
//! cargo run --release --example udp
//! cargo run --release --example udp -- --loss 0.3
//! cargo run --release --example udp -- --data-dir /tmp/udp
//! cargo run --release --example udp -- --data-dir /tmp/udp --recover
//! ```
#![allow(clippy::disallowed_methods)] // threads and real time: this is not a simulation

mod driver;
pub mod journal;

use driver::{bind_localhost, UdpNode};
use faultline::process::{NodeId, RequestId};
use faultline::protocols::broadcast::{BroadcastNode, BroadcastOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const NODES: usize = 3;
const VALUES_PER_NODE: u64 = 5;
const LIMIT: Duration = Duration::from_secs(20);

/// How to run the nodes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The share of datagrams dropped.
    pub loss: f64,
    /// Where each node journals its durable writes (memory when `None`).
    pub data_dir: Option<PathBuf>,
    /// Give no new values: deliver what the journals hold.
    pub recover: bool,
}

fn main() {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    match run(&options) {
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

const USAGE: &str = "usage: udp [--loss P] [--data-dir DIR [--recover]]";

fn parse_args() -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--loss" => {
                let p = args.next().ok_or(USAGE)?;
                options.loss = match p.parse::<f64>() {
                    Ok(p) if (0.0..1.0).contains(&p) => p,
                    _ => return Err(format!("--loss {p:?}: expected a probability in [0, 1)")),
                };
            }
            "--data-dir" => options.data_dir = Some(args.next().ok_or(USAGE)?.into()),
            "--recover" => options.recover = true,
            _ => return Err(format!("unknown argument {flag:?}; {USAGE}")),
        }
    }
    if options.recover && options.data_dir.is_none() {
        return Err(format!("--recover needs --data-dir; {USAGE}"));
    }
    Ok(options)
}

/// Runs the nodes to completion; `Ok(true)` when every node delivered
/// every value.
pub fn run(options: &Options) -> std::io::Result<bool> {
    if let Some(dir) = &options.data_dir {
        std::fs::create_dir_all(dir)?;
    }
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
            let options = options.clone();
            std::thread::spawn(move || -> std::io::Result<(bool, UdpNode<BroadcastNode>)> {
                let me = NodeId(i as u32);
                let process = BroadcastNode::new(BroadcastOptions::default(), NODES);
                let journal = options.data_dir.map(|d| d.join(format!("n{i}.journal")));
                let mut node = UdpNode::new(
                    process,
                    me,
                    socket,
                    addrs,
                    7,
                    options.loss,
                    journal.as_deref(),
                )?;
                node.start()?;
                if !options.recover {
                    for k in 0..VALUES_PER_NODE {
                        let value = i as u64 * 100 + k;
                        node.request(RequestId(value), value)?;
                    }
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
