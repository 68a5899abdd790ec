//! The configuration file of the managed registry.
//!
//! The output is JSON, which the registry's YAML parser reads as YAML; JSON
//! gives us correct escaping of every path and secret for free.

use std::path::PathBuf;

use serde_json::json;

/// Everything the managed registry needs to know about berth.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Where blobs and manifests live (`storage.filesystem.rootdirectory`).
    pub storage_dir: PathBuf,
    /// `host:port` the registry listens on.
    pub listen: String,
    /// berth's token endpoint, as docker clients must reach it.
    pub token_realm: String,
    /// Becomes the token `aud`; clients send it as `service`.
    pub service: String,
    /// Must equal the token `iss`.
    pub issuer: String,
    /// PEM bundle of the certificates whose keys may sign tokens.
    pub root_cert_bundle: PathBuf,
    /// berth's notification sink.
    pub notification_url: String,
    /// Bearer secret the registry presents to the notification sink.
    pub notification_secret: String,
    /// Secret for the registry's upload state; random per instance.
    pub http_secret: String,
}

impl RegistryConfig {
    /// Renders the configuration document.
    pub fn render(&self) -> String {
        let doc = json!({
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": true}},
            "storage": {
                "filesystem": {"rootdirectory": self.storage_dir},
                "delete": {"enabled": true},
                "maintenance": {"uploadpurging": {"enabled": true, "age": "168h", "interval": "24h", "dryrun": false}}
            },
            "http": {
                "addr": self.listen,
                "secret": self.http_secret,
                "headers": {"X-Content-Type-Options": ["nosniff"]}
            },
            "auth": {
                "token": {
                    "realm": self.token_realm,
                    "service": self.service,
                    "issuer": self.issuer,
                    "rootcertbundle": self.root_cert_bundle
                }
            },
            "notifications": {
                "endpoints": [{
                    "name": "berth",
                    "url": self.notification_url,
                    "headers": {"Authorization": [format!("Bearer {}", self.notification_secret)]},
                    "timeout": "2s",
                    "threshold": 5,
                    "backoff": "1s",
                    // Blob events (layers and configs are pushed as
                    // octet-streams) never change the catalog; the registry
                    // sends events one at a time, so three per pushed image
                    // would triple the queue in front of every manifest.
                    "ignoredmediatypes": ["application/octet-stream"]
                }]
            }
        });
        // INVARIANT: `json!` values always serialize.
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RegistryConfig {
        RegistryConfig {
            storage_dir: "/data/registry".into(),
            listen: "127.0.0.1:5000".into(),
            token_realm: "http://127.0.0.1:8080/v2/token".into(),
            service: "berth-registry".into(),
            issuer: "berth".into(),
            root_cert_bundle: "/data/keys/token-certs.pem".into(),
            notification_url: "http://127.0.0.1:8080/v2/webhooks/events".into(),
            notification_secret: "s3cr\"et".into(),
            http_secret: "h".into(),
        }
    }

    #[test]
    fn renders_token_auth_and_notifications() {
        let text = sample().render();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["auth"]["token"]["realm"],
            "http://127.0.0.1:8080/v2/token"
        );
        assert_eq!(v["auth"]["token"]["issuer"], "berth");
        assert_eq!(v["storage"]["delete"]["enabled"], true);
        assert_eq!(
            v["notifications"]["endpoints"][0]["headers"]["Authorization"][0],
            "Bearer s3cr\"et"
        );
        assert_eq!(
            v["notifications"]["endpoints"][0]["ignoredmediatypes"][0],
            "application/octet-stream"
        );
    }
}
