//! The server's Prometheus metrics: one registry per [`crate::AppState`]
//! (so servers in one test process do not mix), counters and histograms
//! the HTTP layer records into, and gauges set when `/metrics` is scraped
//! (list sequences, the database's connections, what waits in the
//! outboxes). Rendered in the
//! Prometheus text format by the `prometheus` crate.

use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::store::{Backlog, PoolState};

/// Latency buckets, seconds: 1 ms to the 60 s request timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The signed lists, counted on their fast path by one atomic increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedList {
    /// `GET /api/v1/trust-list`.
    Trust,
    /// `GET /api/v1/status-list`.
    Status,
    /// `GET /api/v1/status-list/deltas`.
    Deltas,
}

/// Every metric the server exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    signed_lists: [IntCounter; 3],
    pushes: IntCounter,
    records: IntCounterVec,
    check_records: IntCounter,
    list_seq: IntGaugeVec,
    db_connections: IntGaugeVec,
    forward: IntGaugeVec,
    forward_oldest_age: IntGauge,
    webhooks: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Creates and registers the metrics.
    #[allow(clippy::expect_used)] // constant names and labels, checked by `metrics_render`
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("lnec".into()), None)
            .expect("the metric prefix is a valid name");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by method, route template and status (the signed lists' fast path is counted in lnec_signed_list_requests_total)",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route template",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        let signed = IntCounterVec::new(
            Opts::new(
                "signed_list_requests_total",
                "Requests of the signed lists (answered outside the request layers, mostly from memory)",
            ),
            &["list"],
        )
        .expect("valid metric");
        let signed_lists = [
            signed.with_label_values(&["trust"]),
            signed.with_label_values(&["status"]),
            signed.with_label_values(&["deltas"]),
        ];
        let pushes = IntCounter::new(
            "pushes_total",
            "Accepted pushes of certificate records by agencies",
        )
        .expect("valid metric");
        let records = IntCounterVec::new(
            Opts::new(
                "pushed_records_total",
                "Pushed records by outcome (issued: certificates issued)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let check_records = IntCounter::new(
            "check_records_ingested_total",
            "Check-log records stored from devices' uploaded batches",
        )
        .expect("valid metric");
        let list_seq = IntGaugeVec::new(
            Opts::new(
                "list_sequence",
                "Current sequence number of the signed lists",
            ),
            &["list"],
        )
        .expect("valid metric");
        let db_connections = IntGaugeVec::new(
            Opts::new(
                "db_connections",
                "Database connections: open, idle and the most allowed",
            ),
            &["state"],
        )
        .expect("valid metric");
        let forward = IntGaugeVec::new(
            Opts::new(
                "forward_backlog",
                "Cross-province forwarding: check records queued (not yet in a batch) and signed batches not yet delivered",
            ),
            &["what"],
        )
        .expect("valid metric");
        let forward_oldest_age = IntGauge::new(
            "forward_oldest_undelivered_age_seconds",
            "Age of the oldest undelivered cross-province batch (0: none waits)",
        )
        .expect("valid metric");
        let webhooks = IntGaugeVec::new(
            Opts::new(
                "webhook_applications",
                "Applications with change notifications not yet acknowledged (pending), and of those the ones whose last attempt failed (failing)",
            ),
            &["state"],
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(signed),
            Box::new(pushes.clone()),
            Box::new(records.clone()),
            Box::new(check_records.clone()),
            Box::new(list_seq.clone()),
            Box::new(db_connections.clone()),
            Box::new(forward.clone()),
            Box::new(forward_oldest_age.clone()),
            Box::new(webhooks.clone()),
        ] {
            registry.register(c).expect("each metric registered once");
        }
        Metrics {
            registry,
            requests,
            latency,
            signed_lists,
            pushes,
            records,
            check_records,
            list_seq,
            db_connections,
            forward,
            forward_oldest_age,
            webhooks,
        }
    }

    /// Records one answered request.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// One request of a signed list: one atomic increment.
    pub fn signed_list(&self, list: SignedList) {
        self.signed_lists[list as usize].inc();
    }

    /// One accepted push and its records' outcomes.
    pub fn push(&self, outcomes: &[(&str, u64)]) {
        self.pushes.inc();
        for (outcome, n) in outcomes {
            if *n > 0 {
                self.records.with_label_values(&[outcome]).inc_by(*n);
            }
        }
    }

    /// Check-log records stored from an uploaded batch.
    pub fn check_records(&self, n: u64) {
        self.check_records.inc_by(n);
    }

    /// Sets the list sequences, the database's connections and the
    /// outboxes' backlog (ages at `now`), then renders every metric in the
    /// Prometheus text format.
    pub fn render(
        &self,
        trust_seq: Option<u64>,
        status_seq: Option<u64>,
        pool: Option<PoolState>,
        backlog: Option<&Backlog>,
        now: i64,
    ) -> Result<String, prometheus::Error> {
        if let Some(b) = backlog {
            let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            self.forward
                .with_label_values(&["queued_records"])
                .set(n(b.forward_queued));
            self.forward
                .with_label_values(&["undelivered_batches"])
                .set(n(b.forward_undelivered));
            self.forward_oldest_age
                .set(b.forward_oldest.map_or(0, |t| now.saturating_sub(t).max(0)));
            self.webhooks
                .with_label_values(&["pending"])
                .set(n(b.webhooks_pending));
            self.webhooks
                .with_label_values(&["failing"])
                .set(n(b.webhooks_failing));
        }
        for (list, seq) in [("trust", trust_seq), ("status", status_seq)] {
            if let Some(seq) = seq {
                self.list_seq
                    .with_label_values(&[list])
                    .set(i64::try_from(seq).unwrap_or(i64::MAX));
            }
        }
        if let Some(p) = pool {
            let set = |state: &str, n: u32| {
                self.db_connections
                    .with_label_values(&[state])
                    .set(i64::from(n));
            };
            set("open", p.connections);
            set("idle", p.idle);
            set("max", p.max);
        }
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render() {
        let m = Metrics::new();
        m.request("GET", "/api/v1/catalogue", 200, 0.002);
        m.signed_list(SignedList::Deltas);
        m.push(&[("issued", 3), ("refused", 0)]);
        m.check_records(5);
        let backlog = Backlog {
            forward_queued: 4,
            forward_undelivered: 2,
            forward_oldest: Some(1_000),
            webhooks_pending: 3,
            webhooks_failing: 1,
        };
        let text = m
            .render(
                Some(7),
                Some(9),
                Some(PoolState {
                    connections: 2,
                    idle: 1,
                    max: 16,
                }),
                Some(&backlog),
                1_600,
            )
            .unwrap();
        for line in [
            r#"lnec_http_requests_total{method="GET",route="/api/v1/catalogue",status="200"} 1"#,
            r#"lnec_http_request_duration_seconds_bucket{route="/api/v1/catalogue",le="0.0025"} 1"#,
            r#"lnec_signed_list_requests_total{list="deltas"} 1"#,
            "lnec_pushes_total 1",
            r#"lnec_pushed_records_total{outcome="issued"} 3"#,
            "lnec_check_records_ingested_total 5",
            r#"lnec_list_sequence{list="status"} 9"#,
            r#"lnec_db_connections{state="max"} 16"#,
            r#"lnec_forward_backlog{what="queued_records"} 4"#,
            r#"lnec_forward_backlog{what="undelivered_batches"} 2"#,
            "lnec_forward_oldest_undelivered_age_seconds 600",
            r#"lnec_webhook_applications{state="pending"} 3"#,
            r#"lnec_webhook_applications{state="failing"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(
            !text.contains(r#"outcome="refused""#),
            "zero outcomes not created"
        );
    }
}
