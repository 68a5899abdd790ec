//! The apps service as the gateway's [`AppDirectory`], and idle shutdown.
//!
//! Routes are rebuilt from the installed apps twice a second into an
//! in-memory map, so a request never queries the database. A stopped app is
//! woken once however many requests wait (`SingleFlight`) and the request is
//! held until the app's port accepts. Apps with `idle_time_for_shutdown`
//! are stopped after that long with no request and no open connection;
//! `always_on` apps never are.
//!
//! An idle stop and a wake of one app never overlap: both hold the app's
//! `transition` lock, and the stop claims the app in the activity tracker
//! (under the lock every request's start takes), so a request that arrives
//! while the app is being stopped is told it is stopped and waits for the
//! wake, which starts the app once the stop is done.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use berth_apps::Apps;
use berth_gateway::activity::ActivityTracker;
use berth_gateway::directory::BoxFuture;
use berth_gateway::wake::SingleFlight;
use berth_gateway::{ActivityGuard, AppDirectory, AppRoute, Upstream, UpstreamState, WakeError};
use berth_manifest::entrypoint::EntrypointKind;
use berth_manifest::lifecycle::Lifecycle;
use thread_local::ThreadLocal;

const REFRESH: Duration = Duration::from_millis(500);
const IDLE_CHECK: Duration = Duration::from_secs(1);
const WAKE_LIMIT: Duration = Duration::from_secs(60);

struct Entry {
    manifest_json: String,
    route: AppRoute,
    port: u16,
    lifecycle: Lifecycle,
    running: bool,
    /// The container ended on its own (or is gone) while berth wanted it
    /// running. Only that is a crash: an app being woken (`starting`, or
    /// running before its address is seen) is merely not running yet, and
    /// a request for it must join the wake rather than be told it crashed.
    crashed: bool,
    address: Option<IpAddr>,
    /// When berth last saw the app start running: an app nobody visited
    /// since is idle from then.
    running_since: Instant,
    /// Which start of the app this is, as far as berth saw: new whenever it
    /// is seen running after not running, or at another address.
    generation: u64,
}

/// Start generations, unique across apps.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    GENERATIONS.fetch_add(1, Ordering::Relaxed)
}

/// What a gateway thread keeps of an entry: its own copy of the route, so
/// that a request touches no reference count another thread does.
struct LocalEntry {
    route: AppRoute,
    state: UpstreamState,
}

impl LocalEntry {
    fn of(entry: &Entry) -> Self {
        Self {
            route: entry.route.copy_for_thread(),
            state: entry.state(),
        }
    }
}

/// One thread's copy of the entries, as of `version`.
struct LocalEntries {
    version: u64,
    /// foldhash: read on every request, keyed by installed apps' names.
    entries: foldhash::HashMap<String, LocalEntry>,
}

impl Entry {
    /// Where the app is, as this entry saw it (an idle stop under way is
    /// the tracker's to tell).
    fn state(&self) -> UpstreamState {
        match self {
            Entry {
                running: true,
                address: Some(ip),
                port,
                generation,
                ..
            } => UpstreamState::Running(Upstream::new(SocketAddr::new(*ip, *port), *generation)),
            Entry { crashed: true, .. } => UpstreamState::Crashed,
            _ => UpstreamState::Stopped,
        }
    }
}

pub struct AppsDirectory {
    apps: Apps,
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    /// Bumped after every change of `entries`: a thread's copy older than
    /// it is rebuilt on its next request.
    version: AtomicU64,
    /// Per thread, the entries as of a version: the request path reads
    /// these, so two gateway threads share no lock and no count.
    local: ThreadLocal<RefCell<LocalEntries>>,
    tracker: ActivityTracker,
    flight: SingleFlight,
    /// Per app: held by an idle stop and by a wake, start to end.
    transitions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl AppsDirectory {
    /// Builds the directory and starts its refresh and idle-shutdown loops.
    pub fn spawn(apps: Apps) -> Arc<Self> {
        let dir = Arc::new(Self {
            apps,
            entries: RwLock::new(HashMap::new()),
            version: AtomicU64::new(0),
            local: ThreadLocal::new(),
            tracker: ActivityTracker::new(),
            flight: SingleFlight::new(),
            transitions: Mutex::new(HashMap::new()),
        });
        let refresher = Arc::clone(&dir);
        let mut changes = dir.apps.subscribe();
        tokio::spawn(async move {
            loop {
                refresher.refresh().await;
                // At once on a change announced by the apps service (a new
                // app is routable as soon as it shows as running), and
                // every REFRESH in any case.
                let _ = tokio::time::timeout(REFRESH, changes.recv()).await;
            }
        });
        let idler = Arc::clone(&dir);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(IDLE_CHECK).await;
                idler.stop_idle_apps().await;
            }
        });
        dir
    }

    async fn refresh(&self) {
        let Ok(views) = self.apps.list().await else {
            return;
        };
        let old = self.entries.read().map(|e| e.clone()).unwrap_or_default();
        let mut next = HashMap::new();
        for v in views.into_iter().filter(|v| v.phase == "installed") {
            let manifest_json = v.manifest.to_string();
            let running = v.status == "running";
            let previous = old.get(&v.name);
            let (route, port, lifecycle) =
                match previous.filter(|p| p.manifest_json == manifest_json) {
                    Some(p) => (p.route.clone(), p.port, p.lifecycle),
                    None => {
                        let Ok(parsed) = berth_manifest::parse_value(v.manifest.clone()) else {
                            continue;
                        };
                        let m = parsed.manifest;
                        let Some(port) = m
                            .entrypoints()
                            .iter()
                            .find(|e| e.kind() == EntrypointKind::Http)
                            .map(|e| e.container_port())
                        else {
                            continue;
                        };
                        let Ok(route) = AppRoute::from_manifest(&m) else {
                            continue;
                        };
                        (route, port, m.lifecycle())
                    }
                };
            let address = self.apps.address(&v.name);
            let (running_since, generation) = match previous {
                Some(p) if p.running && running && p.address == address => {
                    (p.running_since, p.generation)
                }
                _ => (Instant::now(), next_generation()),
            };
            next.insert(
                v.name.clone(),
                Arc::new(Entry {
                    manifest_json,
                    route,
                    port,
                    lifecycle,
                    running,
                    crashed: v.want_running
                        && matches!(v.status.as_str(), "exited" | "dead" | "missing"),
                    address,
                    running_since,
                    generation,
                }),
            );
        }
        if let Ok(mut e) = self.entries.write() {
            *e = next;
        }
        self.version.fetch_add(1, Ordering::Release);
    }

    async fn stop_idle_apps(&self) {
        let candidates: Vec<(String, u64, Instant)> = match self.entries.read() {
            Ok(e) => e
                .iter()
                .filter(|(_, e)| e.running)
                .filter_map(|(name, e)| match e.lifecycle {
                    Lifecycle::IdleShutdown { seconds } => {
                        Some((name.clone(), u64::from(seconds), e.running_since))
                    }
                    Lifecycle::AlwaysOn => None,
                })
                .collect(),
            Err(_) => return,
        };
        for (name, seconds, since) in candidates {
            let transition = self.transition(&name);
            let _held = transition.lock().await;
            // Re-checked now that no wake runs: one may have just started
            // the app, or a request may have begun.
            if !self.entry(&name).is_some_and(|e| e.running) {
                continue;
            }
            if !self
                .tracker
                .claim_idle(&name, since, Duration::from_secs(seconds))
            {
                continue;
            }
            tracing::info!(app = %name, idle_seconds = seconds, "stopping idle app");
            if let Err(e) = self.apps.stop_idle(&name).await {
                tracing::warn!(app = %name, error = %e, "idle stop failed");
            }
            // The map must show the app stopped before requests stop being
            // told so by the claim.
            self.refresh().await;
            self.tracker.release_idle(&name);
        }
    }

    fn transition(&self, app: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.transitions.lock() {
            Ok(mut t) => Arc::clone(t.entry(app.to_owned()).or_default()),
            // A poisoned map still serializes nothing wrongly: a fresh lock
            // per call only loses the exclusion, never blocks.
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// One read lock and a reference count: the gateway asks this on
    /// every request.
    fn entry(&self, app: &str) -> Option<Arc<Entry>> {
        self.entries.read().ok()?.get(app).cloned()
    }
}

impl AppsDirectory {
    /// `f` of this thread's copy of the app's entry, brought up to date
    /// first if the entries changed since.
    fn with_local<R>(&self, app: &str, f: impl FnOnce(Option<&LocalEntry>) -> R) -> R {
        let cell = self.local.get_or(|| {
            RefCell::new(LocalEntries {
                version: u64::MAX,
                entries: foldhash::HashMap::default(),
            })
        });
        // Never borrowed across a call back into the directory; should it
        // ever be, the shared entries answer instead of a panic.
        let Ok(mut local) = cell.try_borrow_mut() else {
            return f(self.entry(app).map(|e| LocalEntry::of(&e)).as_ref());
        };
        // Read before the entries: a refresh in between bumps it again,
        // and the next request rebuilds.
        let version = self.version.load(Ordering::Acquire);
        if local.version != version {
            let Ok(shared) = self.entries.read() else {
                return f(None);
            };
            local.entries = shared
                .iter()
                .map(|(name, e)| (name.clone(), LocalEntry::of(e)))
                .collect();
            local.version = version;
        }
        f(local.entries.get(app))
    }
}

impl AppDirectory for AppsDirectory {
    fn route(&self, app: &str) -> Option<AppRoute> {
        self.with_local(app, |e| e.map(|e| e.route.clone()))
    }

    fn state(&self, app: &str) -> UpstreamState {
        // Asked after `begin_request`: a stop claimed before it is seen here.
        if self.tracker.is_stopping(app) {
            return UpstreamState::Stopped;
        }
        self.with_local(app, |e| e.map_or(UpstreamState::Crashed, |e| e.state))
    }

    fn wake<'a>(&'a self, app: &'a str) -> BoxFuture<'a, Result<Upstream, WakeError>> {
        Box::pin(async move {
            let port = self.entry(app).ok_or(WakeError::Unknown)?.port;
            let apps = self.apps.clone();
            let name = app.to_owned();
            let transition = self.transition(app);
            let tracker = self.tracker.clone();
            let result = self
                .flight
                .run(app, move || async move {
                    // Waits for an idle stop under way to finish first.
                    let _held = transition.lock().await;
                    apps.set_starting(&name, true);
                    let woken = wake_and_wait(&apps, &name, port).await;
                    apps.set_starting(&name, false);
                    if woken.is_ok() {
                        // Fresh before the lock goes, so the next idle
                        // check cannot stop the app it just woke.
                        tracker.touch(&name);
                    }
                    woken
                })
                .await;
            let addr = result?;
            self.refresh().await;
            // The generation berth now sees for this start; one of its own
            // if the map does not show the app running there yet, so the
            // connection is not reused past it.
            let generation = match self.entry(app).as_deref() {
                Some(e) if e.running && e.address == Some(addr.ip()) => e.generation,
                _ => next_generation(),
            };
            Ok(Upstream::new(addr, generation))
        })
    }

    fn begin_request(&self, app: &str) -> ActivityGuard {
        self.tracker.begin(app)
    }
}

/// Starts the app and waits until its port accepts connections.
async fn wake_and_wait(
    apps: &berth_apps::Apps,
    name: &str,
    port: u16,
) -> Result<SocketAddr, WakeError> {
    apps.start(name)
        .await
        .map_err(|e| WakeError::Failed(e.to_string()))?;
    let deadline = Instant::now() + WAKE_LIMIT;
    while Instant::now() < deadline {
        if let Some(ip) = apps.address(name) {
            let addr = SocketAddr::new(ip, port);
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(addr);
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(WakeError::Timeout)
}
