import { describe, expect, it } from "vitest";
import { REDACTED, redactOptions, redactSecrets } from "../../src/common/redact.js";

describe("redactSecrets", () => {
  it("hides secret option values in the Python harness's start-up line, and keeps the rest", () => {
    const line =
      "Pipeline_options: {'s3_endpoint_url': 'http://localhost:4566', 's3_access_key_id': 'AKIDEXAMPLE', " +
      "'s3_secret_access_key': 'wJalr/K7MDENG+bPxRfiCY', 'aws_session_token': 'IQoJb3Jp\\'gin', 'job_name': 'wordcount'}";
    const out = redactSecrets(line);
    expect(out).not.toContain("wJalr");
    expect(out).not.toContain("IQoJb3Jp");
    expect(out).toContain(`'s3_secret_access_key': '${REDACTED}'`);
    expect(out).toContain(`'aws_session_token': '${REDACTED}'`);
    expect(out).toContain("'s3_endpoint_url': 'http://localhost:4566'");
    expect(out).toContain("'job_name': 'wordcount'");
  });

  it("hides them in JSON and in flags too", () => {
    expect(redactSecrets('{"s3_secret_access_key": "abc", "runner": "PortableRunner"}')).toBe(`{"s3_secret_access_key": "${REDACTED}", "runner": "PortableRunner"}`);
    expect(redactSecrets("--s3_secret_access_key=abc --s3_region_name=us-east-1")).toBe(`--s3_secret_access_key=${REDACTED} --s3_region_name=us-east-1`);
  });
});

describe("redactOptions", () => {
  it("replaces the values of secret-named options, Beam's URN-style names included, and keeps the rest", () => {
    const options = {
      "beam:option:s3_secret_access_key:v1": "wJalr",
      "beam:option:aws_session_token:v1": "IQoJ",
      "beam:option:db_password:v1": "hunter2",
      "beam:option:my_api_key:v1": "k-123",
      "beam:option:s3_access_key_id:v1": "AKIDEXAMPLE",
      "beam:option:job_name:v1": "wordcount",
      "beam:option:unset_token:v1": null,
      nested: { client_secret: "s", region: "us-east-1" },
    };
    expect(redactOptions(options)).toEqual({
      "beam:option:s3_secret_access_key:v1": REDACTED,
      "beam:option:aws_session_token:v1": REDACTED,
      "beam:option:db_password:v1": REDACTED,
      "beam:option:my_api_key:v1": REDACTED,
      "beam:option:s3_access_key_id:v1": "AKIDEXAMPLE",
      "beam:option:job_name:v1": "wordcount",
      "beam:option:unset_token:v1": null,
      nested: { client_secret: REDACTED, region: "us-east-1" },
    });
  });
});
