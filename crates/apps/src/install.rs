//! The install and uninstall state machine, and start/stop/restart.
//!
//! Install: validate (done by the caller), check the image (pulling it if
//! missing) and the container name, and only then write the row
//! (`installing`); then database, data dirs, Docker proxy, container, start,
//! and `installed`. Uninstall: row to `uninstalling`, then container, proxy,
//! (with purge) database, password and data dirs, and finally the row.
//! Every step is idempotent: resuming is running all steps again.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use berth_authz::docker_filter::{decide_docker_request, DockerDecision, DockerEndpoint};
use berth_docker::proxy::Forward;
use berth_docker::PullProgress;
use berth_manifest::manifest::AppManifest;
use berth_manifest::services::Service;
use berth_store::AppPhase;
use futures_util::StreamExt;

use crate::container::{manifest_hash, spec, template_context};
use crate::{
    data_dirs, io, phase_busy, postgres, AppView, Apps, AppsError, LABEL_INSTANCE, LABEL_MANIFEST,
};

/// What an uninstall deletes besides the container, the socket and the row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Discard {
    /// The role, the database and the password file.
    pub database: bool,
    /// `<data-dir>/apps/<app>`.
    pub data_dirs: bool,
}

impl Discard {
    /// An uninstall the owner asked for: with purge everything goes.
    pub(crate) fn purge(purge: bool) -> Self {
        Self {
            database: purge,
            data_dirs: purge,
        }
    }
}

impl Apps {
    /// Installs a validated manifest. Bad input (a missing image, a foreign
    /// container of the same name, a data dir that cannot be made) leaves
    /// nothing behind.
    pub async fn install(
        &self,
        manifest: AppManifest,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<AppView, AppsError> {
        let name = manifest.name().as_str().to_owned();
        let lock = self.lock_for(&name);
        let _guard = lock.lock().await;
        if self.store().get_app(&name).await?.is_some() {
            return Err(AppsError::AlreadyInstalled(name));
        }
        self.check_container_name(&name).await?;
        self.ensure_image(manifest.image().as_str(), progress)
            .await?;
        // What an earlier install left (uninstalled without purge) is the
        // user's data and survives a failed reinstall; what this install
        // creates goes with it. Judged per resource: an app dir kept from an
        // app without postgres says nothing about a database made now.
        let keep = Discard {
            database: !(self.config().password_file(&name).exists()
                || self
                    .store()
                    .app_role_exists(&manifest.name().postgres_identifier())
                    .await?),
            data_dirs: !self.config().app_dir(&name).exists(),
        };
        if !self
            .store()
            .insert_app(&name, &manifest.to_stored_value())
            .await?
        {
            return Err(AppsError::AlreadyInstalled(name));
        }
        self.changed(&name);
        if let Err(e) = self.converge_install(&manifest, true).await {
            tracing::warn!(app = %name, error = %e, "install failed; rolling back");
            if let Err(rollback) = self.converge_uninstall(&name, keep).await {
                tracing::error!(app = %name, error = %rollback, "rollback failed; the next start retries");
            }
            return Err(e);
        }
        self.get(&name).await
    }

    /// Replaces the manifest of an installed app (a new image version, new
    /// env); data dirs and database are kept, the container is recreated.
    pub async fn upgrade(
        &self,
        manifest: AppManifest,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<AppView, AppsError> {
        let name = manifest.name().as_str().to_owned();
        let lock = self.lock_for(&name);
        let _guard = lock.lock().await;
        let row = self
            .store()
            .get_app(&name)
            .await?
            .ok_or_else(|| AppsError::NotFound(name.clone()))?;
        if row.phase == AppPhase::Uninstalling {
            return Err(phase_busy(&name, row.phase));
        }
        self.ensure_image(manifest.image().as_str(), progress)
            .await?;
        self.store()
            .set_app_manifest(&name, &manifest.to_stored_value())
            .await?;
        self.store()
            .set_app_phase(&name, AppPhase::Installing, false)
            .await?;
        self.changed(&name);
        self.converge_or_record(&manifest, row.want_running).await?;
        self.get(&name).await
    }

    /// Uninstalls; with `purge` also deletes data dirs and the database.
    pub async fn uninstall(&self, name: &str, purge: bool) -> Result<(), AppsError> {
        let lock = self.lock_for(name);
        let _guard = lock.lock().await;
        if self.store().get_app(name).await?.is_none() {
            return Err(AppsError::NotFound(name.to_owned()));
        }
        self.store()
            .set_app_phase(name, AppPhase::Uninstalling, purge)
            .await?;
        self.changed(name);
        self.converge_uninstall(name, Discard::purge(purge)).await
    }

    pub async fn start(&self, name: &str) -> Result<AppView, AppsError> {
        self.set_running(name, Some(true)).await
    }

    pub async fn stop(&self, name: &str) -> Result<AppView, AppsError> {
        self.set_running(name, Some(false)).await
    }

    pub async fn restart(&self, name: &str) -> Result<AppView, AppsError> {
        self.set_running(name, None).await
    }

    /// `Some(run)` starts or stops; `None` restarts.
    async fn set_running(&self, name: &str, run: Option<bool>) -> Result<AppView, AppsError> {
        let lock = self.lock_for(name);
        let _guard = lock.lock().await;
        let row = self
            .store()
            .get_app(name)
            .await?
            .ok_or_else(|| AppsError::NotFound(name.to_owned()))?;
        if row.phase != AppPhase::Installed {
            return Err(phase_busy(name, row.phase));
        }
        self.store()
            .set_app_desired(name, run.unwrap_or(true))
            .await?;
        match run {
            Some(true) => self.engine().start_container(name).await?,
            Some(false) => self.engine().stop_container(name).await?,
            None => self.engine().restart_container(name).await?,
        }
        self.refresh(name).await;
        // The desired state shows even when Docker's answer did not change.
        self.changed(name);
        self.get(name).await
    }

    /// Runs the install steps and records the outcome on the row.
    pub(crate) async fn converge_or_record(
        &self,
        manifest: &AppManifest,
        want_running: bool,
    ) -> Result<(), AppsError> {
        let name = manifest.name().as_str();
        match self.converge_install(manifest, want_running).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.store().set_app_error(name, Some(&e.to_string())).await;
                Err(e)
            }
        }
    }

    async fn check_container_name(&self, name: &str) -> Result<(), AppsError> {
        if let Some(c) = self.engine().inspect_container(name).await? {
            if c.labels.get(LABEL_INSTANCE) != Some(&self.config().instance_id) {
                return Err(AppsError::ForeignContainer(name.to_owned()));
            }
        }
        Ok(())
    }

    async fn ensure_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), AppsError> {
        if self.engine().image_present(image).await? {
            return Ok(());
        }
        let mut pull = Box::pin(self.engine().pull(image));
        while let Some(step) = pull.next().await {
            match step {
                Ok(p) => progress(p),
                Err(e) => {
                    return Err(AppsError::ImageUnavailable {
                        image: image.to_owned(),
                        detail: e.to_string(),
                    })
                }
            }
        }
        if self.engine().image_present(image).await? {
            Ok(())
        } else {
            Err(AppsError::ImageUnavailable {
                image: image.to_owned(),
                detail: "the pull ended without the image".into(),
            })
        }
    }

    /// The install steps; each idempotent.
    pub(crate) async fn converge_install(
        &self,
        manifest: &AppManifest,
        want_running: bool,
    ) -> Result<(), AppsError> {
        let config = self.config();
        let name = manifest.name().as_str();
        let password = if manifest.has_service(Service::Postgres) {
            let (password, _) = postgres::load_or_create_password(&config.password_file(name))?;
            self.store()
                .ensure_app_database(&manifest.name().postgres_identifier(), &password)
                .await?;
            Some(password)
        } else {
            None
        };
        let binds = data_dirs::prepare(config, manifest)?;
        let docker_socket = manifest.has_service(Service::DockerSockRo);
        let fresh_proxy = docker_socket && self.ensure_proxy(name)?;
        let ctx = template_context(config, manifest, password.as_deref());
        let spec = spec(config, manifest, &ctx, binds, docker_socket)?;
        let hash = manifest_hash(manifest);
        match self.engine().inspect_container(name).await? {
            Some(c) if c.labels.get(LABEL_INSTANCE) != Some(&config.instance_id) => {
                return Err(AppsError::ForeignContainer(name.to_owned()));
            }
            Some(c) if c.labels.get(LABEL_MANIFEST) == Some(&hash) => {
                // The proxy socket is a new inode: a running container still
                // has the old one mounted until it restarts.
                if fresh_proxy && c.state == berth_docker::ContainerState::Running {
                    self.engine().restart_container(name).await?;
                }
            }
            Some(_) => {
                self.engine().remove_container(name).await?;
                self.engine().create_container(&spec).await?;
            }
            None => {
                self.engine().create_container(&spec).await?;
            }
        }
        if want_running {
            self.engine().start_container(name).await?;
        }
        self.refresh(name).await;
        self.store()
            .set_app_phase(name, AppPhase::Installed, false)
            .await?;
        self.store().set_app_error(name, None).await?;
        self.changed(name);
        Ok(())
    }

    /// The uninstall steps; each idempotent.
    pub(crate) async fn converge_uninstall(
        &self,
        name: &str,
        discard: Discard,
    ) -> Result<(), AppsError> {
        let config = self.config();
        if let Some(c) = self.engine().inspect_container(name).await? {
            if c.labels.get(LABEL_INSTANCE) == Some(&config.instance_id) {
                self.engine().remove_container(name).await?;
            }
        }
        self.stop_proxy(name)?;
        if discard.database {
            if let Ok(app) = berth_manifest::name::AppName::new(name) {
                self.store()
                    .drop_app_database(&app.postgres_identifier())
                    .await?;
            }
            match std::fs::remove_file(config.password_file(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("cannot remove the app's password")(e)),
            }
        }
        if discard.data_dirs {
            data_dirs::remove_app_dir(config, name)?;
        }
        self.store().delete_app(name).await?;
        self.forget(name);
        Ok(())
    }

    /// Starts the app's Docker proxy if it is not running; `true` if started.
    fn ensure_proxy(&self, name: &str) -> Result<bool, AppsError> {
        let mut proxies = self
            .inner
            .proxies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if proxies.contains_key(name) {
            return Ok(false);
        }
        let upstream = self.engine().socket_path().ok_or_else(|| {
            AppsError::Service("docker_sock_ro needs the Docker engine on a Unix socket".into())
        })?;
        let socket = self.config().proxy_socket(name);
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir)
                .map_err(io(format!("cannot create `{}`", dir.display())))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
                .map_err(io(format!("cannot protect `{}`", dir.display())))?;
        }
        let filter: berth_docker::proxy::Filter =
            Arc::new(
                |method: &str, path: &str| match decide_docker_request(method, path) {
                    // Other apps' env holds their database passwords.
                    DockerDecision::Allow(DockerEndpoint::ContainerInspect) => {
                        Ok(Forward::RedactEnv)
                    }
                    DockerDecision::Allow(_) => Ok(Forward::AsIs),
                    DockerDecision::Deny(reason) => Err(reason.to_string()),
                },
            );
        let handle = berth_docker::proxy::serve(&socket, std::path::Path::new(upstream), filter)
            .map_err(io(format!("cannot serve `{}`", socket.display())))?;
        proxies.insert(name.to_owned(), handle);
        Ok(true)
    }

    fn stop_proxy(&self, name: &str) -> Result<(), AppsError> {
        let handle = self
            .inner
            .proxies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(name);
        drop(handle);
        match std::fs::remove_file(self.config().proxy_socket(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("cannot remove the app's Docker socket")(e)),
        }
    }
}
