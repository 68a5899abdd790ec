//! Images: is one present locally, and pulling one with progress.

use bollard::query_parameters::CreateImageOptions;
use futures_util::{Stream, StreamExt};

use crate::{DockerError, Engine};

/// One step of a pull, for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullProgress {
    /// Layer id, empty for whole-image messages.
    pub layer: String,
    pub status: String,
    pub current: u64,
    pub total: u64,
}

impl Engine {
    /// Whether `image` is present locally (no pull).
    pub async fn image_present(&self, image: &str) -> Result<bool, DockerError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) => match DockerError::from_bollard(e, image) {
                DockerError::NotFound { .. } => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Pulls `image`, yielding progress; the stream ends after the pull or
    /// with its one error.
    pub fn pull(
        &self,
        image: &str,
    ) -> impl Stream<Item = Result<PullProgress, DockerError>> + Send + 'static {
        let options = CreateImageOptions {
            from_image: Some(image.to_owned()),
            ..Default::default()
        };
        let what = format!("image `{image}`");
        self.docker
            .create_image(Some(options), None, None)
            .map(move |item| match item {
                Ok(info) => {
                    if let Some(error) = info.error {
                        return Err(DockerError::Api(error));
                    }
                    let detail = info.progress_detail.unwrap_or_default();
                    let n = |v: Option<i64>| u64::try_from(v.unwrap_or(0)).unwrap_or(0);
                    Ok(PullProgress {
                        layer: info.id.unwrap_or_default(),
                        status: info.status.unwrap_or_default(),
                        current: n(detail.current),
                        total: n(detail.total),
                    })
                }
                Err(e) => Err(DockerError::from_bollard(e, &what)),
            })
    }
}
