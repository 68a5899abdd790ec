//! Two real berths as peers: each registers the other, and B's signed
//! request reaches A's peer route; forgeries, wrong bodies, unknown keys,
//! stale and replayed signatures are refused.

use berth_identity::httpsig::{new_nonce, sign_request, SignedHeaders, Target};
use berth_identity::key::IdentityKey;
use berth_identity::keystore::KeyStore;
use berth_test_support::Berth;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::common::bin;
use crate::identity::owner_token;

/// This berth's default identity, as peers see it.
pub(crate) async fn whoareyou(b: &Berth) -> Value {
    Client::new()
        .get(b.url("/public/meta/whoareyou"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn register(at: &Berth, peer: &Value, name: &str) -> reqwest::Response {
    Client::new()
        .put(at.url("/protected/peers"))
        .bearer_auth(owner_token(at))
        .json(
            &json!({"id": peer["id"], "name": name, "public_bytes_b64": peer["public_bytes_b64"]}),
        )
        .send()
        .await
        .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn authority(b: &Berth) -> String {
    b.url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

fn sign(key: &IdentityKey, to: &Berth, body: &[u8], created: i64) -> SignedHeaders {
    let authority = authority(to);
    let target = Target {
        method: "POST",
        authority: &authority,
        path: "/peer/whoami",
        query: None,
    };
    sign_request(key, &target, body, created, &new_nonce())
}

async fn send(to: &Berth, h: &SignedHeaders, body: &'static [u8]) -> reqwest::Response {
    Client::new()
        .post(to.url("/peer/whoami"))
        .header("signature-input", &h.signature_input)
        .header("signature", &h.signature)
        .header("content-digest", &h.content_digest)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Asserts a 401 problem whose detail names why.
async fn refused(r: reqwest::Response, why: &str) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    assert!(
        p["detail"].as_str().unwrap().contains(why),
        "want `{why}`: {p}"
    );
}

#[tokio::test]
async fn peers_accept_signed_requests_and_refuse_forgeries_and_replays() {
    let bin = bin();
    let (a, b) = tokio::join!(Berth::start(&bin), Berth::start(&bin));
    let (mut a, b) = (a.unwrap(), b.unwrap());
    let (a_id, b_id) = (whoareyou(&a).await, whoareyou(&b).await);

    // An id that is not the hash of the key is refused.
    let mut forged = b_id.clone();
    forged["id"] = a_id["id"].clone();
    let r = register(&a, &forged, "liar").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "/id");
    assert_eq!(register(&a, &b_id, "bob").await.status(), StatusCode::OK);
    assert_eq!(register(&b, &a_id, "alice").await.status(), StatusCode::OK);
    let listed: Value = Client::new()
        .get(a.url("/protected/peers"))
        .bearer_auth(owner_token(&a))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], b_id["id"]);

    // B itself calls A, signing as its default identity.
    let probe = |from: &Berth, to: &Berth| {
        Client::new()
            .post(from.url("/protected/peers/probe"))
            .bearer_auth(owner_token(from))
            .json(&json!({"url": to.url("")}))
            .send()
    };
    let answer: Value = probe(&b, &a).await.unwrap().json().await.unwrap();
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["body"]["id"], b_id["id"]);
    assert_eq!(answer["body"]["name"], "bob");
    let answer: Value = probe(&a, &b).await.unwrap().json().await.unwrap();
    assert_eq!(answer["body"]["name"], "alice", "{answer}");

    // The test signs as B too, with the key B's data dir holds, to forge
    // what B's code never would.
    let b_key = KeyStore::open(&b.data_dir().join("secrets/identities"))
        .unwrap()
        .load(b_id["id"].as_str().unwrap())
        .unwrap();
    let body: &'static [u8] = br#"{"hello":"a"}"#;
    let h = sign(&b_key, &a, body, now());
    let ok = send(&a, &h, body).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let who: Value = ok.json().await.unwrap();
    assert_eq!(who["type"], "peer");
    assert_eq!(who["id"], b_id["id"]);
    assert_eq!(who["name"], "bob");

    // The same request again is a replay, even after A restarts.
    refused(send(&a, &h, body).await, "replay").await;
    a.restart().await.unwrap();
    refused(send(&a, &h, body).await, "replay").await;

    // A signature with one byte changed.
    let mut bad = sign(&b_key, &a, body, now());
    let sig_b64 = bad
        .signature
        .trim_start_matches("sig1=:")
        .trim_end_matches(':')
        .to_owned();
    let (first, rest) = sig_b64.split_at(1);
    let flipped = format!("{}{rest}", if first == "A" { "B" } else { "A" });
    bad.signature = format!("sig1=:{flipped}:");
    refused(send(&a, &bad, body).await, "does not verify").await;

    // A body other than the one signed.
    let h = sign(&b_key, &a, body, now());
    refused(send(&a, &h, br#"{"hello":"b"}"#).await, "Content-Digest").await;

    // A key A does not know.
    let stranger = IdentityKey::generate();
    let h = sign(&stranger, &a, body, now());
    refused(send(&a, &h, body).await, "not a known peer").await;

    // A `created` outside the window.
    let h = sign(&b_key, &a, body, now() - 300);
    refused(send(&a, &h, body).await, "away from now").await;

    // No signature at all, and a signed peer on the owner's routes.
    let anon = Client::new()
        .post(a.url("/peer/whoami"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    let authority = authority(&a);
    let target = Target {
        method: "GET",
        authority: &authority,
        path: "/protected/peers",
        query: None,
    };
    let h = sign_request(&b_key, &target, b"", now(), &new_nonce());
    let r = Client::new()
        .get(a.url("/protected/peers"))
        .header("signature-input", &h.signature_input)
        .header("signature", &h.signature)
        .header("content-digest", &h.content_digest)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Once deleted, B is unknown to A.
    let del = Client::new()
        .delete(a.url(&format!(
            "/protected/peers/{}",
            b_id["id"].as_str().unwrap()
        )))
        .bearer_auth(owner_token(&a))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    let h = sign(&b_key, &a, body, now());
    refused(send(&a, &h, body).await, "not a known peer").await;
    let answer: Value = probe(&b, &a).await.unwrap().json().await.unwrap();
    assert_eq!(answer["status"], 401, "{answer}");
}
