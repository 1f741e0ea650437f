//! ECS task metadata endpoint v4
//! (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4.html>):
//! `${ECS_CONTAINER_METADATA_URI_V4}` describes this container and `…/task`
//! the task. Plain HTTP to a link-local address, no credentials. Parsing is
//! pure ([`TaskMetadata::parse`], [`ContainerMetadata::parse`]); [`EcsMetadata`]
//! does the I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::metadata::{parse_json, MetadataError, MetadataHttp};

/// The endpoint of this container, from `ECS_CONTAINER_METADATA_URI_V4`, else
/// the v3 `ECS_CONTAINER_METADATA_URI`; `None` outside ECS.
pub fn endpoint_from(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    [
        "ECS_CONTAINER_METADATA_URI_V4",
        "ECS_CONTAINER_METADATA_URI",
    ]
    .iter()
    .find_map(|k| env(k).filter(|v| !v.trim().is_empty()))
    .map(|v| v.trim().trim_end_matches('/').to_string())
}

/// `GET ${URI}/task` (the fields Tern reads; v4 only adds fields).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskMetadata {
    #[serde(default)]
    pub cluster: String,
    #[serde(rename = "TaskARN", default)]
    pub task_arn: String,
    #[serde(default)]
    pub family: String,
    #[serde(default)]
    pub revision: String,
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub launch_type: Option<String>,
    #[serde(default)]
    pub containers: Vec<ContainerMetadata>,
}

/// `GET ${URI}` (this container), and each entry of the task's `Containers`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerMetadata {
    #[serde(default)]
    pub docker_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "ContainerARN", default)]
    pub container_arn: Option<String>,
    #[serde(default)]
    pub known_status: String,
    #[serde(rename = "Type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub log_driver: Option<String>,
    #[serde(default)]
    pub log_options: BTreeMap<String, String>,
}

impl TaskMetadata {
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, MetadataError> {
        let t: TaskMetadata = parse_json(url, body)?;
        if t.task_arn.is_empty() {
            return Err(MetadataError::Invalid {
                url: url.to_string(),
                message: "task metadata without TaskARN".into(),
            });
        }
        Ok(t)
    }
}

impl ContainerMetadata {
    pub fn parse(url: &str, body: &[u8]) -> Result<Self, MetadataError> {
        parse_json(url, body)
    }
}

/// A task metadata client of one container endpoint.
pub struct EcsMetadata {
    http: MetadataHttp,
    base: String,
    timeout: Duration,
}

impl EcsMetadata {
    pub fn new(http: MetadataHttp, base: &str, timeout: Duration) -> Self {
        EcsMetadata {
            http,
            base: base.trim_end_matches('/').to_string(),
            timeout,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// This container's metadata.
    pub async fn container(&self) -> Result<ContainerMetadata, MetadataError> {
        let body = self.http.get(&self.base, &[], self.timeout).await?;
        ContainerMetadata::parse(&self.base, &body)
    }

    /// The task's metadata.
    pub async fn task(&self) -> Result<TaskMetadata, MetadataError> {
        let url = format!("{}/task", self.base);
        let body = self.http.get(&url, &[], self.timeout).await?;
        TaskMetadata::parse(&url, &body)
    }
}
