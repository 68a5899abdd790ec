//! Serde support behind the `serde` feature: through the canonical strings only.
//!
//! Names, scopes and keywords serialize as their `Display` form and
//! deserialize through their strict parsers, so nothing non-canonical gets in
//! through a JSON door. [`GrantedAccess`] serializes as one entry of the
//! token's `access` claim: `{"type": .., "name": .., "actions": [..]}`.

use serde::de::Error as _;
use serde::ser::SerializeStruct as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core_api::CorePermission;
use crate::gateway::Access;
use crate::grant::GrantedAccess;
use crate::names::{NamespaceName, RepositoryName};
use crate::policy::{Action, NamespaceKind, TeamRole, Visibility};
use crate::scope::{Scope, ScopeAction};

/// Serializes through `Display`, deserializes through `FromStr`.
macro_rules! via_string {
    ($($ty:ty),+ $(,)?) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(D::Error::custom)
            }
        }
    )+};
}

via_string!(
    RepositoryName,
    NamespaceName,
    Scope,
    TeamRole,
    NamespaceKind,
    Visibility,
    Action,
    Access,
    CorePermission,
);

impl Serialize for ScopeAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Serialize for GrantedAccess {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entry = serializer.serialize_struct("GrantedAccess", 3)?;
        entry.serialize_field("type", self.resource_type().as_str())?;
        entry.serialize_field("name", self.name())?;
        entry.serialize_field("actions", self.actions())?;
        entry.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_refuse_non_canonical_input() {
        let name: RepositoryName = serde_json::from_str(r#""alice/app""#).unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), r#""alice/app""#);
        assert!(serde_json::from_str::<RepositoryName>(r#""Alice/app""#).is_err());
        let scope: Scope = serde_json::from_str(r#""repository:a:push,pull""#).unwrap();
        assert_eq!(
            serde_json::to_string(&scope).unwrap(),
            r#""repository:a:pull,push""#
        );
        let v: Visibility = serde_json::from_str(r#""protected""#).unwrap();
        assert_eq!(v, Visibility::Protected);
        assert!(serde_json::from_str::<Visibility>(r#""Protected""#).is_err());
        let p: CorePermission = serde_json::from_str(r#""peers:call""#).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), r#""peers:call""#);
    }
}
