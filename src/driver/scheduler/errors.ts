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
