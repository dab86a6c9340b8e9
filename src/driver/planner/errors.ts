/** A pipeline this runner cannot execute. Raised at Prepare, before any work starts. */
export class UnsupportedPipelineError extends Error {
  override name = "UnsupportedPipelineError";
  constructor(
    message: string,
    /** The transform's unique name, when one transform is to blame. */
    readonly transform?: string,
  ) {
    super(transform ? `transform '${transform}': ${message}` : message);
  }
}
