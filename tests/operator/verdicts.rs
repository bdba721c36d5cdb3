//! Issue 25, point 4: one bad answer is not a verdict. On the shared operator, each test with a
//! simulator of its own (`support::operator::own_simulator`) whose SpeechService points at it, so
//! its faults (a flapping `GET /v1/models`, an empty listing) hit no other test and the request
//! log is the test's alone.

use crate::support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::Api;
use serde_json::json;
use support::fixture::{self, Service, language_model};
use support::operator::{self, API_KEY, HasModelStatus, wait_for};
use watson_speech_operator::crd::{CustomLanguageModel, SpeechService};
use watson_speech_operator::simulator::admin::AdminClient;
use watson_speech_operator::simulator::api::Faults;

use crate::{OPTIONS, apply, id_of, is_available as available};

/// A namespace on the shared operator whose SpeechService `stt` (and Secret `creds`) point at a
/// simulator of the test's own; the simulator (kept alive by the caller) and its admin client.
async fn own_service(
    prefix: &str,
    faults: Faults,
) -> Option<(
    support::TestNamespace,
    watson_speech_operator::simulator::RunningSimulator,
    AdminClient,
)> {
    let cp = support::control_plane()?;
    operator::start(cp, OPTIONS);
    let sim = operator::own_simulator(API_KEY, OPTIONS.time_scale).await;
    let admin = AdminClient::new(sim.base_url()).expect("admin");
    admin.set_faults(&faults).await.expect("faults");
    let ns = cp.namespace(prefix).await;
    fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt]).await;
    Some((ns, sim, admin))
}

/// The Events of the namespace with this reason, summed by count.
async fn events(ns: &support::TestNamespace, reason: &str) -> i32 {
    events_of(ns, reason, None).await
}

/// The Events with this reason about objects of `kind` (any kind: `None`), summed by count.
async fn events_of(ns: &support::TestNamespace, reason: &str, kind: Option<&str>) -> i32 {
    ns.api::<Event>()
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter(|e| kind.is_none() || e.involved_object.kind.as_deref() == kind)
        .map(|e| e.count.unwrap_or(1))
        .sum()
}

/// The answers to `GET /v1/models` in the log: (status) in order.
async fn base_listings(admin: &AdminClient) -> Vec<u16> {
    admin
        .requests(0)
        .await
        .expect("log")
        .requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/v1/models"))
        .map(|r| r.status)
        .collect()
}

/// The successful calls of `op` in the log from `since` on.
async fn calls(admin: &AdminClient, op: &str, since: u64) -> usize {
    admin.successful_calls(op, since).await.expect("log")
}

/// The lookups of a model by its own ID from `since` on, whatever they answered.
async fn lookups(admin: &AdminClient, since: u64) -> usize {
    admin
        .requests(since)
        .await
        .expect("log")
        .requests
        .iter()
        .filter(|r| r.operation.as_deref() == Some("get_language_model"))
        .count()
}

/// The SpeechService condition `type_`: (status, reason).
async fn service_condition(ns: &support::TestNamespace, type_: &str) -> Option<(String, String)> {
    let svc = ns.api::<SpeechService>().get("stt").await.ok()?;
    svc.status?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// One 404 from `GET /v1/models` (the probe of what answers at `spec.url`) is not taken for
/// `WrongService`: the next probe is right, the model is created and Available, and no
/// `WrongService` Event was ever published.
#[tokio::test]
async fn one_bad_answer_from_v1_models_does_not_mark_the_service_wrong() {
    let faults = Faults {
        flap_base_listings: 1,
        ..Default::default()
    };
    let Some((ns, _sim, admin)) = own_service("verdict-flap", faults).await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    apply(
        &api,
        &language_model("flap", json!({"words": [{"word": "tomato"}]})),
    )
    .await;
    wait_for(&api, "flap", "Available", 90, available).await;
    let answers = base_listings(&admin).await;
    assert_eq!(answers.first(), Some(&404), "{answers:?}");
    assert_eq!(
        answers.iter().filter(|s| **s == 404).count(),
        1,
        "{answers:?}"
    );
    assert!(answers.contains(&200), "asked again: {answers:?}");
    assert_eq!(events(&ns, "WrongService").await, 0);
    assert_eq!(
        service_condition(&ns, "Ready").await.map(|c| c.0),
        Some("True".into())
    );
}

/// Two wrong answers in a row are `WrongService`; that verdict is asked again at the drift
/// interval (3 s here), without any edit: the third answer is right and the model is created.
#[tokio::test]
async fn a_wrong_service_verdict_is_asked_again_at_the_drift_interval() {
    let faults = Faults {
        flap_base_listings: 2,
        ..Default::default()
    };
    let Some((ns, _sim, admin)) = own_service("verdict-recheck", faults).await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    apply(
        &api,
        &language_model("recheck", json!({"words": [{"word": "tomato"}]})),
    )
    .await;
    wait_for(&api, "recheck", "Available", 90, available).await;
    let answers = base_listings(&admin).await;
    assert_eq!(answers.get(..2), Some(&[404, 404][..]), "{answers:?}");
    assert!(answers.contains(&200), "asked again: {answers:?}");
    assert!(
        events(&ns, "WrongService").await >= 1,
        "two wrong answers in a row are the verdict"
    );
    assert_eq!(calls(&admin, "create_language_model", 0).await, 1);
}

/// Applies a language model with one word for each of `names` and waits until each is
/// Available: their customization IDs, in the order of `names`.
async fn available_models(api: &Api<CustomLanguageModel>, names: &[&str]) -> Vec<String> {
    for name in names {
        apply(
            api,
            &language_model(name, json!({"words": [{"word": "tomato"}]})),
        )
        .await;
    }
    let mut ids = Vec::new();
    for name in names {
        ids.push(id_of(
            &wait_for(api, name, "Available", 90, available).await,
        ));
    }
    ids
}

/// An empty listing, confirmed by lookups of each model's own ID (the simulator's `vanished`
/// fault: the models look gone without being deleted): re-creation stops for the service
/// (condition `ModelsVanished` and a Warning Event on the SpeechService, each model's
/// `nextAction` says why) and no model is created; once the service lists them again, the same
/// models are Available again, still with no create.
#[tokio::test]
async fn an_empty_listing_re_creates_nothing() {
    let Some((ns, _sim, admin)) = own_service("verdict-empty", Faults::default()).await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    let names = ["m1", "m2", "m3", "m4"];
    let ids = available_models(&api, &names).await;
    let mark = admin.requests(0).await.expect("log").next_seq;
    admin
        .set_faults(&Faults {
            vanished: vec![String::new()],
            ..Default::default()
        })
        .await
        .expect("vanish");
    // The next looks (drift interval 3 s) list an empty instance and look each model up.
    let ns_ref = &ns;
    support::eventually(
        "the SpeechService says re-creation stopped",
        Duration::from_secs(60),
        || async move {
            (service_condition(ns_ref, "ModelsVanished").await
                == Some(("True".into(), "ModelsVanished".into())))
            .then_some(())
        },
    )
    .await;
    for name in names {
        wait_for(&api, name, "nextAction ModelsVanished", 60, |m| {
            m.model()
                .and_then(|s| s.next_action.as_deref())
                .is_some_and(|a| a.starts_with("wait: ModelsVanished"))
        })
        .await;
    }
    // Several rounds of lookups by ID, and not one create.
    let admin_ref = &admin;
    support::eventually(
        "every model looked up by its ID twice",
        Duration::from_secs(60),
        || async move { (lookups(admin_ref, mark).await >= 8).then_some(()) },
    )
    .await;
    assert_eq!(calls(&admin, "create_language_model", mark).await, 0);
    assert_eq!(
        events_of(&ns, "ModelsVanished", Some("SpeechService")).await,
        1,
        "one Warning per halt"
    );
    assert_eq!(
        events_of(&ns, "ModelsVanished", Some("CustomLanguageModel")).await,
        4,
        "one Warning per model"
    );
    // The service lists them again: the same models, Available, still no create.
    admin.clear_faults().await.expect("clear");
    for (name, id) in names.iter().zip(&ids) {
        let m = wait_for(&api, name, "Available again", 90, available).await;
        assert_eq!(&id_of(&m), id);
    }
    support::eventually(
        "the SpeechService says re-creation resumed",
        Duration::from_secs(60),
        || async move {
            (service_condition(ns_ref, "ModelsVanished").await
                == Some(("False".into(), "ListingComplete".into())))
            .then_some(())
        },
    )
    .await;
    assert_eq!(calls(&admin, "create_language_model", mark).await, 0);
    assert_eq!(admin.models().await.expect("models").len(), 4);
}

/// Models deleted on purpose, in bulk, out of band: re-creation stops as for an incident; once
/// the user deletes the resources of the models they meant to delete, the halt lifts and the one
/// resource left gets its model re-created.
#[tokio::test]
async fn deleting_the_resources_of_vanished_models_lifts_the_halt() {
    let Some((ns, _sim, admin)) = own_service("verdict-purpose", Faults::default()).await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    let names = ["p1", "p2", "p3", "p4"];
    let ids = available_models(&api, &names).await;
    let mark = admin.requests(0).await.expect("log").next_seq;
    for id in &ids {
        admin.delete_model(id).await.expect("delete out of band");
    }
    let ns_ref = &ns;
    support::eventually(
        "the SpeechService says re-creation stopped",
        Duration::from_secs(60),
        || async move {
            (service_condition(ns_ref, "ModelsVanished").await
                == Some(("True".into(), "ModelsVanished".into())))
            .then_some(())
        },
    )
    .await;
    assert_eq!(calls(&admin, "create_language_model", mark).await, 0);
    for name in &names[..3] {
        api.delete(name, &Default::default()).await.expect("delete");
    }
    let kept = wait_for(&api, "p4", "re-created", 90, |m| {
        available(m) && m.model().and_then(|s| s.customization_id.as_deref()) != Some(&ids[3])
    })
    .await;
    assert_ne!(id_of(&kept), ids[3]);
    assert_eq!(calls(&admin, "create_language_model", mark).await, 1);
    for name in &names[..3] {
        assert!(
            api.get_opt(name).await.expect("get").is_none(),
            "{name} gone"
        );
    }
}
