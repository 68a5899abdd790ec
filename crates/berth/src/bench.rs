//! `berth bench tokens`: token endpoint throughput and latency on loopback.
//!
//! Four figures in one run, each bounded in requests and time:
//! the refresh-token path (POST, docker's identity tokens), the
//! application-token path (GET with Basic), the password path (argon2-bound),
//! and a sign-only loop with the same key type in this process, so that the
//! refresh path can be reported as a fraction of pure signing.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use berth_registry::signing::{SigningKey, SigningPaths};
use berth_registry::token::{KidFormat, TokenSigner, DEFAULT_TTL};
use clap::Args;
use reqwest::Method;
use serde_json::json;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// berth's HTTP address (loopback only)
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An admin's username and password (`berth user bootstrap` creates one)
    #[arg(long)]
    user: String,
    #[arg(long, env = "BERTH_BENCH_PASSWORD")]
    password: String,
    /// Concurrent clients
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests per fast path (refresh, application token)
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Requests on the password path
    #[arg(long, default_value_t = 512)]
    password_requests: usize,
    /// Service name the registry uses
    #[arg(long, default_value = "berth-registry")]
    service: String,
}

/// Results of one path.
struct Figures {
    name: &'static str,
    ok: usize,
    failed: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// Every phase stops after this long even if requests remain.
const PHASE_CAP: Duration = Duration::from_secs(30);

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if !(args.url.starts_with("http://127.") || args.url.starts_with("http://localhost")) {
        bail!(
            "the benchmark only targets loopback; `--url` is `{}`",
            args.url
        );
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let url = format!("{}/v2/token", args.url.trim_end_matches('/'));
    let scope = format!("repository:{}/bench:pull,push", args.user);

    // A refresh token, as `docker login` would get it.
    let login = http
        .get(&url)
        .basic_auth(&args.user, Some(&args.password))
        .query(&[
            ("service", args.service.as_str()),
            ("offline_token", "true"),
            ("client_id", "bench"),
        ])
        .send()
        .await?
        .error_for_status()
        .context("login for a refresh token failed")?
        .json::<serde_json::Value>()
        .await?;
    let refresh = login["refresh_token"]
        .as_str()
        .context("no refresh token")?
        .to_owned();
    // An application token, through the API.
    let users = http
        .request(Method::GET, format!("{}/api/v1/users?all=true", args.url))
        .basic_auth(&args.user, Some(&args.password))
        .send()
        .await?
        .error_for_status()?
        .json::<serde_json::Value>()
        .await?;
    let me = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["username"] == args.user.as_str()))
        .and_then(|u| u["id"].as_i64())
        .context("bench user not found")?;
    let token = http
        .post(format!("{}/api/v1/users/{me}/application_tokens", args.url))
        .basic_auth(&args.user, Some(&args.password))
        .json(&json!({"application": format!("bench-{}", std::process::id())}))
        .send()
        .await?
        .error_for_status()
        .context("cannot create an application token (at most 5 per user)")?
        .json::<serde_json::Value>()
        .await?["plain_token"]
        .as_str()
        .context("no plain token")?
        .to_owned();

    let form = Arc::new(vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("refresh_token".to_owned(), refresh),
        ("client_id".to_owned(), "bench".to_owned()),
        ("service".to_owned(), args.service.clone()),
        ("scope".to_owned(), scope.clone()),
    ]);
    let query = Arc::new(vec![
        ("service".to_owned(), args.service.clone()),
        ("scope".to_owned(), scope),
    ]);

    let mut all = Vec::new();
    let (h, f, u) = (http.clone(), form.clone(), url.clone());
    all.push(
        phase(
            "refresh token (POST)",
            args.concurrency,
            args.requests,
            move || h.post(&u).form(&*f),
        )
        .await,
    );
    let (h, q, u, user) = (http.clone(), query.clone(), url.clone(), args.user.clone());
    all.push(
        phase(
            "application token (GET)",
            args.concurrency,
            args.requests,
            move || h.get(&u).query(&*q).basic_auth(&user, Some(&token)),
        )
        .await,
    );
    let (h, q, u, user, pw) = (
        http.clone(),
        query.clone(),
        url.clone(),
        args.user.clone(),
        args.password.clone(),
    );
    all.push(
        phase(
            "password (GET, argon2)",
            args.concurrency,
            args.password_requests,
            move || h.get(&u).query(&*q).basic_auth(&user, Some(&pw)),
        )
        .await,
    );
    let sign = sign_only(args.requests)?;

    let mut out = std::io::stdout().lock();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    writeln!(
        out,
        "token endpoint at {url}, {} concurrent clients, {cores} cores shared by client and server",
        args.concurrency
    )?;
    writeln!(
        out,
        "{:<26} {:>8} {:>7} {:>12} {:>10} {:>10}",
        "path", "ok", "failed", "tokens/s", "p50 ms", "p99 ms"
    )?;
    for f in &all {
        writeln!(
            out,
            "{:<26} {:>8} {:>7} {:>12.0} {:>10.2} {:>10.2}",
            f.name,
            f.ok,
            f.failed,
            f.per_second,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3
        )?;
    }
    writeln!(
        out,
        "{:<26} {:>8} {:>7} {:>12.0}",
        "sign only (ES256)", args.requests, 0, sign
    )?;
    if let Some(refresh) = all.first() {
        writeln!(
            out,
            "refresh path / sign only: {:.0}% (goal >= 40%)",
            100.0 * refresh.per_second / sign
        )?;
    }
    writeln!(out, "goals: >= 20000 tokens/s and p99 <= 5 ms for the refresh and application-token paths on 2 cores")?;
    Ok(())
}

/// Runs `total` requests from `clients` concurrent loops, bounded by [`PHASE_CAP`].
async fn phase(
    name: &'static str,
    clients: usize,
    total: usize,
    make: impl Fn() -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Figures {
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (make, next) = (make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failed = 0;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total
                && start.elapsed() < PHASE_CAP
            {
                let t = Instant::now();
                match make().send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => failed += 1,
                }
            }
            (lat, failed)
        }));
    }
    let mut lat = Vec::new();
    let mut failed = 0;
    for t in tasks {
        if let Ok((l, f)) = t.await {
            lat.extend(l);
            failed += f;
        }
    }
    let elapsed = start.elapsed();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        name,
        ok: lat.len(),
        failed,
        per_second: lat.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

/// Tokens per second from signing alone, on every core, with a fresh P-256 key.
fn sign_only(total: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let key = SigningKey::load_or_create(&SigningPaths::in_dir(dir.path()))?;
    let signer = Arc::new(TokenSigner::new(
        &key,
        KidFormat::Libtrust,
        "berth",
        "berth-registry",
        DEFAULT_TTL,
    )?);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let s = signer.clone();
            std::thread::spawn(move || {
                for _ in 0..total / threads {
                    let _ = s.sign("bench", &[], std::time::SystemTime::now());
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    Ok((total / threads * threads) as f64 / start.elapsed().as_secs_f64())
}
