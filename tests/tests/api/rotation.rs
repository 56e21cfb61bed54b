//! Signing-key rotation through Secrets Manager's four steps, on moto.

use iam_tests::TestApp;
use signing_key_rotation::{RotationEvent, handle};

fn event(secret_id: &str, token: &str, step: &str) -> RotationEvent {
    // The event type is `#[non_exhaustive]`: built from its default, as Lambda's JSON would fill it.
    let mut event = RotationEvent::default();
    (event.secret_id, event.client_request_token, event.step) = (secret_id.into(), token.into(), step.into());
    event
}

async fn secrets() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&local_stack::admin::emulator_sdk_config(&iam_tests::emulator_url()).await)
}

async fn rotate(app: &TestApp, token: &str) -> anyhow::Result<()> {
    let client = secrets().await;
    let id = app.app.config.signing_keys_secret_id.as_deref().unwrap();
    let verification = &app.app.config.verification_keys_secret_id;
    let now = app.app.clock.now();
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        handle(&client, &event(id, token, step), verification, now).await?;
    }
    Ok(())
}

fn request_token() -> String {
    format!("{}{}", ulid::Ulid::new(), ulid::Ulid::new()).to_lowercase()
}

#[tokio::test]
async fn rotation_makes_a_new_key_current_and_old_tokens_verify_until_they_expire() {
    let app = TestApp::new().await;
    let old_token = app.token_for(&app.admin_key).await;
    let before = app.signing_keys().await;

    let token = request_token();
    rotate(&app, &token).await.unwrap();
    // Every step again: idempotent.
    rotate(&app, &token).await.unwrap();

    let after = app.signing_keys().await;
    assert_ne!(after.current.kid, before.current.kid);
    let previous = after.previous.clone().expect("the old key is kept");
    assert_eq!(previous.kid, before.current.kid);
    assert!(previous.retired_at.is_some());

    app.app.clock.advance(301); // the container re-reads its key set
    let new_token = app.token_for(&app.admin_key).await;
    assert_eq!(jsonwebtoken::decode_header(&new_token).unwrap().kid.unwrap(), after.current.kid);
    let jwks = app.call("GET", "/iam/.well-known/jwks.json", None, None).await;
    assert_eq!(jwks.body["keys"].as_array().unwrap().len(), 2, "both keys are published");
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &old_token, None).await.status, 200);
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &new_token, None).await.status, 200);

    // The verifiers' half: the new key first, the old one retired, and no private key.
    let published = secrets()
        .await
        .get_secret_value()
        .secret_id(&app.app.config.verification_keys_secret_id)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap();
    let set: shared::auth::tokens::PublishedKeySet = serde_json::from_str(&published).unwrap();
    let kids: Vec<&str> = set.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, vec![after.current.kid.as_str(), previous.kid.as_str()]);
    assert!(set.keys[1].retired_at.is_some() && set.keys[0].retired_at.is_none());
    assert!(!published.contains("privateKey"), "{published}");
    let verifier = app.container_with(|c| c.signing_keys_secret_id = None).await;
    for token in [&old_token, &new_token] {
        let r = verifier.bearer_call("GET", &verifier.org_path("/api-keys"), token, None).await;
        assert_eq!(r.status, 200, "a verifier reading only the public half verifies both keys' tokens");
    }
}

#[tokio::test]
async fn rotating_again_while_the_previous_key_may_verify_live_tokens_is_refused() {
    let app = TestApp::new().await;
    rotate(&app, &request_token()).await.unwrap();
    let second = rotate(&app, &request_token()).await;
    assert!(second.unwrap_err().to_string().contains("may still verify live tokens"));
    // Once the previous key has aged out, the next rotation goes through.
    app.app.clock.advance(shared::auth::tokens::RETIRED_KEY_LIFETIME_SECONDS);
    rotate(&app, &request_token()).await.unwrap();
}

#[tokio::test]
async fn a_step_for_a_version_that_is_not_pending_is_refused() {
    let app = TestApp::new().await;
    let client = secrets().await;
    let id = app.app.config.signing_keys_secret_id.as_deref().unwrap();
    let verification = &app.app.config.verification_keys_secret_id;
    let before = app.signing_keys().await;
    let token = request_token();
    // Every step after createSecret, finishSecret (which would move AWSCURRENT) included, refuses
    // a version Secrets Manager never labelled pending, for that reason and no other.
    for step in ["setSecret", "testSecret", "finishSecret"] {
        let refused =
            handle(&client, &event(id, &token, step), verification, app.app.clock.now()).await.expect_err(step);
        assert_eq!(refused.to_string(), format!("version {token} is not pending rotation"), "{step}");
    }
    // Nothing moved: the same key is current, its predecessor unchanged, and no such version exists.
    let after = app.signing_keys().await;
    assert_eq!(after.current.kid, before.current.kid);
    assert_eq!(after.previous.map(|k| k.kid), before.previous.map(|k| k.kid));
    let versions = client.list_secret_version_ids().secret_id(id).send().await.expect("list the versions");
    assert!(versions.versions().iter().all(|v| v.version_id() != Some(token.as_str())), "{versions:?}");
}
