//! Wiring of the gateway: the core's routes for the bare domain, the
//! identity service as the authenticator, and (with the apps service) the
//! app directory.

use std::sync::Arc;

use berth_gateway::{
    AuthOutcome, Authentication, Authenticator, BodyVerifier, CallerMemo, Gateway, GatewayConfig,
};
use berth_identity::auth::{AuthError, HeadError};
use berth_identity::httpsig::BodyDigestCheck;
use http::HeaderValue;

use crate::config::Config;

/// The identity service's authenticator, in the gateway's terms. Refused
/// credentials make the caller anonymous (public paths still work) and
/// clear a refused terminal cookie.
struct IdentityAuthenticator(berth_identity::auth::Authenticator);

struct DigestVerifier(BodyDigestCheck);

/// The identity service's memo of a terminal, in the gateway's terms.
struct IdentityMemo(berth_identity::auth::CallerMemo);

impl CallerMemo for IdentityMemo {
    fn recall(&self, parts: &http::request::Parts) -> Option<berth_authz::gateway::Caller> {
        self.0.recall(&parts.headers).cloned()
    }
}

impl BodyVerifier for DigestVerifier {
    fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }
    fn finish(self: Box<Self>) -> bool {
        self.0.finish().is_ok()
    }
}

impl IdentityAuthenticator {
    fn outcome(
        &self,
        checked: Result<Result<berth_identity::auth::AuthOutcome, AuthError>, HeadError>,
    ) -> AuthOutcome {
        match checked {
            Ok(Ok(o)) => AuthOutcome {
                caller: o.caller,
                set_cookie: o.set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()),
                body_verifier: o
                    .body_digest
                    .map(|d| Box::new(DigestVerifier(d.hasher())) as Box<dyn BodyVerifier>),
                memo: o
                    .memo
                    .map(|m| Box::new(IdentityMemo(m)) as Box<dyn CallerMemo>),
            },
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "gateway: credentials refused");
                let mut out = AuthOutcome::anonymous();
                out.set_cookie = e
                    .clear_cookie(self.0.cookie_domain())
                    .and_then(|c| HeaderValue::from_str(&c).ok());
                out
            }
            Err(e) => {
                tracing::debug!(error = %e, "gateway: unreadable credentials");
                AuthOutcome::anonymous()
            }
        }
    }
}

impl Authenticator for IdentityAuthenticator {
    fn authenticate<'a>(&'a self, parts: &'a http::request::Parts) -> Authentication<'a> {
        let (method, uri, headers) = (&parts.method, &parts.uri, &parts.headers);
        match self.0.authenticate_http_now(method, uri, headers) {
            Some(checked) => Authentication::Ready(self.outcome(checked)),
            None => Authentication::pending(async move {
                self.outcome(self.0.authenticate_http(method, uri, headers).await)
            }),
        }
    }

    fn redeem_handoff(&self, ticket: &str, host: &str) -> Option<HeaderValue> {
        self.0
            .redeem_handoff(ticket, host)
            .and_then(|c| HeaderValue::from_str(&c).ok())
    }
}

/// The front door: app hosts go through the gateway, the rest to the core.
pub fn gateway(
    cfg: &Config,
    state: berth_api::AppState,
    web: berth_web::Web,
    authenticator: berth_identity::auth::Authenticator,
    directory: Arc<dyn berth_gateway::AppDirectory>,
) -> Gateway {
    let core = berth_api::CoreService::new(state).with_ui(berth_web::router(web));
    let core: berth_gateway::CoreHandler = Arc::new(move |req| {
        let core = core.clone();
        Box::pin(async move { core.call(req).await })
    });
    Gateway::new(
        GatewayConfig {
            domain: cfg.domain.clone(),
            ..Default::default()
        },
        directory,
        Arc::new(IdentityAuthenticator(authenticator)),
        core,
    )
}
