//! `berth serve`: the boot sequence, then the HTTP listener until a signal.
//!
//! Stages, each logged: data dir and lock, leftover children, ports, Docker,
//! Postgres, migrations, signing key, registry, HTTP. A failure in any stage
//! stops the children already started and exits with one clear line.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use berth_api::{ApiConfig, AppState, Metrics};
use berth_registry::signing::{SigningKey, SigningPaths};
use berth_store::Store;
use tokio::net::TcpListener;

use crate::config::{Config, PostgresSource, RegistrySource};
use crate::layout::Layout;
use crate::lock::DataDirLock;
use crate::postgres_cluster::ManagedPostgres;
use crate::registry_process::ManagedRegistry;
use crate::supervisor::{reap_stale, Supervisor};

/// Name of berth's own database in the managed cluster.
pub const META_DATABASE: &str = "berth";

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let boot = Instant::now();
    let layout = prepare_data_dir(&cfg)?;
    let _lock = DataDirLock::acquire(&layout.lock_file())?;
    tracing::info!(data_dir = %layout.root().display(), "data dir locked");

    let metrics = Metrics::new();
    let mut supervisor = Supervisor::new(metrics.clone());
    let result = boot_and_serve(&cfg, &layout, &mut supervisor, metrics, boot).await;
    supervisor.stop_all().await;
    tracing::info!("berth stopped");
    result
}

/// Creates the data dir and makes its path absolute: children and markers
/// must not depend on the working directory.
fn prepare_data_dir(cfg: &Config) -> anyhow::Result<Layout> {
    Layout::new(&cfg.data_dir).create()?;
    let root = cfg
        .data_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve data dir `{}`", cfg.data_dir.display()))?;
    Ok(Layout::new(&root))
}

async fn boot_and_serve(
    cfg: &Config,
    layout: &Layout,
    supervisor: &mut Supervisor,
    metrics: Metrics,
    boot: Instant,
) -> anyhow::Result<()> {
    let cluster = match cfg.postgres {
        PostgresSource::Managed { listen } => Some(ManagedPostgres::new(layout, listen)?),
        PostgresSource::External { .. } => None,
    };
    let notification_secret = match &cfg.notification_secret {
        Some(s) => s.clone(),
        None => layout.secret("registry-notification-secret")?,
    };
    let registry = match cfg.registry {
        RegistrySource::Managed { listen } => Some(ManagedRegistry::prepare(
            cfg,
            layout,
            listen,
            &notification_secret,
            &layout.secret("registry-http-secret")?,
        )?),
        RegistrySource::External { .. } => None,
    };

    // Leftovers of a berth killed with SIGKILL hold our ports; stop them first.
    if let Some(c) = &cluster {
        reap_stale(&c.child_spec()).await;
    }
    if let Some(r) = &registry {
        reap_stale(&r.child_spec()).await;
    }

    let listener = bind("listen", cfg.listen).await?;
    if let PostgresSource::Managed { listen } = cfg.postgres {
        ensure_free("postgres_listen", listen).await?;
    }
    if let RegistrySource::Managed { listen } = cfg.registry {
        ensure_free("registry_listen", listen).await?;
    }

    let engine = berth_docker::Engine::connect()
        .map_err(|e| anyhow::anyhow!("{e}; start the daemon (`dockerd &`) or set DOCKER_HOST"))?;
    match tokio::time::timeout(Duration::from_secs(5), engine.version()).await {
        Ok(Ok(v)) => tracing::info!(version = %v.version, api = %v.api_version, "docker engine reachable"),
        Ok(Err(e)) => bail!("{e}; start the daemon (`dockerd &`) or set DOCKER_HOST"),
        Err(_) => bail!(
            "the Docker engine at `{}` did not answer within 5s; start the daemon (`dockerd &`) or set DOCKER_HOST",
            engine.endpoint()
        ),
    }

    let store = match &cluster {
        Some(c) => {
            c.prepare().await?;
            supervisor.start(c.child_spec())?;
            c.wait_ready(Duration::from_secs(30)).await?;
            berth_store::admin::ensure_database(&c.admin_options("postgres"), META_DATABASE)
                .await?;
            Store::connect(c.admin_options(META_DATABASE)).await?
        }
        None => {
            let PostgresSource::External { url } = &cfg.postgres else {
                bail!("internal: postgres source changed during boot");
            };
            let options = berth_store::parse_url(url)
                .context("postgres_url is not a valid connection URL")?;
            Store::connect(options).await?
        }
    };
    tracing::info!(version = %store.server_version().await?, "postgres reachable");
    store.migrate().await?;
    store
        .meta_get_or_insert("instance_id", &crate::layout::random_hex(16))
        .await?;
    tracing::info!("migrations applied");

    let signing =
        SigningKey::load_or_create_for(&SigningPaths::in_dir(&layout.keys()), cfg.token_algorithm)?;
    tracing::info!(kid = signing.kid_libtrust(), "token signing key ready");
    let registry_auth = crate::registry_auth::prepare(cfg, layout, &store, &signing).await?;

    if let Some(r) = &registry {
        supervisor.start(r.child_spec())?;
        r.wait_ready(Duration::from_secs(30)).await?;
    }
    tracing::info!(url = %cfg.registry_url(), "registry reachable");

    let state = AppState::new(ApiConfig {
        store: store.clone(),
        registry_url: cfg.registry_url(),
        notification_secret,
        metrics,
        registry_auth: Some(registry_auth),
    });
    tracing::info!(
        listen = %cfg.listen,
        boot_ms = boot.elapsed().as_millis() as u64,
        "berth is serving"
    );

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        berth_api::serve(listener, state, async {
            let _ = stop_rx.await;
        })
        .await
    });
    let signal = shutdown_signal().await;
    tracing::info!(signal, "shutting down");
    let _ = stop_tx.send(());
    // Open streams (log follows, event streams) must not hold shutdown
    // beyond the 10 s budget; children need the rest.
    let mut server = server;
    if tokio::time::timeout(Duration::from_secs(2), &mut server)
        .await
        .is_err()
    {
        server.abort();
    }
    store.close().await;
    Ok(())
}

async fn bind(key: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr} (`{key}`): {e}; stop what uses that port or choose another --{}", key.replace('_', "-"))
    })
}

async fn ensure_free(key: &str, addr: SocketAddr) -> anyhow::Result<()> {
    drop(bind(key, addr).await?);
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
