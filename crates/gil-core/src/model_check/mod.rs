//! Every interleaving, not a sample: a small exhaustive explorer and the models it checks.
//!
//! [`bfs`] walks a model's states breadth first, so the first bad state it meets is one that
//! the fewest steps reach, and the path to it is a *shortest* counterexample. [`gil`] checks
//! the GIL protocol itself ([`crate::protocol`], the very state machine the live lock and the
//! simulator run) for mutual exclusion, lost wake-ups, forced switching and bounded waiting;
//! `bytecode::explore` asks whether `counter += 1` can lose an update under each
//! version's check points.
//!
//! Why not a model-checking crate: the models are a few hundred states to a few hundred
//! thousand, a breadth-first walk is thirty lines and gives shortest counterexamples for free,
//! and a new dependency here would be compiled into every lesson and into `cargo xtask`.

pub mod gil;

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// What a breadth-first search found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search<A> {
    /// Distinct states visited (all reachable ones, unless it stopped at a bad one).
    pub explored: usize,
    /// The shortest path of actions from an initial state to a bad state, if one is reachable.
    pub counterexample: Option<Vec<A>>,
}

/// Visit every state reachable from `initial` through `successors`, breadth first, until
/// `bad` holds for one. States are told apart by `key` (which may forget what cannot change
/// the future, such as counters), so the walk ends on any model with finitely many keys.
pub fn bfs<S, A, K>(
    initial: Vec<S>,
    key: impl Fn(&S) -> K,
    mut successors: impl FnMut(&S, &mut Vec<(A, S)>),
    mut bad: impl FnMut(&S) -> bool,
) -> Search<A>
where
    A: Clone,
    K: Hash + Eq,
{
    // Every visited state's parent and the action that led to it, for the path back.
    let mut parents: Vec<(usize, Option<A>)> = Vec::new();
    let mut seen: HashSet<K> = HashSet::new();
    let mut queue: VecDeque<(S, usize)> = VecDeque::new();
    let path_to = |parents: &[(usize, Option<A>)], mut at: usize| {
        let mut path = Vec::new();
        while let (parent, Some(action)) = &parents[at] {
            path.push(action.clone());
            at = *parent;
        }
        path.reverse();
        path
    };
    for state in initial {
        if seen.insert(key(&state)) {
            parents.push((usize::MAX, None));
            let at = parents.len() - 1;
            if bad(&state) {
                return Search {
                    explored: seen.len(),
                    counterexample: Some(Vec::new()),
                };
            }
            queue.push_back((state, at));
        }
    }
    let mut next = Vec::new();
    while let Some((state, at)) = queue.pop_front() {
        successors(&state, &mut next);
        for (action, state) in next.drain(..) {
            if !seen.insert(key(&state)) {
                continue;
            }
            parents.push((at, Some(action)));
            let here = parents.len() - 1;
            if bad(&state) {
                return Search {
                    explored: seen.len(),
                    counterexample: Some(path_to(&parents, here)),
                };
            }
            queue.push_back((state, here));
        }
    }
    Search {
        explored: seen.len(),
        counterexample: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counting to 5 by +1 or +2: the shortest way is three steps.
    #[test]
    fn the_counterexample_is_a_shortest_path() {
        let found = bfs(
            vec![0u32],
            |&n| n,
            |&n, out| {
                if n < 10 {
                    out.push((1, n + 1));
                    out.push((2, n + 2));
                }
            },
            |&n| n == 5,
        );
        assert_eq!(found.counterexample.map(|p| p.len()), Some(3));
        let all = bfs(
            vec![0u32],
            |&n| n,
            |&n, out| out.extend((n < 10).then_some((1, n + 1))),
            |_| false,
        );
        assert_eq!((all.explored, all.counterexample), (11, None));
    }
}
