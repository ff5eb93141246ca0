"""The mlops lab's model-build repository, beside the scripts it ships from ``jobs/ml_pipeline``:
its unit tests, the SageMaker pipeline's lint, the staging endpoint's integration check and the
requirements CodeBuild installs. ``labs practice mlops`` zips them (``labs/practice/mlops/source.py``)."""
