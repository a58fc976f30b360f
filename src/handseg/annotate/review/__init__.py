"""The review page: a local web server where a person accepts or rejects annotated frames."""
