"""The exams the labs prepare for: MLS-C01, the study notes' exam (retired 2026-03-31), and MLA-C01, its
successor for this audience, down to its twelve task statements and the "Knowledge of" and "Skills in"
bullets under each. CDK-free data.

Sources: AWS Certified Machine Learning Engineer - Associate (MLA-C01) exam guide, content outline, on AWS's pages
(read through stored copies, each only in part: see ``Bullet.confirmed``):
- https://docs.aws.amazon.com/aws-certification/latest/machine-learning-engineer-associate-01/machine-learning-engineer-associate-01-domain1.md
  (and ``-domain2.md``, ``-domain3.md``, ``-domain4.md``): the domains, the twelve statements' titles, the
  current wording;
- https://docs.aws.amazon.com/aws-certification/latest/examguides/machine-learning-engineer-associate-01-domain1.html
- https://docs.aws.amazon.com/aws-certification/latest/userguide/machine-learning-engineer-associate-01-domain2.html
  (and ``-domain3.html``, ``-domain4.html``): the weights of D2 (26%), D3 (22%) and D4 (24%).

The wording is the current documentation's ("SageMaker AI"). ``Bullet.confirmed`` says whether the whole
bullet was read on one of those AWS pages (in this wording, or in AWS's 2024 wording of the same bullet,
"SageMaker" for "SageMaker AI"); ``False`` means all or part of it comes only from copies of the guide
outside AWS (all of them agree), still to be checked against the guide. D1's weight (28%) was likewise
not read on an AWS page: it is the guide PDF's, and the rest of 100 after AWS's other three weights.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# MLS-C01 (the study notes' exam, retired 2026-03-31): its four domains.
MLS_DATA_ENGINEERING = "Data Engineering"
MLS_EDA = "Exploratory Data Analysis"
MLS_MODELING = "Modeling"
MLS_OPERATIONS = "ML Implementation and Operations"


@dataclass(frozen=True)
class Domain:
    """An MLA-C01 content domain: its number, its title in the guide and its weight (% of the scored content)."""

    number: int
    title: str
    weight: int
    weight_confirmed: bool = True

    @property
    def short(self) -> str:
        return f"D{self.number}"

    @property
    def label(self) -> str:
        """``D2 ML Model Development (26%)``"""
        return f"{self.short} {self.title} ({self.weight}%)"


DOMAINS: dict[int, Domain] = {d.number: d for d in (
    Domain(1, "Data Preparation for Machine Learning (ML)", 28, weight_confirmed=False),
    Domain(2, "ML Model Development", 26),
    Domain(3, "Deployment and Orchestration of ML Workflows", 22),
    Domain(4, "ML Solution Monitoring, Maintenance, and Security", 24),
)}
MLA_D1, MLA_D2, MLA_D3, MLA_D4 = (DOMAINS[number].label for number in (1, 2, 3, 4))


@dataclass(frozen=True)
class ExamDomains:
    """Where a lab sits in the exams: the notes' MLS-C01 domain.

    ``mla_c01`` is the hand-written list of MLA-C01 domains from before the task statements; a lab's MLA-C01
    domains are now those of its exercises (``LabContract.mla_domains``). Left empty, or equal to those.
    """

    mls_c01: str
    mla_c01: tuple[str, ...] = ()

    @property
    def mla_short(self) -> str:
        """``D1, D3``: the numbers of the hand-written MLA-C01 domains."""
        return ", ".join(domain.split()[0] for domain in self.mla_c01)


_EXAMPLES = re.compile(r" \(for example, [^)]*\)")


@dataclass(frozen=True)
class Bullet:
    """One "Knowledge of" or "Skills in" bullet of a task statement, and whether an AWS page showed it whole."""

    text: str
    confirmed: bool

    @property
    def head(self) -> str:
        """The bullet without its examples: ``Monitoring models in production (for example, by using Amazon
        SageMaker Model Monitor)`` is ``Monitoring models in production``."""
        return _EXAMPLES.sub("", self.text)

    def named_by(self, name: str) -> bool:
        return name in (self.text, self.head)


def _aws(text: str) -> Bullet:
    return Bullet(text, confirmed=True)


def _copy(text: str) -> Bullet:
    return Bullet(text, confirmed=False)


@dataclass(frozen=True)
class TaskStatement:
    """One MLA-C01 task statement: its number (``3.1``), its title, and its knowledge and skills bullets."""

    number: str
    title: str
    knowledge: tuple[Bullet, ...] = ()
    skills: tuple[Bullet, ...] = ()

    @property
    def domain(self) -> int:
        return int(self.number.split(".")[0])

    @property
    def bullets(self) -> tuple[Bullet, ...]:
        return self.knowledge + self.skills

    def bullet(self, name: str) -> Bullet | None:
        """The bullet ``name`` names: its whole text, or its text without the examples (``Bullet.head``)."""
        return next((bullet for bullet in self.bullets if bullet.named_by(name)), None)


STATEMENTS: dict[str, TaskStatement] = {s.number: s for s in (
    TaskStatement("1.1", "Ingest and store data", knowledge=(
        _aws("Data formats and ingestion mechanisms (for example, validated and non-validated formats, Apache Parquet, "
             "JSON, CSV, Apache ORC, Apache Avro, RecordIO)"),
        _aws("How to use the core AWS data sources (for example, Amazon S3, Amazon Elastic File System [Amazon EFS], "
             "Amazon FSx for NetApp ONTAP)"),
        _aws("How to use AWS streaming data sources to ingest data (for example, Amazon Kinesis, Apache Flink, "
             "Apache Kafka)"),
        _aws("AWS storage options, including use cases and tradeoffs"),
    ), skills=(
        _aws("Extracting data from storage (for example, Amazon S3, Amazon Elastic Block Store [Amazon EBS], "
             "Amazon EFS, Amazon RDS, Amazon DynamoDB) by using relevant AWS service options (for example, "
             "Amazon S3 Transfer Acceleration, Amazon EBS Provisioned IOPS)"),
        _aws("Choosing appropriate data formats (for example, Parquet, JSON, CSV, ORC) based on data access patterns"),
        _aws("Ingesting data into Amazon SageMaker Data Wrangler and SageMaker Feature Store"),
        _aws("Merging data from multiple sources (for example, by using programming techniques, AWS Glue, "
             "Apache Spark)"),
        _aws("Troubleshooting and debugging data ingestion and storage issues that involve capacity and scalability"),
        _aws("Making initial storage decisions based on cost, performance, and data structure"),
    )),
    TaskStatement("1.2", "Transform data and perform feature engineering", knowledge=(
        _aws("Data cleaning and transformation techniques (for example, detecting and treating outliers, imputing "
             "missing data, combining, deduplication)"),
        _aws("Feature engineering techniques (for example, data scaling and standardization, feature splitting, "
             "binning, log transformation, normalization)"),
        _aws("Encoding techniques (for example, one-hot encoding, binary encoding, label encoding, tokenization)"),
        _aws("Tools to explore, visualize, or transform data and features (for example, SageMaker Data Wrangler, "
             "AWS Glue, AWS Glue DataBrew)"),
        _aws("Services that transform streaming data (for example, AWS Lambda, Spark)"),
        _copy("Data annotation and labeling services that create high-quality labeled datasets"),
    ), skills=(
        _copy("Transforming data by using AWS tools (for example, AWS Glue, DataBrew, Spark running on Amazon EMR, "
              "SageMaker Data Wrangler)"),
        _copy("Creating and managing features by using AWS tools (for example, SageMaker Feature Store)"),
        _copy("Validating and labeling data by using AWS services (for example, SageMaker Ground Truth, "
              "Amazon Mechanical Turk)"),
    )),
    TaskStatement("1.3", "Ensure data integrity and prepare data for modeling", knowledge=(
        _copy("Pre-training bias metrics for numeric, text, and image data (for example, class imbalance [CI], "
              "difference in proportions of labels [DPL])"),
        _copy("Strategies to address CI in numeric, text, and image datasets (for example, synthetic data generation, "
              "resampling)"),
        _copy("Techniques to encrypt data"),
        _copy("Data classification, anonymization, and masking"),
        _copy("Implications of compliance requirements (for example, personally identifiable information [PII], "
              "protected health information [PHI], data residency)"),
    ), skills=(
        _copy("Validating data quality (for example, by using DataBrew and AWS Glue Data Quality)"),
        _copy("Identifying and mitigating sources of bias in data (for example, selection bias, measurement bias) by "
              "using AWS tools (for example, SageMaker Clarify)"),
        _copy("Preparing data to reduce prediction bias (for example, by using dataset splitting, shuffling, and "
              "augmentation)"),
        _copy("Configuring data to load into the model training resource (for example, Amazon EFS, Amazon FSx)"),
    )),
    TaskStatement("2.1", "Choose a modeling approach", knowledge=(
        _aws("Capabilities and appropriate uses of ML algorithms to solve business problems"),
        _aws("How to use AWS artificial intelligence (AI) services (for example, Amazon Translate, Amazon Transcribe, "
             "Amazon Rekognition, Amazon Bedrock) to solve specific business problems"),
        _aws("How to consider interpretability during model selection or algorithm selection"),
        _aws("Amazon SageMaker AI built-in algorithms and when to apply them"),
    ), skills=(
        _aws("Assessing available data and problem complexity to determine the feasibility of an ML solution"),
        _aws("Comparing and selecting appropriate ML models or algorithms to solve specific problems"),
        _aws("Choosing built-in algorithms, foundation models, and solution templates (for example, in SageMaker "
             "JumpStart and Amazon Bedrock)"),
        _aws("Selecting models or algorithms based on costs"),
        _aws("Selecting AI services to solve common business needs"),
    )),
    TaskStatement("2.2", "Train and refine models", knowledge=(
        _aws("Elements in the training process (for example, epoch, steps, batch size)"),
        _aws("Methods to reduce model training time (for example, early stopping, distributed training)"),
        _aws("Factors that influence model size"),
        _aws("Methods to improve model performance"),
        _aws("Benefits of regularization techniques (for example, dropout, weight decay, L1 and L2)"),
        _aws("Hyperparameter tuning techniques (for example, random search, Bayesian optimization)"),
        _aws("Model hyperparameters and their effects on model performance (for example, number of trees in a "
             "tree-based model, number of layers in a neural network)"),
        _aws("Methods to integrate models that were built outside SageMaker AI into SageMaker AI"),
    ), skills=(
        _aws("Using SageMaker AI built-in algorithms and common ML libraries to develop ML models"),
        _aws("Using SageMaker AI script mode with SageMaker AI supported frameworks to train models (for example, "
             "TensorFlow, PyTorch)"),
        _aws("Using custom datasets to fine-tune pre-trained models (for example, Amazon Bedrock, "
             "SageMaker JumpStart)"),
        _copy("Performing hyperparameter tuning (for example, by using SageMaker AI automatic model tuning [AMT])"),
        _copy("Integrating automated hyperparameter optimization capabilities"),
        _copy("Preventing model overfitting, underfitting, and catastrophic forgetting (for example, by using "
              "regularization techniques, feature selection)"),
        _copy("Combining multiple training models to improve performance (for example, ensembling, stacking, "
              "boosting)"),
        _copy("Reducing model size (for example, by altering data types, pruning, updating feature selection, "
              "compression)"),
        _copy("Managing model versions for repeatability and audits (for example, by using the SageMaker Model "
              "Registry)"),
    )),
    TaskStatement("2.3", "Analyze model performance", knowledge=(
        _copy("Model evaluation techniques and metrics (for example, confusion matrix, heat maps, F1 score, accuracy, "
              "precision, recall, Root Mean Square Error [RMSE], receiver operating characteristic [ROC], Area Under "
              "the ROC Curve [AUC])"),
        _copy("Methods to create performance baselines"),
        _copy("Methods to identify model overfitting and underfitting"),
        _copy("Metrics available in SageMaker Clarify to gain insights into ML training data and models"),
        _copy("Convergence issues"),
    ), skills=(
        _copy("Selecting and interpreting evaluation metrics and detecting model bias"),
        _copy("Assessing tradeoffs between model performance, training time, and cost"),
        _copy("Performing reproducible experiments by using AWS services"),
        _copy("Comparing the performance of a shadow variant to the performance of a production variant"),
        _copy("Using SageMaker Clarify to interpret model outputs"),
        _copy("Using SageMaker Model Debugger to debug model convergence"),
    )),
    TaskStatement("3.1", "Select deployment infrastructure based on existing architecture and requirements", knowledge=(
        _aws("Deployment best practices (for example, versioning, rollback strategies)"),
        _aws("AWS deployment services (for example, Amazon SageMaker AI)"),
        _aws("Methods to serve ML models in real time and in batches"),
        _aws("How to provision compute resources in production environments and test environments (for example, "
             "CPU, GPU)"),
        _aws("Model and endpoint requirements for deployment endpoints (for example, serverless endpoints, real-time "
             "endpoints, asynchronous endpoints, batch inference)"),
        _aws("How to choose appropriate containers (for example, provided or customized)"),
        _aws("Methods to optimize models on edge devices (for example, SageMaker Neo)"),
    ), skills=(
        _aws("Evaluating performance, cost, and latency tradeoffs"),
        _aws("Choosing the appropriate compute environment for training and inference based on requirements (for "
             "example, GPU or CPU specifications, processor family, networking bandwidth)"),
        _aws("Selecting the correct deployment orchestrator (for example, Apache Airflow, SageMaker Pipelines)"),
        _aws("Selecting multi-model or multi-container deployments"),
        _aws("Selecting the correct deployment target (for example, SageMaker AI endpoints, Kubernetes, Amazon Elastic "
             "Container Service [Amazon ECS], Amazon Elastic Kubernetes Service [Amazon EKS], AWS Lambda)"),
        _aws("Choosing model deployment strategies (for example, real time, batch)"),
    )),
    TaskStatement("3.2", "Create and script infrastructure based on existing architecture and requirements", knowledge=(
        _aws("Difference between on-demand and provisioned resources"),
        _aws("How to compare scaling policies"),
        _aws("Tradeoffs and use cases of infrastructure as code (IaC) options (for example, AWS CloudFormation, AWS "
             "Cloud Development Kit [AWS CDK])"),
        _aws("Containerization concepts and AWS container services"),
        _aws("How to use SageMaker AI endpoint auto scaling policies to meet scalability requirements (for example, "
             "based on demand, time)"),
    ), skills=(
        _copy("Applying best practices to enable maintainable, scalable, and cost-effective ML solutions (for example, "
              "automatic scaling on SageMaker AI endpoints, dynamically adding Spot Instances, by using Amazon EC2 "
              "instances, by using Lambda behind the endpoints)"),
        _copy("Automating the provisioning of compute resources, including communication between stacks (for example, "
              "by using CloudFormation, AWS CDK)"),
        _copy("Building and maintaining containers (for example, Amazon Elastic Container Registry [Amazon ECR], "
              "Amazon EKS, Amazon ECS, by using bring your own container [BYOC] with SageMaker AI)"),
        _copy("Configuring SageMaker AI endpoints within the VPC network"),
        _copy("Deploying and hosting models by using the SageMaker AI SDK"),
        _copy("Choosing specific metrics for auto scaling (for example, model latency, CPU utilization, invocations "
              "per instance)"),
    )),
    TaskStatement("3.3", "Use automated orchestration tools to set up continuous integration and continuous "
                         "delivery (CI/CD) pipelines", knowledge=(
        _copy("Capabilities and quotas for AWS CodePipeline, AWS CodeBuild, and AWS CodeDeploy"),
        _copy("Automation and integration of data ingestion with orchestration services"),
        _copy("Version control systems and basic usage (for example, Git)"),
        _copy("CI/CD principles and how they fit into ML workflows"),
        _copy("Deployment strategies and rollback actions (for example, blue/green, canary, linear)"),
        _copy("How code repositories and pipelines work together"),
    ), skills=(
        _copy("Configuring and troubleshooting CodeBuild, CodeDeploy, and CodePipeline, including stages"),
        _copy("Applying continuous deployment flow structures to invoke pipelines (for example, Gitflow, GitHub Flow)"),
        _copy("Using AWS services to automate orchestration (for example, to deploy ML models, automate model "
              "building)"),
        _copy("Configuring training and inference jobs (for example, by using Amazon EventBridge rules, SageMaker "
              "Pipelines, CodePipeline)"),
        _copy("Creating automated tests in CI/CD pipelines (for example, integration tests, unit tests, end-to-end "
              "tests)"),
        _copy("Building and integrating mechanisms to retrain models"),
    )),
    TaskStatement("4.1", "Monitor model inference", knowledge=(
        _aws("Drift in ML models"),
        _aws("Techniques to monitor data quality and model performance"),
        _aws("Design principles for ML lenses relevant to monitoring"),
    ), skills=(
        _aws("Monitoring models in production (for example, by using Amazon SageMaker Model Monitor)"),
        _aws("Monitoring workflows to detect anomalies or errors in data processing or model inference"),
        _aws("Detecting changes in the distribution of data that can affect model performance (for example, by using "
             "SageMaker Clarify)"),
        _aws("Monitoring model performance in production by using A/B testing"),
    )),
    TaskStatement("4.2", "Monitor and optimize infrastructure and costs", knowledge=(
        _aws("Key performance metrics for ML infrastructure (for example, utilization, throughput, availability, "
             "scalability, fault tolerance)"),
        _aws("Monitoring and observability tools to troubleshoot latency and performance issues (for example, AWS "
             "X-Ray, Amazon CloudWatch Lambda Insights, Amazon CloudWatch Logs Insights)"),
        _aws("How to use AWS CloudTrail to log, monitor, and invoke re-training activities"),
        _aws("Differences between instance types and how they affect performance (for example, memory optimized, "
             "compute optimized, general purpose, inference optimized)"),
        _aws("Capabilities of cost analysis tools (for example, AWS Cost Explorer, AWS Billing and Cost Management, "
             "AWS Trusted Advisor)"),
        _aws("Cost tracking and allocation techniques (for example, resource tagging)"),
    ), skills=(
        _aws("Configuring and using tools to troubleshoot and analyze resources (for example, CloudWatch Logs, "
             "CloudWatch alarms)"),
        _aws("Creating CloudTrail trails"),
        _aws("Setting up dashboards to monitor performance metrics (for example, by using Amazon QuickSight, "
             "CloudWatch dashboards)"),
        _aws("Monitoring infrastructure (for example, by using Amazon EventBridge events)"),
        _aws("Rightsizing instance families and sizes (for example, by using SageMaker AI Inference Recommender and "
             "AWS Compute Optimizer)"),
        _aws("Monitoring and resolving latency and scaling issues"),
        _copy("Preparing infrastructure for cost monitoring (for example, by applying a tagging strategy)"),
        _copy("Troubleshooting capacity concerns that involve cost and performance (for example, provisioned "
              "concurrency, service quotas, auto scaling)"),
        _copy("Optimizing costs and setting cost quotas by using appropriate cost management tools (for example, AWS "
              "Cost Explorer, AWS Trusted Advisor, AWS Budgets)"),
        _copy("Optimizing infrastructure costs by selecting purchasing options (for example, Spot Instances, On-Demand "
              "Instances, Reserved Instances, SageMaker AI Savings Plans)"),
    )),
    TaskStatement("4.3", "Secure AWS resources", knowledge=(
        _copy("IAM roles, policies, and groups that control access to AWS services (for example, AWS Identity and "
              "Access Management [IAM], bucket policies, SageMaker Role Manager)"),
        _copy("SageMaker AI security and compliance features"),
        _copy("Controls for network access to ML resources"),
        _copy("Security best practices for CI/CD pipelines"),
    ), skills=(
        _copy("Configuring least privilege access to ML artifacts"),
        _copy("Configuring IAM policies and roles for users and applications that interact with ML systems"),
        _copy("Monitoring, auditing, and logging ML systems to ensure continued security and compliance"),
        _copy("Troubleshooting and debugging security issues"),
        _copy("Building VPCs, subnets, and security groups to securely isolate ML systems"),
    )),
)}


@dataclass(frozen=True)
class Exercise:
    """One step of a lab's practice and what of the MLA-C01 guide it exercises.

    Attributes:
        step: the step's name, as the practice announces it before the step runs.
        statements: the task statements it exercises (``("3.1", "4.1")``).
        skills: the bullets of those statements it exercises, each named by its text in the guide, whole or
            without its examples (``Bullet.head``): "Skills in" bullets, or "Knowledge of" ones where the step
            works with what the bullet names. Only what the step itself does.
    """

    step: str
    statements: tuple[str, ...]
    skills: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [number for number in self.statements if number not in STATEMENTS]
        if unknown or not self.statements:
            raise ValueError(f"step {self.step!r}: {unknown or 'no'} MLA-C01 task statement(s); "
                             f"use {', '.join(STATEMENTS)}")

    def claims(self) -> tuple[tuple[str, Bullet], ...]:
        """(statement number, bullet) for each of ``skills``; a ValueError names one that is not a bullet of
        the step's statements."""
        found = []
        for name in self.skills:
            match = next(((number, bullet) for number in self.statements
                          if (bullet := STATEMENTS[number].bullet(name)) is not None), None)
            if match is None:
                elsewhere = [number for number, statement in STATEMENTS.items() if statement.bullet(name)]
                hint = (f"it is a bullet of {', '.join(elsewhere)}: add that statement" if elsewhere
                        else "name a bullet of the guide by its text, whole or without its examples")
                raise ValueError(f"step {self.step!r}: {name!r} is not a bullet of {', '.join(self.statements)}; "
                                 f"{hint}")
            found.append(match)
        return tuple(found)


def domains_of(exercises: Iterable[Exercise]) -> tuple[Domain, ...]:
    """The MLA-C01 domains of the statements ``exercises`` exercise, in order."""
    numbers = {STATEMENTS[number].domain for exercise in exercises for number in exercise.statements}
    return tuple(DOMAINS[number] for number in sorted(numbers))
