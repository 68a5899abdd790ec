//! The container of an app: its spec (image, env rendered from templates,
//! mounts, labels, network, host aliases), derived only from the stored
//! manifest and berth's configuration, so that recreating it is repeatable.

use std::collections::{BTreeMap, HashMap};

use berth_docker::{Bind, ContainerSpec};
use berth_manifest::manifest::AppManifest;
use berth_manifest::template::Variable;
use sha2::{Digest, Sha256};

use crate::{
    AppsConfig, AppsError, CORE_HOST, LABEL_APP, LABEL_INSTANCE, LABEL_MANIFEST, POSTGRES_HOST,
};

/// Where the read-only Docker API appears inside the container.
pub(crate) const DOCKER_SOCKET_IN_CONTAINER: &str = "/var/run/docker.sock";

/// Short hash of the stored manifest: a container made from another
/// manifest (an upgrade) is recreated.
pub(crate) fn manifest_hash(manifest: &AppManifest) -> String {
    let digest = Sha256::digest(manifest.to_stored_json().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The values templates may use, for one app.
pub(crate) fn template_context(
    config: &AppsConfig,
    manifest: &AppManifest,
    postgres_password: Option<&str>,
) -> BTreeMap<Variable, String> {
    let mut ctx = BTreeMap::new();
    if let Some(password) = postgres_password {
        let ident = manifest.name().postgres_identifier();
        crate::postgres::template_values(config, &ident, password, &mut ctx);
    }
    let short: String = config.instance_id.chars().take(6).collect();
    ctx.insert(Variable::PortalId, config.instance_id.clone());
    ctx.insert(Variable::PortalShortId, short);
    ctx.insert(Variable::PortalDomain, config.domain.clone());
    ctx.insert(Variable::PortalName, "berth".to_owned());
    ctx.insert(
        Variable::FsAppData,
        config
            .app_dir(manifest.name().as_str())
            .display()
            .to_string(),
    );
    ctx
}

pub(crate) fn spec(
    config: &AppsConfig,
    manifest: &AppManifest,
    ctx: &BTreeMap<Variable, String>,
    mut binds: Vec<Bind>,
    docker_socket: bool,
) -> Result<ContainerSpec, AppsError> {
    let name = manifest.name().as_str();
    let mut env = Vec::new();
    for (key, template) in manifest.env_vars() {
        let value = template
            .render(ctx)
            .map_err(|e| AppsError::Service(format!("env var `{key}`: {e}")))?;
        env.push(format!("{key}={value}"));
    }
    if docker_socket {
        binds.push(Bind {
            host: config.proxy_socket(name).display().to_string(),
            container: DOCKER_SOCKET_IN_CONTAINER.to_owned(),
            read_only: false,
        });
    }
    let mut labels = HashMap::new();
    labels.insert(LABEL_APP.to_owned(), name.to_owned());
    labels.insert(LABEL_INSTANCE.to_owned(), config.instance_id.clone());
    labels.insert(LABEL_MANIFEST.to_owned(), manifest_hash(manifest));
    let gateway = config.network.gateway;
    Ok(ContainerSpec {
        name: name.to_owned(),
        image: manifest.image().as_str().to_owned(),
        env,
        labels,
        binds,
        network: config.network.name.clone(),
        aliases: vec![name.to_owned()],
        extra_hosts: vec![
            format!("{POSTGRES_HOST}:{gateway}"),
            format!("{CORE_HOST}:{gateway}"),
        ],
    })
}
