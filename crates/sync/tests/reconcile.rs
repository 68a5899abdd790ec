//! Reconcile and notification processing against a real registry and a
//! real Postgres with berth's migrations.

use std::collections::BTreeMap;

use berth_authz::policy::Visibility;
use berth_registry::client::RegistryClient;
use berth_registry::manifest::OCI_IMAGE;
use berth_store::sealed::SecretBox;
use berth_store::{
    ActivityFilter, ActivityPage, ActivityVisibility, ConnectOptions, NewUser, NewWebhook, Store,
    StoredEvent,
};
use berth_sync::notifications::{apply_event, process_pending, Handled};
use berth_sync::reconcile::{reconcile, Depth};
use berth_sync::tag_delete::delete_tag;
use berth_test_support::{busybox_image, PlainPostgres, PlainRegistry};
use serde_json::json;

async fn store_on(pg: &PlainPostgres) -> Store {
    let admin = ConnectOptions::new()
        .socket(pg.socket_dir())
        .port(pg.port)
        .username("postgres")
        .database("postgres");
    let mut last = None;
    for _ in 0..50 {
        match berth_store::admin::ensure_database(&admin, "berth").await {
            Ok(()) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(last.is_none(), "{last:?}");
    let store = Store::connect(admin.database("berth")).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// Creates namespace `ns` with an owner and a team; returns its id.
async fn with_namespace(store: &Store, ns: &str) -> i64 {
    let user = store
        .create_user(&NewUser {
            username: format!("owner-{ns}"),
            email: None,
            password: "a long enough password".into(),
            display_name: None,
            admin: false,
            bot: false,
        })
        .await
        .unwrap();
    let team = store
        .create_team(&format!("team-{ns}"), None, user.id)
        .await
        .unwrap();
    store
        .create_namespace(ns, team.id, None, Visibility::Private)
        .await
        .unwrap()
        .id
}

fn tags(c: &BTreeMap<String, BTreeMap<String, String>>, repo: &str) -> Vec<String> {
    c.get(repo)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn reconcile_converges_is_cheap_in_steady_state_and_never_deletes_blind() {
    let pg = PlainPostgres::start().unwrap();
    let store = store_on(&pg).await;
    with_namespace(&store, "ns").await;
    let reg = PlainRegistry::start().unwrap();
    let image = busybox_image().unwrap();
    for dest in ["ns/app:1", "ns/app:2", "ns/other:x", "solo:1", "orphan/x:1"] {
        reg.push_local_image(&image, dest, None).unwrap();
    }
    let client = RegistryClient::new(&reg.url(), None).unwrap();

    let first = reconcile(&client, &store, Depth::Listed).await.unwrap();
    let cat = store.catalog_digests().await.unwrap();
    assert_eq!(tags(&cat, "ns/app"), ["1", "2"]);
    assert_eq!(tags(&cat, "ns/other"), ["x"]);
    assert_eq!(tags(&cat, "solo"), ["1"]);
    assert_eq!(first.orphans, ["orphan/x:1"]);
    assert_eq!(
        first.manifests_fetched, 1,
        "one digest, fetched once: {first:?}"
    );

    // Steady state: a catalog page and one tag list per repository, plus a
    // HEAD for each orphan tag (berth cannot record it, so it stays new).
    let steady = reconcile(&client, &store, Depth::Listed).await.unwrap();
    assert_eq!((steady.upserts, steady.removals), (0, 0));
    let expected = 1 + steady.repositories + steady.orphans.len();
    assert_eq!(steady.requests, expected as u64, "{steady:?}");

    // A tag deleted behind berth's back disappears; its sibling stays.
    delete_tag(&client, "ns/app", "2").await.unwrap();
    let after = reconcile(&client, &store, Depth::Listed).await.unwrap();
    assert_eq!(after.removals, 1);
    assert_eq!(
        tags(&store.catalog_digests().await.unwrap(), "ns/app"),
        ["1"]
    );

    // With the registry gone, nothing is removed.
    drop(reg);
    let blind = reconcile(&client, &store, Depth::Listed).await.unwrap();
    assert!(blind.catalog_error.is_some());
    assert_eq!(blind.removals, 0);
    let still = store.catalog_digests().await.unwrap();
    assert_eq!(tags(&still, "ns/app"), ["1"]);
    assert_eq!(tags(&still, "solo"), ["1"]);
}

/// A tag re-pushed to another digest without a notification reaching berth:
/// a listed reconcile trusts the record and keeps the stale digest, a deep
/// one HEADs every tag and repairs it, fetching only the new manifest.
#[tokio::test]
async fn a_moved_tag_is_repaired_by_a_deep_reconcile() {
    let pg = PlainPostgres::start().unwrap();
    let store = store_on(&pg).await;
    with_namespace(&store, "ns").await;
    let reg = PlainRegistry::start().unwrap();
    let client = RegistryClient::new(&reg.url(), None).unwrap();
    let old = client
        .generate_image("ns/app", "old", "linux", "amd64")
        .await
        .unwrap();
    for tag in ["1", "2"] {
        client
            .put_manifest("ns/app", tag, OCI_IMAGE, old.bytes.clone())
            .await
            .unwrap();
    }
    reconcile(&client, &store, Depth::Listed).await.unwrap();
    let new = client
        .generate_image("ns/app", "new", "linux", "amd64")
        .await
        .unwrap();
    client
        .put_manifest("ns/app", "1", OCI_IMAGE, new.bytes.clone())
        .await
        .unwrap();
    assert_ne!(old.digest, new.digest);
    let digest_of = |c: &BTreeMap<String, BTreeMap<String, String>>, tag: &str| {
        c.get("ns/app").and_then(|t| t.get(tag)).cloned()
    };

    let listed = reconcile(&client, &store, Depth::Listed).await.unwrap();
    assert_eq!(listed.upserts, 0, "{listed:?}");
    let cat = store.catalog_digests().await.unwrap();
    assert_eq!(digest_of(&cat, "1").as_ref(), Some(&old.digest));

    let deep = reconcile(&client, &store, Depth::Deep).await.unwrap();
    assert_eq!((deep.upserts, deep.manifests_fetched), (1, 1), "{deep:?}");
    let cat = store.catalog_digests().await.unwrap();
    assert_eq!(digest_of(&cat, "1").as_ref(), Some(&new.digest));
    assert_eq!(digest_of(&cat, "2").as_ref(), Some(&old.digest));

    // Deep in steady state: the catalog, the tag list and a HEAD per tag.
    let again = reconcile(&client, &store, Depth::Deep).await.unwrap();
    assert_eq!(
        (again.upserts, again.manifests_fetched),
        (0, 0),
        "{again:?}"
    );
    assert_eq!(again.requests, 1 + 1 + 2, "{again:?}");
}

fn event(
    id: &str,
    action: &str,
    repo: &str,
    tag: Option<&str>,
    digest: &str,
    at: &str,
) -> StoredEvent {
    let mut target = json!({"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "digest": digest, "size": 527, "repository": repo});
    if let Some(t) = tag {
        target["tag"] = json!(t);
    }
    let payload = json!({"id": id, "timestamp": at, "action": action, "target": target, "actor": {"name": "alice"}});
    StoredEvent {
        id: id.into(),
        action: action.into(),
        repository: Some(repo.into()),
        payload,
    }
}

#[tokio::test]
async fn notifications_apply_idempotently_out_of_order_and_keep_orphans() {
    let pg = PlainPostgres::start().unwrap();
    let store = store_on(&pg).await;
    with_namespace(&store, "ns").await;

    // The newer push (d2) arrives before the older one (d1): d2 must win.
    let batch = [
        event(
            "e2",
            "push",
            "ns/app",
            Some("1"),
            "sha256:d2",
            "2026-11-29T10:00:02Z",
        ),
        event(
            "e1",
            "push",
            "ns/app",
            Some("1"),
            "sha256:d1",
            "2026-11-29T10:00:01Z",
        ),
        event(
            "e3",
            "push",
            "nowhere/app",
            Some("1"),
            "sha256:d1",
            "2026-11-29T10:00:03Z",
        ),
        event(
            "e4",
            "pull",
            "ns/app",
            Some("1"),
            "sha256:d2",
            "2026-11-29T10:00:04Z",
        ),
    ];
    assert_eq!(store.record_registry_events(&batch).await.unwrap(), 4);
    assert_eq!(
        store.record_registry_events(&batch).await.unwrap(),
        0,
        "redelivery is a no-op"
    );
    let pass = process_pending(&store, None, 100).await.unwrap();
    assert_eq!((pass.applied, pass.orphans), (3, 1), "{pass:?}");
    assert_eq!(
        store.catalog_digests().await.unwrap()["ns/app"]["1"],
        "sha256:d2"
    );
    let orphans = store.orphan_registry_events(10).await.unwrap();
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0].1.as_deref(), Some("nowhere/app"));

    // A delete of the digest removes the tag; nothing is left pending.
    store
        .record_registry_events(&[event(
            "e5",
            "delete",
            "ns/app",
            None,
            "sha256:d2",
            "2026-11-29T10:00:05Z",
        )])
        .await
        .unwrap();
    process_pending(&store, None, 100).await.unwrap();
    assert!(tags(&store.catalog_digests().await.unwrap(), "ns/app").is_empty());
    assert!(store.pending_registry_events(10).await.unwrap().is_empty());

    // A push's blob traffic and a push by digest change nothing: they are
    // marked together, beside the one manifest push that is applied.
    let mut blob = event(
        "e6",
        "push",
        "ns/app",
        None,
        "sha256:b1",
        "2026-11-29T10:00:06Z",
    );
    blob.payload["target"]["mediaType"] = json!("application/octet-stream");
    let mut mount = event(
        "e7",
        "mount",
        "ns/app",
        None,
        "sha256:b1",
        "2026-11-29T10:00:06Z",
    );
    mount.payload["target"]["mediaType"] = json!("application/octet-stream");
    let by_digest = event(
        "e8",
        "push",
        "ns/app",
        None,
        "sha256:d3",
        "2026-11-29T10:00:07Z",
    );
    let tagged = event(
        "e9",
        "push",
        "ns/app",
        Some("2"),
        "sha256:d3",
        "2026-11-29T10:00:07Z",
    );
    store
        .record_registry_events(&[blob, mount, by_digest, tagged])
        .await
        .unwrap();
    let pass = process_pending(&store, None, 100).await.unwrap();
    assert_eq!((pass.applied, pass.ignored), (1, 3), "{pass:?}");
    assert_eq!(
        store.catalog_digests().await.unwrap()["ns/app"]["2"],
        "sha256:d3"
    );
    assert!(store.pending_registry_events(10).await.unwrap().is_empty());
    // An event already finished keeps its outcome: the orphan stays one.
    let ids = ["e3".to_owned(), "e6".to_owned()];
    assert_eq!(
        store.finish_unchanged_registry_events(&ids).await.unwrap(),
        0
    );
    assert_eq!(store.orphan_registry_events(10).await.unwrap().len(), 1);
}

/// One reconcile at a time: while one waits on a registry that accepted the
/// connection but has not answered, a second is refused at once; when the
/// registry then fails, nothing is removed and the status says so.
#[tokio::test]
async fn a_second_reconcile_is_refused_while_one_runs_and_a_failure_removes_nothing() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use berth_sync::service::{CatalogSync, ReconcileNowError};

    let pg = PlainPostgres::start().unwrap();
    let store = store_on(&pg).await;
    with_namespace(&store, "ns").await;
    let reg = PlainRegistry::start().unwrap();
    reg.push_local_image(&busybox_image().unwrap(), "ns/app:1", None)
        .unwrap();
    reconcile(
        &RegistryClient::new(&reg.url(), None).unwrap(),
        &store,
        Depth::Listed,
    )
    .await
    .unwrap();

    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", hole.local_addr().unwrap());
    let failures = Arc::new(AtomicUsize::new(0));
    let seen = failures.clone();
    let sync = Arc::new(CatalogSync::new(
        RegistryClient::new(&url, None).unwrap(),
        store.clone(),
        Some(Box::new(move |r| {
            if r.catalog_error.is_some() {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        })),
    ));
    let first = tokio::spawn({
        let sync = sync.clone();
        async move { sync.reconcile_now().await }
    });
    // The first reconcile is inside once its request reached the registry.
    let (conn, _) = hole.accept().await.unwrap();
    assert!(matches!(
        sync.reconcile_now().await,
        Err(ReconcileNowError::Busy)
    ));
    drop(conn);
    drop(hole);
    let report = first.await.unwrap().unwrap();
    assert!(report.catalog_error.is_some(), "{report:?}");
    assert_eq!(report.removals, 0);
    assert_eq!(failures.load(Ordering::SeqCst), 1);
    let last = sync.last_reconcile().unwrap();
    assert!(!last.complete());
    assert_eq!(
        tags(&store.catalog_digests().await.unwrap(), "ns/app"),
        ["1"]
    );
}

/// The registry's delete event names only a digest; after a per-tag delete
/// berth put the siblings back, so the event removes the deleted tag and
/// keeps every sibling the registry still serves (no flap until the re-put
/// events arrive).
#[tokio::test]
async fn a_delete_event_keeps_siblings_the_registry_still_serves() {
    let pg = PlainPostgres::start().unwrap();
    let store = store_on(&pg).await;
    with_namespace(&store, "ns").await;
    let reg = PlainRegistry::start().unwrap();
    let image = busybox_image().unwrap();
    for dest in ["ns/app:1", "ns/app:2"] {
        reg.push_local_image(&image, dest, None).unwrap();
    }
    let client = RegistryClient::new(&reg.url(), None).unwrap();
    reconcile(&client, &store, Depth::Listed).await.unwrap();
    let done = delete_tag(&client, "ns/app", "2").await.unwrap();
    assert_eq!(done.survivors, ["1"]);

    store
        .record_registry_events(&[event(
            "d1",
            "delete",
            "ns/app",
            None,
            &done.digest,
            "2099-01-01T00:00:00Z",
        )])
        .await
        .unwrap();
    process_pending(&store, Some(&client), 100).await.unwrap();
    assert_eq!(
        tags(&store.catalog_digests().await.unwrap(), "ns/app"),
        ["1"]
    );
}

/// Activities (pulls weighted by their count), webhook deliveries of
/// `hook`, and the catalog: what applying an event twice would change.
async fn effects(store: &Store, hook: i64) -> (Vec<(String, i64)>, i64, String) {
    let page = ActivityPage {
        offset: 0,
        limit: 100,
        ascending: true,
    };
    let (activities, _) = store
        .activities(&ActivityFilter::default(), &ActivityVisibility::All, page)
        .await
        .unwrap();
    let (_, deliveries) = store.webhook_deliveries(hook, 0, 100).await.unwrap();
    let catalog = format!("{:?}", store.catalog_digests().await.unwrap());
    (
        activities
            .into_iter()
            .map(|a| (a.action, a.count))
            .collect(),
        deliveries,
        catalog,
    )
}

/// An event's effects and its processed mark commit together, so a pass
/// that read an event as pending before another applied it, or a worker
/// run again over the inbox, adds no second activity, webhook delivery or
/// pull count.
#[tokio::test]
async fn applying_an_applied_event_again_changes_nothing() {
    let pg = PlainPostgres::start().unwrap();
    let store = store_on(&pg).await;
    let ns = with_namespace(&store, "ns").await;
    let sealer = SecretBox::new(&[7; 32]).unwrap();
    let hook = store
        .create_webhook(
            &sealer,
            ns,
            &NewWebhook {
                name: "hook".into(),
                url: "http://127.0.0.1:9/hook".into(),
                request_method: "POST".into(),
                enabled: true,
                username: None,
                password: None,
                secret: "a webhook secret".into(),
            },
        )
        .await
        .unwrap();
    let batch = [
        event(
            "p1",
            "push",
            "ns/app",
            Some("1"),
            "sha256:d1",
            "2026-11-29T10:00:01Z",
        ),
        event(
            "p2",
            "push",
            "ns/app",
            Some("2"),
            "sha256:d2",
            "2026-11-29T10:00:02Z",
        ),
        event(
            "u1",
            "pull",
            "ns/app",
            Some("1"),
            "sha256:d1",
            "2026-11-29T10:00:03Z",
        ),
        event(
            "x2",
            "delete",
            "ns/app",
            None,
            "sha256:d2",
            "2026-11-29T10:00:04Z",
        ),
    ];
    store.record_registry_events(&batch).await.unwrap();
    // What a pass that is overtaken (or a worker that crashed after reading) holds.
    let stale = store.pending_registry_events(100).await.unwrap();
    assert_eq!(stale.len(), 4);

    let pass = process_pending(&store, None, 100).await.unwrap();
    assert_eq!(pass.applied, 4, "{pass:?}");
    let after = effects(&store, hook.id).await;
    let catalog_activities: Vec<&(String, i64)> = after
        .0
        .iter()
        .filter(|(action, _)| action.starts_with("repository."))
        .collect();
    assert_eq!(
        catalog_activities,
        [
            &("repository.push".to_owned(), 1),
            &("repository.push".to_owned(), 1),
            &("repository.pull".to_owned(), 1),
            &("repository.delete".to_owned(), 1),
        ],
        "{after:?}"
    );
    assert_eq!(after.1, 3, "two pushes and a delete: {after:?}");

    let again = process_pending(&store, None, 100).await.unwrap();
    assert_eq!(again, Default::default(), "nothing is pending any more");
    for e in &stale {
        assert_eq!(
            apply_event(&store, None, e).await.unwrap(),
            Handled::AlreadyProcessed,
            "{}",
            e.id
        );
    }
    assert_eq!(effects(&store, hook.id).await, after);
}
