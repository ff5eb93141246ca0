"""Lambda handler code; each function lives in lambdas/<name>/index.py."""
