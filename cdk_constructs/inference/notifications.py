"""Where an asynchronous endpoint says that a request is done: two SNS topics (success, error) and
one queue subscribed to both, which the practice reads."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# The notification includes the inference response when it is at most 128 KB (ours are a few bytes).
INCLUDE_RESPONSE_IN = ("SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC")


class AsyncNotifications(Construct):
    """The success and error topics of an asynchronous endpoint and a queue subscribed to both.

    Defaults: topics encrypted with ``key`` (SageMaker publishes with the endpoint's execution role,
    which may use the key) and TLS enforced; the queue encrypted by SQS (SSE-SQS: SNS delivers to it
    without a key policy of its own), TLS enforced, messages kept one day; each subscription keeps
    SNS's envelope (its ``TopicArn`` says success or error). The queue's policy admits the two topics
    only (``aws:SourceArn``).

    Attributes:
        success_topic / error_topic: the SNS topics.
        queue: the SQS queue the practice receives from.
    """

    def __init__(self, scope: Construct, id_: str, *, key: kms.IKey) -> None:
        super().__init__(scope, id_)
        self.success_topic = sns.Topic(self, "SuccessTopic", master_key=key, enforce_ssl=True,
                                       display_name="mlref inference: async request done")
        self.error_topic = sns.Topic(self, "ErrorTopic", master_key=key, enforce_ssl=True,
                                     display_name="mlref inference: async request failed")
        self.queue = sqs.Queue(self, "Queue", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                               retention_period=Duration.days(1), visibility_timeout=Duration.seconds(60))
        for topic in (self.success_topic, self.error_topic):
            topic.add_subscription(subscriptions.SqsSubscription(self.queue))

    def config(self) -> sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty:
        return sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
            success_topic=self.success_topic.topic_arn, error_topic=self.error_topic.topic_arn,
            include_inference_response_in=list(INCLUDE_RESPONSE_IN))
