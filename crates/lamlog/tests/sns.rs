//! The SNS notifier against a real (moto) SNS topic, read back from an SQS
//! queue subscribed to it.

use crate::support::moto;

use std::collections::BTreeMap;

use aws_sdk_sqs::types::QueueAttributeName;
use lamlog::notify::sns::SnsNotifier;
use lamlog::notify::Notifier;
use lamlog_core::judge::{Alert, AlertKind, Severity};
use moto::Moto;

fn alert(index: usize, kind: AlertKind, severity: Severity) -> Alert {
    let function = format!("fn-{index:02}");
    Alert {
        kind,
        severity,
        account: "123456789012".to_owned(),
        function: function.clone(),
        request_id: Some(format!("req-{index}")),
        window_start_ms: 1_793_491_200_000,
        message: format!("{} in {function}", kind.as_str()),
        dedup_key: format!("{}|123456789012|{function}|1793491200000", kind.as_str()),
    }
}

/// Creates a topic and a queue subscribed to it (raw delivery, so message
/// attributes arrive as SQS attributes); returns the topic ARN, the queue URL
/// and an SQS client.
async fn topic_with_queue(moto: &Moto, name: &str) -> (String, String, aws_sdk_sqs::Client) {
    let shared = moto.sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&shared);
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let fifo = name.ends_with(".fifo");
    let mut create_topic = sns.create_topic().name(name);
    if fifo {
        create_topic = create_topic.attributes("FifoTopic", "true");
    }
    let topic_arn = create_topic.send().await.unwrap().topic_arn.unwrap();
    let mut create_queue = sqs.create_queue().queue_name(name);
    if fifo {
        create_queue = create_queue.attributes(QueueAttributeName::FifoQueue, "true");
    }
    let queue_url = create_queue.send().await.unwrap().queue_url.unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    (topic_arn, queue_url, sqs)
}

/// Every message in the queue: body and string attributes.
async fn drain(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Vec<(serde_json::Value, BTreeMap<String, String>)> {
    let mut messages = Vec::new();
    loop {
        let output = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let received = output.messages.unwrap_or_default();
        if received.is_empty() {
            return messages;
        }
        for message in received {
            let body: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
            let attributes = message
                .message_attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name, value.string_value.unwrap_or_default()))
                .collect();
            messages.push((body, attributes));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn alerts_arrive_in_batches_of_ten_with_their_attributes() {
    let moto = Moto::start();
    let (topic_arn, queue_url, sqs) = topic_with_queue(&moto, "lamlog-alerts").await;
    let sns = aws_sdk_sns::Client::new(&moto.sdk_config().await);
    let mut notifier = SnsNotifier::new(sns, &topic_arn);
    let alerts: Vec<Alert> = (0..23)
        .map(|index| {
            if index % 2 == 0 {
                alert(index, AlertKind::Timeout, Severity::Critical)
            } else {
                alert(index, AlertKind::MemoryPressure, Severity::Warning)
            }
        })
        .collect();
    notifier.notify(&alerts).await.unwrap();
    assert_eq!(notifier.published(), 23);

    let mut received = drain(&sqs, &queue_url).await;
    received.sort_by(|left, right| {
        left.0["function"]
            .as_str()
            .cmp(&right.0["function"].as_str())
    });
    assert_eq!(received.len(), 23);
    let (body, attributes) = &received[4];
    assert_eq!(
        body["dedup_key"],
        "timeout|123456789012|fn-04|1793491200000"
    );
    assert_eq!(body["request_id"], "req-4");
    assert_eq!(attributes["severity"], "critical");
    assert_eq!(attributes["kind"], "timeout");
    assert_eq!(attributes["function"], "fn-04");
    assert_eq!(received[5].1["kind"], "memory_pressure");
    assert_eq!(received[5].1["severity"], "warning");
}

#[tokio::test]
async fn a_fifo_topic_drops_a_repeated_dedup_key() {
    let moto = Moto::start();
    let (topic_arn, queue_url, sqs) = topic_with_queue(&moto, "lamlog-alerts.fifo").await;
    let sns = aws_sdk_sns::Client::new(&moto.sdk_config().await);
    let mut notifier = SnsNotifier::new(sns, &topic_arn);
    let first = alert(1, AlertKind::OutOfMemory, Severity::Critical);
    let second = alert(2, AlertKind::OutOfMemory, Severity::Critical);
    notifier.notify(&[first.clone(), second]).await.unwrap();
    // The same alert again (a replay that slipped past the store would look so).
    notifier.notify(&[first]).await.unwrap();
    let received = drain(&sqs, &queue_url).await;
    let functions: Vec<&str> = received
        .iter()
        .map(|(body, _)| body["function"].as_str().unwrap())
        .collect();
    assert_eq!(functions, ["fn-01", "fn-02"]);
}

#[tokio::test]
async fn a_missing_topic_is_an_unavailable_error() {
    let moto = Moto::start();
    let sns = aws_sdk_sns::Client::new(&moto.sdk_config().await);
    let mut notifier = SnsNotifier::new(sns, "arn:aws:sns:us-east-1:123456789012:nope");
    let error = notifier
        .notify(&[alert(1, AlertKind::Timeout, Severity::Critical)])
        .await
        .unwrap_err();
    assert_eq!(error.undelivered, [0]);
    assert!(error.error.is_transient());
    assert!(error.to_string().contains("PublishBatch"), "{error}");
    // No alerts, no call.
    notifier.notify(&[]).await.unwrap();
}
