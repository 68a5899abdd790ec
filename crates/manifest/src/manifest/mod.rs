//! [`AppManifest`], the checked app.json in the current format, and its canonical stored
//! JSON.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::data_dir::{self, DataDir};
use crate::entrypoint::{self, Entrypoint};
use crate::env::{self, EnvVarName};
use crate::error::{Diagnostics, Pointer};
use crate::image::ImageReference;
use crate::json;
use crate::lifecycle::{self, Lifecycle};
use crate::name::AppName;
use crate::paths::{self, PathPrefix, PathRule};
use crate::services::{self, Permission, Service};
use crate::store_info::{self, StoreInfo};
use crate::template::Template;
use crate::version::FormatVersion;

/// A checked app.json: every field valid, every template resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppManifest {
    name: AppName,
    image: ImageReference,
    entrypoints: Vec<Entrypoint>,
    data_dirs: Vec<DataDir>,
    services: Vec<Service>,
    env_vars: BTreeMap<EnvVarName, Template>,
    paths: BTreeMap<PathPrefix, PathRule>,
    lifecycle: Lifecycle,
    permissions: Vec<Permission>,
    store_info: Option<StoreInfo>,
}

impl AppManifest {
    pub fn name(&self) -> &AppName {
        &self.name
    }

    pub fn image(&self) -> &ImageReference {
        &self.image
    }

    /// At most one of kind `http`.
    pub fn entrypoints(&self) -> &[Entrypoint] {
        &self.entrypoints
    }

    /// Paths are unique.
    pub fn data_dirs(&self) -> &[DataDir] {
        &self.data_dirs
    }

    /// Without duplicates, in the order of the file.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn has_service(&self, service: Service) -> bool {
        self.services.contains(&service)
    }

    pub fn env_vars(&self) -> &BTreeMap<EnvVarName, Template> {
        &self.env_vars
    }

    /// Rules by URL prefix. A request matching none is private (default-deny), so an
    /// app without a `""` entry is private as a whole.
    pub fn paths(&self) -> &BTreeMap<PathPrefix, PathRule> {
        &self.paths
    }

    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// Without duplicates, in the order of the file; empty unless the app asks.
    pub fn permissions(&self) -> &[Permission] {
        &self.permissions
    }

    pub fn has_permission(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    pub fn store_info(&self) -> Option<&StoreInfo> {
        self.store_info.as_ref()
    }

    /// The canonical JSON to store: current format, every field present but
    /// `store_info`, keys sorted; `parse` of it gives this manifest back.
    pub fn to_stored_json(&self) -> String {
        self.to_stored_value().to_string()
    }

    /// [`AppManifest::to_stored_json`] as a JSON value, for embedding in a response.
    pub fn to_stored_value(&self) -> Value {
        let mut out = Map::new();
        let mut put = |key: &str, value: Value| {
            out.insert(key.to_owned(), value);
        };
        put("v", json!(FormatVersion::CURRENT.as_str()));
        put("name", json!(self.name.as_str()));
        put("image", json!(self.image.as_str()));
        put(
            "entrypoints",
            self.entrypoints.iter().map(|e| e.to_stored()).collect(),
        );
        put(
            "data_dirs",
            self.data_dirs.iter().map(DataDir::to_stored).collect(),
        );
        put(
            "services",
            self.services.iter().map(|s| s.as_str()).collect(),
        );
        let env: Map<String, Value> = self
            .env_vars
            .iter()
            .map(|(k, t)| (k.to_string(), json!(t.to_string())))
            .collect();
        put("env_vars", Value::Object(env));
        let paths: Map<String, Value> = self
            .paths
            .iter()
            .map(|(k, rule)| (k.to_string(), rule.to_stored()))
            .collect();
        put("paths", Value::Object(paths));
        put("lifecycle", self.lifecycle.to_stored());
        put(
            "permissions",
            self.permissions.iter().map(|p| p.as_str()).collect(),
        );
        if let Some(info) = &self.store_info {
            put("store_info", info.to_stored());
        }
        Value::Object(out)
    }
}

impl serde::Serialize for AppManifest {
    /// Serialises as the stored JSON.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_stored_value().serialize(serializer)
    }
}

const KEYS: [&str; 11] = [
    "v",
    "name",
    "image",
    "entrypoints",
    "data_dirs",
    "services",
    "env_vars",
    "paths",
    "lifecycle",
    "permissions",
    "store_info",
];

/// Checks a document in the current format; `None` if any error was reported.
pub(crate) fn read(doc: &Map<String, Value>, diag: &mut Diagnostics) -> Option<AppManifest> {
    let root = Pointer::root();
    json::warn_unknown_keys(doc, &root, &KEYS, diag);
    let name = required(doc, "name", diag).and_then(|(v, p)| {
        let s = json::string(v, &p, diag)?;
        AppName::new(s)
            .map_err(|e| diag.error(&p, e.to_string()))
            .ok()
    });
    let image = required(doc, "image", diag).and_then(|(v, p)| {
        let s = json::string(v, &p, diag)?;
        ImageReference::new(s)
            .map_err(|e| diag.error(&p, e.to_string()))
            .ok()
    });
    let entrypoints = entrypoint::read(json::get(doc, "entrypoints"), diag);
    let data_dirs = data_dir::read(json::get(doc, "data_dirs"), diag);
    let services = services::read_services(json::get(doc, "services"), diag);
    // From the raw list, so that an error elsewhere in `services` does not add
    // misleading template errors.
    let postgres = json::get(doc, "services")
        .and_then(Value::as_array)
        .is_some_and(|items| items.iter().any(|s| s == "postgres"));
    let env_vars = env::read(json::get(doc, "env_vars"), postgres, diag);
    let paths = paths::read(json::get(doc, "paths"), diag);
    let lifecycle = lifecycle::read(json::get(doc, "lifecycle"), diag);
    let permissions = services::read_permissions(json::get(doc, "permissions"), diag);
    let store_info = store_info::read(json::get(doc, "store_info"), diag);
    Some(AppManifest {
        name: name?,
        image: image?,
        entrypoints,
        data_dirs,
        services,
        env_vars,
        paths,
        lifecycle: lifecycle?,
        permissions,
        store_info,
    })
}

fn required<'a>(
    doc: &'a Map<String, Value>,
    key: &str,
    diag: &mut Diagnostics,
) -> Option<(&'a Value, Pointer)> {
    match json::get(doc, key) {
        Some(v) => Some((v, Pointer::root().key(key))),
        None => {
            diag.error(&Pointer::root(), format!("missing `{key}`"));
            None
        }
    }
}

#[cfg(test)]
mod tests;
