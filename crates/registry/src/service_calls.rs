//! Registry calls made with a bearer token the caller signed in-process for
//! the service user (no challenge round trip): the deletes of the Portus API.

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("registry is not reachable: {0}")]
    Unreachable(String),
    #[error("registry refused `{what}` with {status}")]
    Refused { what: String, status: u16 },
}

/// `DELETE /v2/<name>/manifests/<digest>`: removes the manifest and every
/// tag pointing at it. A manifest already gone counts as deleted.
pub async fn delete_manifest(
    client: &reqwest::Client,
    base: &str,
    repository: &str,
    digest: &str,
    bearer: &str,
) -> Result<(), ClientError> {
    let url = format!(
        "{}/v2/{repository}/manifests/{digest}",
        base.trim_end_matches('/')
    );
    let resp = client
        .delete(&url)
        .bearer_auth(bearer)
        .send()
        .await
        .map_err(|e| ClientError::Unreachable(e.to_string()))?;
    match resp.status().as_u16() {
        200..=299 | 404 => Ok(()),
        status => Err(ClientError::Refused {
            what: format!("delete {repository}@{digest}"),
            status,
        }),
    }
}
