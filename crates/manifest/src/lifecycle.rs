//! `lifecycle`: whether the app runs all the time or is stopped when idle.

use serde_json::{json, Value};

use crate::error::{Diagnostics, Pointer};
use crate::json;

/// The idle time the original used when a file said nothing.
pub const DEFAULT_IDLE_SECONDS: u32 = 60;
/// Shorter idle times would stop apps between the requests of one page load.
pub const MIN_IDLE_SECONDS: u32 = 5;
/// Longer idle times are better said with `always_on`; one day.
pub const MAX_IDLE_SECONDS: u32 = 86_400;

/// When berth stops the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Never stopped.
    AlwaysOn,
    /// Stopped after `seconds` without traffic, started again by the next request.
    IdleShutdown { seconds: u32 },
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle::IdleShutdown {
            seconds: DEFAULT_IDLE_SECONDS,
        }
    }
}

impl Lifecycle {
    pub(crate) fn to_stored(self) -> Value {
        match self {
            Lifecycle::AlwaysOn => json!({"always_on": true}),
            Lifecycle::IdleShutdown { seconds } => {
                json!({"always_on": false, "idle_time_for_shutdown": seconds})
            }
        }
    }
}

const KEYS: [&str; 2] = ["always_on", "idle_time_for_shutdown"];

/// Reads `lifecycle`: `always_on: true` alone, or an idle time (default 60 seconds) with
/// `always_on` false or absent. Both at once is refused as contradictory.
pub(crate) fn read(value: Option<&Value>, diag: &mut Diagnostics) -> Option<Lifecycle> {
    let pointer = Pointer::root().key("lifecycle");
    let Some(value) = value else {
        return Some(Lifecycle::default());
    };
    let object = json::object(value, &pointer, diag)?;
    json::warn_unknown_keys(object, &pointer, &KEYS, diag);
    let always_on = match json::get(object, "always_on") {
        Some(v) => json::boolean(v, &pointer.key("always_on"), diag)?,
        None => false,
    };
    let idle = match json::get(object, "idle_time_for_shutdown") {
        Some(v) => {
            let p = pointer.key("idle_time_for_shutdown");
            let range = (MIN_IDLE_SECONDS.into(), MAX_IDLE_SECONDS.into());
            let seconds = json::integer_in(v, &p, range, "idle time", diag)?;
            Some(u32::try_from(seconds).ok()?)
        }
        None => None,
    };
    match (always_on, idle) {
        (true, None) => Some(Lifecycle::AlwaysOn),
        (true, Some(_)) => {
            diag.error(
                &pointer,
                "set either `always_on` or `idle_time_for_shutdown`, not both",
            );
            None
        }
        (false, seconds) => Some(Lifecycle::IdleShutdown {
            seconds: seconds.unwrap_or(DEFAULT_IDLE_SECONDS),
        }),
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::check_field;
    use expect_test::{expect, Expect};

    fn check(lifecycle: &str, expect: Expect) {
        check_field("lifecycle", &format!(r#""lifecycle": {lifecycle}"#), expect);
    }

    #[test]
    fn valid() {
        check(r#"{"always_on": true}"#, expect![[r#"{"always_on":true}"#]]);
        check(
            r#"{"always_on": true, "idle_time_for_shutdown": null}"#,
            expect![[r#"{"always_on":true}"#]],
        );
        check(
            r#"{"always_on": false, "idle_time_for_shutdown": 5}"#,
            expect![[r#"{"always_on":false,"idle_time_for_shutdown":5}"#]],
        );
        check(
            r#"{"idle_time_for_shutdown": 86400}"#,
            expect![[r#"{"always_on":false,"idle_time_for_shutdown":86400}"#]],
        );
        check(
            r#"{"always_on": false}"#,
            expect![[r#"{"always_on":false,"idle_time_for_shutdown":60}"#]],
        );
        check(
            "{}",
            expect![[r#"{"always_on":false,"idle_time_for_shutdown":60}"#]],
        );
        check(
            "null",
            expect![[r#"{"always_on":false,"idle_time_for_shutdown":60}"#]],
        );
    }

    #[test]
    fn invalid() {
        check(
            r#"{"always_on": true, "idle_time_for_shutdown": 60}"#,
            expect![
                "error /lifecycle: set either `always_on` or `idle_time_for_shutdown`, not both"
            ],
        );
        check(r#"{"always_on": false, "idle_time_for_shutdown": 4}"#, expect!["error /lifecycle/idle_time_for_shutdown: idle time `4` is not a whole number from 5 to 86400"]);
        check(r#"{"idle_time_for_shutdown": 86401}"#, expect!["error /lifecycle/idle_time_for_shutdown: idle time `86401` is not a whole number from 5 to 86400"]);
        check(
            r#"{"always_on": "yes"}"#,
            expect!["error /lifecycle/always_on: expected a boolean, found a string"],
        );
        check(
            r#"{"idle_time_for_shutdown": "60"}"#,
            expect!["error /lifecycle/idle_time_for_shutdown: expected a number, found a string"],
        );
        check(
            "true",
            expect!["error /lifecycle: expected an object, found a boolean"],
        );
        check(
            r#"{"always_on": true, "restart": "always"}"#,
            expect![[r#"
            {"always_on":true}
            warning /lifecycle/restart: unknown key `restart` ignored"#]],
        );
    }
}
