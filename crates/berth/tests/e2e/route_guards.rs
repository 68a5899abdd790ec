//! Walks every owner and peer route of the identity API and proves that a
//! caller without the right credentials is refused before any handler runs.

use berth_identity::httpsig::{new_nonce, sign_request, Target};
use berth_identity::key::{public_key_to_b64, IdentityKey};
use berth_test_support::Berth;
use reqwest::{Client, Method, StatusCode};
use serde_json::json;

use crate::common::bin;
use crate::identity::owner_token;

/// Every `/protected` route of identities, terminals and peers.
const OWNER_ROUTES: &[(&str, &str)] = &[
    ("GET", "/protected/identities"),
    ("PUT", "/protected/identities"),
    ("GET", "/protected/identities/default"),
    ("GET", "/protected/identities/x"),
    ("POST", "/protected/identities/x/make-default"),
    ("GET", "/protected/terminals"),
    ("GET", "/protected/terminals/pairing-code"),
    ("GET", "/protected/terminals/id/x"),
    ("PUT", "/protected/terminals/id/x"),
    ("DELETE", "/protected/terminals/id/x"),
    ("GET", "/protected/terminals/name/x"),
    ("GET", "/protected/peers"),
    ("POST", "/protected/peers/probe"),
    ("PUT", "/protected/peers"),
    ("GET", "/protected/peers/x"),
    ("DELETE", "/protected/peers/x"),
];

#[tokio::test]
async fn every_owner_route_refuses_strangers_and_peers() {
    let b = Berth::start(&bin()).await.unwrap();
    let c = Client::new();
    let peer = IdentityKey::generate();
    let registered = c
        .put(b.url("/protected/peers"))
        .bearer_auth(owner_token(&b))
        .json(&json!({"id": peer.id(), "name": "p", "public_bytes_b64": public_key_to_b64(&peer.public_bytes())}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::OK);
    let authority = b.url("").trim_start_matches("http://").to_owned();

    for (method, path) in OWNER_ROUTES {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let anon = c
            .request(m.clone(), b.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(anon.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(anon.headers()["content-type"], "application/problem+json");

        let wrong = c
            .request(m.clone(), b.url(path))
            .bearer_auth("not-the-token")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{method} {path}");

        let target = Target {
            method,
            authority: &authority,
            path,
            query: None,
        };
        let h = sign_request(
            &peer,
            &target,
            b"",
            chrono::Utc::now().timestamp(),
            &new_nonce(),
        );
        let signed = c
            .request(m, b.url(path))
            .header("signature-input", h.signature_input)
            .header("signature", h.signature)
            .header("content-digest", h.content_digest)
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }

    // The peer route refuses the owner's credentials: it is for peers only.
    let owner = c
        .get(b.url("/peer/whoami"))
        .bearer_auth(owner_token(&b))
        .send()
        .await
        .unwrap();
    assert_eq!(owner.status(), StatusCode::UNAUTHORIZED);

    // A signature header sent twice: which copy was signed is a guess.
    let twice = c
        .get(b.url("/peer/whoami"))
        .header("signature", "sig1=:AA==:")
        .header("signature", "sig1=:AA==:")
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    let problem: serde_json::Value = twice.json().await.unwrap();
    assert_eq!(problem["field"], "signature");
}
