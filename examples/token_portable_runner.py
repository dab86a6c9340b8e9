"""A PortableRunner that sends a bearer token, for a job server started with --auth-token-file.

Beam's own PortableRunner opens plaintext gRPC channels without metadata, both to the job
endpoint and to the artifact staging endpoint Prepare returns, so it cannot call a job server
that requires tokens. This subclass opens both channels itself and adds
`authorization: Bearer <token>` to every call; with --tls-ca it uses TLS, trusting that CA file.

    from token_portable_runner import TokenPortableRunner
    with beam.Pipeline(runner=TokenPortableRunner(), options=PipelineOptions([
        "--job_endpoint=jobs.example.com:8099",
        "--auth_token_file=/path/to/token",      # or BEAM_LAMBDA_TOKEN in the environment
        "--tls_ca=/path/to/ca.pem",              # optional: TLS (job-server --tls-cert/--tls-key)
    ])) as p:
        ...

The token is read from --auth_token_file (its first non-comment line) or BEAM_LAMBDA_TOKEN; it
is not a pipeline option the job server sees.
"""
import collections
import os

import grpc
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions
from apache_beam.portability.api import beam_artifact_api_pb2_grpc, beam_job_api_pb2_grpc
from apache_beam.runners.portability import artifact_service
from apache_beam.runners.portability.portable_runner import JobServiceHandle, PortableRunner


class TokenOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--auth_token_file", default=None, help="File whose first line is the job server's bearer token.")
        parser.add_argument("--tls_ca", default=None, help="PEM file of the CA to trust: connect with TLS.")


class _CallDetails(
    collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    pass


class _Bearer(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the authorization header to every call on the channel."""

    def __init__(self, token):
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details):
        metadata = list(details.metadata or []) + [self._header]
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._details(details), requests)


def _token(options):
    path = options.view_as(TokenOptions).auth_token_file
    if path:
        with open(path) as f:
            for line in f:
                if line.strip() and not line.strip().startswith("#"):
                    return line.strip()
        raise ValueError(f"no token in {path}")
    token = os.environ.get("BEAM_LAMBDA_TOKEN")
    if not token:
        raise ValueError("TokenPortableRunner needs --auth_token_file or BEAM_LAMBDA_TOKEN")
    return token


def _channel(endpoint, options):
    ca = options.view_as(TokenOptions).tls_ca
    if ca:
        with open(ca, "rb") as f:
            channel = grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(root_certificates=f.read()))
    else:
        channel = grpc.insecure_channel(endpoint)
    return grpc.intercept_channel(channel, _Bearer(_token(options)))


class _TokenJobServiceHandle(JobServiceHandle):
    def __init__(self, job_service, options, channel_for):
        super().__init__(job_service, options)
        self._channel_for = channel_for

    def stage(self, proto_pipeline, artifact_staging_endpoint, staging_session_token):
        if artifact_staging_endpoint:
            artifact_service.offer_artifacts(
                beam_artifact_api_pb2_grpc.ArtifactStagingServiceStub(channel=self._channel_for(artifact_staging_endpoint)),
                artifact_service.ArtifactRetrievalService(artifact_service.BeamFilesystemHandler(None).file_reader),
                staging_session_token,
            )


class TokenPortableRunner(PortableRunner):
    def create_job_service(self, options):
        portable = options.view_as(PortableOptions)
        if not portable.job_endpoint or portable.job_endpoint == "embed":
            raise ValueError("TokenPortableRunner needs --job_endpoint=HOST:PORT of a beam-lambda job server")
        channel = _channel(portable.job_endpoint, options)
        grpc.channel_ready_future(channel).result(timeout=portable.job_server_timeout)
        return _TokenJobServiceHandle(
            beam_job_api_pb2_grpc.JobServiceStub(channel), options, lambda endpoint: _channel(endpoint, options)
        )
