//! The `otlp` receiver: OTLP over gRPC and HTTP (protobuf and JSON).
//! Spec: <https://opentelemetry.io/docs/specs/otlp/>.

pub mod config;
mod grpc;
mod http;

use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use serde_yaml_ng::Value;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, Consumers, ReceiverConfig,
    ReceiverFactory, Running,
};
use crate::otlp::SignalKind;
use crate::pipeline::stage::BoxFuture;
use crate::receiver::accounting::{AccountedConsumer, AccountedConsumers};
use config::OtlpReceiverConfig;

/// How long open requests may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Factory of the `otlp` receiver.
pub struct OtlpReceiverFactory;

impl ReceiverFactory for OtlpReceiverFactory {
    fn type_name(&self) -> &'static str {
        "otlp"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ReceiverConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<OtlpReceiverConfig>(prefix, raw)?))
    }
}

impl ReceiverConfig for OtlpReceiverConfig {
    fn start<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
        consumers: Consumers,
    ) -> BoxFuture<'a, Result<Box<dyn Running>, BuildError>> {
        Box::pin(async move {
            let cfg = self;
            let mut running = RunningOtlp {
                http: None,
                grpc: None,
            };
            if let Some(h) = &cfg.protocols.http {
                let sinks = Sinks::new(ctx, id, "http", &consumers);
                running.http = Some(http::start(id, h, sinks).await?);
            }
            if let Some(g) = &cfg.protocols.grpc {
                let sinks = Sinks::new(ctx, id, "grpc", &consumers);
                running.grpc = Some(grpc::start(id, g, sinks).await?);
            }
            Ok(Box::new(running) as Box<dyn Running>)
        })
    }
}

struct RunningOtlp {
    http: Option<crate::net::Server>,
    grpc: Option<grpc::GrpcServer>,
}

impl Running for RunningOtlp {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        let RunningOtlp { http, grpc } = *self;
        Box::pin(async move {
            let http = async {
                if let Some(h) = http {
                    h.shutdown(SHUTDOWN_GRACE).await;
                }
            };
            let grpc = async {
                if let Some(g) = grpc {
                    g.shutdown(SHUTDOWN_GRACE).await;
                }
            };
            tokio::join!(http, grpc);
        })
    }
}

/// One signal's destination with its receiver metrics.
pub(crate) type Sink<S> = AccountedConsumer<S>;

/// The three signals' sinks of one transport.
pub(crate) type Sinks = AccountedConsumers;

impl Sinks {
    fn new(ctx: &BuildContext, id: &ComponentId, transport: &str, c: &Consumers) -> Sinks {
        AccountedConsumers::wrap(c, &ctx.telemetry, &id.to_string(), transport)
    }
}

/// `google.rpc.Status`, for error bodies.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC status codes used here.
pub(crate) mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
}

pub(crate) fn status_proto(code: i32, message: &str) -> Bytes {
    Bytes::from(
        RpcStatus {
            code,
            message: message.to_string(),
        }
        .encode_to_vec(),
    )
}
