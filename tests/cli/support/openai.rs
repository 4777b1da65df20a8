//! A mock OpenAI organization for the tests of `rotate` and `incident`: `/v1/models`
//! answers for the keys that work; with an admin key, one project ("Web") whose keys can be
//! listed, deleted (they die) and made, and the Usage and Costs APIs over usage buckets the
//! test sets; or, when rate limited, 429 for everything.

use super::keys;
use super::mock_server::{MockServer, Reply, Request};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

pub fn bearer(req: &Request) -> String {
    req.header("Authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string()
}

pub fn invalid_api_key() -> Reply {
    Reply::json(
        401,
        json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}),
    )
}

/// One key of the mock organization.
#[derive(Clone)]
pub struct OrgKey {
    pub id: String,
    pub value: String,
    /// `None`: the user's; `Some(id)`: a service account's.
    pub service_account: Option<String>,
}

/// The mock's state: which keys work, and every project key.
#[derive(Default)]
pub struct Org {
    pub live: HashSet<String>,
    pub keys: Vec<OrgKey>,
    pub made: usize,
    /// Usage buckets of `key_old`: (hour start, unix seconds; requests; cost in dollars).
    pub usage: Vec<(i64, u64, f64)>,
    /// Every request gets 429 Too Many Requests.
    pub rate_limited: bool,
}

impl Org {
    pub fn kill(&mut self, value: &str) {
        self.live.remove(value);
    }
}

pub fn new_service_account_key() -> String {
    keys::fake("sk-svcacct-{alnum_:74}T3BlbkFJ{alnum_:74}")
}

/// A mock OpenAI: `/v1/models` answers for the live keys; with `admin`, one project
/// ("Web") whose keys can be listed, deleted (they die) and made (a new service account,
/// or another key for one).
pub fn openai(admin: Option<&str>, org: Arc<Mutex<Org>>) -> MockServer {
    let admin = admin.map(str::to_string);
    MockServer::start(move |req| {
        let auth = bearer(req);
        let mut org = org.lock().expect("org lock");
        if org.rate_limited {
            return Reply::json(
                429,
                json!({"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}),
            )
            .header("Retry-After", "0");
        }
        if req.is("GET", "/v1/models") {
            return if org.live.contains(&auth) {
                Reply::json(200, json!({"object": "list", "data": []}))
            } else {
                invalid_api_key()
            };
        }
        if admin.as_deref() != Some(auth.as_str()) {
            return invalid_api_key();
        }
        let list = |data: serde_json::Value| {
            Reply::json(
                200,
                json!({"object": "list", "data": data, "has_more": false}),
            )
        };
        let path = req.path().to_string();
        match (req.method.as_str(), path.as_str()) {
            ("GET", "/v1/organization/projects") => list(json!([{"id": "proj_1", "name": "Web"}])),
            ("GET", "/v1/organization/projects/proj_1/api_keys") => list(
                org.keys
                    .iter()
                    .map(|k| {
                        let owner = match &k.service_account {
                            None => json!({"type": "user", "user": {"id": "user_1", "name": "Ada Lovelace", "email": "ada@example.com"}}),
                            Some(sa) => json!({"type": "service_account", "service_account": {"id": sa, "name": "deploy-bot"}}),
                        };
                        json!({
                            "id": k.id,
                            "name": "laptop",
                            "redacted_value": format!("{}...{}", &k.value[..8], &k.value[k.value.len() - 4..]),
                            "created_at": 1_767_258_000,
                            "last_used_at": null,
                            "owner": owner,
                        })
                    })
                    .collect(),
            ),
            ("DELETE", p) if p.starts_with("/v1/organization/projects/proj_1/api_keys/") => {
                let id = p.rsplit('/').next().unwrap_or("").to_string();
                let Some(index) = org.keys.iter().position(|k| k.id == id) else {
                    return Reply::not_found();
                };
                let key = org.keys.remove(index);
                org.kill(&key.value);
                Reply::json(200, json!({"id": id, "deleted": true}))
            }
            ("POST", "/v1/organization/projects/proj_1/service_accounts") => {
                org.made += 1;
                let (sa, id, value) = (
                    format!("svc_new_{}", org.made),
                    format!("key_new_{}", org.made),
                    new_service_account_key(),
                );
                org.live.insert(value.clone());
                org.keys.push(OrgKey {
                    id: id.clone(),
                    value: value.clone(),
                    service_account: Some(sa.clone()),
                });
                Reply::json(
                    200,
                    json!({"id": sa, "name": "x", "created_at": 1_778_490_000, "api_key": {"id": id, "value": value, "created_at": 1_778_490_000}}),
                )
            }
            ("POST", p) if p.starts_with("/v1/organization/projects/proj_1/service_accounts/") => {
                let sa = p.split('/').nth(6).unwrap_or("").to_string();
                org.made += 1;
                let (id, value) = (format!("key_new_{}", org.made), new_service_account_key());
                org.live.insert(value.clone());
                org.keys.push(OrgKey {
                    id: id.clone(),
                    value: value.clone(),
                    service_account: Some(sa),
                });
                Reply::json(
                    200,
                    json!({"id": id, "name": "x", "value": value, "created_at": 1_778_490_000}),
                )
            }
            ("GET", p) if p.starts_with("/v1/organization/usage/") || p == "/v1/organization/costs" => {
                let from: i64 = req.query("start_time").and_then(|t| t.parse().ok()).unwrap_or(0);
                let to: i64 = req.query("end_time").and_then(|t| t.parse().ok()).unwrap_or(i64::MAX);
                let asked = req.query("api_key_ids").unwrap_or_default();
                let buckets: Vec<serde_json::Value> = org
                    .usage
                    .iter()
                    .filter(|(at, _, _)| (from..to).contains(at) && asked == "key_old")
                    .filter(|_| p.ends_with("/completions") || p.ends_with("/costs"))
                    .map(|(at, requests, cost)| {
                        let result = if p.ends_with("/costs") {
                            json!({"api_key_id": "key_old", "amount": {"value": cost, "currency": "usd"}})
                        } else {
                            json!({"api_key_id": "key_old", "model": "gpt-4o-mini", "num_model_requests": requests, "input_tokens": requests * 100, "output_tokens": requests * 20})
                        };
                        json!({"object": "bucket", "start_time": at, "end_time": at + 3600, "results": [result]})
                    })
                    .collect();
                Reply::json(200, json!({"object": "page", "data": buckets, "has_more": false, "next_page": null}))
            }
            _ => Reply::not_found(),
        }
    })
}

/// An organization whose one key is `old`, working; `service_account` owns it, or a user.
pub fn org_with(old: &str, service_account: Option<&str>) -> Arc<Mutex<Org>> {
    let mut org = Org::default();
    org.live.insert(old.to_string());
    org.keys.push(OrgKey {
        id: "key_old".to_string(),
        value: old.to_string(),
        service_account: service_account.map(str::to_string),
    });
    Arc::new(Mutex::new(org))
}

pub fn base(server: &MockServer) -> String {
    format!("{}/v1", server.url())
}
