//! The audit log and outgoing webhooks, end to end: a docker push becomes a
//! `repository.push` activity (API and CSV) that a user without read access
//! does not see, and a webhook delivery that a receiver failing twice gets
//! on the third try, signed with the secret shown once at creation.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_test_support::Berth;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::apps_support::berth_sql;
use crate::common::bin;
use crate::docker_cli::{assert_ok, DockerClient};
use crate::portus::{Api, Auth};

/// One request the receiver got: its headers (lowercased names) and body.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver on 127.0.0.1 that answers the given statuses in
/// order (then 200) and keeps every request.
async fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let log = got.clone();
    tokio::spawn(async move {
        let mut statuses = statuses.into_iter();
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            let (head_end, length) = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break (None, 0);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (Some(i + 4), length);
                }
            };
            let Some(start) = head_end else { continue };
            while buf.len() < start + length {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buf[..start]).into_owned();
            let headers = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
                .collect();
            log.lock().unwrap().push(Received {
                headers,
                body: buf[start..(start + length).min(buf.len())].to_vec(),
            });
            let status = statuses.next().unwrap_or(200);
            let reply =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });
    (url, got)
}

/// Waits until `got` holds `n` requests.
async fn wait_for_requests(got: &Arc<Mutex<Vec<Received>>>, n: usize) -> Vec<Received> {
    let start = Instant::now();
    loop {
        let now = got.lock().unwrap().clone();
        if now.len() >= n {
            return now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "receiver got {} requests, wanted {n}",
            now.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `path` as `auth` until `pred` holds on the JSON answer.
async fn wait_for(api: &Api, auth: &Auth, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (status, v) = api.call(auth, Method::GET, path, None).await;
        if status == 200 && pred(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{path} never matched; last answer {status}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verify_signature(secret: &str, body: &[u8], header: &str) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(tag) = data_encoding::HEXLOWER.decode(hex.as_bytes()) else {
        return false;
    };
    ring::hmac::verify(&key, body, &tag).is_ok()
}

#[tokio::test]
async fn a_push_is_audited_and_delivered_to_a_webhook_that_fails_twice() {
    // Short backoff so the three tries take well under a second.
    std::env::set_var("BERTH_WEBHOOK_RETRY_BASE_MS", "100");
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let bob = api.create_user(&admin, "bob", false).await;
    let (_, me) = api
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/users/{}", alice.id),
            None,
        )
        .await;
    let ns = me["namespace_id"].as_i64().unwrap();
    let hooks = format!("/api/v1/namespaces/{ns}/webhooks");

    // Only the namespace's owner (or an admin) manages its webhooks.
    let (url, got) = receiver(vec![500, 500]).await;
    let body = json!({"webhook": {"url": url}});
    let (s, v) = api
        .call(&bob.auth(), Method::POST, &hooks, Some(body.clone()))
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = api.call(&bob.auth(), Method::GET, &hooks, None).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = api
        .call(
            &alice.auth(),
            Method::POST,
            &hooks,
            Some(json!({"webhook": {"url": "ftp://x"}})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(v["message"]["url"].is_array(), "{v}");

    let (s, created) = api
        .call(&alice.auth(), Method::POST, &hooks, Some(body))
        .await;
    assert_eq!(s, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32, "{created}");
    let hook = format!("{hooks}/{}", created["id"]);
    let (_, bobs_view) = api.call(&bob.auth(), Method::GET, &hook, None).await;
    assert_eq!(bobs_view["message"], "Authorization fails");

    // The push, by the docker CLI through the real registry.
    let docker = DockerClient::new(&b);
    assert_ok(&docker.login("alice", &alice.password));
    assert_ok(&docker.push("alice/web:1"));

    // Third try lands; every try carries a valid signature of its body.
    let requests = wait_for_requests(&got, 3).await;
    let delivered = &requests[2];
    for r in &requests {
        let sig = r.header("x-berth-signature-256").unwrap();
        assert!(verify_signature(&secret, &r.body, sig), "{r:?}");
        assert!(!verify_signature("wrong-secret-wrong-secret", &r.body, sig));
        assert!(r
            .header("x-berth-timestamp")
            .unwrap()
            .parse::<i64>()
            .is_ok());
    }
    let event: Value = serde_json::from_slice(&delivered.body).unwrap();
    assert_eq!(event["event"], "push", "{event}");
    assert_eq!(event["repository"], "alice/web");
    assert_eq!(event["namespace"], "alice");
    assert_eq!(event["tag"], "1");
    assert_eq!(event["actor"], "alice");
    assert!(event["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        event["delivery"].as_str(),
        delivered.header("x-berth-delivery")
    );

    // The delivery log: one delivery, three attempts, 500, 500, 200.
    let log = wait_for(&api, &alice.auth(), &format!("{hook}/deliveries"), |v| {
        v[0]["state"] == "delivered"
    })
    .await;
    let codes: Vec<Value> = log[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, vec![json!(500), json!(500), json!(200)], "{log}");
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");

    // A manual re-send delivers the same delivery again.
    let did = log[0]["id"].as_i64().unwrap();
    let (s, v) = api
        .call(
            &bob.auth(),
            Method::POST,
            &format!("{hook}/deliveries/{did}/resend"),
            None,
        )
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = api
        .call(
            &alice.auth(),
            Method::POST,
            &format!("{hook}/deliveries/{did}/resend"),
            None,
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let again = wait_for_requests(&got, 4).await;
    assert_eq!(again[3].body, delivered.body, "same delivery, same bytes");
    wait_for(&api, &alice.auth(), &format!("{hook}/deliveries"), |v| {
        v[0]["attempts"].as_array().is_some_and(|a| a.len() == 4) && v[0]["state"] == "delivered"
    })
    .await;

    // The secret is never shown again, and the table holds it sealed.
    for path in [hooks.as_str(), hook.as_str()] {
        let (s, v) = api.call(&alice.auth(), Method::GET, path, None).await;
        assert_eq!(s, 200, "{v}");
        assert!(!v.to_string().contains(&secret), "{path}: {v}");
        assert!(
            v.get("secret").is_none() && v[0].get("secret").is_none(),
            "{v}"
        );
    }
    let rows = berth_sql(&b, "SELECT row_to_json(w)::text FROM webhooks w");
    assert!(!rows.is_empty());
    assert!(!rows.contains(&secret), "plain secret in the table: {rows}");
    let hex_secret = data_encoding::HEXLOWER.encode(secret.as_bytes());
    assert!(!rows.contains(&hex_secret), "plain secret in the table");
    let found = berth_sql(
        &b,
        &format!(
            "SELECT count(*) FROM webhooks WHERE position(convert_to('{secret}', 'UTF8') in secret_sealed) > 0"
        ),
    );
    assert_eq!(found, "0");

    // The push in the audit log, with the pusher and their address.
    let push_query = "/api/v1/activities?action=repository.push&repository=alice/web";
    let pushes = wait_for(&api, &alice.auth(), push_query, |v| {
        v.as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(pushes[0]["actor"]["name"], "alice", "{pushes}");
    assert_eq!(pushes[0]["actor"]["id"], alice.id);
    assert_eq!(pushes[0]["tag"], "1");
    assert!(
        pushes[0]["addr"].as_str().is_some_and(|a| !a.is_empty()),
        "{pushes}"
    );
    let (_, for_admin) = api.call(&admin, Method::GET, push_query, None).await;
    assert_eq!(for_admin.as_array().map(Vec::len), Some(1), "{for_admin}");
    let (s, csv) = api
        .call(
            &alice.auth(),
            Method::GET,
            "/api/v1/activities.csv?repository=alice/web",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let csv = csv.as_str().unwrap().to_owned();
    assert!(csv.starts_with("id,created_at,"), "{csv}");
    assert!(
        csv.lines().any(|l| l.contains("repository.push")
            && l.contains(",alice,")
            && l.contains("alice/web")),
        "{csv}"
    );
    // The same export through content negotiation.
    let negotiated = reqwest::Client::new()
        .get(b.url("/api/v1/activities?repository=alice/web"))
        .basic_auth("alice", Some(&alice.password))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(negotiated.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(negotiated.text().await.unwrap().contains("repository.push"));

    // Bob may not pull from alice's private namespace: he sees none of it.
    let (s, v) = api.call(&bob.auth(), Method::GET, push_query, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!([]), "bob sees alice's push");
    let (_, v) = api
        .call(
            &bob.auth(),
            Method::GET,
            "/api/v1/activities?namespace=alice",
            None,
        )
        .await;
    assert_eq!(v, json!([]));
    let (_, csv) = api
        .call(&bob.auth(), Method::GET, "/api/v1/activities.csv", None)
        .await;
    assert!(!csv.as_str().unwrap().contains("alice/web"), "{csv}");
    let (s, _) = api
        .call(&Auth::Anonymous, Method::GET, "/api/v1/activities", None)
        .await;
    assert_eq!(s, 401);

    // Once alice's namespace is public, bob sees its activities.
    assert_eq!(api.set_visibility(&alice.auth(), ns, "public").await, 200);
    let (_, v) = api.call(&bob.auth(), Method::GET, push_query, None).await;
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    let (_, v) = api
        .call(
            &alice.auth(),
            Method::GET,
            "/api/v1/activities?action=namespace.change_visibility",
            None,
        )
        .await;
    assert_eq!(
        v[0]["detail"],
        json!({"from": "private", "to": "public"}),
        "{v}"
    );
    assert_eq!(v[0]["actor"]["name"], "alice");
    assert_eq!(v[0]["addr"], "127.0.0.1");

    // A manifest delete fires the webhook too. (The API removed the tag
    // rows before the registry's event came back, so `tags`, the tags the
    // event itself removed, may be empty; the digest names what went.)
    let (_, repos) = api
        .call(&alice.auth(), Method::GET, "/api/v1/repositories", None)
        .await;
    let repo = repos
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["full_name"] == "alice/web")
        .map(|r| r["id"].clone())
        .unwrap();
    let (_, tags) = api
        .call(
            &alice.auth(),
            Method::GET,
            &format!("/api/v1/repositories/{repo}/tags"),
            None,
        )
        .await;
    let (s, v) = api
        .call(
            &alice.auth(),
            Method::DELETE,
            &format!("/api/v1/tags/{}", tags[0]["id"]),
            None,
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let all = wait_for_requests(&got, 5).await;
    let deleted: Value = serde_json::from_slice(&all[4].body).unwrap();
    assert_eq!(deleted["event"], "delete", "{deleted}");
    assert_eq!(deleted["repository"], "alice/web");
    assert_eq!(deleted["tags"], json!([tags[0]["name"]]), "{deleted}");
    assert_eq!(
        deleted["actor"], "alice",
        "who deleted, not berth: {deleted}"
    );
    assert_eq!(deleted["digest"], event["digest"]);
    assert!(verify_signature(
        &secret,
        &all[4].body,
        all[4].header("x-berth-signature-256").unwrap()
    ));
    wait_for(
        &api,
        &alice.auth(),
        "/api/v1/activities?action=tag.delete&repository=alice/web",
        |v| v[0]["digest"] == event["digest"] && v[0]["actor"]["name"] == "alice",
    )
    .await;

    // A disabled webhook hears nothing: the push after it is audited, and
    // since the outbox is written in the same transaction, no delivery was
    // queued by the time the activity shows.
    let off = json!({"webhook": {"enabled": false}});
    let (s, v) = api
        .call(&bob.auth(), Method::PUT, &hook, Some(off.clone()))
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = api.call(&alice.auth(), Method::PUT, &hook, Some(off)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["enabled"], false);
    assert!(v.get("secret").is_none(), "{v}");
    assert_ok(&docker.push("alice/web:2"));
    wait_for(
        &api,
        &alice.auth(),
        "/api/v1/activities?action=repository.push&repository=alice/web",
        |v| v[0]["tag"] == "2",
    )
    .await;
    let (_, log) = api
        .call(
            &alice.auth(),
            Method::GET,
            &format!("{hook}/deliveries"),
            None,
        )
        .await;
    assert_eq!(
        log.as_array().map(Vec::len),
        Some(2),
        "push and delete only: {log}"
    );
}

#[tokio::test]
async fn pulls_are_aggregated_per_user_repository_and_day() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let docker = DockerClient::new(&b);
    assert_ok(&docker.login("alice", &alice.password));
    assert_ok(&docker.push("alice/pulled:1"));
    for _ in 0..3 {
        assert_ok(&docker.pull("alice/pulled:1"));
    }
    let v = wait_for(
        &api,
        &alice.auth(),
        "/api/v1/activities?action=repository.pull",
        |v| v[0]["count"].as_i64() >= Some(3),
    )
    .await;
    assert_eq!(
        v.as_array().map(Vec::len),
        Some(1),
        "one row, not one per pull: {v}"
    );
    assert_eq!(v[0]["repository"], "alice/pulled");
    assert_eq!(v[0]["actor"]["name"], "alice");

    // Changes made through the API are audited with who and where.
    let (s, _) = api
        .call(
            &alice.auth(),
            Method::POST,
            &format!("/api/v1/users/{}/application_tokens", alice.id),
            Some(json!({"application": "ci"})),
        )
        .await;
    assert_eq!(s, 201);
    let team = api.create_team(&alice.auth(), "crew").await;
    api.add_member(&alice.auth(), team, "admin", "viewer").await;
    let (_, v) = api
        .call(
            &alice.auth(),
            Method::GET,
            "/api/v1/activities?user=alice&per_page=50",
            None,
        )
        .await;
    let actions: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    for want in ["application_token.create", "team.create", "team.add_member"] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    let (_, v) = api
        .call(
            &admin,
            Method::GET,
            "/api/v1/activities?action=user.create",
            None,
        )
        .await;
    assert_eq!(v[0]["target"], "alice", "{v}");
    assert_eq!(v[0]["actor"]["name"], "admin");
    // Bad filters are refused, naming the parameter.
    let (s, v) = api
        .call(
            &alice.auth(),
            Method::GET,
            "/api/v1/activities?since=yesterday",
            None,
        )
        .await;
    assert_eq!(s, 400);
    assert!(v["message"].as_str().unwrap().starts_with("since"), "{v}");
}
