//! Annex A scoring: rates to points, by bands whose edges are decided in
//! `docs/evaluation.md`.
//!
//! Rates are compared exactly (`numerator × 100` against `edge ×
//! denominator` in integers), never as floats, so 3 of 10 is exactly 30 %
//! and lands in the band that starts at 30 %.

use std::cmp::Ordering;

use serde::Serialize;

/// A rate as the fraction it was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Rate {
    /// What was counted (e.g. certificates activated).
    pub numerator: u64,
    /// Out of how many.
    pub denominator: u64,
}

impl Rate {
    /// A rate; `numerator` above `denominator` is a caller bug and is
    /// capped so the score cannot exceed the top band's.
    pub fn new(numerator: u64, denominator: u64) -> Rate {
        Rate {
            numerator: numerator.min(denominator),
            denominator,
        }
    }

    /// The rate in percent, for display; `None` when nothing was counted
    /// in the denominator.
    pub fn percent(self) -> Option<f64> {
        // u64 → f64 loses precision only above 2^53 certificates.
        #[allow(clippy::cast_precision_loss)]
        (self.denominator > 0).then(|| self.numerator as f64 * 100.0 / self.denominator as f64)
    }

    /// The rate compared with `percent` %, exactly.
    fn cmp_percent(self, percent: u32) -> Ordering {
        (u128::from(self.numerator) * 100)
            .cmp(&(u128::from(percent) * u128::from(self.denominator)))
    }
}

/// One band: from `from` % (inclusive) the points are `points`.
#[derive(Debug, Clone, Copy)]
struct Band {
    from: u32,
    points: u8,
}

/// Points for a rate: the band with the highest `from` the rate reaches
/// (rate ≥ from); above `strict_top` % (strictly) the top points.
fn points(rate: Rate, bands: &[Band], strict_top: (u32, u8)) -> u8 {
    if rate.denominator == 0 {
        return 0;
    }
    if rate.cmp_percent(strict_top.0) == Ordering::Greater {
        return strict_top.1;
    }
    bands
        .iter()
        .rev()
        .find(|b| rate.cmp_percent(b.from) != Ordering::Less)
        .map_or(0, |b| b.points)
}

const ISSUANCE: [Band; 7] = [
    Band { from: 0, points: 0 },
    Band {
        from: 30,
        points: 5,
    },
    Band {
        from: 40,
        points: 15,
    },
    Band {
        from: 50,
        points: 20,
    },
    Band {
        from: 60,
        points: 25,
    },
    Band {
        from: 70,
        points: 30,
    },
    // 90 % exactly is still "80 %—90 %": only "higher than 90 %" (strict,
    // see `points`) scores 40.
    Band {
        from: 80,
        points: 35,
    },
];

const ACTIVATION: [Band; 8] = [
    Band { from: 0, points: 0 },
    Band {
        from: 20,
        points: 5,
    },
    Band {
        from: 30,
        points: 10,
    },
    Band {
        from: 40,
        points: 15,
    },
    Band {
        from: 50,
        points: 20,
    },
    Band {
        from: 60,
        points: 25,
    },
    Band {
        from: 70,
        points: 30,
    },
    Band {
        from: 80,
        points: 35,
    },
];

/// Item 1, issuance rate (制证率), out of 40. No records collected scores 0.
pub fn issuance_points(rate: Rate) -> u8 {
    points(rate, &ISSUANCE, (90, 40))
}

/// Item 2, annual activation rate (激活率), out of 40. No e-certificates
/// issued in the year scores 0.
pub fn activation_points(rate: Rate) -> u8 {
    points(rate, &ACTIVATION, (90, 40))
}

pub use shared::api::Coverage;

/// Item 3, training and publicity (宣传培训), out of 10: full coverage with
/// evidence 10, partial with evidence 6, otherwise 0. `best` is the widest
/// coverage among the year's records that carry at least one evidence
/// attachment (a claim without evidence earns nothing).
pub fn training_points(best: Option<Coverage>) -> u8 {
    match best {
        Some(Coverage::Full) => 10,
        Some(Coverage::Partial) => 6,
        Some(Coverage::Little) | None => 0,
    }
}

/// Item 4, display and verification (亮证与查验), out of 10: 0 when any
/// valid e-certificate shown in the year was refused or a refusal
/// complaint was upheld, else 10.
pub fn display_points(incidents: usize) -> u8 {
    if incidents == 0 {
        10
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every edge of both tables, just below, on and just above, with
    /// denominators that make "just" one part in 10,000.
    #[test]
    fn every_band_edge_both_sides() {
        let d = 10_000;
        let at = |pct: u64| Rate::new(pct * 100, d);
        let below = |pct: u64| Rate::new(pct * 100 - 1, d);
        let above = |pct: u64| Rate::new(pct * 100 + 1, d);
        // (edge %, points just below, points on and just above)
        let issuance = [
            (30, 0, 5),
            (40, 5, 15),
            (50, 15, 20),
            (60, 20, 25),
            (70, 25, 30),
            (80, 30, 35),
        ];
        for (edge, lo, hi) in issuance {
            assert_eq!(issuance_points(below(edge)), lo, "issuance below {edge}%");
            assert_eq!(issuance_points(at(edge)), hi, "issuance at {edge}%");
            assert_eq!(issuance_points(above(edge)), hi, "issuance above {edge}%");
        }
        let activation = [
            (20, 0, 5),
            (30, 5, 10),
            (40, 10, 15),
            (50, 15, 20),
            (60, 20, 25),
            (70, 25, 30),
            (80, 30, 35),
        ];
        for (edge, lo, hi) in activation {
            assert_eq!(
                activation_points(below(edge)),
                lo,
                "activation below {edge}%"
            );
            assert_eq!(activation_points(at(edge)), hi, "activation at {edge}%");
            assert_eq!(
                activation_points(above(edge)),
                hi,
                "activation above {edge}%"
            );
        }
        // "Higher than 90 %" is strict: 90 % exactly stays in 80—90 %.
        for f in [issuance_points, activation_points] {
            assert_eq!(f(below(90)), 35);
            assert_eq!(f(at(90)), 35);
            assert_eq!(f(above(90)), 40);
            assert_eq!(f(Rate::new(1, 1)), 40);
            assert_eq!(f(Rate::new(0, 1)), 0);
            assert_eq!(f(Rate::new(0, 0)), 0, "nothing to count scores 0");
        }
    }

    #[test]
    fn exact_fractions_are_not_float_rounded() {
        // 3/10 is exactly 30 %: 5 points, whatever 0.3 is in binary.
        assert_eq!(issuance_points(Rate::new(3, 10)), 5);
        // 2/7 = 28.57 %: below.
        assert_eq!(issuance_points(Rate::new(2, 7)), 0);
        // 9/10 = 90 % exactly.
        assert_eq!(activation_points(Rate::new(9, 10)), 35);
        assert_eq!(activation_points(Rate::new(u64::MAX, u64::MAX)), 40);
        assert_eq!(Rate::new(5, 3), Rate::new(3, 3), "capped");
        assert_eq!(Rate::new(1, 4).percent(), Some(25.0));
        assert_eq!(Rate::new(0, 0).percent(), None);
    }

    #[test]
    fn training_and_display() {
        assert_eq!(training_points(Some(Coverage::Full)), 10);
        assert_eq!(training_points(Some(Coverage::Partial)), 6);
        assert_eq!(training_points(Some(Coverage::Little)), 0);
        assert_eq!(training_points(None), 0);
        assert_eq!(display_points(0), 10);
        assert_eq!(display_points(1), 0);
        assert!(Coverage::Full > Coverage::Partial && Coverage::Partial > Coverage::Little);
        for c in [Coverage::Full, Coverage::Partial, Coverage::Little] {
            assert_eq!(Coverage::parse(c.as_str()), Some(c));
        }
    }
}
