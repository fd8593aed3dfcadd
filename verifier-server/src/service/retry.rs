//! Exponential back-off for the server's outboxes (the cross-province
//! forwarder and the applications' webhooks): the delay after the n-th
//! failed attempt, and a jittered variant so that many receivers failing
//! together do not retry in lockstep.

use rand_core::{OsRng, RngCore as _};

/// Seconds to wait after the `attempts`-th failed attempt (1, 2, …):
/// `first`, doubled per further attempt, at most `max`.
pub fn backoff(attempts: u32, first: i64, max: i64) -> i64 {
    let doublings = attempts.saturating_sub(1).min(20);
    first.saturating_mul(1_i64 << doublings).min(max)
}

/// [`backoff`] with "equal jitter": a delay drawn uniformly from the upper
/// half of the back-off, `[d/2, d]` (so the wait still grows, and never
/// falls below half of it).
pub fn jittered(attempts: u32, first: i64, max: i64) -> i64 {
    let d = backoff(attempts, first, max).max(1);
    let half = d / 2;
    let spread = u64::try_from(d - half).unwrap_or(0) + 1;
    half + i64::try_from(OsRng.next_u64() % spread).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_jitter_stays_in_the_upper_half() {
        assert_eq!(backoff(1, 30, 3_600), 30);
        assert_eq!(backoff(2, 30, 3_600), 60);
        assert_eq!(backoff(4, 30, 3_600), 240);
        assert_eq!(backoff(20, 30, 3_600), 3_600);
        assert_eq!(backoff(u32::MAX, 30, 3_600), 3_600);
        for attempts in 1..12 {
            let d = backoff(attempts, 10, 3_600);
            for _ in 0..50 {
                let j = jittered(attempts, 10, 3_600);
                assert!(
                    j >= d / 2 && j <= d,
                    "{attempts}: {j} outside [{}, {d}]",
                    d / 2
                );
            }
        }
    }
}
