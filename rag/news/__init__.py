"""Articles in: files, records, feeds and pages become ``Article`` values (or one-line
``LoadFailure``s), and are chunked, embedded and indexed in batches (locally or with Ray).
"""
