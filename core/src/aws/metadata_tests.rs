//! The metadata clients against fake IMDSv2 and ECS task metadata servers.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::ecs_metadata::{self, ContainerMetadata, EcsMetadata, TaskMetadata};
use super::fakes::{self, EcsMode, ImdsMode};
use super::imds::{self, IdentityDocument, Imds};
use super::metadata::{MetadataError, MetadataHttp};

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

fn client(base: &str, timeout_ms: u64) -> Imds {
    Imds::new(
        MetadataHttp::new().unwrap(),
        base,
        Duration::from_millis(timeout_ms),
    )
}

#[test]
fn imds_endpoint_follows_the_sdk_variables() {
    assert_eq!(
        imds::endpoint_from(&env_of(&[])).as_deref(),
        Some("http://169.254.169.254")
    );
    assert_eq!(
        imds::endpoint_from(&env_of(&[(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            "http://127.0.0.1:9/"
        )]))
        .as_deref(),
        Some("http://127.0.0.1:9")
    );
    assert_eq!(
        imds::endpoint_from(&env_of(&[(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
            "IPv6"
        )]))
        .as_deref(),
        Some("http://[fd00:ec2::254]")
    );
    assert_eq!(
        imds::endpoint_from(&env_of(&[
            ("AWS_EC2_METADATA_DISABLED", "TRUE"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")
        ])),
        None
    );
}

#[test]
fn ecs_endpoint_prefers_v4() {
    assert_eq!(ecs_metadata::endpoint_from(&env_of(&[])), None);
    assert_eq!(
        ecs_metadata::endpoint_from(&env_of(&[
            ("ECS_CONTAINER_METADATA_URI", "http://169.254.170.2/v3/x"),
            (
                "ECS_CONTAINER_METADATA_URI_V4",
                "http://169.254.170.2/v4/x/"
            )
        ]))
        .as_deref(),
        Some("http://169.254.170.2/v4/x")
    );
}

#[test]
fn documented_payloads_parse() {
    let doc = IdentityDocument::parse("u", fakes::IDENTITY.as_bytes()).unwrap();
    assert_eq!(doc.account_id, "123456789012");
    assert_eq!(doc.availability_zone, "us-west-2b");
    assert_eq!(doc.instance_type, "t3.medium");
    let task = TaskMetadata::parse("u", fakes::FARGATE_TASK.as_bytes()).unwrap();
    assert_eq!(task.launch_type.as_deref(), Some("FARGATE"));
    assert_eq!(task.containers.len(), 3);
    assert_eq!(
        task.containers[1].log_options["awslogs-group"],
        "/ecs/checkout"
    );
    let c = ContainerMetadata::parse("u", fakes::EC2_CONTAINER.as_bytes()).unwrap();
    assert_eq!(c.name, "tern");
    assert!(c.log_options.is_empty());
    let task = TaskMetadata::parse("u", fakes::EC2_TASK.as_bytes()).unwrap();
    assert_eq!(task.containers[1].kind.as_deref(), Some("CNI_PAUSE"));
}

#[test]
fn bad_documents_are_errors_naming_the_url() {
    for body in ["", "{", "<html>", "[]", "{\"Cluster\":\"x\"}"] {
        let e = TaskMetadata::parse("http://h/v4/x/task", body.as_bytes()).unwrap_err();
        assert!(
            e.to_string().starts_with("http://h/v4/x/task: "),
            "{body}: {e}"
        );
    }
    assert!(IdentityDocument::parse("u", &fakes::IDENTITY.as_bytes()[..30]).is_err());
}

#[tokio::test]
async fn imdsv2_token_is_fetched_once_and_reused() {
    let (base, state) = fakes::imds(ImdsMode::Normal).await;
    let c = client(&base, 1000);
    assert_eq!(
        c.get_text(imds::PATH_INSTANCE_ID).await.unwrap(),
        "i-1234567890abcdef0"
    );
    let doc = c.identity().await.unwrap();
    assert_eq!(doc.region, "us-west-2");
    assert_eq!(
        state.puts.load(Ordering::SeqCst),
        1,
        "one token for all GETs"
    );
    assert_eq!(state.unauthorized.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_401_fetches_a_new_token_once() {
    let (base, state) = fakes::imds(ImdsMode::Normal).await;
    let c = client(&base, 1000);
    c.get(imds::PATH_INSTANCE_ID).await.unwrap();
    state.expire_tokens();
    c.get(imds::PATH_HOSTNAME).await.unwrap();
    assert_eq!(state.puts.load(Ordering::SeqCst), 2);
    assert_eq!(state.unauthorized.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_expiring_token_is_renewed_before_use() {
    let (base, state) = fakes::imds(ImdsMode::Normal).await;
    let c = client(&base, 1000).with_token_ttl(1);
    c.get(imds::PATH_INSTANCE_ID).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.get(imds::PATH_INSTANCE_ID).await.unwrap();
    assert_eq!(state.puts.load(Ordering::SeqCst), 2);
    assert_eq!(
        state.unauthorized.load(Ordering::SeqCst),
        0,
        "renewed before the server refused it"
    );
}

#[tokio::test]
async fn a_refused_token_put_falls_back_to_imdsv1() {
    let (base, state) = fakes::imds(ImdsMode::V1Only).await;
    let c = client(&base, 1000);
    assert_eq!(
        c.get_text(imds::PATH_INSTANCE_ID).await.unwrap(),
        "i-1234567890abcdef0"
    );
    c.get(imds::PATH_HOSTNAME).await.unwrap();
    assert_eq!(state.puts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_hanging_token_put_gets_one_v1_attempt_then_fails_fast() {
    let (base, _state) = fakes::imds(ImdsMode::PutHangs).await;
    let c = client(&base, 300);
    let t = Instant::now();
    let e = c.get(imds::PATH_INSTANCE_ID).await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    assert!(e.to_string().contains(&base), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn failures_are_bounded_and_name_the_endpoint() {
    let (base, _) = fakes::imds(ImdsMode::IdentityFails).await;
    let e = client(&base, 500).identity().await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(e.to_string().contains("instance-identity/document"), "{e}");

    let (base, _) = fakes::imds(ImdsMode::IdentityTruncated).await;
    let e = client(&base, 500).identity().await.unwrap_err();
    assert!(matches!(e, MetadataError::Invalid { .. }), "{e}");

    let (base, _) = fakes::imds(ImdsMode::Hang).await;
    let t = Instant::now();
    let e = client(&base, 200)
        .get(imds::PATH_INSTANCE_ID)
        .await
        .unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));

    // Nothing listening.
    let e = client("http://127.0.0.1:1", 500)
        .get(imds::PATH_INSTANCE_ID)
        .await
        .unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
}

#[tokio::test]
async fn ecs_client_reads_container_and_task() {
    let url = fakes::ecs(EcsMode::Fargate).await;
    let c = EcsMetadata::new(MetadataHttp::new().unwrap(), &url, Duration::from_secs(1));
    assert_eq!(c.container().await.unwrap().name, "tern");
    assert_eq!(c.task().await.unwrap().family, "checkout");
    let url = fakes::ecs(EcsMode::Ec2).await;
    let c = EcsMetadata::new(MetadataHttp::new().unwrap(), &url, Duration::from_secs(1));
    assert_eq!(c.task().await.unwrap().launch_type.as_deref(), Some("EC2"));

    for mode in [EcsMode::TaskFails, EcsMode::TaskNotJson, EcsMode::Hang] {
        let url = fakes::ecs(mode).await;
        let c = EcsMetadata::new(
            MetadataHttp::new().unwrap(),
            &url,
            Duration::from_millis(300),
        );
        let e = c.task().await.unwrap_err();
        assert!(e.to_string().contains(&format!("{url}/task")), "{e}");
    }
}
