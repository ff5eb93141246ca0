"""Starts moto's server for the end-to-end test, with gaps in moto 5.2.5's CloudFormation patched.

``python tests/e2e/moto_launcher.py PORT`` serves every moto service on 127.0.0.1:PORT until
it is stopped. This is test-harness code only: nothing in the product depends on it.

Each patch touches one CloudFormation call path and leave the rest of moto as it is:

- KMS: ``Key.create_from_cloudformation_json`` hands the template's ``Tags`` (CloudFormation's
  ``[{"Key": ..., "Value": ...}]``) unchanged to ``KmsBackend.create_key``, whose tagger reads
  ``tag["TagKey"]`` (the KMS API's spelling), so every ``AWS::KMS::Key`` with tags fails with
  ``KeyError: 'TagKey'``. It also stores the template's ``KeyPolicy`` object as it is, where
  the KMS API stores a JSON string, so every later call that checks the policy (DescribeKey
  among them) fails with a 500 (``json.loads`` of a dict). The wrapper renames the two tag keys
  and serializes the policy, in that call only.
- IAM: ``ManagedPolicy`` has no ``delete_from_cloudformation_json``, so deleting a stack never
  detaches or deletes its ``AWS::IAM::ManagedPolicy`` resources, every role they are attached to
  then fails to delete ("Cannot delete entity, must detach all policies first") and the stack
  delete fails, leaving the roles behind (moto forgets the stack all the same). Real
  CloudFormation detaches and deletes the policy; the added method does what
  DetachRolePolicy/DetachGroupPolicy/DetachUserPolicy and DeletePolicy do.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def patch_kms_key_from_cloudformation() -> None:
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__

    def create_as_the_kms_api_would(cls: type, resource_name: str, cloudformation_json: Any, account_id: str,
                                    region_name: str, **kwargs: Any) -> Any:
        properties = dict(cloudformation_json.get("Properties", {}))
        if properties.get("Tags"):
            properties["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag.get("Value", "")} if "Key" in tag else tag
                                  for tag in properties["Tags"]]
        if isinstance(properties.get("KeyPolicy"), dict):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return original(cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id,
                        region_name, **kwargs)

    Key.create_from_cloudformation_json = classmethod(create_as_the_kms_api_would)


def patch_iam_managed_policy_delete() -> None:
    from moto.iam.models import ManagedPolicy, iam_backends
    from moto.utilities.utils import get_partition

    def delete_from_cloudformation_json(cls: type, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str) -> None:
        backend = iam_backends[account_id][get_partition(region_name)]
        policy = backend.managed_policies.get(resource_name)  # the physical id is the policy's ARN
        if policy is None:
            return
        for holder in (*backend.roles.values(), *backend.groups.values(), *backend.users.values()):
            if policy.arn in holder.managed_policies:
                policy.detach_from(holder)
        backend.delete_policy(policy.arn)

    ManagedPolicy.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)


def main(argv: list[str]) -> None:
    import moto.server

    patch_kms_key_from_cloudformation()
    patch_iam_managed_policy_delete()
    # SIGTERM ends the server at once: it keeps nothing worth flushing, and an orderly interpreter
    # shutdown of everything moto imported takes seconds.
    moto.server.signal_handler = lambda *_: os._exit(0)
    moto.server.main(["-H", "127.0.0.1", "-p", argv[0]])


if __name__ == "__main__":
    main(sys.argv[1:])
