// Harness output reaches logs and, for failures, job messages. The Python harness logs its
// pipeline options at start-up, and those may carry credentials (Beam's --s3_secret_access_key,
// --aws_session_token, ...): their values are replaced before any of it leaves the worker.

/** Option names whose values are secret. */
const SECRET_NAME = /secret|password|passwd|token|credential|private_key/i;

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
