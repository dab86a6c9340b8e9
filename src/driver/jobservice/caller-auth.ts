// Who may call the job endpoint, and whose jobs a caller sees. Without tokens (a loopback bind,
// the default) every caller is anonymous and sees every job. With tokens, every call must carry
// `authorization: Bearer <token>` metadata, else UNAUTHENTICATED (a server interceptor checks it
// before any handler runs, so no method is forgotten); a job belongs to the token that prepared
// it, kept only as its SHA-256, and other tokens' callers are told it does not exist.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";

/** Who prepared a job: undefined when the server takes anonymous calls. */
export type JobOwner = string | undefined;

const BEARER = /^Bearer\s+(\S+)\s*$/i;

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Tokens from a file: one per line, blank lines and `#` comments ignored. Throws, naming the file, if it holds none. */
export function readTokenFile(path: string): string[] {
  const tokens = readFileSync(path, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  if (tokens.length === 0) throw new Error(`the auth token file ${path} holds no token (one per line)`);
  for (const token of tokens) {
    if (/\s/.test(token) || token.length < 16) throw new Error(`the auth token file ${path} has a token shorter than 16 characters or with spaces in it`);
  }
  return tokens;
}

export class CallerAuth {
  /** Hashes of the accepted tokens; empty means anonymous calls. */
  private readonly hashes: Buffer[];

  constructor(tokens: readonly string[] = []) {
    this.hashes = tokens.map(sha256);
  }

  get required(): boolean {
    return this.hashes.length > 0;
  }

  /** The caller's identity from its metadata; throws UNAUTHENTICATED when a token is required and missing or wrong. */
  ownerOf(metadata: grpc.Metadata): JobOwner {
    if (!this.required) return undefined;
    const header = metadata.get("authorization")[0];
    const token = typeof header === "string" ? BEARER.exec(header)?.[1] : undefined;
    if (!token) throw unauthenticated("this job server needs 'authorization: Bearer <token>' metadata on every call");
    return this.ownerOfToken(token);
  }

  /** The owner a bearer token stands for; throws UNAUTHENTICATED when tokens are required and it is not one. */
  ownerOfToken(token: string | undefined): JobOwner {
    if (!this.required) return undefined;
    if (!token) throw unauthenticated("this job server needs a bearer token");
    const hash = sha256(token);
    // Compare every hash in constant time, so the answer's timing does not say which one was close.
    const match = this.hashes.reduce((found, h) => timingSafeEqual(h, hash) || found, false);
    if (!match) throw unauthenticated("the bearer token is not one this job server accepts");
    return hash.toString("hex");
  }

  /** A server interceptor refusing unauthenticated calls to every service on the server. */
  interceptor(): grpc.ServerInterceptor {
    return (_method, call) =>
      new grpc.ServerInterceptingCall(call, {
        start: (next) =>
          next({
            onReceiveMetadata: (metadata, pass) => {
              try {
                this.ownerOf(metadata);
              } catch (e) {
                call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: (e as Error).message });
                return;
              }
              pass(metadata);
            },
          }),
      });
  }
}

function unauthenticated(details: string): Error & { code: grpc.status } {
  return Object.assign(new Error(details), { code: grpc.status.UNAUTHENTICATED });
}
