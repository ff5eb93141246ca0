"""The AWS accounts that publish the SageMaker images the labs run, per region: one map.

Copied from the SageMaker Python SDK's ``image_uri_config`` (sagemaker 3.27.0:
``xgboost.json`` inference version ``1.7-1``, and ``model-monitor.json``), for the regions
that have both images, GovCloud and the ISO partitions left out. tests/test_endpoint.py
compares this map with the installed SDK's files. CDK-free: the stack turns it into a
CloudFormation mapping; the practice steps build image URIs from it.
"""

from __future__ import annotations

from dataclasses import dataclass

XGBOOST_REPOSITORY = "sagemaker-xgboost"
XGBOOST_VERSION = "1.7-1"  # xgboost 1.7.4 inside
MODEL_MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"


@dataclass(frozen=True)
class ImageAccounts:
    xgboost: str
    model_monitor: str


IMAGE_ACCOUNTS: dict[str, ImageAccounts] = {
    "af-south-1": ImageAccounts(xgboost="510948584623", model_monitor="875698925577"),
    "ap-east-1": ImageAccounts(xgboost="651117190479", model_monitor="001633400207"),
    "ap-northeast-1": ImageAccounts(xgboost="354813040037", model_monitor="574779866223"),
    "ap-northeast-2": ImageAccounts(xgboost="366743142698", model_monitor="709848358524"),
    "ap-northeast-3": ImageAccounts(xgboost="867004704886", model_monitor="990339680094"),
    "ap-south-1": ImageAccounts(xgboost="720646828776", model_monitor="126357580389"),
    "ap-southeast-1": ImageAccounts(xgboost="121021644041", model_monitor="245545462676"),
    "ap-southeast-2": ImageAccounts(xgboost="783357654285", model_monitor="563025443158"),
    "ap-southeast-3": ImageAccounts(xgboost="951798379941", model_monitor="669540362728"),
    "ca-central-1": ImageAccounts(xgboost="341280168497", model_monitor="536280801234"),
    "cn-north-1": ImageAccounts(xgboost="450853457545", model_monitor="453000072557"),
    "cn-northwest-1": ImageAccounts(xgboost="451049120500", model_monitor="453252182341"),
    "eu-central-1": ImageAccounts(xgboost="492215442770", model_monitor="048819808253"),
    "eu-central-2": ImageAccounts(xgboost="680994064768", model_monitor="590183933784"),
    "eu-north-1": ImageAccounts(xgboost="662702820516", model_monitor="895015795356"),
    "eu-south-1": ImageAccounts(xgboost="978288397137", model_monitor="933208885752"),
    "eu-south-2": ImageAccounts(xgboost="104374241257", model_monitor="437450045455"),
    "eu-west-1": ImageAccounts(xgboost="141502667606", model_monitor="468650794304"),
    "eu-west-2": ImageAccounts(xgboost="764974769150", model_monitor="749857270468"),
    "eu-west-3": ImageAccounts(xgboost="659782779980", model_monitor="680080141114"),
    "il-central-1": ImageAccounts(xgboost="898809789911", model_monitor="843974653677"),
    "me-central-1": ImageAccounts(xgboost="272398656194", model_monitor="588750061953"),
    "me-south-1": ImageAccounts(xgboost="801668240914", model_monitor="607024016150"),
    "sa-east-1": ImageAccounts(xgboost="737474898029", model_monitor="539772159869"),
    "us-east-1": ImageAccounts(xgboost="683313688378", model_monitor="156813124566"),
    "us-east-2": ImageAccounts(xgboost="257758044811", model_monitor="777275614652"),
    "us-west-1": ImageAccounts(xgboost="746614075791", model_monitor="890145073186"),
    "us-west-2": ImageAccounts(xgboost="246618743249", model_monitor="159807026194"),
}


def url_suffix(region: str) -> str:
    """The partition's domain (``amazonaws.com``, or ``amazonaws.com.cn`` in China)."""
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def xgboost_image(region: str) -> str:
    return (f"{IMAGE_ACCOUNTS[region].xgboost}.dkr.ecr.{region}.{url_suffix(region)}/"
            f"{XGBOOST_REPOSITORY}:{XGBOOST_VERSION}")


def model_monitor_image(region: str) -> str:
    """The analyzer, untagged as the SDK names it (its latest version)."""
    return f"{IMAGE_ACCOUNTS[region].model_monitor}.dkr.ecr.{region}.{url_suffix(region)}/{MODEL_MONITOR_REPOSITORY}"
