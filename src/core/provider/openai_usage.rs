//! Was a leaked OpenAI key used? The Usage API (`/organization/usage/<kind>`) and the Costs
//! API (`/organization/costs`), asked with an admin key for one `api_key_id` over a window,
//! every page followed, summed into requests, tokens and dollars; and the comparison of the
//! exposure window with the same length of time just before it, as a one-line verdict.
//!
//! The transport is a closure (`GET path?query` with the admin key) so that this module
//! owns the API's shape and arithmetic, not the HTTP client.

use super::http::url_escape;
use super::{ProviderError, Response};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

const NAME: &str = "OpenAI";

/// The usage endpoints that can be filtered by API key (code interpreter sessions and
/// vector stores cannot be attributed to a key).
pub const USAGE_KINDS: &[&str] = &[
    "completions",
    "embeddings",
    "images",
    "audio_speeches",
    "audio_transcriptions",
    "moderations",
    "file_search_calls",
    "web_search_calls",
];

/// A guard against a server whose `next_page` never ends.
const MAX_PAGES: usize = 500;

/// `GET` of a path with its query under the API base, with the admin key.
pub type Transport<'a> = dyn Fn(&str) -> Result<Response, ProviderError> + 'a;

/// A span of time: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn length(&self) -> Duration {
        self.end - self.start
    }

    /// The window of the same length that ends where this one starts.
    pub fn before(&self) -> Window {
        Window {
            start: self.start - self.length(),
            end: self.start,
        }
    }

    /// Hourly buckets for up to a week, daily beyond (the API caps buckets per page).
    fn bucket_width(&self) -> &'static str {
        if self.length() <= Duration::days(7) {
            "1h"
        } else {
            "1d"
        }
    }
}

/// What one key did in one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Model requests (or calls, for the tool endpoints) across every kind.
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Requests per usage kind (`completions`, `embeddings`…), only kinds with use.
    pub requests_by_kind: BTreeMap<String, u64>,
    /// Requests per model, where the API names one.
    pub requests_by_model: BTreeMap<String, u64>,
    /// Dollars from the Costs API (`None` when it could not be read).
    pub cost_usd: Option<f64>,
    /// The start of the first and of the last bucket with any use.
    pub first_use: Option<DateTime<Utc>>,
    pub last_use: Option<DateTime<Utc>>,
    /// Kinds that could not be read (no permission, not offered): the totals leave them out.
    pub unreadable: Vec<String>,
}

impl Usage {
    fn saw(&mut self, bucket_start: Option<DateTime<Utc>>) {
        if let Some(at) = bucket_start {
            self.first_use = Some(self.first_use.map_or(at, |t| t.min(at)));
            self.last_use = Some(self.last_use.map_or(at, |t| t.max(at)));
        }
    }
}

/// The exposure window next to the window just before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub since_leak: Usage,
    pub before_leak: Usage,
    pub window: Window,
}

impl Comparison {
    /// One line for people: "no use since the leak", "used 1 240 times since the leak, 3×
    /// its usual rate", …
    pub fn verdict(&self) -> String {
        let since = self.since_leak.requests;
        let before = self.before_leak.requests;
        let cost = self
            .since_leak
            .cost_usd
            .filter(|c| *c >= 0.005)
            .map(|c| format!(", ${c:.2}"))
            .unwrap_or_default();
        let incomplete = if self.since_leak.unreadable.is_empty() {
            String::new()
        } else {
            format!(
                " (not counted: {}, which could not be read)",
                self.since_leak.unreadable.join(", ")
            )
        };
        if since == 0 {
            return format!("no use since the leak{incomplete}");
        }
        let times = if since == 1 {
            "once".to_string()
        } else {
            format!("{} times", group_thousands(since))
        };
        let rate = if before == 0 {
            "; no use in the same length of time before it".to_string()
        } else {
            let ratio = since as f64 / before as f64;
            if (0.8..=1.25).contains(&ratio) {
                ", about its usual rate".to_string()
            } else if ratio > 1.0 {
                format!(", {}× its usual rate", round_ratio(ratio))
            } else {
                format!(", below its usual rate ({}×)", round_ratio(ratio))
            }
        };
        format!("used {times} since the leak{cost}{rate}{incomplete}")
    }
}

fn round_ratio(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{:.0}", ratio)
    } else {
        let text = format!("{ratio:.1}");
        text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
    }
}

/// `1240` → `1 240` (a thin, unambiguous grouping).
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Every kind's usage and the costs of `key_id` in `window`, all pages followed.
/// A kind the admin key may not read is recorded in `unreadable`; a failing Costs API leaves
/// `cost_usd` empty. Transport errors and rate limits that outlast the retries are errors.
pub fn usage(get: &Transport<'_>, key_id: &str, window: Window) -> Result<Usage, ProviderError> {
    let mut usage = Usage::default();
    for kind in USAGE_KINDS {
        let path = format!("/organization/usage/{kind}");
        let query = format!(
            "start_time={}&end_time={}&bucket_width={}&api_key_ids={}&group_by=api_key_id&group_by=model",
            window.start.timestamp(),
            window.end.timestamp(),
            window.bucket_width(),
            url_escape(key_id),
        );
        let buckets = match pages(get, &path, &query) {
            Ok(buckets) => buckets,
            Err(ProviderError::Status {
                status: 400 | 403 | 404,
                ..
            }) => {
                usage.unreadable.push((*kind).to_string());
                continue;
            }
            Err(err) => return Err(err),
        };
        for bucket in &buckets {
            let start = bucket_start(bucket);
            for result in results(bucket) {
                if field_str(result, "api_key_id").is_some_and(|id| id != key_id) {
                    continue;
                }
                let requests = field_u64(result, "num_model_requests")
                    .or_else(|| field_u64(result, "num_requests"))
                    .unwrap_or(0);
                let input = field_u64(result, "input_tokens").unwrap_or(0);
                let output = field_u64(result, "output_tokens").unwrap_or(0);
                if requests == 0 && input == 0 && output == 0 {
                    continue;
                }
                usage.requests += requests;
                usage.input_tokens += input;
                usage.output_tokens += output;
                *usage
                    .requests_by_kind
                    .entry((*kind).to_string())
                    .or_default() += requests;
                if let Some(model) = field_str(result, "model") {
                    *usage
                        .requests_by_model
                        .entry(model.to_string())
                        .or_default() += requests;
                }
                usage.saw(start);
            }
        }
    }
    usage.cost_usd = costs(get, key_id, window).ok();
    Ok(usage)
}

/// Dollars spent by `key_id` in `window` (the Costs API has daily buckets only).
pub fn costs(get: &Transport<'_>, key_id: &str, window: Window) -> Result<f64, ProviderError> {
    // Daily buckets: the window is widened to whole days, which is what the API bills by.
    let query = format!(
        "start_time={}&end_time={}&bucket_width=1d&api_key_ids={}&group_by=api_key_id&limit=180",
        window.start.timestamp(),
        window.end.timestamp(),
        url_escape(key_id),
    );
    let mut total = 0.0;
    for bucket in pages(get, "/organization/costs", &query)? {
        for result in results(&bucket) {
            if field_str(result, "api_key_id").is_some_and(|id| id != key_id) {
                continue;
            }
            if let Some(value) = result.pointer("/amount/value").and_then(number) {
                total += value;
            }
        }
    }
    Ok(total)
}

/// The usage in `window` and in the window of the same length before it.
pub fn compare(
    get: &Transport<'_>,
    key_id: &str,
    window: Window,
) -> Result<Comparison, ProviderError> {
    Ok(Comparison {
        since_leak: usage(get, key_id, window)?,
        before_leak: usage(get, key_id, window.before())?,
        window,
    })
}

/// Every bucket of every page: `page=<next_page>` while `has_more`.
fn pages(get: &Transport<'_>, path: &str, query: &str) -> Result<Vec<Value>, ProviderError> {
    let mut buckets = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut url = format!("{path}?{query}");
        if let Some(page) = &cursor {
            url.push_str("&page=");
            url.push_str(&url_escape(page));
        }
        let response = get(&url)?;
        if !response.is_success() {
            return Err(ProviderError::status(NAME, &response));
        }
        let page: Value = serde_json::from_str(&response.body)
            .map_err(|e| ProviderError::malformed(NAME, format!("{path}: {e}")))?;
        let data = page
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| ProviderError::malformed(NAME, format!("{path}: no `data` list")))?;
        buckets.extend(data.iter().cloned());
        let more = page.get("has_more").and_then(Value::as_bool) == Some(true);
        let next = page
            .get("next_page")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty());
        match (more, next) {
            (true, Some(next)) => {
                if cursor.as_deref() == Some(next) {
                    return Err(ProviderError::malformed(
                        NAME,
                        format!("{path}: pagination does not advance"),
                    ));
                }
                cursor = Some(next.to_string());
            }
            _ => return Ok(buckets),
        }
    }
    Err(ProviderError::malformed(
        NAME,
        format!("{path}: too many pages"),
    ))
}

fn results(bucket: &Value) -> impl Iterator<Item = &Value> {
    bucket
        .get("results")
        .or_else(|| bucket.get("result"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn bucket_start(bucket: &Value) -> Option<DateTime<Utc>> {
    let seconds = bucket.get("start_time").and_then(Value::as_i64)?;
    Utc.timestamp_opt(seconds, 0).single()
}

fn number(value: &Value) -> Option<f64> {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

fn field_u64(value: &Value, name: &str) -> Option<u64> {
    value.get(name).and_then(Value::as_u64)
}

fn field_str<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::cell::RefCell;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid time")
            .with_timezone(&Utc)
    }

    fn ok(value: Value) -> Result<Response, ProviderError> {
        Ok(Response::new(200, value.to_string(), None))
    }

    fn empty_page() -> Value {
        json!({"object": "page", "data": [], "has_more": false, "next_page": null})
    }

    #[test]
    fn usage_sums_every_kind_and_follows_pages() {
        let window = Window {
            start: at("2026-11-01T00:00:00Z"),
            end: at("2026-11-02T00:00:00Z"),
        };
        let seen = RefCell::new(Vec::new());
        let get = |url: &str| {
            seen.borrow_mut().push(url.to_string());
            if url.starts_with("/organization/usage/completions") && !url.contains("page=") {
                return ok(json!({
                    "data": [{"start_time": 1_793_581_200, "results": [
                        {"api_key_id": "key_1", "model": "gpt-x", "num_model_requests": 7,
                         "input_tokens": 100, "output_tokens": 50},
                        {"api_key_id": "key_other", "num_model_requests": 1000}
                    ]}],
                    "has_more": true, "next_page": "p2"
                }));
            }
            if url.starts_with("/organization/usage/completions") {
                return ok(json!({
                    "data": [{"start_time": 1_793_584_800, "results": [
                        {"api_key_id": "key_1", "model": "gpt-x", "num_model_requests": 3}
                    ]}],
                    "has_more": false
                }));
            }
            if url.starts_with("/organization/usage/images") {
                return Ok(Response::new(403, r#"{"error":{"message":"no"}}"#, None));
            }
            if url.starts_with("/organization/usage/file_search_calls") {
                return ok(json!({"data": [{"start_time": 1_793_588_400, "results": [
                    {"api_key_id": "key_1", "num_requests": 2}]}], "has_more": false}));
            }
            if url.starts_with("/organization/costs") {
                return ok(json!({"data": [{"start_time": 1, "results": [
                    {"api_key_id": "key_1", "amount": {"value": 1.25, "currency": "usd"}},
                    {"api_key_id": "key_1", "amount": {"value": "0.5", "currency": "usd"}}
                ]}], "has_more": false}));
            }
            ok(empty_page())
        };
        let usage = usage(&get, "key_1", window).expect("usage");
        assert_eq!(usage.requests, 12);
        assert_eq!((usage.input_tokens, usage.output_tokens), (100, 50));
        assert_eq!(usage.requests_by_kind.get("completions"), Some(&10));
        assert_eq!(usage.requests_by_kind.get("file_search_calls"), Some(&2));
        assert_eq!(usage.requests_by_model.get("gpt-x"), Some(&10));
        assert_eq!(usage.unreadable, vec!["images".to_string()]);
        assert_eq!(usage.cost_usd, Some(1.75));
        assert_eq!(usage.first_use.map(|t| t.timestamp()), Some(1_793_581_200));
        assert_eq!(usage.last_use.map(|t| t.timestamp()), Some(1_793_588_400));
        let seen = seen.borrow();
        let first = &seen[0];
        assert!(first.contains("start_time=1793491200"), "{first}");
        assert!(first.contains("bucket_width=1h"), "{first}");
        assert!(first.contains("api_key_ids=key_1"), "{first}");
        assert!(first.contains("group_by=api_key_id"), "{first}");
        assert!(seen.iter().any(|u| u.contains("&page=p2")));
        assert!(seen
            .iter()
            .any(|u| u.starts_with("/organization/costs?") && u.contains("bucket_width=1d")));
    }

    #[test]
    fn a_rate_limit_that_outlasts_the_retries_is_an_error_not_zero_use() {
        let window = Window {
            start: at("2026-11-01T00:00:00Z"),
            end: at("2026-12-01T00:00:00Z"),
        };
        let get = |_: &str| {
            Ok(Response::new(
                429,
                r#"{"error":{"message":"slow down"}}"#,
                None,
            ))
        };
        assert!(matches!(
            usage(&get, "key_1", window),
            Err(ProviderError::Status { status: 429, .. })
        ));
        assert_eq!(window.bucket_width(), "1d");
        assert_eq!(window.before().end, window.start);
    }

    #[test]
    fn pagination_that_does_not_advance_is_malformed() {
        let get = |_: &str| ok(json!({"data": [], "has_more": true, "next_page": "same"}));
        let window = Window {
            start: at("2026-11-01T00:00:00Z"),
            end: at("2026-11-02T00:00:00Z"),
        };
        assert!(matches!(
            costs(&get, "k", window),
            Err(ProviderError::Malformed { .. })
        ));
    }

    #[test]
    fn verdicts_read_plainly() {
        let window = Window {
            start: at("2026-11-01T00:00:00Z"),
            end: at("2026-11-02T00:00:00Z"),
        };
        let used = |requests| Usage {
            requests,
            ..Usage::default()
        };
        let verdict = |since, before| {
            Comparison {
                since_leak: used(since),
                before_leak: used(before),
                window,
            }
            .verdict()
        };
        assert_eq!(verdict(0, 5), "no use since the leak");
        assert_eq!(
            verdict(1240, 410),
            "used 1 240 times since the leak, 3× its usual rate"
        );
        assert_eq!(
            verdict(100, 95),
            "used 100 times since the leak, about its usual rate"
        );
        assert_eq!(
            verdict(1, 0),
            "used once since the leak; no use in the same length of time before it"
        );
        assert_eq!(
            verdict(10, 40),
            "used 10 times since the leak, below its usual rate (0.2×)"
        );
        let mut partial = Comparison {
            since_leak: Usage {
                requests: 0,
                unreadable: vec!["images".into()],
                ..Usage::default()
            },
            before_leak: used(0),
            window,
        };
        assert_eq!(
            partial.verdict(),
            "no use since the leak (not counted: images, which could not be read)"
        );
        partial.since_leak.requests = 3;
        partial.since_leak.cost_usd = Some(2.5);
        assert!(partial
            .verdict()
            .starts_with("used 3 times since the leak, $2.50;"));
        assert_eq!(group_thousands(1_234_567), "1 234 567");
    }
}
