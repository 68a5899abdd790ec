//! The unauthenticated `/v2/` challenge.
//!
//! A registry that is up and configured for token auth answers `GET /v2/`
//! with 401 and a `Www-Authenticate: Bearer realm=...` header. That is all
//! health and doctor need to know about it.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("registry at `{url}` is not reachable: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("registry at `{url}` answered {status} to /v2/ (expected 401 with a token challenge)")]
    UnexpectedStatus { url: String, status: u16 },
}

/// What the registry said about authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub status: u16,
    /// The `realm` of the Bearer challenge, when there is one.
    pub realm: Option<String>,
    pub service: Option<String>,
}

/// Asks `GET {base}/v2/`. Any HTTP answer counts as reachable.
pub async fn challenge(client: &reqwest::Client, base: &str) -> Result<Challenge, ProbeError> {
    let url = format!("{}/v2/", base.trim_end_matches('/'));
    let resp = client
        .get(&url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .map_err(|e| ProbeError::Unreachable {
            url: url.clone(),
            detail: e.to_string(),
        })?;
    let status = resp.status().as_u16();
    let header = resp
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (realm, service) = parse_bearer_challenge(header);
    Ok(Challenge {
        status,
        realm,
        service,
    })
}

/// Extracts `realm` and `service` from a `Bearer k="v",...` challenge.
pub fn parse_bearer_challenge(header: &str) -> (Option<String>, Option<String>) {
    let Some(params) = header.strip_prefix("Bearer ") else {
        return (None, None);
    };
    let mut realm = None;
    let mut service = None;
    for part in params.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        let v = v.trim_matches('"').to_owned();
        match k {
            "realm" => realm = Some(v),
            "service" => service = Some(v),
            _ => {}
        }
    }
    (realm, service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge() {
        let (realm, service) = parse_bearer_challenge(
            r#"Bearer realm="http://127.0.0.1:8080/v2/token",service="berth-registry""#,
        );
        assert_eq!(realm.as_deref(), Some("http://127.0.0.1:8080/v2/token"));
        assert_eq!(service.as_deref(), Some("berth-registry"));
        assert_eq!(parse_bearer_challenge("Basic realm=x"), (None, None));
    }
}
