//! The metadata store's domain operations, below HTTP, on SQLite (and on PostgreSQL
//! when `FLUIDCLOUD_TEST_DATABASE_URL` is set).

use std::time::Duration;

use fluidcloud_core::api_key::{KeyMode, PresentedKey};
use fluidcloud_core::model::Plan;
use fluidcloud_core::paging::PageRequest;
use fluidcloud_core::scope::{Scope, Scopes};
use fluidcloud_db::{Change, NewApiKey, NewTenant, StoreError, TenantUpdate};
use fluidcloud_tests::TestDb;
use uuid::Uuid;

fn plan(bytes_limit: i64) -> Plan {
    Plan {
        bytes_limit,
        ..Plan::unlimited()
    }
}

#[tokio::test]
async fn tenants_are_created_listed_and_partially_updated() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let a = store
        .create_tenant(&NewTenant {
            name: "a".into(),
            plan: plan(100),
        })
        .await
        .unwrap();
    let b = store
        .create_tenant(&NewTenant {
            name: "b".into(),
            plan: Plan::unlimited(),
        })
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, vec![a.id, b.id]);

    let updated = store
        .update_tenant(
            a.id,
            &TenantUpdate {
                links_limit: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        updated.plan,
        Plan {
            links_limit: 3,
            ..plan(100)
        }
    );
    assert_eq!(updated.name, "a");
    assert_eq!(
        updated.created_at, a.created_at,
        "timestamps survive the round-trip exactly"
    );
    assert!(updated.updated_at >= a.updated_at);

    // Budgets: set, kept when not named, back to the server default on request.
    let budgets = |requests, shares| TenantUpdate {
        requests_per_minute: requests,
        shares_per_minute: shares,
        ..Default::default()
    };
    let set = store
        .update_tenant(a.id, &budgets(Some(50), Some(5)))
        .await
        .unwrap();
    assert_eq!(
        (
            set.plan.rate_limits.requests_per_minute,
            set.plan.rate_limits.shares_per_minute
        ),
        (Some(50), Some(5))
    );
    let kept = store
        .update_tenant(a.id, &budgets(None, Some(7)))
        .await
        .unwrap();
    assert_eq!(kept.plan.rate_limits.requests_per_minute, Some(50));
    let reset = store
        .update_tenant(
            a.id,
            &TenantUpdate {
                default_rate_limits: true,
                ..budgets(None, Some(9))
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            reset.plan.rate_limits.requests_per_minute,
            reset.plan.rate_limits.shares_per_minute
        ),
        (None, Some(9)),
        "what is named wins over the reset"
    );
    assert!(matches!(
        store.tenant(Uuid::new_v4()).await,
        Err(StoreError::NotFound("tenant"))
    ));
    assert!(matches!(
        store
            .update_tenant(Uuid::new_v4(), &TenantUpdate::default())
            .await,
        Err(StoreError::NotFound("tenant"))
    ));
}

#[tokio::test]
async fn keys_authenticate_until_revoked_and_only_digests_are_stored() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let tenant = store
        .create_tenant(&NewTenant {
            name: "t".into(),
            plan: plan(5),
        })
        .await
        .unwrap();
    let scopes = Scopes::new(vec![Scope::FilesRead, Scope::SpacesRead]);
    let (key, plaintext) = store
        .create_api_key(&NewApiKey {
            tenant_id: tenant.id,
            label: "ci".into(),
            mode: KeyMode::Test,
            scopes: scopes.clone(),
        })
        .await
        .unwrap();
    assert!(plaintext.starts_with("fck_test_"));
    assert!(plaintext.starts_with(&key.prefix));
    let digest = PresentedKey::parse(&plaintext).unwrap().digest();
    let found = store
        .authenticate(&digest)
        .await
        .unwrap()
        .expect("the key authenticates");
    assert_eq!(found.key.id, key.id);
    assert_eq!(found.key.scopes, scopes);
    assert_eq!(found.plan.bytes_limit, 5);

    let revoked = store.revoke_api_key(key.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(store.authenticate(&digest).await.unwrap().is_none());
    let again = store.revoke_api_key(key.id).await.unwrap();
    assert_eq!(
        again.revoked_at, revoked.revoked_at,
        "revoking twice keeps the first time"
    );

    let keys = store.list_api_keys(tenant.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(matches!(
        store
            .create_api_key(&NewApiKey {
                tenant_id: Uuid::new_v4(),
                label: String::new(),
                mode: KeyMode::Live,
                scopes
            })
            .await,
        Err(StoreError::NotFound("tenant"))
    ));
    assert!(matches!(
        store.revoke_api_key(Uuid::new_v4()).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn changes_reach_other_processes_through_the_feed() {
    let db = TestDb::new().await;
    let writer = db.store().await;
    let reader = db.store().await;
    let mut changes = reader.subscribe();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !reader.change_feed_is_live() {
        assert!(
            std::time::Instant::now() < deadline,
            "the change feed never connected"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tenant = writer
        .create_tenant(&NewTenant {
            name: "t".into(),
            plan: plan(1),
        })
        .await
        .unwrap();
    writer
        .update_tenant(
            tenant.id,
            &TenantUpdate {
                name: Some("u".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let change = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match changes.recv().await.unwrap() {
                Change::All => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the change arrives within a second");
    assert_eq!(change, Change::Tenant(tenant.id));
}

#[tokio::test]
async fn spaces_and_folders_belong_to_one_tenant() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let a = store
        .create_tenant(&NewTenant {
            name: "a".into(),
            plan: Plan::unlimited(),
        })
        .await
        .unwrap();
    let b = store
        .create_tenant(&NewTenant {
            name: "b".into(),
            plan: Plan::unlimited(),
        })
        .await
        .unwrap();
    let space = store.create_space(a.id, "s", None).await.unwrap();
    let folder = store
        .create_folder(a.id, space.id, None, "f")
        .await
        .unwrap();
    assert!(matches!(
        store.space(b.id, space.id).await,
        Err(StoreError::NotFound("space"))
    ));
    assert!(matches!(
        store.folder(b.id, folder.id).await,
        Err(StoreError::NotFound("folder"))
    ));
    assert!(matches!(
        store.trash_folder(b.id, folder.id).await,
        Err(StoreError::NotFound("folder"))
    ));
    assert!(matches!(
        store.delete_space(b.id, space.id).await,
        Err(StoreError::NotFound("space"))
    ));
    let page = store
        .list_spaces(b.id, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "b sees only its own default space");
    assert_ne!(page.items[0].id, space.id);
}

#[tokio::test]
async fn first_scans_are_claimed_before_any_backlog() {
    use fluidcloud_db::jobs::JobKind;
    let db = TestDb::new().await;
    let store = db.store().await;
    let earlier = chrono::Utc::now() - chrono::TimeDelta::minutes(5);
    for i in 0..30 {
        let kind = JobKind::DeleteObjects {
            object_keys: vec![format!("t/x/f/{i}")],
        };
        store.enqueue(&kind, earlier).await.unwrap();
    }
    let scan = JobKind::Scan {
        file_id: Uuid::new_v4(),
    };
    store.enqueue(&scan, chrono::Utc::now()).await.unwrap();
    let lease = Duration::from_secs(60);
    let first = store.claim_job(lease).await.unwrap().expect("a due job");
    assert_eq!(first.kind.as_ref().ok(), Some(&scan));
    // Then the backlog, oldest first.
    let next = store.claim_job(lease).await.unwrap().expect("a due job");
    assert_eq!(
        next.kind.as_ref().ok(),
        Some(&JobKind::DeleteObjects {
            object_keys: vec!["t/x/f/0".into()]
        })
    );
}

#[tokio::test]
async fn a_lapsed_claim_cannot_disturb_the_claim_that_took_over() {
    use fluidcloud_db::jobs::JobKind;
    let db = TestDb::new().await;
    let store = db.store().await;
    let kind = JobKind::Rescan {
        file_id: Uuid::new_v4(),
    };
    store.enqueue(&kind, chrono::Utc::now()).await.unwrap();
    let stale = store
        .claim_job(Duration::from_millis(1))
        .await
        .unwrap()
        .expect("due");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let current = store
        .claim_job(Duration::from_secs(60))
        .await
        .unwrap()
        .expect("the lapsed job is due again");
    assert_eq!(current.id, stale.id);
    assert_ne!(current.lease, stale.lease);

    assert!(
        !store
            .extend_lease(&stale, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        store
            .extend_lease(&current, Duration::from_secs(60))
            .await
            .unwrap()
    );
    // The stale holder's failure and finish change nothing: the job stays claimed.
    store.fail_job(&stale, "stale").await.unwrap();
    store.finish_job(&stale).await.unwrap();
    assert_eq!(store.job_state(&kind).await.unwrap(), Some((2, None)));
    assert!(
        store
            .claim_job(Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    store.finish_job(&current).await.unwrap();
    assert_eq!(store.job_state(&kind).await.unwrap(), None);
}
