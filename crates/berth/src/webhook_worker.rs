//! The webhook worker: sends the deliveries that the sync enqueued (the
//! outbox in `webhook_deliveries`), never from inside a transaction and
//! never inline with event processing.
//!
//! Every delivery is a JSON body signed with HMAC-SHA256 under the
//! webhook's secret (`X-Berth-Signature-256: sha256=<hex>` over the raw
//! body), with `X-Berth-Timestamp`, `X-Berth-Event` and `X-Berth-Delivery`.
//! A non-2xx answer or an error is retried with exponential backoff
//! (`webhook_retry_base_ms`, doubling, capped at 5 minutes) up to
//! [`MAX_ATTEMPTS`] tries; each attempt is logged with its status or error
//! and duration. Claimed deliveries are leased, so a crash only delays them.

use std::time::{Duration, Instant};

use berth_store::sealed::SecretBox;
use berth_store::{AttemptOutcome, DueDelivery, Store};
use ring::hmac;
use tokio::task::{JoinHandle, JoinSet};

/// Tries per round (a manual re-send starts a new round).
pub const MAX_ATTEMPTS: i32 = 8;
/// The longest wait between two tries.
const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// A claimed delivery is hidden from other claims this long (> [`TIMEOUT`]).
const LEASE_SECS: f64 = 60.0;
const POLL: Duration = Duration::from_millis(250);
const BATCH: i64 = 16;

/// The wait before the next try after `attempts` failed tries, or `None`
/// when the round is over.
pub fn backoff(base: Duration, attempts: i32) -> Option<Duration> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let exp = u32::try_from(attempts.saturating_sub(1).max(0)).unwrap_or(0);
    let factor = 2u32.checked_pow(exp).unwrap_or(u32::MAX);
    Some(base.saturating_mul(factor).min(BACKOFF_CAP))
}

/// `sha256=<hex>` of HMAC-SHA256(secret, body).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    format!("sha256={}", data_encoding::HEXLOWER.encode(tag.as_ref()))
}

pub fn spawn(
    store: Store,
    sealer: SecretBox,
    retry_base: Duration,
) -> anyhow::Result<JoinHandle<()>> {
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("berth-webhook/", env!("CARGO_PKG_VERSION")))
        .build()?;
    Ok(tokio::spawn(async move {
        loop {
            let due = match store.claim_due_deliveries(&sealer, BATCH, LEASE_SECS).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook deliveries could not be claimed; retrying");
                    Vec::new()
                }
            };
            let busy = !due.is_empty();
            let mut sends = JoinSet::new();
            for d in due {
                let (store, http) = (store.clone(), http.clone());
                sends.spawn(async move { deliver(&store, &http, d, retry_base).await });
            }
            while sends.join_next().await.is_some() {}
            if !busy {
                tokio::time::sleep(POLL).await;
            }
        }
    }))
}

async fn deliver(store: &Store, http: &reqwest::Client, d: DueDelivery, retry_base: Duration) {
    let method = match d.request_method.as_str() {
        "PUT" => reqwest::Method::PUT,
        _ => reqwest::Method::POST,
    };
    let mut req = http
        .request(method, &d.url)
        .header("content-type", "application/json")
        .header("x-berth-event", &d.event)
        .header("x-berth-delivery", &d.delivery_id)
        .header(
            "x-berth-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header(
            "x-berth-signature-256",
            signature(&d.secret, d.body.as_bytes()),
        )
        .body(d.body.clone());
    if let Some(user) = &d.username {
        req = req.basic_auth(user, d.password.as_deref());
    }
    let start = Instant::now();
    let result = req.send().await;
    let duration_ms = i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status_code, error) = match &result {
        Ok(r) => (Some(r.status().as_u16()), None),
        // The cause chain without the URL's credentials, if any.
        Err(e) => (None, Some(error_text(e))),
    };
    let delivered = status_code.is_some_and(|s| (200..300).contains(&s));
    let retry_at = match delivered {
        true => None,
        false => backoff(retry_base, d.attempts + 1)
            .and_then(|wait| chrono::Duration::from_std(wait).ok())
            .map(|wait| chrono::Utc::now() + wait),
    };
    tracing::info!(
        delivery = %d.delivery_id,
        event = %d.event,
        status = status_code,
        error = error.as_deref().unwrap_or(""),
        duration_ms,
        attempt = d.attempts + 1,
        delivered,
        "webhook attempt"
    );
    let outcome = AttemptOutcome {
        status_code,
        error,
        duration_ms,
        delivered,
        retry_at,
    };
    if let Err(e) = store.record_delivery_attempt(d.id, &outcome).await {
        // The lease runs out and the delivery is tried again.
        tracing::warn!(error = %e, delivery = %d.delivery_id, "webhook attempt not recorded");
    }
}

fn error_text(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap_and_stops() {
        let base = Duration::from_secs(1);
        let waits: Vec<_> = (1..MAX_ATTEMPTS)
            .map(|n| backoff(base, n).unwrap())
            .collect();
        assert_eq!(waits[0], Duration::from_secs(1));
        assert_eq!(waits[1], Duration::from_secs(2));
        assert_eq!(waits[2], Duration::from_secs(4));
        assert!(waits.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(backoff(Duration::from_secs(100), 7), Some(BACKOFF_CAP));
        assert_eq!(backoff(base, MAX_ATTEMPTS), None);
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
