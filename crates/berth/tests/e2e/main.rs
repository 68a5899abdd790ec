//! End-to-end tests of the `berth` binary against real Postgres, registry
//! and Docker. Each test starts its own berth on its own data dir and ports.

mod apps;
mod apps_services;
mod apps_support;
mod audit_webhooks;
mod browser_pairing;
mod cli_api;
mod common;
mod docker_cli;
mod docker_restart;
mod failures;
mod gateway_apps;
mod gateway_proofs;
mod identity;
mod lifecycle;
mod peer_calls;
mod peers;
mod portus;
mod portus_api;
mod registry_auth;
mod registry_cli;
mod route_guards;
mod surface;
mod sync;
mod sync_delete;
mod sync_proofs;
mod token_endpoint;
mod web_accounts;
mod web_delete;
mod web_home;
mod web_layout;
mod web_lists;
mod web_registry;
mod web_session;
mod web_support;
mod web_teams;
