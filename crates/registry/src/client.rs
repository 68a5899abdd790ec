//! A client of the distribution HTTP API: catalog, tags, manifests, delete.
//!
//! It authenticates like any docker client: on a 401 Bearer challenge it asks
//! the challenge's realm for a token with Basic credentials (berth's internal
//! service user) and retries. Tokens are cached per scope until shortly
//! before they expire, and connections are kept alive, so a steady-state
//! reconcile costs about one request per repository.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LINK, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};

use crate::manifest::{self, ManifestSummary};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("registry request `{what}` failed: {detail}")]
    Transport { what: String, detail: String },
    #[error("registry answered {status} to `{what}`: {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
    #[error("token request to `{realm}` failed: {detail}")]
    Token { realm: String, detail: String },
    #[error("registry sent an invalid answer to `{what}`: {detail}")]
    Invalid { what: String, detail: String },
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
}

/// Basic credentials presented to the token endpoint.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A manifest as served, with its digest and summary.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub summary: ManifestSummary,
}

/// What `HEAD` on a manifest says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

struct CachedToken {
    token: String,
    valid_until: Instant,
}

pub struct RegistryClient {
    http: reqwest::Client,
    base: String,
    credentials: Option<Credentials>,
    tokens: Mutex<HashMap<String, CachedToken>>,
    registry_requests: AtomicU64,
    token_requests: AtomicU64,
}

impl RegistryClient {
    pub fn new(base: &str, credentials: Option<Credentials>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(32)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ClientError::Transport {
                what: "client setup".into(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            credentials,
            tokens: Mutex::new(HashMap::new()),
            registry_requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
        })
    }

    /// Requests sent to the registry itself (token requests excluded).
    pub fn registry_requests(&self) -> u64 {
        self.registry_requests.load(Ordering::Relaxed)
    }

    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    /// Every repository name, following `Link` pagination.
    pub async fn catalog(&self, page_size: u32) -> Result<Vec<String>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let mut out = Vec::new();
        let mut next = Some(format!("/v2/_catalog?n={page_size}"));
        while let Some(path) = next.take() {
            let resp = self
                .send(
                    Method::GET,
                    &path,
                    "registry:catalog:*",
                    HeaderMap::new(),
                    None,
                )
                .await?;
            let resp = expect_ok(resp, &path).await?;
            next = next_link(resp.headers());
            let page: Page = json(resp, &path).await?;
            out.extend(page.repositories);
        }
        Ok(out)
    }

    /// Tags of `repo`; `None` when the registry says the repository is unknown.
    pub async fn tags(
        &self,
        repo: &str,
        page_size: u32,
    ) -> Result<Option<Vec<String>>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut out = Vec::new();
        let mut next = Some(format!("/v2/{repo}/tags/list?n={page_size}"));
        while let Some(path) = next.take() {
            let resp = self
                .send(
                    Method::GET,
                    &path,
                    &pull_scope(repo),
                    HeaderMap::new(),
                    None,
                )
                .await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let resp = expect_ok(resp, &path).await?;
            next = next_link(resp.headers());
            let page: Page = json(resp, &path).await?;
            out.extend(page.tags.unwrap_or_default());
        }
        Ok(Some(out))
    }

    /// `HEAD` of a manifest by tag or digest; `None` when it does not exist.
    pub async fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<ManifestHead>, ClientError> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let resp = self
            .send(
                Method::HEAD,
                &path,
                &pull_scope(repo),
                accept_manifests(),
                None,
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = expect_ok(resp, &path).await?;
        let headers = resp.headers();
        let digest =
            header(headers, "docker-content-digest").ok_or_else(|| ClientError::Invalid {
                what: path.clone(),
                detail: "no Docker-Content-Digest header".into(),
            })?;
        Ok(Some(ManifestHead {
            digest,
            media_type: header(headers, CONTENT_TYPE.as_str()).unwrap_or_default(),
            size: header(headers, "content-length")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        }))
    }

    /// The manifest as served; its digest is checked against the bytes.
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<FetchedManifest>, ClientError> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let resp = self
            .send(
                Method::GET,
                &path,
                &pull_scope(repo),
                accept_manifests(),
                None,
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = expect_ok(resp, &path).await?;
        let media_type = header(resp.headers(), CONTENT_TYPE.as_str()).unwrap_or_default();
        let served_digest = header(resp.headers(), "docker-content-digest");
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport {
            what: path.clone(),
            detail: e.to_string(),
        })?;
        let summary = manifest::summarize(&media_type, &bytes)?;
        if let Some(d) = served_digest {
            if d != summary.digest {
                return Err(ClientError::Invalid {
                    what: path,
                    detail: format!(
                        "digest header {d} does not match content {}",
                        summary.digest
                    ),
                });
            }
        }
        Ok(Some(FetchedManifest {
            media_type,
            bytes: bytes.to_vec(),
            summary,
        }))
    }

    /// Stores `bytes` as `repo:tag`; returns the digest the registry assigned.
    pub async fn put_manifest(
        &self,
        repo: &str,
        tag: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<String, ClientError> {
        let path = format!("/v2/{repo}/manifests/{tag}");
        let mut headers = HeaderMap::new();
        if let Ok(v) = media_type.parse() {
            headers.insert(CONTENT_TYPE, v);
        }
        let resp = self
            .send(Method::PUT, &path, &push_scope(repo), headers, Some(bytes))
            .await?;
        let resp = expect_status(resp, &path, StatusCode::CREATED).await?;
        header(resp.headers(), "docker-content-digest").ok_or_else(|| ClientError::Invalid {
            what: path,
            detail: "no Docker-Content-Digest header".into(),
        })
    }

    /// Deletes the manifest `digest` and so every tag pointing at it.
    /// Returns false when it was already gone.
    pub async fn delete_manifest(&self, repo: &str, digest: &str) -> Result<bool, ClientError> {
        let path = format!("/v2/{repo}/manifests/{digest}");
        let resp = self
            .send(
                Method::DELETE,
                &path,
                &delete_scope(repo),
                HeaderMap::new(),
                None,
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        expect_status(resp, &path, StatusCode::ACCEPTED).await?;
        Ok(true)
    }

    /// Sends once with a cached token if any; on a Bearer challenge, fetches
    /// a token for the challenged scope and sends once more.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        scope: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, ClientError> {
        let url = format!("{}{path}", self.base);
        let cached = self.cached_token(scope);
        let first = self
            .request(&method, &url, &headers, body.clone(), cached.as_deref())
            .await?;
        if first.status() != StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        let Some(challenge) = header(first.headers(), WWW_AUTHENTICATE.as_str()) else {
            return Ok(first);
        };
        let params = challenge_params(&challenge);
        let Some(realm) = params.get("realm") else {
            return Ok(first);
        };
        let challenged_scope = params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| scope.to_owned());
        let token = self
            .fetch_token(
                realm,
                params.get("service").map(String::as_str),
                &challenged_scope,
            )
            .await?;
        self.request(&method, &url, &headers, body, Some(&token))
            .await
    }

    async fn request(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<Vec<u8>>,
        token: Option<&str>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self
            .http
            .request(method.clone(), url)
            .headers(headers.clone());
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        self.registry_requests.fetch_add(1, Ordering::Relaxed);
        req.send().await.map_err(|e| ClientError::Transport {
            what: format!("{method} {url}"),
            detail: e.to_string(),
        })
    }

    fn cached_token(&self, scope: &str) -> Option<String> {
        let tokens = self.tokens.lock().ok()?;
        tokens
            .get(scope)
            .filter(|t| t.valid_until > Instant::now())
            .map(|t| t.token.clone())
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, ClientError> {
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let mut query: Vec<(&str, &str)> = vec![("scope", scope)];
        if let Some(s) = service {
            query.push(("service", s));
        }
        let mut req = self.http.get(realm).query(&query);
        if let Some(c) = &self.credentials {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        self.token_requests.fetch_add(1, Ordering::Relaxed);
        let err = |detail: String| ClientError::Token {
            realm: realm.to_owned(),
            detail,
        };
        let resp = req.send().await.map_err(|e| err(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(err(format!("status {}", resp.status())));
        }
        let answer: TokenAnswer = resp.json().await.map_err(|e| err(e.to_string()))?;
        let token = answer
            .token
            .or(answer.access_token)
            .ok_or_else(|| err("answer has no token".into()))?;
        // Renew a little early so a token never expires in flight.
        let lifetime =
            Duration::from_secs(answer.expires_in.unwrap_or(60).saturating_sub(10).max(1));
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(
                scope.to_owned(),
                CachedToken {
                    token: token.clone(),
                    valid_until: Instant::now() + lifetime,
                },
            );
        }
        Ok(token)
    }
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

pub(crate) fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

fn delete_scope(repo: &str) -> String {
    format!("repository:{repo}:delete")
}

fn accept_manifests() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        ACCEPT,
        reqwest::header::HeaderValue::from_static(manifest::ACCEPT),
    );
    h
}

pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn expect_ok(resp: reqwest::Response, what: &str) -> Result<reqwest::Response, ClientError> {
    expect_status(resp, what, StatusCode::OK).await
}

pub(crate) async fn expect_status(
    resp: reqwest::Response,
    what: &str,
    want: StatusCode,
) -> Result<reqwest::Response, ClientError> {
    if resp.status() == want {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let mut body = resp.text().await.unwrap_or_default();
    body.truncate(300);
    Err(ClientError::Status {
        what: what.to_owned(),
        status,
        body,
    })
}

async fn json<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    what: &str,
) -> Result<T, ClientError> {
    resp.json().await.map_err(|e| ClientError::Invalid {
        what: what.to_owned(),
        detail: e.to_string(),
    })
}

/// The path of a `Link: <...>; rel="next"` header, if any.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.contains("rel=\"next\"") {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        // The registry sends a path; an absolute URL is reduced to its path.
        match target.find("/v2/") {
            Some(i) => target.get(i..).map(str::to_owned),
            None => None,
        }
    })
}

/// Parameters of a `Bearer k="v",...` challenge. Values may contain commas
/// (scopes with several actions), so this is a small quoted-string scanner.
fn challenge_params(challenge: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(rest) = challenge.strip_prefix("Bearer ") else {
        return out;
    };
    let mut chars = rest.chars().peekable();
    loop {
        let key: String = chars
            .by_ref()
            .skip_while(|c| *c == ',' || *c == ' ')
            .take_while(|c| *c != '=')
            .collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                value.push(c);
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        out.insert(key.trim().to_owned(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_with_commas_in_scope() {
        let p = challenge_params(
            r#"Bearer realm="http://127.0.0.1:8080/v2/token",service="berth-registry",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(p["realm"], "http://127.0.0.1:8080/v2/token");
        assert_eq!(p["service"], "berth-registry");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
    }

    #[test]
    fn next_link_is_a_path() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            r#"</v2/_catalog?last=b&n=2>; rel="next""#.parse().unwrap(),
        );
        assert_eq!(next_link(&h).as_deref(), Some("/v2/_catalog?last=b&n=2"));
        h.insert(
            LINK,
            r#"<http://r:5000/v2/x/tags/list?last=t&n=1>; rel="next""#
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&h).as_deref(), Some("/v2/x/tags/list?last=t&n=1"));
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
