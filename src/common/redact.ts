// Pipeline options may carry credentials (Beam's --s3_secret_access_key, --aws_session_token,
// ...). Their values are replaced wherever options leave the process that needs them: harness
// output (logs and, for failures, job messages; the Python harness logs its options at start-up)
// and the job service's listing of jobs.

/** Option names whose values are secret; a Beam option name (`beam:option:NAME:v1`) is tested whole. */
const SECRET_NAME = /secret|password|passwd|passphrase|token|credential|private_?key|api_?key|authorization/i;

// `'name': 'value'` (a Python dict's repr), `"name": "value"` (JSON) and `--name=value` (flags).
const QUOTED_PAIR = /(['"])([\w.-]+)\1(\s*:\s*)(['"])((?:\\.|(?!\4).)*)\4/g;
const FLAG = /(--)([\w.-]+)=(\S+)/g;

export const REDACTED = "<redacted>";

export function redactSecrets(text: string): string {
  return text
    .replace(QUOTED_PAIR, (whole, q: string, name: string, colon: string, vq: string) =>
      SECRET_NAME.test(name) ? `${q}${name}${q}${colon}${vq}${REDACTED}${vq}` : whole,
    )
    .replace(FLAG, (whole, dashes: string, name: string) => (SECRET_NAME.test(name) ? `${dashes}${name}=${REDACTED}` : whole));
}

/** Whether an option (or variable) of this name holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** The options with every secret-named option's value replaced (nested objects too). */
export function redactOptions(options: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(options).map(([name, value]) => [
      name,
      isSecretName(name) && value !== null && value !== undefined
        ? REDACTED
        : value !== null && typeof value === "object" && !Array.isArray(value)
          ? redactOptions(value as Record<string, unknown>)
          : value,
    ]),
  );
}
