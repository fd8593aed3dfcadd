//! A manual clock: the service reads it, the test sets and advances it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use verifier_server::Clock;

/// Unix seconds the test controls; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    at: Arc<AtomicI64>,
}

impl Default for ManualClock {
    /// At [`crate::T0`].
    fn default() -> ManualClock {
        ManualClock::new(crate::T0)
    }
}

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: i64) -> ManualClock {
        ManualClock {
            at: Arc::new(AtomicI64::new(at)),
        }
    }

    /// Now, Unix seconds.
    pub fn now(&self) -> i64 {
        self.at.load(Ordering::SeqCst)
    }

    /// Sets the time.
    pub fn set(&self, at: i64) {
        self.at.store(at, Ordering::SeqCst);
    }

    /// Moves the time by `seconds` (negative: back).
    pub fn advance(&self, seconds: i64) {
        self.at.fetch_add(seconds, Ordering::SeqCst);
    }

    /// The clock for [`verifier_server::AppState`].
    pub fn clock(&self) -> Clock {
        let at = self.at.clone();
        Arc::new(move || at.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_advance_are_seen_by_the_service_clock() {
        let c = ManualClock::default();
        let service = c.clock();
        assert_eq!(service(), crate::T0);
        c.advance(60);
        assert_eq!(service(), crate::T0 + 60);
        c.set(5);
        assert_eq!((service(), c.now()), (5, 5));
        c.advance(-10);
        assert_eq!(service(), -5);
    }
}
