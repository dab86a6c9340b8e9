/** A task failed on every attempt; the job fails with this, naming the stage and, when the SDK
 * says, the transform that raised. */
export class StageFailedError extends Error {
  override name = "StageFailedError";
  /** The transform the SDK blamed ("[while running 'X']"), if it named one. */
  readonly transform?: string;

  constructor(
    readonly stageId: string,
    readonly stageName: string,
    readonly taskIndex: number,
    readonly reason: string,
  ) {
    const transform = /while running '([^']+)'/.exec(reason)?.[1];
    super(`stage ${stageId} failed in task ${taskIndex}${transform ? ` at transform '${transform}'` : ""}: ${reason}`);
    this.transform = transform;
  }
}

/**
 * A task lost its worker (process, SDK harness or Lambda environment) as often as the
 * infrastructure budget allows: the job fails for its infrastructure, not for its code.
 */
export class WorkerLostError extends Error {
  override name = "WorkerLostError";

  constructor(
    readonly stageId: string,
    readonly stageName: string,
    readonly taskIndex: number,
    readonly losses: number,
    readonly reason: string,
  ) {
    super(`stage ${stageId} task ${taskIndex}: lost its worker ${losses} times (infrastructure, not the pipeline's code): ${reason}`);
  }
}

/** What a job fails with, as an Error (an abort reason or a thrown value need not be one). */
export function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** No attempt has reached a LOOPBACK / EXTERNAL environment's SDK worker pool for too long. */
export class WorkerPoolGoneError extends Error {
  override name = "WorkerPoolGoneError";

  constructor(
    readonly address: string,
    unreachableMs: number,
  ) {
    super(
      `the SDK worker pool at ${address} is gone: no attempt could reach it for ${Math.round(unreachableMs / 1000)} s ` +
        `(a LOOPBACK environment's pool runs in the submitting client, which probably exited)`,
    );
  }
}
