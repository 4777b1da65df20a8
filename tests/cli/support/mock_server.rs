//! A mock HTTP server on 127.0.0.1 for provider tests: a closure answers each request,
//! every request is recorded, and each is served on its own thread so a deliberately slow
//! answer (for timeout tests) does not hold up the others.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, e.g. `/v1/organization/projects?limit=100`.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or("")
    }

    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.url.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| v.to_string())
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path() == path
    }
}

/// What the mock answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, value: serde_json::Value) -> Self {
        Reply {
            status,
            body: value.to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            delay: Duration::ZERO,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Reply {
            status,
            body: body.to_string(),
            headers: vec![("Content-Type".into(), "text/plain".into())],
            delay: Duration::ZERO,
        }
    }

    pub fn not_found() -> Self {
        Reply::json(
            404,
            serde_json::json!({"error": {"message": "no such route in the mock"}}),
        )
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync + 'static;

pub struct MockServer {
    server: Arc<tiny_http::Server>,
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let server =
            Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind the mock server"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let server = Arc::clone(&server);
            let requests = Arc::clone(&requests);
            std::thread::spawn(move || {
                for mut incoming in server.incoming_requests() {
                    let mut body = String::new();
                    let _ = incoming.as_reader().read_to_string(&mut body);
                    let request = Request {
                        method: incoming.method().as_str().to_string(),
                        url: incoming.url().to_string(),
                        headers: incoming
                            .headers()
                            .iter()
                            .map(|h| {
                                (
                                    h.field.as_str().as_str().to_string(),
                                    h.value.as_str().to_string(),
                                )
                            })
                            .collect(),
                        body,
                    };
                    requests
                        .lock()
                        .expect("requests lock")
                        .push(request.clone());
                    let handler = Arc::clone(&handler);
                    std::thread::spawn(move || {
                        let reply = handler(&request);
                        if !reply.delay.is_zero() {
                            std::thread::sleep(reply.delay);
                        }
                        let mut response = tiny_http::Response::from_string(reply.body)
                            .with_status_code(reply.status);
                        for (name, value) in &reply.headers {
                            if let Ok(header) =
                                tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
                            {
                                response.add_header(header);
                            }
                        }
                        // The client may have given up (timeout tests): that is fine.
                        let _ = incoming.respond(response);
                    });
                }
            })
        };
        MockServer {
            server,
            url: format!("http://127.0.0.1:{port}"),
            requests,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (append the version path for a base URL).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests lock").clone()
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.is(method, path))
            .count()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
