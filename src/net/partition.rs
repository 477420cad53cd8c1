//! Partitions: which directed links are cut. A partition is a set of cut
//! directed links; several may overlap, so each link keeps a count of the
//! partitions cutting it and is open only at zero.

use crate::process::NodeId;

/// Where to cut, resolved to concrete node ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The groups that can no longer talk to each other. Nodes in no group
    /// keep every link.
    pub groups: Vec<Vec<NodeId>>,
    /// If true, only messages *from* the first group to the others are cut:
    /// the others still reach the first group (it hears them, they don't hear it).
    pub one_way: bool,
}

impl Cut {
    /// The directed links `(from, to)` this cut blocks, among `n` processes.
    pub fn links(&self, n: usize) -> Vec<(usize, usize)> {
        let mut group_of = vec![usize::MAX; n];
        for (g, members) in self.groups.iter().enumerate() {
            for m in members {
                group_of[m.index()] = g;
            }
        }
        let mut links = Vec::new();
        for from in 0..n {
            for to in 0..n {
                let (gf, gt) = (group_of[from], group_of[to]);
                let blocked =
                    gf != usize::MAX && gt != usize::MAX && gf != gt && (!self.one_way || gf == 0);
                if blocked {
                    links.push((from, to));
                }
            }
        }
        links
    }
}

/// The cut relation among `n` processes.
#[derive(Clone, Debug)]
pub struct Partitions {
    n: usize,
    /// `cuts[from * n + to]`: how many active partitions block that link.
    cuts: Vec<u32>,
    /// Active partitions by name, in the order they began.
    active: Vec<(String, Vec<(usize, usize)>)>,
}

impl Partitions {
    /// No partitions among `n` processes.
    pub fn new(n: usize) -> Self {
        Partitions {
            n,
            cuts: vec![0; n * n],
            active: Vec::new(),
        }
    }

    /// True if a message from `from` to `to` is blocked now.
    #[inline]
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.cuts[from.index() * self.n + to.index()] > 0
    }

    /// Starts partition `name` with `cut`.
    pub fn start(&mut self, name: String, cut: &Cut) {
        let links = cut.links(self.n);
        for &(f, t) in &links {
            self.cuts[f * self.n + t] += 1;
        }
        self.active.push((name, links));
    }

    /// Heals partition `name`; returns false if no such partition is active.
    pub fn heal(&mut self, name: &str) -> bool {
        let Some(pos) = self.active.iter().position(|(n, _)| n == name) else {
            return false;
        };
        let (_, links) = self.active.remove(pos);
        for (f, t) in links {
            let count = &mut self.cuts[f * self.n + t];
            assert!(*count > 0, "partition link count underflow");
            *count -= 1;
        }
        true
    }

    /// Heals every partition; returns the names of those that were active.
    pub fn heal_all(&mut self) -> Vec<String> {
        let healed = self.active.drain(..).map(|(name, _)| name).collect();
        self.cuts.iter_mut().for_each(|c| *c = 0);
        healed
    }

    /// Number of active partitions.
    pub fn active(&self) -> usize {
        self.active.len()
    }
}

/// The named partition shapes, resolved over the server nodes `0..servers`.
pub mod shapes {
    use super::Cut;
    use crate::process::NodeId;

    fn ids(range: impl Iterator<Item = usize>) -> Vec<NodeId> {
        range.map(|i| NodeId(i as u32)).collect()
    }

    /// `node` alone against the other servers.
    pub fn isolate(node: NodeId, servers: usize, one_way: bool) -> Cut {
        let rest = ids((0..servers).filter(|&i| i != node.index()));
        Cut {
            groups: vec![vec![node], rest],
            one_way,
        }
    }

    /// A minority (the given nodes) against the majority (the rest).
    pub fn split(minority: &[NodeId], servers: usize, one_way: bool) -> Cut {
        let majority = ids((0..servers).filter(|i| !minority.iter().any(|m| m.index() == *i)));
        Cut {
            groups: vec![minority.to_vec(), majority],
            one_way,
        }
    }

    /// Two halves that cannot talk to each other, both reaching `bridge`.
    pub fn bridge(bridge: NodeId, servers: usize) -> Cut {
        let others: Vec<usize> = (0..servers).filter(|&i| i != bridge.index()).collect();
        let half = others.len() / 2;
        Cut {
            groups: vec![
                ids(others[..half].iter().copied()),
                ids(others[half..].iter().copied()),
            ],
            one_way: false,
        }
    }

    /// Each server reaches only its two ring neighbours (by id order).
    pub fn ring_links(servers: usize) -> Vec<(usize, usize)> {
        let mut links = Vec::new();
        for a in 0..servers {
            for b in 0..servers {
                let d = (a + servers - b) % servers;
                if a != b && d != 1 && d != servers - 1 {
                    links.push((a, b));
                }
            }
        }
        links
    }
}

impl Partitions {
    /// Starts partition `name` cutting exactly `links`.
    pub fn start_links(&mut self, name: String, links: Vec<(usize, usize)>) {
        for &(f, t) in &links {
            self.cuts[f * self.n + t] += 1;
        }
        self.active.push((name, links));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_cut_blocks_both_directions_between_groups_only() {
        let mut p = Partitions::new(4);
        p.start("p".into(), &shapes::split(&[NodeId(0)], 3, false));
        assert!(p.is_cut(NodeId(0), NodeId(1)) && p.is_cut(NodeId(1), NodeId(0)));
        assert!(!p.is_cut(NodeId(1), NodeId(2)));
        assert!(
            !p.is_cut(NodeId(3), NodeId(0)),
            "a node in no group keeps its links"
        );
    }

    #[test]
    fn overlapping_partitions_heal_independently() {
        let mut p = Partitions::new(3);
        p.start("a".into(), &shapes::isolate(NodeId(0), 3, false));
        p.start("b".into(), &shapes::isolate(NodeId(1), 3, false));
        assert!(p.heal("a"));
        assert!(p.is_cut(NodeId(1), NodeId(0)), "b still cuts 1 from 0");
        assert!(!p.heal("a"));
        assert_eq!(p.heal_all().len(), 1);
        assert!(!p.is_cut(NodeId(1), NodeId(0)));
    }

    #[test]
    fn ring_keeps_only_neighbours() {
        let links = shapes::ring_links(5);
        assert!(!links.contains(&(0, 1)) && !links.contains(&(0, 4)));
        assert!(links.contains(&(0, 2)) && links.contains(&(2, 0)));
        assert_eq!(links.len(), 5 * 2);
    }
}
