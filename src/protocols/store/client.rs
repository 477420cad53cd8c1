//! A store client: forwards each workload operation once to its home
//! replica and reports the reply (ok, or refused). No retries: a request
//! that gets no answer times out in the workload as "unknown".

use super::{Msg, Op, Record, Role, StoreNode, Timer};
use crate::process::{Ctx, Disk, NodeId, RequestId};
use std::collections::BTreeMap;

/// A client attached to one replica.
pub struct Client {
    home: NodeId,
    pending: BTreeMap<u64, RequestId>,
}

impl Client {
    /// A client of `home`.
    pub fn new(home: NodeId) -> Self {
        Client {
            home,
            pending: BTreeMap::new(),
        }
    }
}

impl Role for Client {
    fn start(&mut self, _ctx: &mut Ctx<'_, StoreNode>, _disk: &Disk<Record>) {}

    fn message(&mut self, ctx: &mut Ctx<'_, StoreNode>, _from: NodeId, msg: Msg) {
        if let Msg::Response { id, ok, value } = msg {
            if let Some(req) = self.pending.remove(&id) {
                if ok {
                    ctx.reply_ok(req, value);
                } else {
                    ctx.reply_fail(req, value);
                }
            }
        }
    }

    fn timer(&mut self, _ctx: &mut Ctx<'_, StoreNode>, _timer: Timer) {}

    fn request(&mut self, ctx: &mut Ctx<'_, StoreNode>, req: RequestId, op: Op) {
        self.pending.insert(req.0, req);
        ctx.send(self.home, Msg::Request { id: req.0, op });
    }
}
