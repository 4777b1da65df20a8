//! The one HTTP client every provider uses: blocking reqwest over rustls with explicit
//! connect and total timeouts, the proxy environment variables (`HTTPS_PROXY`, `NO_PROXY`…)
//! honoured (loopback always direct), and bounded retries on 429/503 that respect
//! `Retry-After`.
//!
//! Keys travel only in headers or bodies, never in URLs, and every transport error is
//! stripped of its URL before it becomes a message, so no error can carry a key. Each
//! response remembers the key its request carried, so a message quoting that key is
//! scrubbed of it before it is ever cut short.

use super::ProviderError;
use crate::core::secret::Secret;
use std::time::Duration;

/// Timeouts and retry bounds. `KEYWARDEN_HTTP_TIMEOUT_MS` (the total time per request, see
/// `HttpConfig::with_timeout`) lets tests and slow gateways change the timeout without a flag.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Extra attempts after a 429/503 (so at most `retries + 1` requests).
    pub retries: u32,
    /// The longest `Retry-After` that is waited out; a longer one gives up at once rather
    /// than hanging the command.
    pub max_retry_wait: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(20),
            retries: 3,
            max_retry_wait: Duration::from_secs(20),
        }
    }
}

impl HttpConfig {
    /// The defaults, with `timeout` (from `KEYWARDEN_HTTP_TIMEOUT_MS`) as the total time per
    /// request when given.
    pub fn with_timeout(timeout: Option<Duration>) -> Self {
        let mut config = HttpConfig::default();
        if let Some(timeout) = timeout {
            config.timeout = timeout;
            config.connect_timeout = config.connect_timeout.min(timeout);
        }
        config
    }
}

/// A response, read in full (provider responses are small).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// The key the request carried: never to be repeated in a message.
    sent: Option<Secret>,
}

impl Response {
    /// A response to a request that carried `sent`.
    pub fn new(status: u16, body: impl Into<String>, sent: Option<Secret>) -> Self {
        Response {
            status,
            body: body.into(),
            sent,
        }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, or `None` when it is not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// A string field of the `error` object of an error body (`code`, `type`…).
    pub fn error_field(&self, field: &str) -> Option<String> {
        let json = self.json()?;
        let error = json.get("error")?;
        error.get(field)?.as_str().map(str::to_string)
    }

    /// A short description of the body for messages: the provider's error message when
    /// there is one, else the start of the body. The key the request carried is scrubbed
    /// out first, then anything else shaped like a key, and only then is it cut short (a
    /// cut key would no longer be recognised).
    pub fn summary(&self) -> String {
        let message = self
            .json()
            .and_then(|json| {
                json.pointer("/error/message")
                    .or_else(|| json.get("message"))
                    .or_else(|| json.get("error"))
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| self.body.trim().to_string());
        let scrubbed = match &self.sent {
            Some(key) => super::scrub(&message, &[key]),
            None => message,
        };
        clip(&mask_tokens(&scrubbed))
    }
}

/// Whether a word (or a piece of a URL) looks like a credential: long, and mixing letters
/// and digits, as keys do and long English words and identifiers rarely do.
fn key_shaped(word: &str) -> bool {
    word.chars().count() >= 20
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_alphabetic())
}

/// A URL with every key-shaped piece between its separators (`/ ? & = # : @ .`) redacted,
/// so a link stays readable while a key in its path or query does not survive.
fn mask_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut piece = String::new();
    for c in url.chars() {
        if matches!(c, '/' | '?' | '&' | '=' | '#' | ':' | '@' | '.' | '+' | '%') {
            out.push_str(&mask_piece(&piece));
            piece.clear();
            out.push(c);
        } else {
            piece.push(c);
        }
    }
    out.push_str(&mask_piece(&piece));
    out
}

fn mask_piece(piece: &str) -> String {
    if key_shaped(piece) {
        crate::core::secret::redact(piece)
    } else {
        piece.to_string()
    }
}

/// Redacts every word that looks like a credential, inside links too. Providers sometimes
/// quote the key they were sent (or another one), so exact-match scrubbing is not enough.
fn mask_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.starts_with("http") {
            out.push_str(&mask_url(word));
        } else {
            out.push_str(&mask_piece(word));
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ',' | ';' | '(' | ')' | '<' | '>') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn clip(text: &str) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    if one_line.chars().count() > 160 {
        let cut: String = one_line.chars().take(160).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// The shared client. Cloning is cheap (reqwest's client is reference-counted).
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::blocking::Client,
    config: HttpConfig,
}

impl Http {
    pub fn new(config: HttpConfig) -> Result<Self, ProviderError> {
        let mut builder = reqwest::blocking::Client::builder().no_proxy();
        for proxy in env_proxies()? {
            builder = builder.proxy(proxy);
        }
        let client = builder
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("keywarden/", env!("CARGO_PKG_VERSION")))
            // A redirect could carry an auth header to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| ProviderError::Network(describe(&err)))?;
        Ok(Http { client, config })
    }

    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }

    /// Sends the request that `build` makes, carrying `key`, again after a 429 or 503 as
    /// long as the retry budget and `Retry-After` allow; returns the last response (which
    /// keeps `key` out of its summary).
    pub fn send(
        &self,
        key: &Secret,
        build: impl Fn(&reqwest::blocking::Client) -> reqwest::blocking::RequestBuilder,
    ) -> Result<Response, ProviderError> {
        let mut attempt = 0;
        loop {
            let response = build(&self.client).send().map_err(|err| classify(&err))?;
            let status = response.status().as_u16();
            let wait = retry_after(response.headers());
            let body = response.text().map_err(|err| classify(&err))?;
            let retryable = status == 429 || status == 503;
            if retryable && attempt < self.config.retries {
                // Without Retry-After, back off a little more each time.
                let wait = wait.unwrap_or(Duration::from_millis(500 * (1 << attempt)));
                if wait <= self.config.max_retry_wait {
                    std::thread::sleep(wait);
                    attempt += 1;
                    continue;
                }
            }
            return Ok(Response::new(status, body, Some(key.clone())));
        }
    }
}

type MakeProxy = fn(&str) -> reqwest::Result<reqwest::Proxy>;

/// The proxies the usual variables ask for (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, in
/// either case, with `NO_PROXY`). Loopback addresses always go direct: local gateways and
/// test mocks live there, and a proxy could not reach them anyway.
fn env_proxies() -> Result<Vec<reqwest::Proxy>, ProviderError> {
    fn get(names: [&'static str; 2]) -> Option<(&'static str, String)> {
        names.into_iter().find_map(|name| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(|v| (name, v))
        })
    }
    let mut exclusions = get(["NO_PROXY", "no_proxy"])
        .map(|(_, v)| v)
        .unwrap_or_default();
    if !exclusions.is_empty() {
        exclusions.push(',');
    }
    exclusions.push_str("127.0.0.1,localhost,::1");
    let mut proxies = Vec::new();
    let kinds: [([&'static str; 2], MakeProxy); 3] = [
        (["HTTPS_PROXY", "https_proxy"], |u| reqwest::Proxy::https(u)),
        (["HTTP_PROXY", "http_proxy"], |u| reqwest::Proxy::http(u)),
        (["ALL_PROXY", "all_proxy"], |u| reqwest::Proxy::all(u)),
    ];
    for (names, make) in kinds {
        if let Some((name, url)) = get(names) {
            // The URL may hold proxy credentials: name the variable, not its value.
            let proxy = make(&url)
                .map_err(|_| ProviderError::Network(format!("{name} is not a valid proxy URL")))?;
            proxies.push(proxy.no_proxy(reqwest::NoProxy::from_string(&exclusions)));
        }
    }
    Ok(proxies)
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

fn classify(err: &reqwest::Error) -> ProviderError {
    if err.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Network(describe(err))
    }
}

/// The error and its causes on one line, without the URL.
fn describe(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut current: Option<&dyn std::error::Error> = Some(err);
    let mut first = true;
    while let Some(cause) = current {
        let part = if first {
            // reqwest's own Display includes the URL; rebuild it without.
            match err.status() {
                Some(status) => format!("HTTP {status}"),
                None if err.is_connect() => "connection failed".to_string(),
                None if err.is_request() => "request failed".to_string(),
                None if err.is_body() || err.is_decode() => "bad response body".to_string(),
                None => "request error".to_string(),
            }
        } else {
            cause.to_string()
        };
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        first = false;
        current = cause.source();
    }
    text
}

/// A provider's HTTP API: the shared client and the base URL (no trailing slash) that
/// request paths are appended to.
#[derive(Debug, Clone)]
pub struct Api {
    pub http: Http,
    base: String,
}

impl Api {
    pub fn new(http: Http, base: impl Into<String>) -> Self {
        Api {
            http,
            base: base.into().trim_end_matches('/').to_string(),
        }
    }

    /// `path` (starting with `/`) under the base.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The struct of a provider that is an HTTP API, with `new(http, base)`: `Providers` passes
/// the real base or the one the environment sets, tests a mock server's.
macro_rules! api_provider {
    ($name:ident) => {
        pub struct $name {
            api: $crate::core::provider::http::Api,
        }

        impl $name {
            pub fn new(http: $crate::core::provider::Http, base: impl Into<String>) -> Self {
                $name {
                    api: $crate::core::provider::http::Api::new(http, base),
                }
            }
        }
    };
}
pub(crate) use api_provider;

/// Percent-encodes an id for a path segment or query value (ids are normally plain).
pub(crate) fn url_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("header"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "soon".parse().expect("header"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn summaries_mask_quoted_credentials_but_keep_words_and_links() {
        let token: String = (0..60)
            .map(|i| (b"aZ3kQ9xPm2Lw7RtYbN4c"[(i * 7) % 20]) as char)
            .collect();
        let r = Response::new(
            401,
            format!(
                r#"{{"error":{{"message":"Incorrect API key provided: {token}. See https://platform.openai.com/account/api-keys."}}}}"#
            ),
            None,
        );
        let summary = r.summary();
        assert!(!summary.contains(&token[..12]), "{summary}");
        assert!(summary.contains("Incorrect API key provided"), "{summary}");
        assert!(
            summary.contains("https://platform.openai.com/account/api-keys."),
            "{summary}"
        );
    }

    #[test]
    fn summary_prefers_the_error_message() {
        let r = Response::new(
            401,
            r#"{"error":{"message":"Incorrect API key","code":"invalid_api_key"}}"#,
            None,
        );
        assert_eq!(r.summary(), "Incorrect API key");
        assert_eq!(r.error_field("code").as_deref(), Some("invalid_api_key"));
        let r = Response::new(500, "oops\n", None);
        assert_eq!(r.summary(), "oops");
    }

    #[test]
    fn a_key_quoted_inside_a_long_url_never_survives_the_cut() {
        let key = format!("sk-proj-{}", "aZ3kQ9xPm2Lw7RtYbN4c_-".repeat(7));
        let message = format!(
            "Invalid key; see https://platform.example.com/keys/{key}/details?from={key} for more."
        );
        // Known key: scrubbed before the message is clipped.
        let r = Response::new(
            401,
            serde_json::json!({"error": {"message": message}}).to_string(),
            Some(Secret::new(key.clone())),
        );
        let summary = r.summary();
        assert!(!summary.contains(&key[8..30]), "{summary}");
        assert!(
            summary.contains("https://platform.example.com/keys/"),
            "{summary}"
        );
        // Another key (not the one sent): masked inside the link too.
        let r = Response::new(
            401,
            serde_json::json!({"error": {"message": message}}).to_string(),
            None,
        );
        let summary = r.summary();
        for start in (8..key.len() - 12).step_by(6) {
            assert!(!summary.contains(&key[start..start + 12]), "{summary}");
        }
    }
}
