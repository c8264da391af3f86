"""A seeded fuzzer for nnfix's command line: corpus, mutators, runner, classifier, report."""
