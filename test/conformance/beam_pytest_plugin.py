"""pytest plugin standing in for Beam's sdks/python/conftest.py, which the wheel does not ship.

Load it with `-p beam_pytest_plugin` (this folder on PYTHONPATH) to run Beam's own test modules
from the apache-beam wheel against any runner:

    PYTHONPATH=test/conformance .venv/bin/python -m pytest -p beam_pytest_plugin \
        -o python_classes= -o python_functions= -m it_validatesrunner \
        --pyargs apache_beam.transforms.util_test \
        --test-pipeline-options="--runner=PortableRunner --job_endpoint=localhost:8099 \
                                 --environment_type=LOOPBACK"

What it does, as Beam's conftest.py does (the rest of that file is CI tuning for Beam's own
Docker-in-Docker machines):
- adds `--test-pipeline-options` and hands its value to every `TestPipeline`
  (`TestPipeline.pytest_test_pipeline_options`);
- enables Beam's additional pipeline type checks for all tests;
- registers the markers of Beam's pytest.ini, so `-m it_validatesrunner` selects without
  "unknown marker" warnings (which `-W error` would turn into errors).
Beam's pytest.ini also empties `python_classes` and `python_functions` (only unittest classes are
tests); a plugin cannot set those, so pass `-o python_classes= -o python_functions=` as above.

It also records each test's Beam markers as the junit-xml property `markers`, so a report can
tell the ValidatesRunner tests from the others, and, with `--beam-record-jobs`, the number of
jobs the test submitted to the runner named in --test-pipeline-options (a job endpoint or a Prism
binary) as the property `runner_jobs`: tests that build `beam.Pipeline()` or name their own
runner run on the DirectRunner and submit none.
"""
import pytest

from apache_beam.options import pipeline_options
from apache_beam.testing.test_pipeline import TestPipeline

# The markers of Beam's sdks/python/pytest.ini (2.77.0).
MARKERS = {
    "uses_gcp_java_expansion_service": "collect Cross Language GCP Java transforms test runs",
    "uses_java_expansion_service": "collect Cross Language Java transforms test runs",
    "uses_python_expansion_service": "collect Cross Language Python transforms test runs",
    "uses_io_expansion_service": "collect Cross Language transform test runs (with Kafka bootstrap server)",
    "uses_transform_service": "collect Cross Language test runs that uses the Transform Service",
    "xlang_sql_expansion_service": "collect for Cross Language with SQL expansion service test runs",
    "it_postcommit": "collect for post-commit integration test runs",
    "it_postcommit_sickbay": "collect for post-commit sickbay integration test run",
    "it_validatesrunner": "collect for ValidatesRunner integration test runs",
    "spannerio_it": "collect for Spanner IO IT test runs.",
    "no_sickbay_streaming": "run without sickbay-streaming",
    "no_sickbay_batch": "run without sickbay-batch",
    "it_validatescontainer": "collect for ValidatesContainer integration test runs",
    "it_dataflow_arm": "collect for DataflowArm integration test runs",
    "examples_postcommit": "collect for post-commit test examples runs",
    "sickbay_direct": "run without sickbay-direct",
    "sickbay_spark": "run without sickbay-spark",
    "sickbay_flink": "run without sickbay-flink",
    "sickbay_dataflow": "run without sickbay-dataflow",
    "no_xdist": "run without pytest-xdist plugin",
    "uses_pyarrow": "tests that utilize pyarrow in some way.",
    "uses_pytorch": "tests that utilize pytorch in some way.",
    "uses_sklearn": "tests that utilize scikit-learn in some way.",
    "uses_tensorflow": "tests that utilize tensorflow in some way.",
    "uses_tft": "tests that utilizes tensorflow transforms in some way.",
    "uses_xgboost": "tests that utilize xgboost in some way.",
    "uses_onnx": "tests that utilizes onnx in some way.",
    "uses_tf": "tests that utilize tensorflow.",
    "uses_transformers": "tests that utilize transformers in some way.",
    "uses_vertex_ai": "tests that utilize vertex ai in some way.",
    # Used by 2.77.0's test modules but missing from the pytest.ini above.
    "uses_dill": "tests that need the dill pickler (skipped without dill)",
    "uses_testcontainer": "tests that start containers",
    "uses_mock_api": "tests that use a mock API server",
    "uses_io_java_expansion_service": "collect Cross Language Java IO transform test runs",
    "uses_messaging_java_expansion_service": "collect Cross Language Java messaging transform test runs",
    "uses_tensorrt": "tests that utilize tensorrt",
    "uses_feast": "tests that utilize feast",
    "require_docker_in_docker": "tests that need Docker in Docker",
    "vertex_ai_postcommit": "Vertex AI post-commit tests",
    "gemini_postcommit": "Gemini post-commit tests",
    "anthropic_postcommit": "Anthropic post-commit tests",
    "xlang_wrapper_generation": "cross-language wrapper generation tests",
}

_jobs = [0]


def pytest_addoption(parser):
    parser.addoption(
        "--test-pipeline-options",
        help="Options to use in test pipelines. NOTE: Tests may ignore some or all of these options.",
    )
    parser.addoption(
        "--beam-record-jobs", action="store_true",
        help="record how many jobs each test submits to the runner under test (junit property runner_jobs)",
    )


def pytest_configure(config):
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    TestPipeline.pytest_test_pipeline_options = config.getoption("test_pipeline_options", default="")
    pipeline_options.enable_all_additional_type_checks()
    if config.getoption("beam_record_jobs"):
        _count_jobs()


def _count_jobs():
    """Counts submissions through PortableRunner (and PrismRunner, its subclass) that go to the
    runner under test: an explicit --job_endpoint or --prism_location, not the DirectRunner's
    own attempt at Prism."""
    from apache_beam.runners.portability.portable_runner import PortableRunner

    create = PortableRunner.create_job_service

    def create_job_service(self, options):
        if (options.view_as(pipeline_options.PortableOptions).job_endpoint
                or options.view_as(pipeline_options.PrismRunnerOptions).prism_location):
            _jobs[0] += 1
        return create(self, options)

    PortableRunner.create_job_service = create_job_service


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    _jobs[0] = 0
    yield
    if item.config.getoption("beam_record_jobs"):
        item.user_properties.append(("runner_jobs", str(_jobs[0])))


def pytest_collection_modifyitems(items):
    for item in items:
        names = sorted({m.name for m in item.iter_markers() if m.name in MARKERS})
        if names:
            item.user_properties.append(("markers", ",".join(names)))
