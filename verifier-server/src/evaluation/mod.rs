//! The annual evaluation of each city and the province (R11, R12, Annex A).
//!
//! [`score`] turns counted rates and recorded facts into points; the
//! counting itself reads only provable events from the store.

pub mod score;
