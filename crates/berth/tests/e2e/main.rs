//! End-to-end tests of the `berth` binary against real Postgres, registry
//! and Docker. Each test starts its own berth on its own data dir and ports.

mod apps;
mod apps_services;
mod apps_support;
mod common;
mod failures;
mod lifecycle;
mod surface;
