//! Identities, pairing and terminals on a real berth: what the owner, a
//! paired terminal and a stranger may each do, and every forbidden side.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use berth_test_support::Berth;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use crate::common::bin;

pub fn owner_token(b: &Berth) -> String {
    std::fs::read_to_string(b.data_dir().join("owner.token"))
        .unwrap()
        .trim()
        .to_owned()
}

async fn assert_problem(r: Response, status: StatusCode, field: Option<&str>) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.unwrap();
    if let Some(f) = field {
        assert_eq!(body["field"], f, "{body}");
    }
    body
}

/// Asks for a pairing code as the owner.
async fn pairing_code(b: &Berth, query: &str) -> Response {
    Client::new()
        .get(b.url(&format!("/protected/terminals/pairing-code{query}")))
        .bearer_auth(owner_token(b))
        .send()
        .await
        .unwrap()
}

async fn pair(b: &Berth, code: &str, body: Value) -> Response {
    Client::new()
        .post(b.url(&format!("/public/pair/terminal?code={code}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Pairs a terminal named `name` and returns its `Cookie` header value.
pub async fn paired_cookie(b: &Berth, name: &str) -> String {
    let code: Value = pairing_code(b, "").await.json().await.unwrap();
    let r = pair(
        b,
        code["code"].as_str().unwrap(),
        json!({"name": name, "icon": "notebook"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}

async fn get_with_cookie(b: &Berth, path: &str, cookie: &str) -> Response {
    Client::new()
        .get(b.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_default_identity_is_created_once_and_managed_by_the_owner_only() {
    let b = Berth::start(&bin()).await.unwrap();
    let c = Client::new();

    let health: Value = c
        .get(b.url("/public/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));
    let me: Value = c
        .get(b.url("/public/meta/whoareyou"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 103);
    assert_eq!(me["short_id"], id[..6]);
    assert_eq!(me["is_default"], true);
    assert_eq!(me["domain"], "localhost");
    assert!(me["public_key_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));

    let mode = |p: std::path::PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode(
            b.data_dir()
                .join(format!("secrets/identities/{id}.ed25519"))
        ),
        0o600
    );
    assert_eq!(mode(b.data_dir().join("owner.token")), 0o600);

    // Forbidden side: no credentials, a wrong bearer token, a forged cookie.
    let anon = c.get(b.url("/protected/identities")).send().await.unwrap();
    assert_problem(anon, StatusCode::UNAUTHORIZED, None).await;
    let wrong = c
        .get(b.url("/protected/identities"))
        .bearer_auth("0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::UNAUTHORIZED, None).await;
    let forged = get_with_cookie(
        &b,
        "/protected/identities",
        "berth_terminal=v1.aaaaaa.x.1.2.sig",
    )
    .await;
    assert!(forged.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_problem(forged, StatusCode::UNAUTHORIZED, None).await;

    let token = owner_token(&b);
    let list: Value = c
        .get(b.url("/protected/identities"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("private_key").is_none());

    let created = c
        .put(b.url("/protected/identities"))
        .bearer_auth(&token)
        .json(&json!({"name": "work", "email": "me@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let work: Value = created.json().await.unwrap();
    assert_eq!(work["is_default"], false);
    let work_id = work["id"].as_str().unwrap();

    let bad = c
        .put(b.url("/protected/identities"))
        .bearer_auth(&token)
        .json(&json!({"name": ""}))
        .send()
        .await
        .unwrap();
    assert_problem(bad, StatusCode::BAD_REQUEST, Some("/name")).await;
    let unknown_field = c
        .put(b.url("/protected/identities"))
        .bearer_auth(&token)
        .json(&json!({"name": "x", "key": "k"}))
        .send()
        .await
        .unwrap();
    assert_problem(unknown_field, StatusCode::BAD_REQUEST, Some("/key")).await;
    let missing = c
        .get(b.url("/protected/identities/nope"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let p = assert_problem(missing, StatusCode::NOT_FOUND, None).await;
    assert_eq!(p["detail"], "no identity `nope`");

    let made = c
        .post(b.url(&format!("/protected/identities/{work_id}/make-default")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::NO_CONTENT);
    let default: Value = c
        .get(b.url("/protected/identities/default"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(default["id"], work_id);
    assert_eq!(default["email"], "me@example.org");
    let old: Value = c
        .get(b.url(&format!("/protected/identities/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(old["is_default"], false);
}

#[tokio::test]
async fn a_pairing_code_pairs_one_terminal_once() {
    let b = Berth::start(&bin()).await.unwrap();

    let anon = Client::new()
        .get(b.url("/protected/terminals/pairing-code"))
        .send()
        .await
        .unwrap();
    assert_problem(anon, StatusCode::UNAUTHORIZED, None).await;

    let r = pairing_code(&b, "").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let code: Value = r.json().await.unwrap();
    let code = code["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);

    let bad_icon = pair(&b, &code, json!({"name": "phone", "icon": "toaster"})).await;
    assert_problem(bad_icon, StatusCode::BAD_REQUEST, Some("/icon")).await;

    let r = pair(
        &b,
        &code.to_lowercase(),
        json!({"name": "phone", "icon": "smartphone"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("berth_terminal=v1."));

    let again = pair(&b, &code, json!({"name": "laptop"})).await;
    assert_problem(again, StatusCode::FORBIDDEN, Some("code")).await;

    let me: Value = get_with_cookie(&b, "/public/meta/whoami", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["type"], "terminal");
    assert_eq!(me["name"], "phone");
    let nobody: Value = Client::new()
        .get(b.url("/public/meta/whoami"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(nobody["type"], "anonymous");

    let list = get_with_cookie(&b, "/protected/terminals", &cookie).await;
    assert_eq!(list.status(), StatusCode::OK);
    let list: Value = list.json().await.unwrap();
    assert_eq!(list[0]["name"], "phone");
    assert_eq!(list[0]["icon"], "smartphone");
    assert!(list[0]["last_connection"].is_string());

    // A cookie altered by one character is refused, and cleared.
    let mut tampered = cookie.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let r = get_with_cookie(&b, "/protected/terminals", &tampered).await;
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_problem(r, StatusCode::UNAUTHORIZED, None).await;
}

#[tokio::test]
async fn a_deleted_terminal_is_refused_on_its_next_request() {
    let b = Berth::start(&bin()).await.unwrap();
    let cookie = paired_cookie(&b, "tablet").await;
    let me: Value = get_with_cookie(&b, "/public/meta/whoami", &cookie)
        .await
        .json()
        .await
        .unwrap();
    let id = me["id"].as_str().unwrap().to_owned();
    let c = Client::new();
    let token = owner_token(&b);

    let renamed = c
        .put(b.url(&format!("/protected/terminals/id/{id}")))
        .header("cookie", &cookie)
        .json(&json!({"name": "big tablet", "icon": "tablet"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let by_name = get_with_cookie(&b, "/protected/terminals/name/big%20tablet", &cookie).await;
    assert_eq!(by_name.status(), StatusCode::OK);
    let other = paired_cookie(&b, "desktop").await;
    let taken = c
        .put(b.url(&format!("/protected/terminals/id/{id}")))
        .bearer_auth(&token)
        .json(&json!({"name": "desktop"}))
        .send()
        .await
        .unwrap();
    assert_problem(taken, StatusCode::CONFLICT, Some("/name")).await;

    let deleted = c
        .delete(b.url(&format!("/protected/terminals/id/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let refused = get_with_cookie(&b, "/protected/terminals", &cookie).await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, None).await;
    let me: Value = get_with_cookie(&b, "/public/meta/whoami", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["type"], "anonymous");
    assert_eq!(
        get_with_cookie(&b, "/protected/terminals", &other)
            .await
            .status(),
        StatusCode::OK
    );
    let gone = c
        .get(b.url(&format!("/protected/terminals/id/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(gone, StatusCode::NOT_FOUND, None).await;
}

#[tokio::test]
async fn expired_codes_and_bad_deadlines_are_refused() {
    let b = Berth::start(&bin()).await.unwrap();
    assert_problem(
        pairing_code(&b, "?deadline=0").await,
        StatusCode::BAD_REQUEST,
        Some("deadline"),
    )
    .await;
    assert_problem(
        pairing_code(&b, "?deadline=3601").await,
        StatusCode::BAD_REQUEST,
        Some("deadline"),
    )
    .await;
    assert_problem(
        pairing_code(&b, "?deadline=soon").await,
        StatusCode::BAD_REQUEST,
        Some("deadline"),
    )
    .await;

    let code: Value = pairing_code(&b, "?deadline=1").await.json().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let late = pair(&b, code["code"].as_str().unwrap(), json!({"name": "late"})).await;
    assert_problem(late, StatusCode::FORBIDDEN, Some("code")).await;
}

#[tokio::test]
async fn pairing_attempts_are_rate_limited_right_or_wrong() {
    let b = Berth::start(&bin()).await.unwrap();
    let code: Value = pairing_code(&b, "").await.json().await.unwrap();
    for _ in 0..10 {
        let r = pair(&b, "WRNGCDE2", json!({"name": "guess"})).await;
        assert_problem(r, StatusCode::FORBIDDEN, Some("code")).await;
    }
    let r = pair(&b, code["code"].as_str().unwrap(), json!({"name": "real"})).await;
    assert_eq!(r.headers()["retry-after"], "60");
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS, None).await;
}

#[tokio::test]
async fn concurrent_pairings_with_one_code_pair_exactly_one_terminal() {
    let b = Berth::start(&bin()).await.unwrap();
    let code: Value = pairing_code(&b, "").await.json().await.unwrap();
    let code = code["code"].as_str().unwrap();
    let url = b.url(&format!("/public/pair/terminal?code={code}"));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..8 {
        let url = url.clone();
        set.spawn(async move {
            let body = json!({"name": format!("device {i}")});
            Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = set.join_next().await {
        statuses.push(s.unwrap());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::CREATED || *s == StatusCode::FORBIDDEN));
    let list: Value = Client::new()
        .get(b.url("/protected/terminals"))
        .bearer_auth(owner_token(&b))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_identity_and_terminal_cookies_survive_a_restart() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let before: Value = Client::new()
        .get(b.url("/public/meta/whoareyou"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cookie = paired_cookie(&b, "keeper").await;
    b.restart().await.unwrap();
    let after: Value = Client::new()
        .get(b.url("/public/meta/whoareyou"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before["id"], after["id"]);
    let r = get_with_cookie(&b, "/protected/terminals", &cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn old_cookies_are_renewed_and_expired_ones_refused() {
    use berth_identity::cookie::{TerminalToken, TOKEN_LIFETIME_SECS};
    let b = Berth::start(&bin()).await.unwrap();
    let cookie = paired_cookie(&b, "old laptop").await;
    let me: Value = get_with_cookie(&b, "/public/meta/whoami", &cookie)
        .await
        .json()
        .await
        .unwrap();
    let terminal = me["id"].as_str().unwrap();
    let identity: Value = Client::new()
        .get(b.url("/public/meta/whoareyou"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = berth_identity::keystore::KeyStore::open(&b.data_dir().join("secrets/identities"))
        .unwrap()
        .load(identity["id"].as_str().unwrap())
        .unwrap();
    let now = chrono::Utc::now().timestamp();

    // A fresh cookie is not renewed.
    let r = get_with_cookie(&b, "/protected/terminals", &cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("set-cookie").is_none());

    // Past half its life it is, with a fresh token for the same terminal.
    let old = TerminalToken::issue(&key, terminal, now - TOKEN_LIFETIME_SECS / 2 - 60);
    let r = get_with_cookie(&b, "/protected/terminals", &format!("berth_terminal={old}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let renewed = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        renewed.starts_with("berth_terminal=v1.") && !renewed.contains(&old),
        "{renewed}"
    );
    assert!(renewed.contains(terminal));

    // Past its life it is refused and cleared.
    let expired = TerminalToken::issue(&key, terminal, now - TOKEN_LIFETIME_SECS - 60);
    let r = get_with_cookie(
        &b,
        "/protected/terminals",
        &format!("berth_terminal={expired}"),
    )
    .await;
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_problem(r, StatusCode::UNAUTHORIZED, None).await;

    // A token for a terminal that never existed, signed by the right key.
    let ghost = TerminalToken::issue(&key, "0123456789abcdef0123456789abcdef", now);
    let r = get_with_cookie(
        &b,
        "/protected/terminals",
        &format!("berth_terminal={ghost}"),
    )
    .await;
    assert_problem(r, StatusCode::UNAUTHORIZED, None).await;
}
