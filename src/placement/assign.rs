//! Assigning a fixed set of shards to replica groups, as a sharded store's
//! configuration service does on every join and leave (the shape of the
//! MIT 6.5840 shard controller): every shard owned by a group that exists,
//! loads within one of each other, and as few shards moved as that allows.
//! Deterministic: the result depends only on the current assignment and
//! the set of groups, never on iteration order of a hash map.

use std::collections::BTreeMap;

/// A group's id.
pub type GroupId = u32;

/// The next assignment of shards to `groups`, from `current` (shard
/// index → owner; `None`: unowned).
///
/// - With no groups, every shard is unowned.
/// - Otherwise every shard goes to one of `groups`, each group holding
///   `S / G` or `S / G + 1` of the `S` shards.
/// - A shard moves only if its owner left or holds more than its quota;
///   the groups that keep the larger quota are those holding the most
///   shards now (ties: the lower id), so a join takes shards only for the
///   new group and a leave gives only the leaver's shards away.
pub fn rebalance(current: &[Option<GroupId>], groups: &[GroupId]) -> Vec<Option<GroupId>> {
    let mut groups = groups.to_vec();
    groups.sort_unstable();
    groups.dedup();
    if groups.is_empty() {
        return vec![None; current.len()];
    }
    let mut owned: BTreeMap<GroupId, Vec<usize>> =
        groups.iter().map(|&g| (g, Vec::new())).collect();
    let mut free = Vec::new();
    for (shard, owner) in current.iter().enumerate() {
        match owner.and_then(|g| owned.get_mut(&g)) {
            Some(shards) => shards.push(shard),
            None => free.push(shard),
        }
    }
    let (base, extra) = (current.len() / groups.len(), current.len() % groups.len());
    // The `extra` groups holding the most now keep one more than `base`.
    let mut by_load: Vec<GroupId> = groups.clone();
    by_load.sort_by_key(|g| (std::cmp::Reverse(owned[g].len()), *g));
    let quota: BTreeMap<GroupId, usize> = by_load
        .iter()
        .enumerate()
        .map(|(rank, &g)| (g, base + usize::from(rank < extra)))
        .collect();
    // Over-quota groups give up their highest shards.
    for (g, shards) in owned.iter_mut() {
        while shards.len() > quota[g] {
            free.extend(shards.pop());
        }
    }
    free.sort_unstable();
    // Under-quota groups, lowest id first, take the lowest free shards.
    let mut next = free.into_iter();
    for g in &groups {
        let shards = owned.get_mut(g).expect("every group has a list");
        while shards.len() < quota[g] {
            match next.next() {
                Some(shard) => shards.push(shard),
                None => break,
            }
        }
    }
    let mut out = vec![None; current.len()];
    for (g, shards) in owned {
        for shard in shards {
            out[shard] = Some(g);
        }
    }
    assert!(
        out.iter().all(Option::is_some),
        "every shard assigned: {out:?}"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert, prop_assert_eq, proptest};

    fn loads(assignment: &[Option<GroupId>], groups: &[GroupId]) -> Vec<usize> {
        groups
            .iter()
            .map(|g| assignment.iter().filter(|o| **o == Some(*g)).count())
            .collect()
    }

    #[test]
    fn the_first_group_takes_every_shard_and_a_second_takes_half() {
        let one = rebalance(&[None; 10], &[7]);
        assert_eq!(one, vec![Some(7); 10]);
        let two = rebalance(&one, &[7, 9]);
        assert_eq!(loads(&two, &[7, 9]), vec![5, 5]);
        // Group 7 gave up its highest shards.
        assert_eq!(&two[..5], &[Some(7); 5]);
        assert_eq!(&two[5..], &[Some(9); 5]);
        // The last group leaving leaves every shard unowned.
        assert_eq!(rebalance(&two, &[]), vec![None; 10]);
    }

    #[test]
    fn a_join_takes_only_for_the_new_group_whoever_holds_the_extra_shards() {
        // Balanced, the extra shards on the highest ids (round-robin from
        // the top): a join must still move shards only to the newcomer.
        for shards in 1..30usize {
            for count in 1..6u32 {
                let groups: Vec<GroupId> = (0..count).collect();
                let before: Vec<Option<GroupId>> = (0..shards)
                    .map(|s| Some(count - 1 - (s as u32 % count)))
                    .collect();
                let mut joined = groups.clone();
                joined.push(count);
                let after = rebalance(&before, &joined);
                for s in 0..shards {
                    assert!(
                        after[s] == before[s] || after[s] == Some(count),
                        "{shards} shards, {count} groups: shard {s} moved {:?} -> {:?}",
                        before[s],
                        after[s]
                    );
                }
            }
        }
    }

    proptest! {
        /// Every shard is owned by a current group, loads are within one
        /// of each other, and rebalancing a balanced assignment moves
        /// nothing.
        #[test]
        fn assignments_are_complete_balanced_and_stable(
            shards in 1usize..40,
            groups in proptest::collection::btree_set(0u32..20, 1..8),
            seed in proptest::collection::vec(proptest::option::of(0u32..20), 40),
        ) {
            let groups: Vec<GroupId> = groups.into_iter().collect();
            let current = &seed[..shards];
            let next = rebalance(current, &groups);
            prop_assert!(next.iter().all(|o| o.is_some_and(|g| groups.contains(&g))));
            let loads = loads(&next, &groups);
            let (lo, hi) = (loads.iter().min().copied(), loads.iter().max().copied());
            prop_assert!(hi.unwrap_or(0) - lo.unwrap_or(0) <= 1, "{:?}", loads);
            prop_assert_eq!(rebalance(&next, &groups), next);
        }

        /// A join moves shards only to the new group, and no more than
        /// its share; a leave moves only the leaver's shards.
        #[test]
        fn joins_and_leaves_move_only_what_they_must(
            shards in 1usize..40,
            groups in proptest::collection::btree_set(0u32..20, 1..8),
            newcomer in 0u32..30,
            seed in proptest::collection::vec(proptest::option::of(0u32..20), 40),
        ) {
            let groups: Vec<GroupId> = groups.into_iter().collect();
            if groups.contains(&newcomer) {
                return Ok(());
            }
            // Balanced from any start, so the groups holding one more than
            // the others are not always the lowest ids.
            let before = rebalance(&seed[..shards], &groups);
            let mut joined_groups = groups.clone();
            joined_groups.push(newcomer);
            let joined = rebalance(&before, &joined_groups);
            let moved: Vec<usize> = (0..shards).filter(|&s| before[s] != joined[s]).collect();
            prop_assert!(moved.iter().all(|&s| joined[s] == Some(newcomer)));
            prop_assert!(moved.len() <= shards.div_ceil(joined_groups.len()));
            let left = rebalance(&joined, &groups);
            for s in 0..shards {
                if joined[s] != Some(newcomer) {
                    prop_assert_eq!(left[s], joined[s], "shard {} moved on a leave", s);
                }
            }
        }
    }
}
