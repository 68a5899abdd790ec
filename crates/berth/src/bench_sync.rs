//! `berth bench sync`: catalog sync figures against a running berth's
//! managed registry (loopback only, bounded in count and time).
//!
//! 1. Populate: `--repos` × `--tags` small OCI images (a one-layer image per
//!    tag, so every tag has its own digest), put straight through the
//!    distribution API as the service user, `--concurrency` repositories at
//!    a time.
//! 2. Full reconcile into an empty database: a scratch database on berth's
//!    Postgres, migrated, reconciled once; time and registry requests.
//! 3. Steady state: the same reconcile again; requests per repository.
//! 4. Event-to-visible: new tags pushed at `--rate` per second for
//!    `--seconds`, each timed from its manifest `PUT` returning to its row
//!    appearing in berth's own database (polled every 20 ms).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use berth_registry::client::{Credentials, RegistryClient};
use berth_registry::manifest::OCI_IMAGE;
use berth_store::{ConnectOptions, Store};
use berth_sync::reconcile::Depth;
use clap::Args;
use futures_util::stream::{self, StreamExt};
use tokio::sync::Mutex;

#[derive(Debug, Args)]
pub struct SyncBenchArgs {
    /// The running berth's data dir (service user password, addresses, Postgres socket)
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "./berth-data")]
    data_dir: PathBuf,
    /// berth's Postgres port (names its Unix socket)
    #[arg(long)]
    postgres_port: u16,
    #[arg(long, default_value_t = 1000)]
    repos: usize,
    #[arg(long, default_value_t = 10)]
    tags: usize,
    /// Repositories populated at once
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Pushes per second in the latency phase
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Length of the latency phase
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

const SCRATCH_DB: &str = "berth_bench_sync";
/// How long the latency phase waits for the last pushes to become visible.
const VISIBLE_CAP: Duration = Duration::from_secs(20);
/// How long the populate phase's notifications may take to be worked off.
const DRAIN_CAP: Duration = Duration::from_secs(600);

pub async fn run(args: SyncBenchArgs) -> anyhow::Result<()> {
    let registry_url = std::fs::read_to_string(args.data_dir.join("run/registry.url"))
        .context("cannot read run/registry.url; is `berth serve` running with this --data-dir?")?
        .trim()
        .to_owned();
    if !registry_url.starts_with("http://127.") {
        bail!("the benchmark only targets loopback; the registry is `{registry_url}`");
    }
    let password = std::fs::read_to_string(args.data_dir.join("secrets/service-user-password"))
        .context("cannot read the service user's password")?
        .trim()
        .to_owned();
    let client = || {
        RegistryClient::new(
            &registry_url,
            Some(Credentials {
                username: crate::registry_auth::SERVICE_USER.to_owned(),
                password: password.clone(),
            }),
        )
    };
    let pg = ConnectOptions::new()
        .socket(args.data_dir.join("run/postgres"))
        .port(args.postgres_port)
        .username("postgres");
    let mut rows = Rows::default();

    // 1. Populate.
    let pusher = client()?;
    let started = Instant::now();
    let run_id = crate::layout::random_hex(3);
    let names: Vec<String> = (0..args.repos)
        .map(|i| format!("sync-bench-{run_id}-{i:04}"))
        .collect();
    let mut done = 0usize;
    let mut pushes = stream::iter(names.iter())
        .map(|repo| {
            let pusher = &pusher;
            async move {
                for t in 0..args.tags {
                    let img = pusher
                        .generate_image(repo, &format!("{repo}:{t}"), "linux", "amd64")
                        .await?;
                    pusher
                        .put_manifest(repo, &format!("t{t}"), OCI_IMAGE, img.bytes)
                        .await?;
                }
                Ok::<_, berth_registry::client::ClientError>(())
            }
        })
        .buffer_unordered(args.concurrency.max(1));
    while let Some(r) = pushes.next().await {
        r?;
        done += 1;
        if done.is_multiple_of(50) || done == args.repos {
            eprint!("\rpopulated {done}/{} repositories", args.repos);
        }
    }
    eprintln!();
    let populate = started.elapsed();
    rows.push((
        format!(
            "populate {} × {} (blobs + manifests)",
            args.repos, args.tags
        ),
        format!(
            "{:.1} s, {} requests, {:.0} requests/s",
            populate.as_secs_f64(),
            pusher.registry_requests(),
            pusher.registry_requests() as f64 / populate.as_secs_f64()
        ),
    ));

    // 2. and 3. Reconcile into an empty scratch database, then again.
    berth_store::admin::drop_database(&pg.clone().database("postgres"), SCRATCH_DB).await?;
    berth_store::admin::ensure_database(&pg.clone().database("postgres"), SCRATCH_DB).await?;
    let scratch = Store::connect(pg.clone().database(SCRATCH_DB)).await?;
    scratch.migrate().await?;
    let reconciler = client()?;
    let t = Instant::now();
    let full = berth_sync::reconcile::reconcile(&reconciler, &scratch, Depth::Listed).await?;
    let full_time = t.elapsed();
    let full_tokens = reconciler.token_requests();
    let t = Instant::now();
    let steady = berth_sync::reconcile::reconcile(&reconciler, &scratch, Depth::Listed).await?;
    let steady_time = t.elapsed();
    scratch.close().await;
    berth_store::admin::drop_database(&pg.clone().database("postgres"), SCRATCH_DB).await?;
    let repositories = full.repositories.max(1) as f64;
    rows.push((
        format!("full reconcile, empty database ({} repositories)", full.repositories),
        format!(
            "{:.2} s, {} registry requests ({:.1}/repository) + {} token requests, {} upserts, {} manifests fetched",
            full_time.as_secs_f64(),
            full.requests,
            full.requests as f64 / repositories,
            full_tokens,
            full.upserts,
            full.manifests_fetched
        ),
    ));
    rows.push((
        "steady-state reconcile (nothing changed)".into(),
        format!(
            "{:.2} s, {} registry requests ({:.2}/repository; baseline 1) + {} token requests, {} changes",
            steady_time.as_secs_f64(),
            steady.requests,
            steady.requests as f64 / repositories,
            reconciler.token_requests() - full_tokens,
            steady.upserts + steady.removals
        ),
    ));
    if full.catalog_error.is_some() || !full.skipped.is_empty() {
        rows.push((
            "warning".into(),
            format!("reconcile incomplete: {:?}", full.catalog_error),
        ));
    }

    // 4. Event-to-visible latency in berth's own database, once berth has
    // worked off the notifications of the populate phase.
    let live = Store::connect(pg.clone().database("berth")).await?;
    let t = Instant::now();
    while !live.pending_registry_events(1).await?.is_empty() {
        if t.elapsed() > DRAIN_CAP {
            bail!("berth still had notifications pending after {DRAIN_CAP:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rows.push((
        "populate notifications still pending after the reconciles, drained in".into(),
        format!("{:.1} s", t.elapsed().as_secs_f64()),
    ));
    let (p50, p99, seen, sent) = latency(&args, Arc::new(client()?), &live, &run_id).await?;
    live.close().await;
    rows.push((
        format!(
            "event-to-visible at {} pushes/s for {} s",
            args.rate, args.seconds
        ),
        format!(
            "p50 {} ms, p99 {} ms ({seen}/{sent} visible within {} s)",
            p50.as_millis(),
            p99.as_millis(),
            VISIBLE_CAP.as_secs()
        ),
    ));

    rows.print_table()
}

/// Figures as they come (so a failing later phase loses none), then as a table.
#[derive(Default)]
struct Rows(Vec<(String, String)>);

impl Rows {
    fn push(&mut self, row: (String, String)) {
        eprintln!("{}: {}", row.0, row.1);
        self.0.push(row);
    }

    fn print_table(self) -> anyhow::Result<()> {
        let mut table = comfy_table::Table::new();
        table.load_preset(comfy_table::presets::NOTHING);
        table.set_header(["figure", "value"]);
        for (k, v) in self.0 {
            table.add_row([k, v]);
        }
        writeln!(std::io::stdout().lock(), "{table}")?;
        Ok(())
    }
}

/// Pushes new tags at a fixed pace and times each until berth records it,
/// with a poller running beside the pushes.
async fn latency(
    args: &SyncBenchArgs,
    client: Arc<RegistryClient>,
    store: &Store,
    run_id: &str,
) -> anyhow::Result<(Duration, Duration, usize, usize)> {
    let repo = format!("sync-bench-{run_id}-latency");
    let warm = client
        .generate_image(&repo, "warm-up", "linux", "amd64")
        .await?;
    client
        .put_manifest(&repo, "warm-up", OCI_IMAGE, warm.bytes)
        .await?;
    let repo_id = wait_for_repository(store, &repo).await?;

    let pushed: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let seen: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = tokio::spawn({
        let (store, seen, stop) = (store.clone(), seen.clone(), stop.clone());
        async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(tags) = store.tags(Some(repo_id)).await {
                    let now = Instant::now();
                    let mut seen = seen.lock().await;
                    for t in tags {
                        seen.entry(t.name).or_insert(now);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    let total = usize::try_from(u64::from(args.rate) * args.seconds).unwrap_or(usize::MAX);
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / args.rate.max(1));
    let mut tasks = Vec::with_capacity(total);
    eprintln!("pushing {total} tags at {}/s", args.rate);
    for i in 0..total {
        ticker.tick().await;
        let (client, pushed, repo) = (client.clone(), pushed.clone(), repo.clone());
        tasks.push(tokio::spawn(async move {
            let tag = format!("l{i:05}");
            let img = client
                .generate_image(&repo, &format!("{repo}:{tag}"), "linux", "amd64")
                .await?;
            client
                .put_manifest(&repo, &tag, OCI_IMAGE, img.bytes)
                .await?;
            pushed.lock().await.insert(tag, Instant::now());
            Ok::<_, berth_registry::client::ClientError>(())
        }));
    }
    let mut failed = 0;
    for t in tasks {
        if !matches!(t.await, Ok(Ok(()))) {
            failed += 1;
        }
    }
    if failed > 0 {
        eprintln!("{failed} pushes failed");
    }
    let deadline = Instant::now() + VISIBLE_CAP;
    let pushed = pushed.lock().await.clone();
    loop {
        let visible = {
            let seen = seen.lock().await;
            pushed.keys().filter(|t| seen.contains_key(*t)).count()
        };
        if visible >= pushed.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = poller.await;
    let seen = seen.lock().await;
    // A row seen before its PUT returned (the notification can beat the
    // answer) counts as zero.
    let mut latencies: Vec<Duration> = pushed
        .iter()
        .filter_map(|(tag, at)| seen.get(tag).map(|s| s.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    let pick = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies.get(i).copied().unwrap_or_default()
    };
    Ok((pick(0.50), pick(0.99), latencies.len(), total))
}

async fn wait_for_repository(store: &Store, full: &str) -> anyhow::Result<i64> {
    let start = Instant::now();
    loop {
        if let Some(r) = store
            .repositories(None)
            .await?
            .into_iter()
            .find(|r| r.name == full)
        {
            return Ok(r.id);
        }
        if start.elapsed() > DRAIN_CAP {
            bail!("`{full}` never appeared in berth's catalog");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
