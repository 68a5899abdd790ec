//! `berth serve`: the boot sequence, then the HTTP listener until a signal.
//!
//! Stages, each logged: data dir and lock, leftover children, ports, Docker,
//! Postgres, migrations, signing key, registry, HTTP. A failure in any stage
//! stops the children already started and exits with one clear line; a
//! SIGTERM or SIGINT during the stages stops them the same way, exit code 0.

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
    // Handlers go in before anything else: until they do, SIGTERM and SIGINT
    // keep their default action and kill berth on the spot, leaving its
    // children to the next start's reaping. A signal during start-up stops
    // the start; one while serving shuts down gracefully.
    let mut signals = ShutdownSignals::install()?;
    let layout = prepare_data_dir(&cfg)?;
    let _lock = DataDirLock::acquire(&layout.lock_file())?;
    tracing::info!(data_dir = %layout.root().display(), "data dir locked");

    let metrics = Metrics::new();
    let mut supervisor = Supervisor::new(metrics.clone());
    let started = tokio::select! {
        started = start(&cfg, &layout, &mut supervisor, metrics, boot) => Some(started),
        signal = signals.recv() => {
            tracing::info!(signal, "signal during start-up; stopping");
            None
        }
    };
    let result = match started {
        Some(Ok(serving)) => {
            let signal = signals.recv().await;
            serving.shut_down(signal).await;
            Ok(())
        }
        Some(Err(e)) => Err(e),
        None => Ok(()),
    };
    remove_unused_network(&layout).await;
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

/// Everything that runs once berth is up; [`Serving::shut_down`] stops it
/// in order: background workers, then the listeners, then the store.
struct Serving {
    server: berth_gateway::server::PerCoreServer,
    core_server: tokio::task::JoinHandle<std::io::Result<()>>,
    stop_core_server: tokio::sync::oneshot::Sender<()>,
    sync: tokio::task::JoinHandle<()>,
    webhooks: tokio::task::JoinHandle<()>,
    store: Store,
}

impl Serving {
    async fn shut_down(self, signal: &'static str) {
        self.sync.abort();
        self.webhooks.abort();
        tracing::info!(signal, "shutting down");
        let _ = self.stop_core_server.send(());
        self.core_server.abort();
        self.server.shut_down().await;
        self.store.close().await;
    }
}

/// Boots every stage and starts serving; returns once the listeners run.
async fn start(
    cfg: &Config,
    layout: &Layout,
    supervisor: &mut Supervisor,
    metrics: Metrics,
    boot: Instant,
) -> anyhow::Result<Serving> {
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

    // The gateway's threads each accept from a sibling of this socket.
    let listener = berth_gateway::server::bind(cfg.listen)
        .map_err(|e| bind_error("listen", cfg.listen, &e))?;
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

    // The berth network: apps live on it and reach Postgres and the core
    // at its gateway. Named after the instance so two berths never share one.
    let instance_id = layout.instance_id()?;
    let network_name = berth_apps::AppsConfig::network_name(&instance_id);
    let labels = std::collections::HashMap::from([(
        berth_apps::LABEL_INSTANCE.to_owned(),
        instance_id.clone(),
    )]);
    let network = engine
        .ensure_network(&network_name, &labels)
        .await
        .with_context(|| format!("cannot create the Docker network `{network_name}`"))?;
    tracing::info!(network = %network.name, gateway = %network.gateway, subnet = %network.subnet, "docker network ready");
    let cluster = cluster.map(|c| c.with_docker_network(network.gateway, &network.subnet));

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

    let identities = berth_identity::Identities::open(
        store.clone(),
        &layout.identity_keys(),
        cfg.domain.clone(),
        None,
    )
    .await?;
    let owner_token = layout.owner_token()?;
    let authenticator = identities.authenticator().clone();
    tracing::info!(token_file = %layout.owner_token_file().display(), "identity and owner token ready");

    let webhook_sealer = berth_store::sealed::SecretBox::from_hex(&layout.secret("webhook-key")?)?;
    let state = AppState::new(ApiConfig {
        store: store.clone(),
        registry_url: cfg.registry_url(),
        notification_secret,
        metrics,
        registry_auth: Some(registry_auth),
        identities,
        owner_token,
        webhook_sealer: Some(webhook_sealer.clone()),
    });
    let catalog_sync = crate::sync_worker::catalog_sync(
        store.clone(),
        &cfg.registry_url(),
        layout.secret("service-user-password")?,
        state.metrics().clone(),
    )?;
    state.set_catalog_sync(catalog_sync.clone());
    let (core_listener, apps) = start_apps(cfg, layout, &store, &engine, network, &state).await?;
    tracing::info!(
        listen = %cfg.listen,
        boot_ms = boot.elapsed().as_millis() as u64,
        "berth is serving"
    );

    let state_for_core = state.clone();
    let web = berth_web::Web::new(berth_web::WebConfig {
        store: store.clone(),
        identities: state.identities().clone(),
        policy: state.registry_auth().map(|a| a.policy).unwrap_or(
            berth_authz::policy::PolicySettings {
                delete_enabled: false,
            },
        ),
        apps: Some(apps.clone()),
        catalog_sync: Some(catalog_sync.clone()),
        // berth serves plain HTTP; a TLS front sets its own cookie policy.
        secure_cookies: false,
    });
    let gateway = crate::front_door::gateway(
        cfg,
        state,
        web,
        authenticator,
        crate::app_directory::AppsDirectory::spawn(apps.clone()),
    );
    // Open streams (log follows, event streams, WebSockets) must not hold
    // shutdown beyond the 10 s budget; children need the rest.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server =
        berth_gateway::server::serve_per_core(listener, gateway, Duration::from_secs(2), threads)
            .context("starting the gateway's threads")?;
    let (core_stop_tx, core_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let core_server = tokio::spawn(berth_api::serve_core(
        core_listener,
        state_for_core,
        async {
            let _ = core_stop_rx.await;
        },
    ));
    let sync = crate::sync_worker::spawn(catalog_sync, cfg.sync_interval);
    let webhooks =
        crate::webhook_worker::spawn(store.clone(), webhook_sealer, cfg.webhook_retry_base)?;
    Ok(Serving {
        server,
        core_server,
        stop_core_server: core_stop_tx,
        sync,
        webhooks,
        store,
    })
}

/// An instance without containers takes its network with it when it stops
/// (or fails to start); with containers, even stopped ones, the network
/// stays, since they keep running (or will start) without berth.
async fn remove_unused_network(layout: &Layout) {
    let Ok(id) = std::fs::read_to_string(layout.root().join("instance-id")) else {
        return;
    };
    let Ok(engine) = berth_docker::Engine::connect() else {
        return;
    };
    let label = format!("{}={}", berth_apps::LABEL_INSTANCE, id.trim());
    let name = berth_apps::AppsConfig::network_name(id.trim());
    match engine.list_container_names(&label).await {
        Ok(containers) if containers.is_empty() => {
            if let Err(e) = engine.remove_network(&name).await {
                tracing::warn!(error = %e, network = %name, "cannot remove the docker network");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot list the instance's containers"),
    }
}

/// Issue 3: the apps service, its convergence, its status watcher, the owner
/// token and the core listener for apps on the network gateway.
async fn start_apps(
    cfg: &Config,
    layout: &Layout,
    store: &Store,
    engine: &berth_docker::Engine,
    network: berth_docker::NetworkInfo,
    state: &AppState,
) -> anyhow::Result<(TcpListener, berth_apps::Apps)> {
    let postgres_port = match cfg.postgres {
        PostgresSource::Managed { listen } => {
            store.revoke_public_connect_on_system_databases().await?;
            listen.port()
        }
        PostgresSource::External { .. } => {
            tracing::warn!("apps' postgres service expects the managed cluster; with --postgres-url apps reach port 5432 on the network gateway");
            5432
        }
    };
    let core_addr = SocketAddr::new(network.gateway, cfg.core_port);
    let core_listener = bind("core_port", core_addr).await?;
    let apps = berth_apps::Apps::new(
        store.clone(),
        engine.clone(),
        berth_apps::AppsConfig {
            data_dir: layout.root().to_owned(),
            instance_id: layout.instance_id()?,
            network,
            postgres_port,
            domain: "localhost".into(),
        },
    );
    let started = Instant::now();
    if let Err(e) = apps.reconcile().await {
        tracing::warn!(error = %e, "apps did not fully converge; the watcher retries after engine restarts");
    }
    tracing::info!(
        converge_ms = started.elapsed().as_millis() as u64,
        "apps converged"
    );
    apps.spawn_watcher();
    state.set_apps(apps.clone());
    let url = format!("http://{}\n", crate::config::client_facing(cfg.listen));
    std::fs::write(layout.api_url_file(), url).context("cannot write run/api.url")?;
    std::fs::write(
        layout.registry_url_file(),
        format!("{}\n", cfg.registry_url()),
    )
    .context("cannot write run/registry.url")?;
    tracing::info!(listen = %core_addr, "core API for apps (portal_core) listening");
    Ok((core_listener, apps))
}

async fn bind(key: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| bind_error(key, addr, &e))
}

fn bind_error(key: &str, addr: SocketAddr, e: &std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot listen on {addr} (`{key}`): {e}; stop what uses that port or choose another --{}",
        key.replace('_', "-")
    )
}

/// Checks that `addr` can be bound. A leftover child that was just stopped
/// may hold it for a moment longer, so a busy port is retried for 5 s.
async fn ensure_free(key: &str, addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match bind(key, addr).await {
            Ok(l) => {
                drop(l);
                return Ok(());
            }
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// SIGTERM and SIGINT, caught from the moment they are installed.
struct ShutdownSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            terminate: signal(SignalKind::terminate())
                .context("cannot install the SIGTERM handler")?,
            interrupt: signal(SignalKind::interrupt())
                .context("cannot install the SIGINT handler")?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
