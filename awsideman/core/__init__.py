"""Pure parts: model, planner, errors, retry, journal. No boto3, no printing."""
