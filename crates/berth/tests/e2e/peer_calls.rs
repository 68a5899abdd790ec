//! An app's calls to its peers through the core (`/internal/call_peer`),
//! from inside a real app container on a real berth.
//!
//! The peer end is a verifying stand-in on loopback, not a second berth:
//! the call goes to the same app on the peer, and two berths on one Docker
//! daemon cannot both hold an app of one name (container names are the
//! daemon's). The stand-in checks each request with berth's own verifier
//! (`httpsig`) against this berth's public key; `peers.rs` and
//! `gateway_proofs.rs` prove that a real berth's gateway admits requests
//! so signed on a peer path and refuses forged ones.

use std::convert::Infallible;

use berth_identity::httpsig::{parse_signature, SignatureHeaders, Target};
use berth_identity::key::{public_key_from_b64, public_key_to_b64, IdentityKey};
use berth_test_support::{busybox_image, Berth};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::apps_support::{app_name, exec, Owner};
use crate::common::bin;
use crate::identity::owner_token;
use crate::peers::whoareyou;

/// What the stand-in saw of one request, as JSON.
fn judge(req: &hyper::http::request::Parts, body: &[u8], caller_key: &[u8; 32]) -> Value {
    let h = |n: &str| {
        req.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let host = h("host");
    let target = Target {
        method: req.method.as_str(),
        authority: &host,
        path: req.uri.path(),
        query: req.uri.query(),
    };
    let (sig_input, sig, digest) = (h("signature-input"), h("signature"), h("content-digest"));
    let headers = SignatureHeaders {
        signature_input: &sig_input,
        signature: &sig,
        content_digest: &digest,
    };
    let verdict = parse_signature(&headers, &target).and_then(|p| {
        p.verify(caller_key, chrono::Utc::now().timestamp())?;
        p.body_digest.check(body)?;
        Ok(p.keyid)
    });
    json!({
        "verified": verdict.is_ok(),
        "keyid": verdict.as_ref().ok(),
        "error": verdict.as_ref().err().map(ToString::to_string),
        "method": req.method.as_str(),
        "host": host,
        "path": req.uri.path(),
        "query": req.uri.query(),
        "body": String::from_utf8_lossy(body),
        "content_type": h("content-type"),
        "cookie": h("cookie"),
        "x_app": h("x-app"),
    })
}

/// A peer that verifies what it gets and answers with its verdict; its
/// port on 127.0.0.1.
async fn verifying_peer(caller_key: [u8; 32]) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<Incoming>| async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let verdict = judge(&parts, &body, &caller_key);
                        let mut res = Response::new(Full::new(Bytes::from(verdict.to_string())));
                        *res.status_mut() = hyper::StatusCode::ACCEPTED;
                        Ok::<_, Infallible>(res)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

async fn put_peer(b: &Berth, body: &Value) -> (StatusCode, Value) {
    let r = Client::new()
        .put(b.url("/protected/peers"))
        .bearer_auth(owner_token(b))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn new_peer(name: &str, url: Option<String>) -> Value {
    let key = IdentityKey::generate();
    json!({"id": key.id(), "name": name,
        "public_bytes_b64": public_key_to_b64(&key.public_bytes()), "url": url})
}

// Multi-threaded: `docker exec` blocks the test's thread while the
// stand-in peer must answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_call_their_peers_signed_and_only_with_the_grant() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let me = whoareyou(&b).await;
    let my_key = public_key_from_b64(me["public_bytes_b64"].as_str().unwrap()).unwrap();
    let port = verifying_peer(my_key).await;

    // The owner names where a peer is; what is not a domain is refused.
    let peer = new_peer("verifier", Some(format!("http://LOCALHOST:{port}/")));
    let (s, v) = put_peer(&b, &peer).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["url"], format!("http://localhost:{port}"));
    let (s, v) = put_peer(
        &b,
        &new_peer("by address", Some(format!("http://127.0.0.1:{port}"))),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "/url", "{v}");
    let mute = new_peer("no url", None);
    assert_eq!(put_peer(&b, &mute).await.0, StatusCode::OK);

    let image = busybox_image().unwrap();
    let (caller, plain) = (app_name("caller"), app_name("plain"));
    for (name, permissions) in [(&caller, json!(["peers:call"])), (&plain, json!([]))] {
        let (s, v) = owner
            .install(&json!({"v": "4.0", "name": name, "image": image, "permissions": permissions}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        owner.wait_status(name, "running").await;
    }
    let id = peer["id"].as_str().unwrap();
    let call = |app: &str, rest: &str, extra: &str| {
        exec(
            app,
            &format!("wget -qO- {extra} 'http://portal_core/internal/call_peer/{rest}' 2>&1"),
        )
    };

    // The call arrives signed as this berth, for the same app at the peer,
    // with the app's method, path, query, body and end-to-end headers; its
    // cookies stay home. The peer's status comes back too (202).
    let (ok, out, _) = call(
        &caller,
        &format!("{id}/peer/echo?x=1"),
        "--post-data 'hello peer' --header 'Content-Type: text/plain' \
         --header 'X-App: 7' --header 'Cookie: secret=1'",
    );
    assert!(ok, "{out}");
    let seen: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}"));
    assert_eq!(seen["verified"], true, "{seen}");
    assert_eq!(seen["keyid"], me["id"], "{seen}");
    assert_eq!(seen["host"], format!("{caller}.localhost:{port}"), "{seen}");
    assert_eq!(
        (&seen["method"], &seen["path"], &seen["query"]),
        (&json!("POST"), &json!("/peer/echo"), &json!("x=1")),
        "{seen}"
    );
    assert_eq!(seen["body"], "hello peer", "{seen}");
    assert_eq!(
        (&seen["content_type"], &seen["x_app"], &seen["cookie"]),
        (&json!("text/plain"), &json!("7"), &json!("")),
        "{seen}"
    );

    // The granted app sees the peers and which of them it can call.
    let (ok, out, _) = exec(&caller, "wget -qO- http://portal_core/internal/peers 2>&1");
    assert!(ok, "{out}");
    let listed: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}"));
    let callable = |id: &Value| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == *id)
            .map(|p| p["callable"].clone())
    };
    assert_eq!(callable(&peer["id"]), Some(json!(true)), "{listed}");
    assert_eq!(callable(&mute["id"]), Some(json!(false)), "{listed}");

    // Forbidden: an app without `peers:call`, for calls and the list.
    let (ok, out, _) = call(&plain, &format!("{id}/peer/echo"), "");
    assert!(!ok && out.contains("403"), "{out}");
    let (ok, out, _) = exec(&plain, "wget -qO- http://portal_core/internal/peers 2>&1");
    assert!(!ok && out.contains("403"), "{out}");
    // An unknown peer, and one with no URL.
    let stranger = IdentityKey::generate();
    let (ok, out, _) = call(&caller, &format!("{}/peer/echo", stranger.id()), "");
    assert!(!ok && out.contains("404"), "{out}");
    let mute_id = mute["id"].as_str().unwrap();
    let (ok, out, _) = call(&caller, &format!("{mute_id}/peer/echo"), "");
    assert!(!ok && out.contains("409"), "{out}");
    // A body over the limit is refused before it is read, let alone signed
    // (busybox's wget cannot post a file, so the head goes by hand).
    let (_, out, _) = exec(
        &caller,
        &format!(
            "{{ printf 'POST /internal/call_peer/{id}/peer/echo HTTP/1.1\\r\\nHost: portal_core\\r\\n\
             Content-Length: 17825792\\r\\n\\r\\n'; sleep 3; }} | nc portal_core 80 | head -1"
        ),
    );
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    // Not a route of the main listener: nobody outside calls as this berth.
    let r = Client::new()
        .get(b.url(&format!("/internal/call_peer/{id}/peer/echo")))
        .bearer_auth(owner_token(&b))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    for app in [&caller, &plain] {
        assert_eq!(owner.uninstall(app, true).await, StatusCode::NO_CONTENT);
    }
}
