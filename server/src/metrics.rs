//! `GET /metrics`: Prometheus text, from the `prometheus-client` crate.
//!
//! - `cloudops_http_requests_total{route, status}`: every answer, by route template;
//! - `cloudops_plan_latency_seconds`: `POST /v1/plan`, parse to answer (histogram);
//! - `cloudops_plans_total{intent, risk}`: plans made;
//! - `cloudops_reloads_total{result}`: `ok`, `unchanged` or `failed` library reloads;
//! - `cloudops_library_playbooks`, `cloudops_library_info{commit}`: what is served;
//! - `cloudops_library_refused_info{commit, diagnostic}`: each `file:line:column: message` of
//!   the last refused commit (none after a good reload).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlanLabels {
    intent: String,
    risk: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommitLabels {
    commit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    commit: String,
    diagnostic: String,
}

/// The server's metrics. Cheap to update from any thread.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    plan_latency: Histogram,
    plans: Family<PlanLabels, Counter>,
    reloads: Family<ResultLabels, Counter>,
    playbooks: Gauge,
    library: Family<CommitLabels, Gauge>,
    refused: Family<RefusedLabels, Gauge>,
    // Families keep every label set they saw: these two are cleared and refilled together.
    swap: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric registered, at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RouteLabels, Counter>::default();
        // 0.5 ms to about 4 s.
        let plan_latency = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        let plans = Family::<PlanLabels, Counter>::default();
        let reloads = Family::<ResultLabels, Counter>::default();
        let playbooks = Gauge::default();
        let library = Family::<CommitLabels, Gauge>::default();
        let refused = Family::<RefusedLabels, Gauge>::default();
        registry.register(
            "cloudops_http_requests",
            "HTTP answers by route template and status",
            requests.clone(),
        );
        registry.register(
            "cloudops_plan_latency_seconds",
            "POST /v1/plan, from the body read to the answer",
            plan_latency.clone(),
        );
        registry.register(
            "cloudops_plans",
            "Plans made, by intent kind and risk level",
            plans.clone(),
        );
        registry.register(
            "cloudops_reloads",
            "Library reloads: ok, unchanged or failed",
            reloads.clone(),
        );
        registry.register(
            "cloudops_library_playbooks",
            "Playbooks in the library being served",
            playbooks.clone(),
        );
        registry.register(
            "cloudops_library_info",
            "The commit being served (value 1)",
            library.clone(),
        );
        registry.register(
            "cloudops_library_refused_info",
            "Each diagnostic of the last refused commit (value 1); empty after a good reload",
            refused.clone(),
        );
        Metrics {
            registry,
            requests,
            plan_latency,
            plans,
            reloads,
            playbooks,
            library,
            refused,
            swap: Mutex::new(()),
        }
    }

    /// One answer on `route` (the route's template, `/v1/playbooks/{id}`).
    pub fn request(&self, route: &str, status: u16) {
        let labels = RouteLabels {
            route: route.to_owned(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
    }

    /// One plan made in `seconds`.
    pub fn plan(&self, seconds: f64, intent: &str, risk: &str) {
        self.plan_latency.observe(seconds);
        let labels = PlanLabels {
            intent: intent.to_owned(),
            risk: risk.to_owned(),
        };
        self.plans.get_or_create(&labels).inc();
    }

    /// One reload with this result (`ok`, `unchanged`, `failed`).
    pub fn reload(&self, result: &str) {
        let labels = ResultLabels {
            result: result.to_owned(),
        };
        self.reloads.get_or_create(&labels).inc();
    }

    /// The library now served; clears the last refusal.
    pub fn serving(&self, commit: &str, playbooks: usize) {
        let _one_at_a_time = self.swap.lock().unwrap_or_else(|e| e.into_inner());
        self.playbooks.set(playbooks as i64);
        self.library.clear();
        let labels = CommitLabels {
            commit: commit.to_owned(),
        };
        self.library.get_or_create(&labels).set(1);
        self.refused.clear();
    }

    /// A commit refused with these diagnostics (`file:line:column: message`).
    pub fn refused(&self, commit: &str, diagnostics: &[String]) {
        let _one_at_a_time = self.swap.lock().unwrap_or_else(|e| e.into_inner());
        self.refused.clear();
        for diagnostic in diagnostics {
            let labels = RefusedLabels {
                commit: commit.to_owned(),
                diagnostic: diagnostic.clone(),
            };
            self.refused.get_or_create(&labels).set(1);
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
