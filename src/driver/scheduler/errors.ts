/** A task failed on every attempt; the job fails with this, naming the stage and its transforms. */
export class StageFailedError extends Error {
  override name = "StageFailedError";
  constructor(
    readonly stageId: string,
    readonly stageName: string,
    readonly taskIndex: number,
    readonly reason: string,
  ) {
    super(`stage ${stageId} [${stageName}] failed (task ${taskIndex}): ${reason}`);
  }
}
