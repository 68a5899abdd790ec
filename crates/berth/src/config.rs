//! berth's configuration: one struct, defaults in one place.
//!
//! Precedence is flag, then environment variable (both via clap), then the
//! TOML file given by `--config`, then the defaults below. `validate` runs
//! once on the merged result, so every source is checked the same way.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file `{path}` is not valid: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("`{key}` is not valid: {detail}")]
    Invalid { key: &'static str, detail: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Flags shared by `serve` and `doctor`. Every field is optional so that an
/// absent flag falls through to the file and then to the default.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// TOML file with the same keys as these flags (snake_case)
    #[arg(long, env = "BERTH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where berth keeps all its state [default: ./berth-data]
    #[arg(long, env = "BERTH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the HTTP API, UI and token endpoint [default: 127.0.0.1:8080]
    #[arg(long, env = "BERTH_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Address of the managed registry [default: 127.0.0.1:5000]
    #[arg(long, env = "BERTH_REGISTRY_LISTEN", value_name = "ADDR")]
    pub registry_listen: Option<SocketAddr>,
    /// TCP address of the managed Postgres cluster [default: 127.0.0.1:5433]
    #[arg(long, env = "BERTH_POSTGRES_LISTEN", value_name = "ADDR")]
    pub postgres_listen: Option<SocketAddr>,
    /// Use this Postgres server instead of the managed cluster
    #[arg(long, env = "BERTH_POSTGRES_URL", value_name = "URL")]
    pub postgres_url: Option<String>,
    /// Use this registry instead of the managed one
    #[arg(long, env = "BERTH_REGISTRY_URL", value_name = "URL")]
    pub registry_url: Option<String>,
    /// URL under which clients reach berth (token realm) [default: http://LISTEN]
    #[arg(long, env = "BERTH_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Seconds between catalog reconciles with the registry [default: 300]
    #[arg(long, env = "BERTH_SYNC_INTERVAL", value_name = "SECONDS")]
    pub sync_interval: Option<u64>,
    /// Apps are served at `<app>.<domain>` on the listen address [default: localhost]
    #[arg(long, env = "BERTH_DOMAIN", value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Shared secret the external registry sends on notifications (managed: generated)
    #[arg(
        long,
        env = "BERTH_REGISTRY_NOTIFICATION_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub registry_notification_secret: Option<String>,
    /// Port of the core API for apps (`http://portal_core/`), on the berth
    /// Docker network's gateway [default: 80]
    #[arg(long, env = "BERTH_CORE_PORT", value_name = "PORT")]
    pub core_port: Option<u16>,
    /// Registry token signature algorithm: ES256 or RS256 [default: ES256]
    #[arg(long, env = "BERTH_TOKEN_ALGORITHM", value_name = "ALG")]
    pub token_algorithm: Option<String>,
    /// First wait before re-sending a failed webhook delivery, doubling
    /// after each failure [default: 1000]
    #[arg(long, env = "BERTH_WEBHOOK_RETRY_BASE_MS", value_name = "MS")]
    pub webhook_retry_base_ms: Option<u64>,
}

/// The TOML file. Unknown keys are refused so that a typo is not ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    registry_listen: Option<SocketAddr>,
    postgres_listen: Option<SocketAddr>,
    postgres_url: Option<String>,
    registry_url: Option<String>,
    public_url: Option<String>,
    domain: Option<String>,
    sync_interval: Option<u64>,
    registry_notification_secret: Option<String>,
    registry_service: Option<String>,
    token_issuer: Option<String>,
    /// `libtrust` (distribution 2.x, default) or `thumbprint` (RFC 7638, 3.x).
    token_kid_format: Option<String>,
    /// Lifetime of registry tokens in seconds (default 300).
    token_ttl_seconds: Option<u64>,
    core_port: Option<u16>,
    /// `ES256` (default) or `RS256`.
    token_algorithm: Option<String>,
    webhook_retry_base_ms: Option<u64>,
}

/// Where Postgres comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostgresSource {
    /// berth's own cluster under the data dir, listening on this address.
    Managed {
        listen: SocketAddr,
    },
    External {
        url: String,
    },
}

/// Where the registry comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrySource {
    Managed { listen: SocketAddr },
    External { url: String },
}

/// The merged, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub postgres: PostgresSource,
    pub registry: RegistrySource,
    pub public_url: String,
    pub domain: String,
    /// Time between catalog reconciles.
    pub sync_interval: std::time::Duration,
    pub registry_service: String,
    pub token_issuer: String,
    pub notification_secret: Option<String>,
    /// `kid` as an RFC 7638 thumbprint instead of libtrust's form.
    pub token_kid_thumbprint: bool,
    pub token_ttl_seconds: u64,
    /// Port of the apps' core API listener on the Docker network gateway.
    pub core_port: u16,
    pub token_algorithm: berth_registry::signing::Algorithm,
    /// First wait before re-sending a failed webhook delivery.
    pub webhook_retry_base: std::time::Duration,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_REGISTRY_LISTEN: &str = "127.0.0.1:5000";
pub const DEFAULT_POSTGRES_LISTEN: &str = "127.0.0.1:5433";
pub const DEFAULT_CORE_PORT: u16 = 80;

impl Config {
    pub fn load(args: &ConfigArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| default_addr(DEFAULT_LISTEN));
        let postgres = match args.postgres_url.clone().or(file.postgres_url) {
            Some(url) => PostgresSource::External { url },
            None => PostgresSource::Managed {
                listen: args
                    .postgres_listen
                    .or(file.postgres_listen)
                    .unwrap_or_else(|| default_addr(DEFAULT_POSTGRES_LISTEN)),
            },
        };
        let registry = match args.registry_url.clone().or(file.registry_url) {
            Some(url) => RegistrySource::External { url },
            None => RegistrySource::Managed {
                listen: args
                    .registry_listen
                    .or(file.registry_listen)
                    .unwrap_or_else(|| default_addr(DEFAULT_REGISTRY_LISTEN)),
            },
        };
        let public_url = args
            .public_url
            .clone()
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{}", client_facing(listen)));
        let cfg = Self {
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./berth-data")),
            listen,
            postgres,
            registry,
            public_url: public_url.trim_end_matches('/').to_owned(),
            sync_interval: std::time::Duration::from_secs(
                args.sync_interval.or(file.sync_interval).unwrap_or(300),
            ),
            domain: args
                .domain
                .clone()
                .or(file.domain)
                .unwrap_or_else(|| "localhost".into())
                .to_ascii_lowercase(),
            registry_service: file
                .registry_service
                .unwrap_or_else(|| "berth-registry".into()),
            token_issuer: file.token_issuer.unwrap_or_else(|| "berth".into()),
            token_kid_thumbprint: match file.token_kid_format.as_deref() {
                None | Some("libtrust") => false,
                Some("thumbprint") => true,
                Some(_) => {
                    return Err(invalid(
                        "token_kid_format",
                        "must be `libtrust` or `thumbprint`",
                    ))
                }
            },
            token_ttl_seconds: file.token_ttl_seconds.unwrap_or(300),
            token_algorithm: match args
                .token_algorithm
                .as_deref()
                .or(file.token_algorithm.as_deref())
            {
                None => berth_registry::signing::Algorithm::Es256,
                Some(a) => berth_registry::signing::Algorithm::parse(a)
                    .ok_or_else(|| invalid("token_algorithm", "must be `ES256` or `RS256`"))?,
            },
            notification_secret: args
                .registry_notification_secret
                .clone()
                .or(file.registry_notification_secret),
            core_port: args
                .core_port
                .or(file.core_port)
                .unwrap_or(DEFAULT_CORE_PORT),
            webhook_retry_base: std::time::Duration::from_millis(
                args.webhook_retry_base_ms
                    .or(file.webhook_retry_base_ms)
                    .unwrap_or(1000),
            ),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        check_url("public_url", &self.public_url)?;
        if self.webhook_retry_base.is_zero() || self.webhook_retry_base.as_secs() > 3600 {
            return Err(invalid(
                "webhook_retry_base_ms",
                "must be between 1 and 3600000",
            ));
        }
        if self.sync_interval.is_zero() {
            return Err(invalid("sync_interval", "must be at least 1 second"));
        }
        let domain_ok = !self.domain.is_empty()
            && self.domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !domain_ok {
            return Err(invalid(
                "domain",
                &format!("`{}` is not a DNS name", self.domain),
            ));
        }
        if let PostgresSource::External { url } = &self.postgres {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(invalid("postgres_url", "must start with `postgres://`"));
            }
        }
        if let RegistrySource::External { url } = &self.registry {
            check_url("registry_url", url)?;
            if self
                .notification_secret
                .as_deref()
                .unwrap_or_default()
                .len()
                < 16
            {
                return Err(invalid(
                    "registry_notification_secret",
                    "an external registry needs a notification secret of at least 16 characters",
                ));
            }
        }
        let mut addrs = vec![("listen", self.listen)];
        if let RegistrySource::Managed { listen } = self.registry {
            addrs.push(("registry_listen", listen));
        }
        if let PostgresSource::Managed { listen } = self.postgres {
            addrs.push(("postgres_listen", listen));
        }
        for (i, (a, x)) in addrs.iter().enumerate() {
            for (b, y) in addrs.iter().skip(i + 1) {
                if x.port() == y.port() && x.port() != 0 {
                    return Err(invalid(
                        b,
                        &format!("uses the same port as `{a}` ({})", x.port()),
                    ));
                }
            }
        }
        if !(10..=3600).contains(&self.token_ttl_seconds) {
            return Err(invalid(
                "token_ttl_seconds",
                "must be between 10 and 3600 seconds",
            ));
        }
        if self.registry_service.is_empty() || self.token_issuer.is_empty() {
            return Err(invalid(
                "registry_service",
                "service and issuer must not be empty",
            ));
        }
        Ok(())
    }

    /// Base URL of the registry as berth itself reaches it.
    pub fn registry_url(&self) -> String {
        match &self.registry {
            RegistrySource::Managed { listen } => format!("http://{}", client_facing(*listen)),
            RegistrySource::External { url } => url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn token_realm(&self) -> String {
        format!("{}/v2/token", self.public_url)
    }

    pub fn notification_url(&self) -> String {
        format!("http://{}/v2/webhooks/events", client_facing(self.listen))
    }

    pub fn layout(&self) -> crate::layout::Layout {
        crate::layout::Layout::new(&self.data_dir)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        detail: e.message().to_owned(),
    })
}

fn check_url(key: &'static str, url: &str) -> Result<(), ConfigError> {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(()),
        Ok(_) => Err(invalid(key, "must be an http:// or https:// URL")),
        Err(e) => Err(invalid(key, &format!("`{url}`: {e}"))),
    }
}

fn invalid(key: &'static str, detail: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        detail: detail.to_owned(),
    }
}

fn default_addr(s: &str) -> SocketAddr {
    // INVARIANT: the defaults above are valid socket addresses (tested).
    s.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// The address a local client should dial for a listener: an unspecified
/// bind address (0.0.0.0 or ::) is reached on loopback.
pub fn client_facing(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip = if addr.is_ipv4() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
        };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        for s in [
            DEFAULT_LISTEN,
            DEFAULT_REGISTRY_LISTEN,
            DEFAULT_POSTGRES_LISTEN,
        ] {
            s.parse::<SocketAddr>().unwrap();
        }
        let cfg = Config::load(&ConfigArgs::default()).unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("./berth-data"));
        assert_eq!(cfg.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(cfg.token_realm(), "http://127.0.0.1:8080/v2/token");
        assert_eq!(cfg.registry_url(), "http://127.0.0.1:5000");
    }

    #[test]
    fn flags_win_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\n",
        )
        .unwrap();
        let args = ConfigArgs {
            config: Some(file),
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            ..Default::default()
        };
        let cfg = Config::load(&args).unwrap();
        assert_eq!(cfg.listen.port(), 9100);
        assert_eq!(cfg.data_dir, PathBuf::from("/from/file"));
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let args = ConfigArgs {
            config: Some(file),
            ..Default::default()
        };
        let err = Config::load(&args).unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn clashing_ports_are_refused() {
        let args = ConfigArgs {
            registry_listen: Some(DEFAULT_LISTEN.parse().unwrap()),
            ..Default::default()
        };
        let err = Config::load(&args).unwrap_err().to_string();
        assert!(err.contains("registry_listen"), "{err}");
    }

    #[test]
    fn external_registry_needs_a_secret() {
        let args = ConfigArgs {
            registry_url: Some("http://127.0.0.1:5999".into()),
            ..Default::default()
        };
        let err = Config::load(&args).unwrap_err().to_string();
        assert!(err.contains("registry_notification_secret"), "{err}");
    }

    #[test]
    fn unspecified_listen_is_dialled_on_loopback() {
        let a: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(client_facing(a).to_string(), "127.0.0.1:8080");
    }
}
