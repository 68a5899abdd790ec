//! Prometheus metrics of the berth process.
//!
//! One registry per process; components get a clone of [`Metrics`] and
//! update the series they own.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChildLabels {
    pub child: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `complete`, `partial` (some repositories unanswered) or `failed`
    /// (the catalog could not be read).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ComponentLabels {
    pub component: String,
}

/// Handles to every series berth exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub child_restarts: Family<ChildLabels, Counter>,
    pub child_up: Family<ChildLabels, Gauge>,
    pub component_healthy: Family<ComponentLabels, Gauge>,
    pub registry_events_received: Counter,
    pub registry_events_rejected: Counter,
    /// Registry tokens signed by `/v2/token`.
    pub registry_tokens_issued: Counter,
    /// `/v2/token` requests answered 400 or 401.
    pub registry_token_requests_refused: Counter,
    /// Catalog reconciles by outcome.
    pub sync_reconciles: Family<OutcomeLabels, Counter>,
    /// Repositories the last reconcile left alone for want of an answer.
    pub sync_repositories_skipped: Gauge,
    /// Registry requests of the last reconcile.
    pub sync_reconcile_requests: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("berth");
        let child_restarts = Family::<ChildLabels, Counter>::default();
        let child_up = Family::<ChildLabels, Gauge>::default();
        let component_healthy = Family::<ComponentLabels, Gauge>::default();
        let registry_events_received = Counter::default();
        let registry_events_rejected = Counter::default();
        let registry_tokens_issued = Counter::default();
        let registry_token_requests_refused = Counter::default();
        let sync_reconciles = Family::<OutcomeLabels, Counter>::default();
        let sync_repositories_skipped = Gauge::default();
        let sync_reconcile_requests = Gauge::default();
        registry.register(
            "sync_reconciles",
            "Catalog reconciles by outcome: complete, partial (repositories skipped) or failed (catalog unreadable)",
            sync_reconciles.clone(),
        );
        registry.register(
            "sync_repositories_skipped",
            "Repositories the last reconcile left untouched because the registry gave no answer",
            sync_repositories_skipped.clone(),
        );
        registry.register(
            "sync_reconcile_requests",
            "Registry requests made by the last reconcile",
            sync_reconcile_requests.clone(),
        );
        registry.register(
            "registry_tokens_issued",
            "Registry tokens signed by the token endpoint",
            registry_tokens_issued.clone(),
        );
        registry.register(
            "registry_token_requests_refused",
            "Token endpoint requests refused as malformed (400) or for bad credentials (401)",
            registry_token_requests_refused.clone(),
        );
        registry.register(
            "child_restarts",
            "Restarts of supervised child processes after an unexpected exit",
            child_restarts.clone(),
        );
        registry.register(
            "child_up",
            "1 while a supervised child process is running",
            child_up.clone(),
        );
        registry.register(
            "component_healthy",
            "1 when the last health check of a component passed",
            component_healthy.clone(),
        );
        registry.register(
            "registry_events_received",
            "Registry notification events stored",
            registry_events_received.clone(),
        );
        registry.register(
            "registry_events_rejected",
            "Registry notification requests refused for bad credentials or body",
            registry_events_rejected.clone(),
        );
        Self {
            registry: Arc::new(registry),
            child_restarts,
            child_up,
            component_healthy,
            registry_events_received,
            registry_events_rejected,
            registry_tokens_issued,
            registry_token_requests_refused,
            sync_reconciles,
            sync_repositories_skipped,
            sync_reconcile_requests,
        }
    }

    pub fn child(&self, name: &str) -> ChildLabels {
        ChildLabels {
            child: name.to_owned(),
        }
    }

    /// Records one reconcile's outcome.
    pub fn record_reconcile(&self, report: &berth_sync::reconcile::ReconcileReport) {
        let outcome = if report.catalog_error.is_some() {
            "failed"
        } else if report.skipped.is_empty() {
            "complete"
        } else {
            "partial"
        };
        self.sync_reconciles
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
        self.sync_repositories_skipped
            .set(i64::try_from(report.skipped.len()).unwrap_or(i64::MAX));
        self.sync_reconcile_requests
            .set(i64::try_from(report.requests).unwrap_or(i64::MAX));
    }

    /// The exposition text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
