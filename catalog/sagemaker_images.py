"""The AWS accounts that publish the SageMaker images the labs run, per region: the one home of
these facts (the endpoint and ml-pipeline labs both read them).

Copied from the SageMaker Python SDK's ``image_uri_config`` (sagemaker 3.27.0: ``xgboost.json``
version ``1.7-1``, ``sklearn.json`` ``1.2-1``, ``model-monitor.json``, ``blazingtext.json`` version ``1``
and ``clarify.json`` processing ``1.0``), GovCloud and the ISO partitions left out.
tests/stacks/test_endpoint.py, tests/stacks/test_pipeline_definition.py and
tests/stacks/test_model_development.py compare them with the installed SDK's files. CDK-free: the
stacks turn them into CloudFormation mappings or literals; the practice steps build image URIs from them.
"""

from __future__ import annotations

from dataclasses import dataclass

XGBOOST_REPOSITORY = "sagemaker-xgboost"
XGBOOST_VERSION = "1.7-1"  # xgboost 1.7.4 inside
MODEL_MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"


# The account of the built-in XGBoost 1.7-1 image in each region (xgboost.json; training and
# inference alike). In every commercial region the scikit-learn 1.2-1 image (sklearn.json) is in
# the same account, which the ml-pipeline lab relies on.
XGBOOST_ACCOUNTS: dict[str, str] = {
    "af-south-1": "510948584623", "ap-east-1": "651117190479", "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698", "ap-northeast-3": "867004704886", "ap-south-1": "720646828776",
    "ap-south-2": "628508329040", "ap-southeast-1": "121021644041", "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941", "ap-southeast-4": "106583098589", "ca-central-1": "341280168497",
    "ca-west-1": "190319476487", "cn-north-1": "450853457545", "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770", "eu-central-2": "680994064768", "eu-north-1": "662702820516",
    "eu-south-1": "978288397137", "eu-south-2": "104374241257", "eu-west-1": "141502667606",
    "eu-west-2": "764974769150", "eu-west-3": "659782779980", "il-central-1": "898809789911",
    "me-central-1": "272398656194", "me-south-1": "801668240914", "sa-east-1": "737474898029",
    "us-east-1": "683313688378", "us-east-2": "257758044811", "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}
# The Model Monitor analyzer's account (model-monitor.json), in the regions that have it.
MODEL_MONITOR_ACCOUNTS: dict[str, str] = {
    "af-south-1": "875698925577", "ap-east-1": "001633400207", "ap-northeast-1": "574779866223",
    "ap-northeast-2": "709848358524", "ap-northeast-3": "990339680094", "ap-south-1": "126357580389",
    "ap-southeast-1": "245545462676", "ap-southeast-2": "563025443158", "ap-southeast-3": "669540362728",
    "ca-central-1": "536280801234", "cn-north-1": "453000072557", "cn-northwest-1": "453252182341",
    "eu-central-1": "048819808253", "eu-central-2": "590183933784", "eu-north-1": "895015795356",
    "eu-south-1": "933208885752", "eu-south-2": "437450045455", "eu-west-1": "468650794304",
    "eu-west-2": "749857270468", "eu-west-3": "680080141114", "il-central-1": "843974653677",
    "me-central-1": "588750061953", "me-south-1": "607024016150", "sa-east-1": "539772159869",
    "us-east-1": "156813124566", "us-east-2": "777275614652", "us-west-1": "890145073186",
    "us-west-2": "159807026194",
}


# BlazingText (blazingtext.json, version 1: training and inference). Its account equals XGBoost's only
# in a few newer regions.
BLAZINGTEXT_REPOSITORY, BLAZINGTEXT_VERSION = "blazingtext", "1"
BLAZINGTEXT_ACCOUNTS: dict[str, str] = {
    "af-south-1": "455444449433", "ap-east-1": "286214385809", "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934", "ap-northeast-3": "867004704886", "ap-south-1": "991648021394",
    "ap-south-2": "628508329040", "ap-southeast-1": "475088953585", "ap-southeast-2": "544295431143",
    "ap-southeast-3": "951798379941", "ap-southeast-4": "106583098589", "ca-central-1": "469771592824",
    "ca-west-1": "190319476487", "cn-north-1": "390948362332", "cn-northwest-1": "387376663083",
    "eu-central-1": "813361260812", "eu-central-2": "680994064768", "eu-north-1": "669576153137",
    "eu-south-1": "257386234256", "eu-south-2": "104374241257", "eu-west-1": "685385470294",
    "eu-west-2": "644912444149", "eu-west-3": "749696950732", "il-central-1": "898809789911",
    "me-central-1": "272398656194", "me-south-1": "249704162688", "sa-east-1": "855470959533",
    "us-east-1": "811284229777", "us-east-2": "825641698319", "us-west-1": "632365934929",
    "us-west-2": "433757028032",
}
# The SageMaker Clarify processing container (clarify.json, processing 1.0). Absent from several newer
# regions (ap-south-2, ap-southeast-4, ca-west-1, eu-south-2, il-central-1, me-central-1).
CLARIFY_REPOSITORY, CLARIFY_VERSION = "sagemaker-clarify-processing", "1.0"
CLARIFY_ACCOUNTS: dict[str, str] = {
    "af-south-1": "811711786498", "ap-east-1": "098760798382", "ap-northeast-1": "377024640650",
    "ap-northeast-2": "263625296855", "ap-northeast-3": "912233562940", "ap-south-1": "452307495513",
    "ap-southeast-1": "834264404009", "ap-southeast-2": "007051062584", "ap-southeast-3": "705930551576",
    "ca-central-1": "675030665977", "cn-north-1": "122526803553", "cn-northwest-1": "122578899357",
    "eu-central-1": "017069133835", "eu-central-2": "730335477804", "eu-north-1": "763603941244",
    "eu-south-1": "638885417683", "eu-west-1": "131013547314", "eu-west-2": "440796970383",
    "eu-west-3": "341593696636", "me-south-1": "835444307964", "sa-east-1": "520018980103",
    "us-east-1": "205585389593", "us-east-2": "211330385671", "us-west-1": "740489534195",
    "us-west-2": "306415355426",
}


@dataclass(frozen=True)
class ImageAccounts:
    xgboost: str
    model_monitor: str


# The endpoint lab's regions: both of its images.
IMAGE_ACCOUNTS: dict[str, ImageAccounts] = {
    region: ImageAccounts(xgboost=XGBOOST_ACCOUNTS[region], model_monitor=monitor)
    for region, monitor in MODEL_MONITOR_ACCOUNTS.items() if region in XGBOOST_ACCOUNTS
}


def url_suffix(region: str) -> str:
    """The partition's domain (``amazonaws.com``, or ``amazonaws.com.cn`` in China)."""
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def model_monitor_image(region: str) -> str:
    """The analyzer, untagged as the SDK names it (its latest version)."""
    return f"{IMAGE_ACCOUNTS[region].model_monitor}.dkr.ecr.{region}.{url_suffix(region)}/{MODEL_MONITOR_REPOSITORY}"


def image_uri_in(region: str, accounts: dict[str, str], repository: str, tag: str) -> str:
    """``<account>.dkr.ecr.<region>.<suffix>/<repository>:<tag>`` from one of the maps above."""
    return f"{accounts[region]}.dkr.ecr.{region}.{url_suffix(region)}/{repository}:{tag}"
