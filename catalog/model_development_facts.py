"""What the model-development practice steps decide by: the generated sets' shape, the approaches' set-up
effort, the hyperparameter sets and ranges, the rules that call a run overfitting or not converging, and what
each bias metric means. Data, CDK-free; the contract is catalog/model_development.py.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SEED = 29  # the generated data's seed: the same seed makes the same objects (and lets tuning warm start)

# -- approach: one text task, three ways --------------------------------------------------------------
CLASSES = ("positive", "negative", "neutral")
DEFAULT_ITEMS, MIN_ITEMS, MAX_ITEMS = 150, 30, 600  # held-out texts, a multiple of 3 (one third per class)
TRAIN_PER_CLASS = 300                                 # BlazingText's labelled training texts per class
MAX_TEXT_CHARS = 280                                  # < 300: one Comprehend request is its 3-unit minimum

# Comprehend DetectSentiment family: units of 100 characters, at least 3 units per request (pricing page),
# at most 25 documents of 5 KB per BatchDetectSentiment (botocore's model). MIXED has no label here: a miss.
COMPREHEND_MIN_UNITS, COMPREHEND_BATCH = 3, 25
COMPREHEND_LABELS = {"POSITIVE": "positive", "NEGATIVE": "negative", "NEUTRAL": "neutral"}
# https://docs.aws.amazon.com/comprehend/latest/dg/guidelines-and-limits.html (regions of the real-time APIs)
COMPREHEND_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
                      "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2")

# Bedrock: Amazon's smallest on-demand text model through Converse (no Marketplace subscription, no use-case
# form). In us-east-1 the model id itself; elsewhere its geography's cross-region inference profile.
BEDROCK_MODEL = "amazon.nova-micro-v1:0"
# fullmatch: <provider>.<model>-v<N>[:<n>]; not an inference profile (us., eu., apac., global. ...), not an ARN
BEDROCK_MODEL_PATTERN = r"(?!(?:us|eu|apac|global|us-gov|jp|au|ca)\.)[a-z0-9-]+\.[a-z0-9.-]+-v\d+(:\d+)?"
BEDROCK_ON_DEMAND_REGIONS = ("us-east-1",)
BEDROCK_GEOGRAPHIES = {"us-": "us.", "ca-": "us.", "eu-": "eu.", "ap-": "apac."}
BEDROCK_SYSTEM = ("Classify the sentiment of a product review. Answer with exactly one word: positive, negative "
                  "or neutral.")
BEDROCK_MAX_TOKENS = 5
BEDROCK_REQUESTS_PER_SECOND = 5

# What each approach took to set up, as the table prints it.
SETUP = {
    "comprehend": "none: an API call (DetectSentiment); no training, no labels",
    "bedrock": "none for Amazon's models (access is on by default); Anthropic needs a one-time use-case form, "
               "other providers a Marketplace subscription on first call; a prompt instead of labels",
    "blazingtext": "labelled training texts (__label__<class> <text>), one training job; serving would need an "
                   "endpoint or a batch transform job",
}
# https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext_hyperparameters.html (defaults: epochs 5,
# min_count 5, vector_dim 100). No early stopping: the validation channel is the held-out set.
BLAZINGTEXT_HYPERPARAMETERS = {"mode": "supervised", "epochs": "10", "learning_rate": "0.05", "min_count": "2",
                               "vector_dim": "50", "word_ngrams": "2", "early_stopping": "False"}
BLAZINGTEXT_METRIC = "validation:accuracy"  # blazingtext-tuning.html: supervised mode's one metric

# -- the tabular set: loan approvals with a sensitive facet and an injected imbalance ---------------
LABEL, FACET = "approved", "gender"
FEATURES = ("gender", "age", "income", "credit_score", "debt_ratio", "years_employed", "num_accounts", "part_time")
HEADERS = (LABEL, *FEATURES)  # XGBoost's CSV: label first, no header row
FACET_VALUE = 1               # the sensitive facet d (gender = 1); facet a is everyone else
ROWS, FACET_D_ROWS = 4000, 1000  # exactly: CI = (3000 - 1000) / 4000 = 0.5
SPLITS = {"train": 2800, "validation": 600, "test": 600}

# -- tune: built-in XGBoost 1.7-1 ------------------------------------------------------------------------
OBJECTIVE_METRIC = "validation:auc"  # Maximize (xgboost-tuning.html)
STATIC_HYPERPARAMETERS = {"objective": "binary:logistic", "eval_metric": "auc", "num_round": "200",
                          "early_stopping_rounds": "10"}
MAX_TUNING_JOBS, MAX_PARALLEL_JOBS = 6, 2
STRATEGIES = {"bayesian": "Bayesian", "random": "Random"}


@dataclass(frozen=True)
class ParameterRange:
    """One tunable hyperparameter: ``kind`` Continuous or Integer, within xgboost-tuning.html's ranges."""

    name: str
    kind: str
    low: str
    high: str
    scaling: str = "Auto"


# One fixed set for every run, so a re-run can warm start from the previous tuning job (same names and types).
RANGES = (
    ParameterRange("eta", "Continuous", "0.1", "0.5", "Logarithmic"),
    ParameterRange("min_child_weight", "Continuous", "1", "10"),
    ParameterRange("subsample", "Continuous", "0.5", "1", "Linear"),
    ParameterRange("alpha", "Continuous", "0", "2"),
    ParameterRange("max_depth", "Integer", "2", "8"),
)

# -- diagnose: the same data, an overfitting run beside a regularized one --------------------------------
DIAGNOSE_METRIC = "logloss"
DIAGNOSE_RUNS = {
    "overfit": {"num_round": "150", "max_depth": "12", "eta": "0.5", "min_child_weight": "0", "subsample": "1",
                "colsample_bytree": "1", "gamma": "0", "lambda": "0", "alpha": "0"},
    "regular": {"num_round": "150", "max_depth": "3", "eta": "0.1", "min_child_weight": "5", "subsample": "0.8",
                "colsample_bytree": "0.8", "gamma": "1", "lambda": "5", "alpha": "1", "early_stopping_rounds": "20"},
    "slow": {"num_round": "30", "max_depth": "3", "eta": "0.01"},
}
DEFAULT_RUNS = ("overfit", "regular")


@dataclass(frozen=True)
class DiagnoseRules:
    """When a run's per-round training and validation losses say it overfits or does not converge.

    - diverges: a value is not finite, or the training loss ends above where it started;
    - overfits: the validation loss ends at least ``rise`` above its best round while the training loss kept
      falling after it, and ends at least ``gap`` above the training loss;
    - does not converge: over the last ``window`` rounds (at most a third of them) the training loss still
      falls by at least ``still_falling`` (relative) and the validation loss falls too;
    - otherwise a good fit.
    """

    rise: float = 0.02
    gap: float = 0.10
    window: int = 10
    still_falling: float = 0.02


RULES = DiagnoseRules()
DIVERGES, OVERFITS, NOT_CONVERGED, GOOD_FIT = "diverges", "overfits", "does not converge", "good fit"
DEBUGGER_NOTE = ("SageMaker Debugger is closed to new customers since 2026-07-30: the curves here come from the "
                 "training log's per-round metrics, judged by rules kept in the catalog")

# -- bias: what each metric is and how to read it (Clarify's definitions) --------------------------------
CLARIFY = "https://docs.aws.amazon.com/sagemaker/latest/dg/"
PRE_TRAINING, POST_TRAINING = ("CI", "DPL"), ("DPPL", "DI", "AD")


@dataclass(frozen=True)
class BiasMetric:
    name: str
    title: str
    meaning: str
    source: str


BIAS_METRICS = {metric.name: metric for metric in (
    BiasMetric("CI", "class imbalance", "(n_a - n_d)/(n_a + n_d): near 0 the facets are equally represented; "
               "0.5 means facet d has a third of facet a's rows", CLARIFY + "clarify-bias-metric-class-imbalance.html"),
    BiasMetric("DPL", "difference in proportions of labels", "q_a - q_d of observed positive labels: above 0 "
               "facet d is approved less often in the data itself",
               CLARIFY + "clarify-data-bias-metric-true-label-imbalance.html"),
    BiasMetric("DPPL", "difference in positive proportions in predicted labels", "q'_a - q'_d of predicted "
               "positives: above 0 the model approves facet d less often",
               CLARIFY + "clarify-post-training-bias-metric-dppl.html"),
    BiasMetric("DI", "disparate impact", "q'_d / q'_a: 1 is parity; below 1 facet d gets fewer positive "
               "predictions (0.8 is a common alarm line)", CLARIFY + "clarify-post-training-bias-metric-di.html"),
    BiasMetric("AD", "accuracy difference", "ACC_a - ACC_d: above 0 the model is less accurate for facet d",
               CLARIFY + "clarify-post-training-bias-metric-ad.html"),
)}
SHAP_SAMPLES, TOP_FEATURES = 100, 5
CLARIFY_NOTE = ("SageMaker Clarify may refuse accounts new to it (AWS announced closing it to new customers); "
                "the lab's own script then computes the same metrics and exact tree SHAP values, in the same "
                "analysis.json layout")
