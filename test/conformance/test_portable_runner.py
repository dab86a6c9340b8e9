"""Beam's own portable-runner conformance suite, pointed at our job endpoint.

`PortableRunnerTest` (shipped in the apache-beam wheel) inherits every pipeline test of the
FnApiRunner's suite. We point it at BEAM_LAMBDA_JOB_ENDPOINT and run the SDK harness LOOPBACK.
Every test we skip is listed in SKIPS with its reason, and docs/conformance.md carries the
counts; test/conformance/conformance.test.ts runs this file and fails on any failure.
"""
import os
import unittest

from apache_beam.options.pipeline_options import PortableOptions
from apache_beam.runners.portability import portable_runner_test

# Tests the runner cannot pass, each with the reason. Keep docs/conformance.md in step.
SKIPS = {}


class BeamLambdaRunnerTest(portable_runner_test.PortableRunnerTest):
    @classmethod
    def _create_job_endpoint(cls):
        return os.environ["BEAM_LAMBDA_JOB_ENDPOINT"]

    def create_options(self):
        options = super().create_options()
        options.view_as(PortableOptions).environment_type = "LOOPBACK"
        return options

    def setUp(self):
        reason = SKIPS.get(self._testMethodName)
        if reason:
            raise unittest.SkipTest(reason)
        super().setUp()


# Only our subclass runs: the base classes would start Beam's own job service.
del portable_runner_test
