//! Finding the dependency cycles of a transaction graph and naming them as
//! Adya and Elle do: G0 (write cycles: `ww` edges only), G1c (`ww` and
//! `wr`, at least one `wr`), G-single (exactly one `rw` edge), G2 (more
//! than one), and `-realtime` and `-process` variants whose cycle needs a
//! realtime or process-order edge.
//! Strongly connected components (Tarjan's, iterative) decide whether a
//! class can have a cycle at all; a breadth-first search inside one
//! component finds a shortest explaining cycle. Every edge looked at is a
//! step against the budget: when it runs out the search stops, and the
//! classes it had not finished stay undecided.
use super::graph::{Dep, Edge};
use crate::check::{Deadline, Exhausted};
use std::collections::VecDeque;

/// One edge of an explaining cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The source transaction.
    pub from: usize,
    /// The edge (realtime chains through completion nodes shown as one).
    pub edge: Edge,
}

/// A cycle and its class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// `G0`, `G1c`, `G-single`, `G2`, or one of those with `-realtime` or
    /// `-process`.
    pub class: String,
    /// The edges, each starting where the previous ended.
    pub steps: Vec<Step>,
}

/// Examples kept per class; the count of components goes on past them.
pub const EXAMPLES_MAX: usize = 8;

/// The cycles found and how far the search got.
#[derive(Debug, Default)]
pub struct Found {
    /// Up to [`EXAMPLES_MAX`] cycles per class.
    pub cycles: Vec<Cycle>,
    /// Whether every class was searched to the end.
    pub complete: bool,
    /// The bound that stopped it, when it did not finish.
    pub exhausted: Option<Exhausted>,
    /// Steps taken.
    pub steps: u64,
}

/// Searches `edges` (nodes `0..txns` are transactions, the rest realtime
/// completion nodes) for cycles of every class, those through an `order`
/// edge (realtime or process) too, within `steps_max` steps and before
/// `deadline` (looked at every few hundred steps).
pub fn find(
    edges: &[Vec<Edge>],
    txns: usize,
    order: Option<Dep>,
    steps_max: u64,
    deadline: Option<&Deadline>,
) -> Found {
    let mut s = Searcher {
        edges,
        txns,
        order,
        steps: 0,
        steps_max,
        deadline,
        exhausted: None,
        found: Vec::new(),
    };
    let complete = s.search().is_some();
    Found {
        cycles: s.found,
        complete,
        exhausted: s.exhausted,
        steps: s.steps,
    }
}

/// Steps between two looks at the deadline.
const DEADLINE_EVERY: u64 = 256;

struct Searcher<'a> {
    edges: &'a [Vec<Edge>],
    txns: usize,
    order: Option<Dep>,
    steps: u64,
    steps_max: u64,
    deadline: Option<&'a Deadline>,
    exhausted: Option<Exhausted>,
    found: Vec<Cycle>,
}

/// `None` once the budget is spent.
type Budgeted<T> = Option<T>;

impl<'a> Searcher<'a> {
    fn step(&mut self) -> Budgeted<()> {
        self.steps += 1;
        if self.steps > self.steps_max {
            self.exhausted = Some(Exhausted::Steps {
                budget_steps: self.steps_max,
            });
            return None;
        }
        if let Some(d) = self.deadline {
            if self.steps % DEADLINE_EVERY == 0 && (d.expired)() {
                self.exhausted = Some(Exhausted::Timeout {
                    budget_ms: d.budget_ms,
                });
                return None;
            }
        }
        Some(())
    }

    fn keep(&mut self, class: String, steps: Vec<Step>) {
        if self.found.iter().filter(|c| c.class == class).count() < EXAMPLES_MAX {
            self.found.push(Cycle { class, steps });
        }
    }

    fn search(&mut self) -> Budgeted<()> {
        const WW: &[Dep] = &[Dep::Ww];
        const WWR: &[Dep] = &[Dep::Ww, Dep::Wr];
        const DATA: &[Dep] = &[Dep::Ww, Dep::Wr, Dep::Rw];
        // G0: a component of ww edges.
        let comp = self.components(WW)?;
        for root in first_of_each(&comp, self.txns) {
            let edges = self.edges;
            let inside = edges[root]
                .iter()
                .find(|e| e.dep == Dep::Ww && comp[e.to] == comp[root]);
            if let Some(first) = inside {
                let path = self.path(first.to, root, WW, &comp)?;
                self.keep("G0".into(), cycle(root, first.clone(), path));
            }
        }
        // G1c: a wr edge inside a component of ww and wr edges.
        let comp = self.components(WWR)?;
        let mut done = vec![false; self.edges.len()];
        for (a, e) in self.inside(Dep::Wr, &comp)? {
            if !std::mem::replace(&mut done[comp[a]], true) {
                let path = self.path(e.to, a, WWR, &comp)?;
                self.keep("G1c".into(), cycle(a, e.clone(), path));
            }
        }
        // G-single, then G2: an rw edge inside a component of data edges,
        // closed by ww/wr edges only (one rw) or by any (more than one).
        let data = self.components(DATA)?;
        let rw = self.inside(Dep::Rw, &data)?;
        let mut single = vec![false; self.edges.len()];
        for &(a, e) in &rw {
            if single[data[a]] {
                continue;
            }
            if let Some(path) = self.path(e.to, a, WWR, &data)? {
                single[data[a]] = true;
                self.keep("G-single".into(), cycle(a, e.clone(), Some(path)));
            }
        }
        let mut done = single;
        for (a, e) in rw {
            if !std::mem::replace(&mut done[data[a]], true) {
                let path = self.path(e.to, a, DATA, &data)?;
                self.keep("G2".into(), cycle(a, e.clone(), path));
            }
        }
        // A cycle through an order edge (realtime or process).
        if let Some(order) = self.order {
            let all = [Dep::Ww, Dep::Wr, Dep::Rw, order];
            let comp = self.components(&all)?;
            let mut done = vec![false; self.edges.len()];
            for (a, e) in self.inside(order, &comp)? {
                if std::mem::replace(&mut done[comp[a]], true) {
                    continue;
                }
                let Some(path) = self.path(e.to, a, &all, &comp)? else {
                    continue;
                };
                let steps = cycle(a, e.clone(), Some(path));
                let class = order_class(&steps, order);
                self.keep(class, collapse_realtime(steps, self.txns));
            }
        }
        Some(())
    }

    /// Every edge of kind `dep` from a transaction to a node of its own
    /// component (so on some cycle), a step per edge looked at.
    fn inside(&mut self, dep: Dep, comp: &[usize]) -> Budgeted<Vec<(usize, &'a Edge)>> {
        let edges = self.edges;
        let mut out = Vec::new();
        for (a, list) in edges.iter().enumerate().take(self.txns) {
            for e in list {
                self.step()?;
                if e.dep == dep && comp[e.to] == comp[a] {
                    out.push((a, e));
                }
            }
        }
        Some(out)
    }

    /// Component ids over edges of `deps` (Tarjan's algorithm, iterative).
    fn components(&mut self, deps: &[Dep]) -> Budgeted<Vec<usize>> {
        let n = self.edges.len();
        const NONE: usize = usize::MAX;
        let mut index = vec![NONE; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut comp = vec![NONE; n];
        let mut stack = Vec::new();
        let mut next_index = 0;
        let mut next_comp = 0;
        for root in 0..n {
            if index[root] != NONE {
                continue;
            }
            // (node, position in its edge list)
            let mut call = vec![(root, 0usize)];
            index[root] = next_index;
            low[root] = next_index;
            next_index += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut i)) = call.last_mut() {
                if let Some(e) = self.edges[v].get(*i) {
                    *i += 1;
                    self.step()?;
                    if !deps.contains(&e.dep) {
                        continue;
                    }
                    let w = e.to;
                    if index[w] == NONE {
                        index[w] = next_index;
                        low[w] = next_index;
                        next_index += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        call.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp[w] = next_comp;
                        if w == v {
                            break;
                        }
                    }
                    next_comp += 1;
                }
            }
        }
        Some(comp)
    }

    /// A shortest path from `from` to `to` over `deps` edges, inside their
    /// common component; `Some(None)` when there is none.
    fn path(
        &mut self,
        from: usize,
        to: usize,
        deps: &[Dep],
        comp: &[usize],
    ) -> Budgeted<Option<Vec<Step>>> {
        if from == to {
            return Some(Some(Vec::new()));
        }
        let mut parent: std::collections::BTreeMap<usize, (usize, usize)> = Default::default();
        let mut queue = VecDeque::from([from]);
        while let Some(v) = queue.pop_front() {
            for (k, e) in self.edges[v].iter().enumerate() {
                self.step()?;
                if !deps.contains(&e.dep) || comp[e.to] != comp[from] {
                    continue;
                }
                if e.to == from || parent.contains_key(&e.to) {
                    continue;
                }
                parent.insert(e.to, (v, k));
                if e.to == to {
                    let mut steps = Vec::new();
                    let mut at = to;
                    while at != from {
                        let (p, k) = parent[&at];
                        steps.push(Step {
                            from: p,
                            edge: self.edges[p][k].clone(),
                        });
                        at = p;
                    }
                    steps.reverse();
                    return Some(Some(steps));
                }
                queue.push_back(e.to);
            }
        }
        Some(None)
    }
}

/// The first transaction of every component with more than one member.
fn first_of_each(comp: &[usize], txns: usize) -> Vec<usize> {
    let mut size = std::collections::BTreeMap::new();
    for &c in &comp[..txns] {
        *size.entry(c).or_insert(0usize) += 1;
    }
    let mut seen = std::collections::BTreeSet::new();
    (0..txns)
        .filter(|&t| size[&comp[t]] > 1 && seen.insert(comp[t]))
        .collect()
}

fn cycle(from: usize, first: Edge, rest: Option<Vec<Step>>) -> Vec<Step> {
    let mut steps = vec![Step { from, edge: first }];
    steps.extend(rest.unwrap_or_default());
    steps
}

/// The class of a cycle through an `order` edge, by its data edges.
fn order_class(steps: &[Step], order: Dep) -> String {
    let count = |d| steps.iter().filter(|s| s.edge.dep == d).count();
    let base = match (count(Dep::Rw), count(Dep::Wr)) {
        (0, 0) => "G0",
        (0, _) => "G1c",
        (1, _) => "G-single",
        _ => "G2",
    };
    format!("{base}-{}", order.name())
}

/// Shows a realtime chain through completion nodes as one edge between
/// the transactions at its ends.
fn collapse_realtime(steps: Vec<Step>, txns: usize) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for s in steps {
        match out.last_mut() {
            Some(last) if last.edge.to >= txns => last.edge.to = s.edge.to,
            _ => out.push(s),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::first_of_each;

    #[test]
    fn only_components_of_several_transactions_are_searched_for_cycles() {
        // Transactions 0 and 2 share component 5; 1 and 3 are alone.
        assert_eq!(first_of_each(&[5, 7, 5, 9], 4), [0]);
        assert!(first_of_each(&[1, 2, 3], 3).is_empty());
        // Entries past `txns` (other graph nodes) are not transactions.
        assert_eq!(first_of_each(&[4, 4, 6, 6], 2), [0]);
    }
}
