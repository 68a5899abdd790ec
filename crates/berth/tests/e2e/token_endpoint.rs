//! `/v2/token` at the HTTP level: malformed, hostile and repeated scopes,
//! the subject, refresh tokens bound to user and client, lockout.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use berth_test_support::Berth;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::bin;
use crate::portus::Api;

const SERVICE: &str = "berth-registry";

struct Token<'a> {
    b: &'a Berth,
    http: reqwest::Client,
}

impl Token<'_> {
    async fn get(&self, query: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, Value) {
        let mut req = self.http.get(self.b.url("/v2/token")).query(query);
        if let Some((u, p)) = basic {
            req = req.basic_auth(u, Some(p));
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(self.b.url("/v2/token"))
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn claims(body: &Value) -> Value {
    let jwt = body["token"].as_str().expect("token in body");
    assert_eq!(body["access_token"], body["token"]);
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header(body: &Value) -> Value {
    let jwt = body["token"].as_str().unwrap();
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn scopes_subjects_and_malformed_requests() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let t = Token {
        b: &b,
        http: reqwest::Client::new(),
    };
    let me = Some(("alice", alice.password.as_str()));

    // Unknown or missing service: refused.
    assert_eq!(t.get(&[("service", "other")], me).await.0, 400);
    assert_eq!(t.get(&[], me).await.0, 400);

    // Over the caps: 400, whole request.
    let many: Vec<(&str, &str)> = std::iter::once(("service", SERVICE))
        .chain(std::iter::repeat_n(
            ("scope", "repository:alice/x:pull"),
            65,
        ))
        .collect();
    assert_eq!(t.get(&many, me).await.0, 400);
    let long = format!("repository:alice/{}:pull", "a".repeat(600));
    assert_eq!(
        t.get(&[("service", SERVICE), ("scope", &long)], me).await.0,
        400
    );

    // Malformed scopes are dropped, the others kept; repeats merge; `*` expands.
    let (s, body) = t
        .get(
            &[
                ("service", SERVICE),
                ("account", "admin"),
                ("scope", "garbage"),
                ("scope", "repository:ALICE/x:pull"),
                ("scope", "repository:alice/x:pull"),
                ("scope", "repository:alice/x:pull"),
                ("scope", "repository:alice/y/z:*"),
                ("scope", "repository:other/x:pull,push"),
                ("scope", "registry:catalog:*"),
                ("scope", "repository:alice/x:fly"),
            ],
            me,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let c = claims(&body);
    // The subject is who logged in, never the `account` parameter.
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["iss"], "berth");
    assert_eq!(c["aud"], SERVICE);
    assert!(c["exp"].as_u64().unwrap() > c["iat"].as_u64().unwrap());
    assert!(c["nbf"].as_u64().unwrap() <= c["iat"].as_u64().unwrap());
    assert_eq!(
        c["access"],
        json!([
            {"type": "repository", "name": "alice/x", "actions": ["pull"]},
            {"type": "repository", "name": "alice/y/z", "actions": ["pull", "push", "delete"]},
        ])
    );
    assert_eq!(header(&body)["alg"], "ES256");
    assert_eq!(
        header(&body)["kid"].as_str().unwrap().split(':').count(),
        12
    );
    assert!(body.get("refresh_token").is_none());

    // Admins get the catalog; anonymous callers get an empty subject and nothing private.
    let admin_pw = Some(("admin", "admin-password"));
    let (_, body) = t
        .get(
            &[("service", SERVICE), ("scope", "registry:catalog:*")],
            admin_pw,
        )
        .await;
    assert_eq!(
        claims(&body)["access"],
        json!([{"type": "registry", "name": "catalog", "actions": ["*"]}])
    );
    let (s, body) = t
        .get(
            &[("service", SERVICE), ("scope", "repository:alice/x:pull")],
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(claims(&body)["sub"], "");
    assert_eq!(claims(&body)["access"], json!([]));

    // Bad credentials: 401, never a token; a malformed Authorization header too.
    assert_eq!(
        t.get(&[("service", SERVICE)], Some(("alice", "wrong")))
            .await
            .0,
        401
    );
    assert_eq!(
        t.get(&[("service", SERVICE)], Some(("nobody", "wrong")))
            .await
            .0,
        401
    );
    let r = t
        .http
        .get(b.url("/v2/token?service=berth-registry"))
        .header("authorization", "Basic !!!")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The internal service user (password only in the data dir) may do anything
    // in the registry, and nothing in the API.
    let service_pw =
        std::fs::read_to_string(b.data_dir().join("secrets/service-user-password")).unwrap();
    let (s, body) = t
        .get(
            &[
                ("service", SERVICE),
                ("scope", "registry:catalog:*"),
                ("scope", "repository:alice/x:pull,push,delete"),
            ],
            Some(("berth", service_pw.trim())),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(claims(&body)["sub"], "berth");
    assert_eq!(
        claims(&body)["access"],
        json!([
            {"type": "repository", "name": "alice/x", "actions": ["pull", "push", "delete"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]},
        ])
    );
    let service = crate::portus::Auth::Password {
        user: "berth".into(),
        password: service_pw.trim().into(),
    };
    assert_eq!(
        api.call(&service, Method::GET, "/api/v1/teams", None)
            .await
            .0,
        401
    );
    let metrics = reqwest::get(b.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // berth's own sync worker also fetches tokens as the service user, so
    // the count is at least this test's four.
    let issued: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("berth_registry_tokens_issued_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(issued >= 4, "{metrics}");
    assert!(
        metrics.contains("berth_registry_token_requests_refused_total 7"),
        "{metrics}"
    );
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_user_and_client_and_die_with_the_user() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let t = Token {
        b: &b,
        http: reqwest::Client::new(),
    };

    // docker login: offline_token=true returns a refresh token.
    let (s, body) = t
        .get(
            &[
                ("service", SERVICE),
                ("account", "alice"),
                ("client_id", "docker"),
                ("offline_token", "true"),
            ],
            Some(("alice", &alice.password)),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    let grant = |client: &'static str, token: String| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", token),
            ("client_id", client.to_owned()),
            ("service", SERVICE.to_owned()),
            (
                "scope",
                "repository:alice/x:pull repository:alice/y:push".to_owned(),
            ),
        ]
    };
    let post = |form: Vec<(&'static str, String)>| {
        let t = &t;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            t.post(&form).await
        }
    };
    let (s, body) = post(grant("docker", refresh.clone())).await;
    assert_eq!(s, 200, "{body}");
    let c = claims(&body);
    assert_eq!(c["sub"], "alice");
    assert_eq!(
        c["access"].as_array().unwrap().len(),
        2,
        "space-separated scopes: {c}"
    );
    // Another client, a made-up token: refused.
    assert_eq!(post(grant("skopeo", refresh.clone())).await.0, 401);
    assert_eq!(post(grant("docker", "made-up".into())).await.0, 401);
    // Unknown grant types and missing fields are malformed.
    assert_eq!(
        t.post(&[("grant_type", "client_credentials"), ("service", SERVICE)])
            .await
            .0,
        400
    );
    assert_eq!(
        t.post(&[("grant_type", "refresh_token"), ("service", SERVICE)])
            .await
            .0,
        400
    );
    // The password grant works too, and offline access returns a refresh token.
    let (s, body) = t
        .post(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", &alice.password),
            ("service", SERVICE),
            ("access_type", "offline"),
            ("client_id", "cli"),
        ])
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(body["refresh_token"].is_string());

    // Disabled: the refresh token stops working.
    let (s, _) = api
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/users/{}", alice.id),
            Some(json!({"user": {"enabled": false}})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(post(grant("docker", refresh.clone())).await.0, 401);
    // Re-enabled: it works again (it was never revoked).
    api.call(
        &admin,
        Method::PUT,
        &format!("/api/v1/users/{}", alice.id),
        Some(json!({"user": {"enabled": true}})),
    )
    .await;
    assert_eq!(post(grant("docker", refresh.clone())).await.0, 200);

    // Listed per user (never the secret), revocable by the user only.
    let path = format!("/api/v1/users/{}/refresh_tokens", alice.id);
    let (s, list) = api.call(&alice.auth(), Method::GET, &path, None).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&refresh));
    let docker = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["client_id"] == "docker")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        api.call(&admin, Method::DELETE, &format!("{path}/{docker}"), None)
            .await
            .0,
        403
    );
    assert_eq!(
        api.call(
            &alice.auth(),
            Method::DELETE,
            &format!("{path}/{docker}"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(post(grant("docker", refresh)).await.0, 401);
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let t = Token {
        b: &b,
        http: reqwest::Client::new(),
    };
    let q = [("service", SERVICE)];
    for _ in 0..berth_store::MAX_FAILED_LOGINS {
        assert_eq!(t.get(&q, Some(("alice", "wrong-password"))).await.0, 401);
    }
    // The right password no longer opens a locked account.
    assert_eq!(t.get(&q, Some(("alice", &alice.password))).await.0, 401);
    let (_, user) = api
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/users/{}", alice.id),
            None,
        )
        .await;
    assert!(user["locked_at"].is_string(), "{user}");
    // An admin re-enabling the account clears the lock.
    api.call(
        &admin,
        Method::PUT,
        &format!("/api/v1/users/{}", alice.id),
        Some(json!({"user": {"enabled": true}})),
    )
    .await;
    assert_eq!(t.get(&q, Some(("alice", &alice.password))).await.0, 200);
}
