//! Choosing a replica among those with a free slot: ebb's rule, or Knative's activator's.
//!
//! ebb uses least in-flight of two random choices at every `containerConcurrency`: two
//! distinct candidates are drawn among the eligible replicas (ready, with a free slot) and the
//! less loaded wins. Knative's activator uses that only at `containerConcurrency` 0; at 1–3 it
//! takes the first replica with a free slot, above 3 it goes round robin over those with one
//! (kpa.md §9.4). Both ignore how loaded a replica is once it has a free slot, so a replica
//! busy with long requests gets as many new ones as an idle one (round robin), or the first
//! replica fills before the next gets any (first free) — what least-of-two avoids.
//!
//! Pure: the randomness is a small seeded generator, the round-robin cursor plain state.

use crate::config::Balancing;

/// The rule one service balances by: fixed by the gateway's [`Balancing`] and its
/// `containerConcurrency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    LeastOfTwo,
    FirstFree,
    RoundRobin,
}

impl Rule {
    pub(crate) fn new(balancing: Balancing, container_concurrency: u32) -> Rule {
        match (balancing, container_concurrency) {
            (Balancing::LeastOfTwo, _) | (Balancing::Knative, 0) => Rule::LeastOfTwo,
            (Balancing::Knative, 1..=3) => Rule::FirstFree,
            (Balancing::Knative, _) => Rule::RoundRobin,
        }
    }
}

/// One service's balancer: its rule and the state the rule keeps between picks.
#[derive(Debug, Clone)]
pub(crate) struct Balancer {
    rule: Rule,
    rng: Rng,
    /// Round robin: where the next search starts.
    cursor: usize,
}

impl Balancer {
    pub(crate) fn new(rule: Rule, seed: u64) -> Self {
        Balancer {
            rule,
            rng: Rng::new(seed),
            cursor: 0,
        }
    }

    /// A replica for one request among `len`, where `load(i)` is replica `i`'s in-flight
    /// count, or `None` when it cannot take a request now.
    pub(crate) fn pick(
        &mut self,
        len: usize,
        load: impl Fn(usize) -> Option<u32>,
    ) -> Option<usize> {
        match self.rule {
            Rule::LeastOfTwo => least_of_two(len, load, &mut self.rng),
            Rule::FirstFree => (0..len).find(|&i| load(i).is_some()),
            Rule::RoundRobin => {
                // The replica list may have shrunk since the last pick.
                if self.cursor >= len {
                    self.cursor = 0;
                }
                let start = self.cursor;
                let i = (0..len)
                    .map(|k| (start + k) % len)
                    .find(|&i| load(i).is_some())?;
                self.cursor = i + 1;
                Some(i)
            }
        }
    }
}

/// The less loaded of two distinct eligible replicas drawn at random.
fn least_of_two(len: usize, load: impl Fn(usize) -> Option<u32>, rng: &mut Rng) -> Option<usize> {
    let eligible = (0..len).filter(|&i| load(i).is_some()).count();
    let nth = |n: usize| (0..len).filter(|&i| load(i).is_some()).nth(n);
    match eligible {
        0 => None,
        1 => nth(0),
        n => {
            let a = rng.below(n);
            let mut b = rng.below(n - 1);
            if b >= a {
                b += 1;
            }
            let (a, b) = (nth(a)?, nth(b)?);
            if load(b)? < load(a)? {
                Some(b)
            } else {
                Some(a)
            }
        }
    }
}

/// SplitMix64: tiny, fast, good enough to spread load; not for anything secret.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_eligible_means_none() {
        let mut rng = Rng::new(1);
        assert_eq!(least_of_two(0, |_| Some(0), &mut rng), None);
        assert_eq!(least_of_two(3, |_| None, &mut rng), None);
    }

    #[test]
    fn the_only_eligible_one_is_chosen() {
        let mut rng = Rng::new(1);
        let loads = [None, Some(7), None];
        for _ in 0..20 {
            assert_eq!(least_of_two(3, |i| loads[i], &mut rng), Some(1));
        }
    }

    #[test]
    fn of_two_the_less_loaded_always_wins() {
        let mut rng = Rng::new(42);
        let loads = [Some(5), Some(2)];
        for _ in 0..100 {
            assert_eq!(least_of_two(2, |i| loads[i], &mut rng), Some(1));
        }
    }

    #[test]
    fn the_most_loaded_of_many_is_never_chosen_and_the_rest_share() {
        let mut rng = Rng::new(7);
        let loads = [Some(9), Some(1), Some(1), None, Some(1)];
        let mut counts = [0; 5];
        for _ in 0..3000 {
            counts[least_of_two(5, |i| loads[i], &mut rng).unwrap()] += 1;
        }
        assert_eq!(counts[0], 0);
        assert_eq!(counts[3], 0);
        // equal loads: ties go to the first draw, so each gets about a third
        for i in [1, 2, 4] {
            assert!((700..1300).contains(&counts[i]), "{counts:?}");
        }
    }

    #[test]
    fn knative_balances_by_its_activators_rule_for_the_container_concurrency() {
        use Balancing::{Knative, LeastOfTwo};
        assert_eq!(Rule::new(Knative, 0), Rule::LeastOfTwo);
        assert_eq!(Rule::new(Knative, 1), Rule::FirstFree);
        assert_eq!(Rule::new(Knative, 3), Rule::FirstFree);
        assert_eq!(Rule::new(Knative, 4), Rule::RoundRobin);
        assert_eq!(Rule::new(Knative, 100), Rule::RoundRobin);
        for cc in [0, 1, 3, 4, 100] {
            assert_eq!(Rule::new(LeastOfTwo, cc), Rule::LeastOfTwo);
        }
    }

    #[test]
    fn first_free_takes_the_first_replica_with_a_free_slot_whatever_its_load() {
        let mut balancer = Balancer::new(Rule::FirstFree, 1);
        assert_eq!(
            balancer.pick(3, |i| [Some(2), Some(0), Some(0)][i]),
            Some(0)
        );
        assert_eq!(balancer.pick(3, |i| [None, Some(2), Some(0)][i]), Some(1));
        assert_eq!(balancer.pick(3, |_| None), None);
    }

    #[test]
    fn round_robin_goes_on_from_the_last_pick_and_skips_full_replicas() {
        let mut balancer = Balancer::new(Rule::RoundRobin, 1);
        let free = |i: usize| Some(i as u32 * 10);
        let picks: Vec<_> = (0..4).map(|_| balancer.pick(3, free).unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 0], "in turn, load ignored");
        // Replica 1, next in turn, is full: 2 takes it, and the turn goes on after 2.
        let one_full = |i: usize| (i != 1).then_some(0);
        assert_eq!(balancer.pick(3, one_full), Some(2));
        assert_eq!(balancer.pick(3, free), Some(0));
        // Finding none free leaves the turn where it was: with 1.
        assert_eq!(balancer.pick(3, |_| None), None);
        assert_eq!(balancer.pick(3, free), Some(1));
        // The list shrank under the cursor: start again from the first.
        assert_eq!(balancer.pick(1, free), Some(0));
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::new(3);
        for n in 1..50 {
            for _ in 0..50 {
                assert!(rng.below(n) < n);
            }
        }
    }
}
