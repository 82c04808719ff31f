//! Least in-flight with power of two random choices (Knative's activator policy at CC = 0).
//!
//! Two distinct candidates are drawn at random among the eligible replicas (ready, with a free
//! slot) and the less loaded wins. Pure: the randomness is a small seeded generator passed in.

/// The in-flight count of candidate `i`, or `None` when it cannot take a request now.
pub(crate) fn pick(
    len: usize,
    load: impl Fn(usize) -> Option<u32>,
    rng: &mut Rng,
) -> Option<usize> {
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
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
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
        assert_eq!(pick(0, |_| Some(0), &mut rng), None);
        assert_eq!(pick(3, |_| None, &mut rng), None);
    }

    #[test]
    fn the_only_eligible_one_is_chosen() {
        let mut rng = Rng::new(1);
        let loads = [None, Some(7), None];
        for _ in 0..20 {
            assert_eq!(pick(3, |i| loads[i], &mut rng), Some(1));
        }
    }

    #[test]
    fn of_two_the_less_loaded_always_wins() {
        let mut rng = Rng::new(42);
        let loads = [Some(5), Some(2)];
        for _ in 0..100 {
            assert_eq!(pick(2, |i| loads[i], &mut rng), Some(1));
        }
    }

    #[test]
    fn the_most_loaded_of_many_is_never_chosen_and_the_rest_share() {
        let mut rng = Rng::new(7);
        let loads = [Some(9), Some(1), Some(1), None, Some(1)];
        let mut counts = [0; 5];
        for _ in 0..3000 {
            counts[pick(5, |i| loads[i], &mut rng).unwrap()] += 1;
        }
        assert_eq!(counts[0], 0);
        assert_eq!(counts[3], 0);
        // equal loads: ties go to the first draw, so each gets about a third
        for i in [1, 2, 4] {
            assert!((700..1300).contains(&counts[i]), "{counts:?}");
        }
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
