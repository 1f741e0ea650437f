//! Test doubles of the metadata services, shaped like the documented ones:
//! an IMDSv2 server (token `PUT` with the TTL header required, `401` on a
//! missing, unknown or expired token) and an ECS task metadata v4 server
//! serving the payloads in `testdata/`. In-process, on port 0.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method};
use hyper_util::rt::TokioIo;

pub const IDENTITY: &str = include_str!("testdata/imds_identity.json");
pub const FARGATE_TASK: &str = include_str!("testdata/ecs_task_fargate.json");
pub const FARGATE_CONTAINER: &str = include_str!("testdata/ecs_container_fargate.json");
pub const EC2_TASK: &str = include_str!("testdata/ecs_task_ec2.json");
pub const EC2_CONTAINER: &str = include_str!("testdata/ecs_container_ec2.json");

/// What a fake answers.
pub enum Reply {
    Answer(u16, String),
    /// Accept the request and never answer.
    Hang,
}

type Handler = Arc<dyn Fn(&Method, &str, &HeaderMap) -> Reply + Send + Sync>;

/// Serves `handler` on 127.0.0.1:0; returns `http://127.0.0.1:<port>`.
pub async fn serve(handler: Handler) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let reply = handler(req.method(), req.uri().path(), req.headers());
                    async move {
                        match reply {
                            Reply::Answer(status, body) => Ok::<_, Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                            ),
                            Reply::Hang => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                Ok(hyper::Response::new(Full::new(Bytes::new())))
                            }
                        }
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    base
}

/// How a fake IMDS misbehaves.
#[derive(Default, Clone, Copy, PartialEq)]
pub enum ImdsMode {
    #[default]
    Normal,
    /// The token PUT never answers (hop limit 1), GETs answer 401 without a token.
    PutHangs,
    /// IMDSv1 only: the token PUT answers 405, GETs need no token.
    V1Only,
    /// The identity document answers 500.
    IdentityFails,
    /// The identity document is cut short.
    IdentityTruncated,
    /// Everything hangs.
    Hang,
}

#[derive(Default)]
pub struct ImdsState {
    pub mode: Mutex<ImdsMode>,
    tokens: Mutex<HashMap<String, Instant>>,
    pub puts: AtomicUsize,
    pub gets: AtomicUsize,
    pub unauthorized: AtomicUsize,
}

impl ImdsState {
    /// Forgets every token (as if they expired).
    pub fn expire_tokens(&self) {
        self.tokens.lock().unwrap().clear();
    }
}

/// An IMDSv2 server; returns its base URL and state.
pub async fn imds(mode: ImdsMode) -> (String, Arc<ImdsState>) {
    let state = Arc::new(ImdsState::default());
    *state.mode.lock().unwrap() = mode;
    let s = state.clone();
    let base = serve(Arc::new(move |method, path, headers| {
        let mode = *s.mode.lock().unwrap();
        if mode == ImdsMode::Hang {
            return Reply::Hang;
        }
        if method == Method::PUT && path == "/latest/api/token" {
            s.puts.fetch_add(1, Ordering::SeqCst);
            match mode {
                ImdsMode::PutHangs => return Reply::Hang,
                ImdsMode::V1Only => return Reply::Answer(405, String::new()),
                _ => {}
            }
            let ttl = headers
                .get("x-aws-ec2-metadata-token-ttl-seconds")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|t| (1..=21_600).contains(t));
            let Some(ttl) = ttl else {
                return Reply::Answer(400, "missing or invalid TTL".into());
            };
            let mut tokens = s.tokens.lock().unwrap();
            let token = format!("token-{}", tokens.len() + s.puts.load(Ordering::SeqCst));
            tokens.insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
            return Reply::Answer(200, token);
        }
        if method != Method::GET {
            return Reply::Answer(405, String::new());
        }
        s.gets.fetch_add(1, Ordering::SeqCst);
        if mode != ImdsMode::V1Only {
            let ok = headers
                .get("x-aws-ec2-metadata-token")
                .and_then(|v| v.to_str().ok())
                .and_then(|t| s.tokens.lock().unwrap().get(t).copied())
                .is_some_and(|until| Instant::now() < until);
            if !ok {
                s.unauthorized.fetch_add(1, Ordering::SeqCst);
                return Reply::Answer(401, String::new());
            }
        }
        match path {
            "/latest/meta-data/instance-id" => Reply::Answer(200, "i-1234567890abcdef0".into()),
            "/latest/meta-data/hostname" => {
                Reply::Answer(200, "ip-172-31-7-2.us-west-2.compute.internal".into())
            }
            "/latest/dynamic/instance-identity/document" => match mode {
                ImdsMode::IdentityFails => Reply::Answer(500, "internal error".into()),
                ImdsMode::IdentityTruncated => Reply::Answer(200, IDENTITY[..40].to_string()),
                _ => Reply::Answer(200, IDENTITY.to_string()),
            },
            _ => Reply::Answer(404, "Not Found".into()),
        }
    }))
    .await;
    (base, state)
}

/// How a fake ECS metadata server answers `/task`.
#[derive(Clone, Copy, PartialEq)]
pub enum EcsMode {
    Fargate,
    Ec2,
    TaskFails,
    TaskNotJson,
    Hang,
}

/// A task metadata v4 server; returns the container endpoint
/// (`ECS_CONTAINER_METADATA_URI_V4`).
pub async fn ecs(mode: EcsMode) -> String {
    const ID: &str = "/v4/e9028f8d5d8e4f258373e7b93ce9a3c3-1111111111";
    let base = serve(Arc::new(move |method, path, _| {
        if mode == EcsMode::Hang {
            return Reply::Hang;
        }
        if method != Method::GET {
            return Reply::Answer(405, String::new());
        }
        let (task, container) = match mode {
            EcsMode::Ec2 => (EC2_TASK, EC2_CONTAINER),
            _ => (FARGATE_TASK, FARGATE_CONTAINER),
        };
        match path.strip_prefix(ID) {
            Some("") => Reply::Answer(200, container.to_string()),
            Some("/task") => match mode {
                EcsMode::TaskFails => Reply::Answer(500, "agent error".into()),
                EcsMode::TaskNotJson => Reply::Answer(200, "<html>oops</html>".into()),
                _ => Reply::Answer(200, task.to_string()),
            },
            _ => Reply::Answer(404, "404 page not found".into()),
        }
    }))
    .await;
    format!("{base}{ID}")
}
