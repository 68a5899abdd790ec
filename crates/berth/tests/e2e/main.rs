//! End-to-end tests of the `berth` binary against real Postgres, registry
//! and Docker. Each test starts its own berth on its own data dir and ports.

mod common;
mod failures;
mod identity;
mod lifecycle;
mod peers;
mod route_guards;
mod surface;
